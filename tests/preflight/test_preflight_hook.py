"""Preflight as the first step of plan/deploy, the cost change it shows, and
the preflight command's exit codes. Stand-in: moto's server (as in
test_preflight_checks); the deploy objects are plain namespaces carrying
what the hook reads (config, aws, opts)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from types import SimpleNamespace

import pytest

from wealist_cfn.aws import target
from wealist_cfn.cli import main
from wealist_cfn.cli import preflight_hook as hook
from wealist_cfn.core.settings import PARAMS_DIR, TEMPLATES_DIR
from wealist_cfn.deploy import stackstate
from wealist_cfn.errors import EXIT_FAILED
from wealist_cfn.preflight import checks

# An Aws that makes no call (any would fail): what the hook reads of it is its Target, AWS's.
NO_CALLS = SimpleNamespace(target=target.aws_target())


def _dep(cfg, aws):
    opts = SimpleNamespace(stack_name="wealist-prod", templates_dir=TEMPLATES_DIR, replace_failed=False)
    return SimpleNamespace(config=cfg, aws=NO_CALLS if aws is None else aws, opts=opts)


def _call(args, dep):
    out, err, doc = io.StringIO(), io.StringIO(), {}
    with redirect_stderr(err):
        code = hook.before_change_set(args, dep, out, doc)
    return code, out.getvalue(), err.getvalue(), doc


@pytest.mark.moto
def test_failed_preflight_stops_a_deploy_against_aws_before_anything(prod_cfg, aws):
    """moto standing in for AWS (its Target set to AWS's, as an Aws without
    an endpoint has): nothing is bootstrapped, so the deploy stops with exit
    1 and says how to go on."""
    aws._target = target.aws_target()
    args = SimpleNamespace(skip_preflight=False, params=PARAMS_DIR / "prod.json", output="text")
    settled = prod_cfg.with_values(AcceptedRisks="public-monitoring,plain-http")  # see test_exposure.py
    code, out, err, doc = _call(args, _dep(settled, aws))
    assert code == EXIT_FAILED
    assert "FAIL  ssm-references" in out and "preflight failed" in out
    assert "stopped by preflight before any upload or change set" in err and "--skip-preflight" in err
    assert doc["preflight"]["ok"] is False


@pytest.mark.moto
def test_failed_preflight_does_not_block_an_undeclared_custom_endpoint(prod_cfg, aws, undeclared_endpoint):
    """moto, as a bare --endpoint-url that does not answer the capability
    request (wealist_cfn.aws.target): an unknown endpoint, whose answers nobody
    declared. Results are shown, the plan goes on; the exposure refusal
    still applies there (test_exposure.py), so the file accepts it."""
    args = SimpleNamespace(skip_preflight=False, params=PARAMS_DIR / "prod.json", output="text")
    settled = prod_cfg.with_values(AcceptedRisks="public-monitoring,plain-http")
    code, out, _, _ = _call(args, _dep(settled, aws))
    assert aws.target.kind == "unknown"
    assert code is None and f"not blocking on the endpoint at {undeclared_endpoint}, whose answers are not known" in out
    assert "FAIL  ssm-references" in out


@pytest.mark.moto
def test_a_rehearsal_without_bootstrap_stops_with_the_one_command_that_fixes_it(prod_cfg, aws, moto_endpoint):
    """moto as the local endpoint: it answers the rehearsal's capability
    document (rehearsal/compat.py answering_target, as `local up` and the
    one-shot endpoint do; tests/conftest.py moto_server). Nothing bootstrapped, so the rehearsal stops as a
    real deploy would (it went on before), naming the one command; the
    checks moto cannot answer are "not checkable here", not FAIL, and carry
    no AWS CLI fix."""
    args = SimpleNamespace(skip_preflight=False, params=PARAMS_DIR / "prod.json", output="text")
    code, out, err, doc = _call(args, _dep(prod_cfg, aws))
    assert aws.target.kind == "rehearsal"
    assert code == EXIT_FAILED
    assert err.strip() == (
        "stopped by preflight before any upload or change set: ssm-references, boot-parameters, "
        "deploy-bucket need what bootstrap makes; run: python build.py bootstrap --params "
        f"{PARAMS_DIR / 'prod.json'} --local"
    )
    assert "n/a   database         the local endpoint does not answer rds:DescribeOrderableDBInstanceOptions" in out
    assert "n/a   cache" in out and "FAIL  database" not in out and "FAIL  cache" not in out
    assert "fix: aws " not in out and "(2 not checkable here: database, cache)" in out
    status = {c["name"]: c["status"] for c in doc["preflight"]["checks"]}
    assert status["database"] == status["cache"] == checks.NOT_CHECKABLE


def test_not_checkable_checks_never_block():
    """No stand-in: a report whose only non-ok results are "not checkable
    here" passes, and says which checks it could not run."""
    from wealist_cfn.preflight import render

    results = [
        checks.Result("zones", checks.OK, "fine"),
        checks.Result("database", checks.NOT_CHECKABLE, "the local endpoint does not answer X"),
    ]
    report = checks.Report("ap-northeast-2", "wealist-prod", results)
    assert report.ok
    assert "preflight passed: 1 checks (1 not checkable here: database)" in render.preflight_text(report)


def test_every_check_declares_the_calls_it_needs():
    """No stand-in: each check names its read calls, and the local
    endpoint's gaps are calls some check needs (a stale entry fails)."""
    from wealist_cfn.preflight import capability
    from wealist_cfn.rehearsal import compat as local

    assert {name for name, _ in checks.CHECKS} == set(capability.NEEDS)
    needed = {call for calls in capability.NEEDS.values() for call in calls}
    assert set(local.UNANSWERED) <= needed
    assert capability.for_target(target.aws_target()).known
    assert not capability.for_target(target.unknown("http://localhost:1")).known
    rehearsal = target.from_document(local.target_document(), "http://localhost:1")
    assert capability.for_target(rehearsal).missing("database") == ["rds:DescribeOrderableDBInstanceOptions"]


def test_skip_preflight_says_it_was_skipped(prod_cfg):
    """No stand-in: --skip-preflight makes no call at all (aws=None would fail on one)."""
    args = SimpleNamespace(skip_preflight=True, params=PARAMS_DIR / "prod.json", output="text")
    settled = prod_cfg.with_values(AcceptedRisks="public-monitoring,plain-http")  # see test_exposure.py
    code, out, _, doc = _call(args, _dep(settled, None))
    assert code is None and out.strip() == "preflight: skipped (--skip-preflight)"
    assert doc == {"preflight": {"skipped": True}}


def test_plan_and_deploy_accept_skip_preflight():
    for command in ("plan", "deploy"):
        out = io.StringIO()
        with redirect_stdout(out), pytest.raises(SystemExit):
            main([command, "--help"])
        assert "--skip-preflight" in out.getvalue()


def test_cost_change_of_a_mode_flip(prod_cfg):
    """No stand-in: the stack's current parameters (single-AZ) against the
    file's (multi-AZ) give the difference with what it adds."""
    multi = prod_cfg.with_values(EnableMultiAZ="true")
    state = stackstate.StackState("wealist-prod", "UPDATE_COMPLETE", "arn:x", parameters=dict(prod_cfg.values))
    change = hook.cost_change(_dep(multi, None), state)
    line = change.line()
    # The committed table may lack a Multi-AZ rate: then the line says the
    # difference is incomplete and names the item, never one figure.
    if change.incomplete:
        assert line.startswith("EnableMultiAZ false→true: difference incomplete: no sourced price for ")
        assert all(x.moved in line for x in change.unsourced) and "the priced rest moves +$" in line
    else:
        assert line.startswith("EnableMultiAZ false→true: +$") and "/month" in line
    assert "NAT gateways 1 → 3" in line
    assert hook.cost_change(_dep(prod_cfg, None), state) is None  # same values: no line
    assert hook.cost_change(_dep(multi, None), stackstate.StackState("wealist-prod", None)) is None  # new stack


@pytest.mark.moto
def test_preflight_command_exit_codes_and_json(moto_endpoint):
    """moto: nothing bootstrapped -> exit 1, JSON names every registered check."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(
            [
                "preflight",
                "--params",
                str(PARAMS_DIR / "prod.json"),
                "--endpoint-url",
                moto_endpoint,
                "--output",
                "json",
            ]
        )
    doc = json.loads(out.getvalue())
    assert code == 1 and doc["ok"] is False and len(doc["checks"]) == len(checks.CHECKS)
    assert {c["name"] for c in doc["checks"] if c["status"] == "fail"} >= {"boot-parameters", "deploy-bucket"}


def test_preflight_command_bad_params_is_one_line(tmp_path):
    """No stand-in: a bad file is refused before any client is made."""
    bad = tmp_path / "p.json"
    bad.write_text("{}")
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        code = main(["preflight", "--params", str(bad)])
    assert code == 2 and "p.json: must be a JSON list" in err.getvalue()


def test_cost_change_ignores_a_current_value_the_file_check_refuses(prod_cfg):
    """moto reports a List parameter as "['a', 'b']": that key is taken from
    the file, the others from the stack, and the difference still shows."""
    multi = prod_cfg.with_values(EnableMultiAZ="true")
    current = dict(prod_cfg.values, AvailabilityZones="['ap-northeast-2a', 'ap-northeast-2c', 'ap-northeast-2d']")
    state = stackstate.StackState("wealist-prod", "UPDATE_COMPLETE", "arn:x", parameters=current)
    line = hook.cost_change(_dep(multi, None), state).line()
    assert line.startswith("EnableMultiAZ false→true: ") and "+$" in line and "AvailabilityZones" not in line


def test_ctrl_c_during_preflight_says_what_was_and_was_not_done(prod_cfg, monkeypatch):
    """No stand-in: the checks are interrupted (as Ctrl-C does) before any
    answer; the deploy stops with 130 and says nothing was uploaded or made
    (it ended silently with 130 before)."""

    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(hook.preflight_cli, "run_preflight", interrupted)
    settled = prod_cfg.with_values(AcceptedRisks="public-monitoring,plain-http")  # see test_exposure.py
    args = SimpleNamespace(skip_preflight=False, params=PARAMS_DIR / "prod.json", output="text")
    code, _, err, _ = _call(args, _dep(settled, None))
    assert code == 130
    assert err.strip() == (
        "interrupted during preflight: its checks only read, and nothing was packaged, "
        "uploaded or changed; no change set was made"
    )


def test_a_price_key_the_table_lacks_makes_the_cost_unknown_not_silent(prod_cfg, monkeypatch):
    """No stand-in (preflight's report is replaced by a passing one): the
    committed Seoul table has no ec2:t3.xlarge or db.t3.small; the plan said
    nothing about cost before (the PriceError was swallowed). Now it prints
    that the cost is unknown and which key is missing, and the JSON says so."""
    bigger = prod_cfg.with_values(BackendInstanceType="t3.xlarge")
    state = stackstate.StackState("wealist-prod", "UPDATE_COMPLETE", "arn:x", parameters=dict(prod_cfg.values))
    change = hook.cost_change(_dep(bigger, None), state)
    assert change is not None and change.line() == "unknown — no price for ec2:t3.xlarge in ap-northeast-2.json"
    small_db = prod_cfg.with_values(DbInstanceClass="db.t3.small")
    assert (
        hook.cost_change(_dep(small_db, None), state).line()
        == "unknown — no price for rds:postgres:db.t3.small:single-az in ap-northeast-2.json"
    )

    report = SimpleNamespace(ok=True, state=state, to_dict=lambda: {"ok": True})
    monkeypatch.setattr(hook.preflight_cli, "run_preflight", lambda *a, **kw: report)
    monkeypatch.setattr(hook.preflight_cli, "render_preflight", lambda r, fmt: "preflight passed")
    args = SimpleNamespace(skip_preflight=False, params=PARAMS_DIR / "prod.json", output="text")
    settled = bigger.with_values(AcceptedRisks="public-monitoring,plain-http")
    code, out, _, doc = _call(args, _dep(settled, None))
    assert code is None
    assert "monthly cost: unknown — no price for ec2:t3.xlarge in ap-northeast-2.json" in out
    assert doc["costChange"].startswith("unknown — no price for ec2:t3.xlarge") and doc["costComplete"] is False


def test_local_text_names_no_aws_cli_command():
    """No stand-in: a fix that runs an AWS CLI command, at its start or in
    the middle of the sentence (the log-groups check's), becomes the local
    note; this project's own commands gain --local."""
    text = "\n".join(
        [
            "FAIL  database  x",
            "      fix: aws rds describe-orderable-db-instance-options --region r",
            "FAIL  log-groups  y",
            "      fix: the new stack cannot adopt it: export what you need, then aws logs "
            "delete-log-group --log-group-name /g: docs",
            "FAIL  boot-parameters  z",
            "      fix: python build.py bootstrap --params params/prod.json",
        ]
    )
    out = hook.local_text(text)
    assert "aws rds" not in out and "aws logs" not in out
    assert out.count("fix: none on the local endpoint (an AWS CLI command: run preflight against AWS)") == 2
    assert "fix: python build.py bootstrap --params params/prod.json --local" in out
