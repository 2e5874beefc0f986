"""``build.py prove``: the refusals (another account, the production
account, no or a wrong confirmation), the offline list, and one confirmed
run end to end with its reports.

Relies on moto's server as the AWS endpoint (AWS_ENDPOINT_URL, which
botocore reads for every client): its STS answers account 123456789012 for
any credentials, as GetCallerIdentity answers the caller's account in AWS;
its CloudFormation holds the production stack when a test makes one.
"""

from __future__ import annotations

import json
import re

import pytest

from wealist_cfn import cli
from wealist_cfn.cli import daytwo as daytwo_cli
from wealist_cfn.prove import registry

ACCOUNT = "123456789012"  # moto's
PROD_TEMPLATE = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})


@pytest.fixture
def endpoint(moto_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return moto_endpoint


def _stacks(region="ap-northeast-2"):
    import boto3

    cfn = boto3.client("cloudformation", region_name=region)
    return [s["StackName"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]


def test_an_account_not_named_is_refused(endpoint, capsys):
    code = cli.main(
        [
            "prove",
            "--account-id",
            "111111111111",
            "--yes",
            "--confirm-account",
            "111111111111",
            "--region",
            "ap-northeast-2",
        ]
    )
    err = capsys.readouterr().err
    assert code == 3
    assert "these credentials are for account 123456789012, not the --account-id 111111111111" in err
    assert _stacks() == []


@pytest.mark.parametrize("region", ["ap-northeast-2", "us-east-1"])
def test_the_account_holding_the_production_stack_is_refused(endpoint, capsys, region):
    """The params files name no account: production is the account holding
    params/prod.json's root stack (wealist-prod), looked for in production's
    region and in the run's."""
    import boto3

    boto3.client("cloudformation", region_name="ap-northeast-2").create_stack(
        StackName="wealist-prod", TemplateBody=PROD_TEMPLATE
    )
    code = cli.main(
        [
            "prove",
            "--account-id",
            ACCOUNT,
            "--yes",
            "--confirm-account",
            ACCOUNT,
            "--region",
            region,
            "--only",
            "rds-pg17-force-ssl",
        ]
    )
    err = capsys.readouterr().err
    assert code == 3
    assert "holds the production root stack wealist-prod (ap-northeast-2; params/prod.json)" in err
    assert _stacks() == ["wealist-prod"]


def test_yes_without_the_account_again_is_refused_before_any_call(monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: a call would fail
    code = cli.main(["prove", "--account-id", ACCOUNT, "--yes", "--confirm-account", "999999999999"])
    assert code == 3
    assert f"--yes needs --confirm-account {ACCOUNT}" in capsys.readouterr().err


def test_the_production_parameter_file_is_refused_before_any_call(monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    code = cli.main(
        ["prove", "--account-id", ACCOUNT, "--params", "params/prod.json", "--yes", "--confirm-account", ACCOUNT]
    )
    assert code == 3
    assert "refused: params/prod.json is production's parameter file (wealist-prod)" in capsys.readouterr().err


def test_no_terminal_and_no_yes_is_refused_after_the_estimate(endpoint, capsys):
    code = cli.main(["prove", "--account-id", ACCOUNT, "--region", "ap-northeast-2", "--only", "nested-stack-policy"])
    err = capsys.readouterr().err
    assert code == 3
    assert err.index("estimate (ap-northeast-2") < err.index(
        f"refused: no terminal to ask; pass --yes --confirm-account {ACCOUNT}"
    )
    assert _stacks() == []


@pytest.mark.parametrize("typed", ["", "123456789013"])
def test_a_wrong_typed_account_is_refused(endpoint, capsys, monkeypatch, typed):
    monkeypatch.setattr(daytwo_cli, "_interactive", lambda: True)
    prompts = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or typed)
    code = cli.main(["prove", "--account-id", ACCOUNT, "--region", "ap-northeast-2", "--only", "nested-stack-policy"])
    assert code == 3
    assert prompts == [f"Type the account ID ({ACCOUNT}) to run them there: "]
    assert "the account ID typed does not match; nothing was started" in capsys.readouterr().err
    assert _stacks() == []


def test_list_is_offline(monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert cli.main(["prove", "--list", "--output", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [e["id"] for e in doc["experiments"]] == [e.id for e in registry.EXPERIMENTS]
    assert [n["id"] for n in doc["notExperiments"]] == [n.id for n in registry.NOT_EXPERIMENTS]
    assert all(n["why"] for n in doc["notExperiments"])


def test_a_confirmed_run_reports_and_writes_the_markdown_evidence(endpoint, capsys, tmp_path, monkeypatch):
    """One experiment through the whole command on the local endpoint (its
    verdict there is not the point: moto lacks the call, so inconclusive,
    exit 1)."""
    monkeypatch.setattr(daytwo_cli, "_interactive", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: ACCOUNT)
    out = tmp_path / "proofs" / "2026-12-07-ap-northeast-2.md"
    code = cli.main(
        [
            "prove",
            "--account-id",
            ACCOUNT,
            "--region",
            "ap-northeast-2",
            "--only",
            "rds-pg17-force-ssl",
            "--output",
            "json",
            "--report",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert code == 1
    assert doc["account"] == ACCOUNT and [r["id"] for r in doc["results"]] == ["rds-pg17-force-ssl"]
    assert doc["results"][0]["outcome"] == "inconclusive" and doc["left"] == []
    text = out.read_text()
    assert text.startswith("# Proof run ") and "| `rds-pg17-force-ssl` | inconclusive |" in text
    assert "## Left in the account" in text


def test_an_interrupted_run_exits_130_with_its_report(endpoint, capsys, monkeypatch):
    """Ctrl-C inside an experiment: the command still prints the report
    (interrupted, the experiment not run) and exits 130."""
    from dataclasses import replace

    probe = replace(registry.ALL["rds-pg17-force-ssl"], act=lambda ctx: (_ for _ in ()).throw(KeyboardInterrupt))
    monkeypatch.setattr(registry, "select", lambda only: [probe])
    code = cli.main(
        ["prove", "--account-id", ACCOUNT, "--yes", "--confirm-account", ACCOUNT, "--region", "ap-northeast-2"]
    )
    out = capsys.readouterr().out
    assert code == 130
    assert "(INTERRUPTED)" in out
    assert re.search(r"not run +rds-pg17-force-ssl: interrupted \(Ctrl-C or SIGTERM\) before a verdict", out)
    assert "nothing left in the account" in out


@pytest.mark.parametrize("role", ["wealist-prod-cfn-role", "wealist-prod-github-deploy"])
def test_an_account_holding_productions_roles_is_refused(endpoint, capsys, role):
    """moto's IAM: an account where only github-oidc.yaml was deployed for
    production (or whose root stack was deleted) still holds production's
    roles, named <Project>-<Environment>-cfn-role / -github-deploy
    (stacks/github_oidc.py). IAM is global, so GetRole answers in any region."""
    import boto3

    boto3.client("iam", region_name="us-east-1").create_role(RoleName=role, AssumeRolePolicyDocument="{}")
    code = cli.main(
        [
            "prove",
            "--account-id",
            ACCOUNT,
            "--yes",
            "--confirm-account",
            ACCOUNT,
            "--region",
            "ap-northeast-2",
            "--only",
            "rds-pg17-force-ssl",
        ]
    )
    err = capsys.readouterr().err
    assert code == 3
    assert f"holds production's role {role}" in err
    assert _stacks() == []


def test_an_account_holding_productions_trust_stack_is_refused(endpoint, capsys):
    """moto's CloudFormation: the trust stack (<root>-github, the name
    docs/operations.md gives github-oidc.yaml's stack) marks production too."""
    import boto3

    boto3.client("cloudformation", region_name="ap-northeast-2").create_stack(
        StackName="wealist-prod-github", TemplateBody=PROD_TEMPLATE
    )
    code = cli.main(
        [
            "prove",
            "--account-id",
            ACCOUNT,
            "--yes",
            "--confirm-account",
            ACCOUNT,
            "--region",
            "ap-northeast-2",
            "--only",
            "rds-pg17-force-ssl",
        ]
    )
    assert code == 3
    assert "holds production's trust stack wealist-prod-github" in capsys.readouterr().err


@pytest.mark.parametrize("scope,usable", [("wealist-sbx", True), ("wealist-other", False)])
def test_the_service_role_is_used_only_when_its_scope_covers_the_proof_stacks(endpoint, tmp_path, scope, usable):
    """moto's IAM and CloudFormation: the service role acts on
    stack/${StackName}-*/* (stacks/github_oidc.py _stack_arns), StackName
    being its trust stack's parameter; the proof stacks are
    <prefix>-proof-<id>-<run>, so a trust stack whose StackName is another
    leaves them outside: the experiments needing the role are not run."""
    import boto3

    from wealist_cfn import config
    from wealist_cfn.aws import Aws
    from wealist_cfn.prove import guard

    params = json.loads(open("params/prod.json").read())
    for p in params:
        if p["ParameterKey"] == "Environment":
            p["ParameterValue"] = "sbx"
    (tmp_path / "sandbox.json").write_text(json.dumps(params))
    env = config.load(tmp_path / "sandbox.json")
    boto3.client("iam", region_name="us-east-1").create_role(
        RoleName="wealist-sbx-cfn-role", AssumeRolePolicyDocument="{}"
    )
    boto3.client("cloudformation", region_name=env.region).create_stack(
        StackName="wealist-sbx-github",
        Parameters=[{"ParameterKey": "StackName", "ParameterValue": scope}],
        TemplateBody=json.dumps(
            {"Parameters": {"StackName": {"Type": "String"}}, "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
        ),
    )
    aws = Aws(env.region)
    aws.account = ACCOUNT
    arn, line = guard.service_role(aws, env)
    assert (arn is not None) == usable, line
    if not usable:
        assert "acts on stacks wealist-other-* (StackName of wealist-sbx-github), not wealist-sbx-*" in line


def test_the_vpc_count_is_shown_before_asking(endpoint, capsys):
    """moto's EC2 (its region holds a default VPC): the experiments that
    make a VPC each need one under the region's quota (Amazon VPC quotas:
    5 per region by default), so the count is printed before the consent."""
    import boto3

    ec2 = boto3.client("ec2", region_name="ap-northeast-2")
    for i in range(5 - len(ec2.describe_vpcs()["Vpcs"])):
        ec2.create_vpc(CidrBlock=f"10.{50 + i}.0.0/16")
    code = cli.main(
        [
            "prove",
            "--account-id",
            ACCOUNT,
            "--region",
            "ap-northeast-2",
            "--only",
            "alb-access-log-test-object",
            "imds-hop-limit",
        ]
    )
    err = capsys.readouterr().err
    assert code == 3
    line = (
        "5 VPC(s) in ap-northeast-2 (default quota 5); 2 experiment(s) make one each, one at a time: at the "
        "default quota, their creates fail unless the quota was raised"
    )
    assert line in err and err.index(line) < err.index("refused: no terminal to ask")


def _credentials(method, minutes):
    from datetime import datetime, timedelta, timezone

    from botocore.credentials import RefreshableCredentials

    now = datetime(2026, 12, 7, 22, 0, tzinfo=timezone.utc)
    return now, RefreshableCredentials(
        "AKIDEXAMPLE", "secret", "token", now + timedelta(minutes=minutes), lambda: {}, method
    )


def test_credentials_that_expire_before_the_run_ends_are_refused():
    """botocore's RefreshableCredentials as its providers build them (the
    expiry of an SSO or environment session, AWS_CREDENTIAL_EXPIRATION): a
    full run (~229 minutes plus a clean-up of up to 90) outlasts an hour of
    credentials, and a clean-up with expired ones fails (ExpiredToken), so
    the run is refused with batches that fit."""
    from types import SimpleNamespace

    from wealist_cfn.errors import CommandError
    from wealist_cfn.prove import estimate, guard

    est = estimate.total(list(registry.EXPERIMENTS), "ap-northeast-2")
    now, creds = _credentials("env", 60)
    aws = SimpleNamespace(session=SimpleNamespace(get_credentials=lambda: creds))
    with pytest.raises(CommandError) as caught:
        guard.credential_time(aws, est, now=now)
    msg = str(caught.value)
    assert caught.value.exit_code == 3 and "expire in 60 minutes, before the run's" in msg
    batches = [b.split() for b in re.findall(r"--only ([a-z0-9 -]+?)(?:;|$)", msg)]
    assert sorted(i for b in batches for i in b) == sorted(e.id for e in registry.EXPERIMENTS)
    # Renewed by botocore (a profile's role_arn with source credentials): told, not refused.
    now, creds = _credentials("assume-role", 60)
    aws = SimpleNamespace(session=SimpleNamespace(get_credentials=lambda: creds))
    assert "renewed by botocore" in guard.credential_time(aws, est, now=now)
    # Long enough: told how long.
    now, creds = _credentials("sso", 8 * 60)
    aws = SimpleNamespace(session=SimpleNamespace(get_credentials=lambda: creds))
    assert guard.credential_time(aws, est, now=now).startswith("credentials (sso) expire in 480 minutes")


def test_the_estimate_shows_the_worst_case_beside_it():
    from wealist_cfn.prove import estimate, report

    est = estimate.total(registry.select(["elasticache-failover-two-step"]), "ap-northeast-2")
    # Four change sets (10 min each), four executes (60 each), one deletion (45).
    assert est.bound_minutes == 4 * 10 + 4 * 60 + 45
    assert "about 90 minutes; worst case 325 minutes" in report.estimate_lines(est)[0]
