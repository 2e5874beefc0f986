"""diff, drift, outputs and events with -q (the result and errors only), and
the parameter file and effective values in their ``--output json``, as the
deploy family's documents carry them.

Stand-ins: moto's server for diff, outputs and events (conftest
``deployed_shared``: GetTemplate, DescribeStacks, ListStackResources,
DescribeStackEvents, as in test_daytwo_moto.py; an unknown stack is a
ValidationError "does not exist", as in AWS, API_DescribeStacks); botocore's
Stubber for drift, which moto does not implement (responses shaped like the
CloudFormation API reference, as in tests/helpers/daytwo.py)."""

from __future__ import annotations

import json
import re

import pytest

from helpers.daytwo import drifted_run, run_cli, stubbed_cfn
from wealist_cfn.cli import daytwo as daytwo_cli
from wealist_cfn.core.settings import PARAMS_DIR
from wealist_cfn.daytwo import tree

STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  ")


def _at(ep, stack, params, *argv):
    return ("--stack-name", stack, "--force-stack-name", "--params", params, "--endpoint-url", ep, *argv)


def _sources(doc: dict, key: str = "parameters") -> dict[str, tuple[str, str]]:
    return {p["key"]: (p["value"], p["source"]) for p in doc[key]}


@pytest.mark.moto
def test_quiet_diff_prints_the_differences_and_the_summary(deployed_shared, tmp_path):
    """moto: unchanged, -q prints the summary line alone; with a changed
    value, the difference and the summary, no heading; a missing stack is
    still one error line."""
    ep, templates, params, stack = deployed_shared
    code, out, err = run_cli("diff", *_at(ep, stack, params, "--templates", templates, "-q"))
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"no differences: {stack}"), out

    code, out, err = run_cli(
        "diff", *_at(ep, stack, params, "--templates", templates, "-q", "--parameter", "BackendMaxSize=5")
    )
    assert code == 1, err
    lines = out.splitlines()
    assert not any(line.startswith("diff of ") for line in lines)
    assert "parameters:" in lines and any(
        line.strip().startswith("BackendMaxSize: ") and line.endswith("-> 5") for line in lines
    )
    assert lines[-1].startswith("1 parameter(s), ")

    code, out, err = run_cli("diff", *_at(ep, "nope", params, "--templates", templates, "-q"))
    assert code == 2 and out == "" and "stack nope does not exist in ap-northeast-2" in err


@pytest.mark.moto
def test_diff_and_events_json_carry_the_parameter_file_and_each_value_with_its_source(deployed_shared):
    """moto: --parameter reaches the document as in deploy's."""
    ep, templates, params, stack = deployed_shared
    code, out, err = run_cli(
        "diff", *_at(ep, stack, params, "--templates", templates, "--output", "json", "--parameter", "BackendMaxSize=5")
    )
    assert code == 1, err
    doc = json.loads(out)
    assert doc["paramsFile"] == {"path": str(params), "from": "--params", "env": None}
    # diff's "parameters" stays the comparison; the effective values are
    # "values", as in the change-set review's document.
    assert [(p["key"], p["old"], p["new"]) for p in doc["parameters"]] == [("BackendMaxSize", "6", "5")]
    assert _sources(doc, "values")["BackendMaxSize"] == ("5", "--parameter")
    assert _sources(doc, "values")["Project"] == ("wealist", "file")

    code, out, err = run_cli("events", *_at(ep, stack, params, "--output", "json"))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["events"] and doc["paramsFile"]["path"] == str(params)
    assert {s for _, s in _sources(doc).values()} >= {"file", "default", "derived"}


@pytest.mark.moto
def test_quiet_outputs_and_events_print_their_lines_alone(deployed_shared):
    """moto: outputs -q is the `Key  Value` lines without the header;
    events -q one line per event without headings; errors still show."""
    ep, _, params, stack = deployed_shared
    code, out, err = run_cli("outputs", *_at(ep, stack, params, "-q"))
    assert code == 0, err
    lines = out.splitlines()
    assert lines and lines[0].split()[0] != "Output"
    assert any(line.split() == ["DatabasePort", "5432"] for line in lines)

    code, out, err = run_cli("events", *_at(ep, stack, params, "-q"))
    assert code == 0, err
    lines = out.splitlines()
    assert lines and all(STAMP.match(line) for line in lines), out
    assert "CREATE_COMPLETE" in lines[-1] and f" {stack}  (AWS::CloudFormation::Stack)" in lines[-1]

    for command in ("outputs", "events"):
        code, out, err = run_cli(command, *_at(ep, "nope", params, "-q"))
        assert code == 2 and out == "" and "stack nope does not exist" in err, command


@pytest.mark.stubbed
def test_quiet_drift_prints_the_drift_and_the_verdict_not_the_waiting(monkeypatch):
    """Stubber: DetectStackDrift, DescribeStackDriftDetectionStatus,
    DescribeStackResourceDrifts. Without -q the waiting is shown; with -q
    only the drifted property and the verdict."""
    monkeypatch.setattr(tree, "WORKERS", 1)  # the calls reach Stubber in a fixed order
    results = {}
    for quiet in (False, True):
        aws, stub = stubbed_cfn()
        drifted_run(stub)
        monkeypatch.setattr(daytwo_cli, "_aws", lambda args, aws=aws: aws)
        results[quiet] = run_cli(
            "drift", "--stack-name", "wealist-dev", "--region", "ap-northeast-2", *(["-q"] if quiet else [])
        )
    code, loud, _ = results[False]
    assert code == 1 and "drift detection: 2 of 2 stacks done" in loud
    code, out, err = results[True]
    assert code == 1 and err == ""
    assert "drift detection: " not in out
    lines = out.splitlines()
    assert lines[0].startswith("MODIFIED") and "wealist-dev-postgres" in lines[0]
    assert "/BackupRetentionPeriod [NOT_EQUAL]: expected 7 actual 1" in lines[1]
    assert lines[-1].startswith("DRIFTED: 1 resource(s) changed outside CloudFormation")


@pytest.mark.stubbed
def test_drift_json_carries_the_parameter_file_and_each_value_with_its_source(monkeypatch):
    """Stubber, as above; --env dev names the file and the stack."""
    monkeypatch.setattr(tree, "WORKERS", 1)
    aws, stub = stubbed_cfn()
    drifted_run(stub)
    monkeypatch.setattr(daytwo_cli, "_aws", lambda args: aws)
    code, out, err = run_cli("drift", "--env", "dev", "--output", "json", "-q")
    assert code == 1, err
    doc = json.loads(out)
    assert doc["paramsFile"]["from"] == "--env" and doc["paramsFile"]["path"].endswith("params/dev.json")
    assert _sources(doc)["Environment"] == ("dev", "file")
    given = {e["ParameterKey"] for e in json.loads((PARAMS_DIR / "dev.json").read_text())}
    assert {k for k, (_, s) in _sources(doc).items() if s == "file"} <= given
    assert {s for _, s in _sources(doc).values()} >= {"file", "default"}
