"""drift against botocore's Stubber: moto does not implement DetectStackDrift
(its server answers NotImplementedError), so every response here is shaped
like the CloudFormation API reference, and Stubber checks each request and
response against botocore's service model:

* API_DetectStackDrift: returns StackDriftDetectionId; "CloudFormation doesn't
  detect drift on any nested stacks belonging to that stack. Perform
  DetectStackDrift directly on the nested stack itself."
* API_DescribeStackDriftDetectionStatus: DetectionStatus DETECTION_IN_PROGRESS |
  DETECTION_COMPLETE | DETECTION_FAILED, with DetectionStatusReason.
* API_DescribeStackResourceDrifts / API_StackResourceDrift: PropertyDifferences
  (PropertyPath, ExpectedValue, ActualValue, DifferenceType ADD | REMOVE |
  NOT_EQUAL); "Resources that don't currently support drift detection aren't
  checked, and so not included."

The pool runs one worker here (tree.WORKERS = 1) so the calls reach Stubber
in a fixed order; the concurrency itself is exercised on moto.
"""

from __future__ import annotations

import pytest

from helpers.daytwo import (
    CHILD_ID,
    DB,
    ROOT_ID,
    T0,
    _db_drift,
    _drifts,
    _in_sync_run,
    _start,
    _status,
    drifted_run,
    root_and_child,
    stubbed_cfn,
    summary,
)
from wealist_cfn.daytwo import drift, tree
from wealist_cfn.errors import CommandError

pytestmark = pytest.mark.stubbed


@pytest.fixture(autouse=True)
def one_worker(monkeypatch):
    monkeypatch.setattr(tree, "WORKERS", 1)


def _run(aws, **kw):
    items = list(drift.detect(aws, "wealist-dev", sleep=lambda s: None, interval=5, **kw))
    return [i for i in items if isinstance(i, drift.Progress)], items[-1]


def test_drifted_property_is_reported_with_expected_actual_and_nested_path():
    """A nested stack's database changed by hand: the report names it by its
    nested path with expected, actual and the difference type; detection ran
    on the root and on the nested stack; progress counts both stacks."""
    aws, stub = stubbed_cfn()
    db, tg = summary("Database", "AWS::RDS::DBInstance", DB), summary("Params", "AWS::RDS::DBParameterGroup", "pg")
    root_and_child(stub, [db, tg])
    _start(stub)
    _status(stub, "det-root", ROOT_ID, "DETECTION_IN_PROGRESS")
    _status(stub, "det-db", CHILD_ID, "DETECTION_COMPLETE", "DRIFTED")
    _status(stub, "det-root", ROOT_ID, "DETECTION_COMPLETE", "IN_SYNC")
    _drifts(stub, ROOT_ID, [])
    stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT_ID})
    _drifts(
        stub,
        CHILD_ID,
        [
            _db_drift(),
            {
                "StackId": CHILD_ID,
                "LogicalResourceId": "Params",
                "PhysicalResourceId": "pg",
                "ResourceType": "AWS::RDS::DBParameterGroup",
                "StackResourceDriftStatus": "IN_SYNC",
                "Timestamp": T0,
            },
        ],
    )
    stub.add_response("list_stack_resources", {"StackResourceSummaries": [db, tg]}, {"StackName": CHILD_ID})
    progress, report = _run(aws)
    stub.assert_no_pending_responses()
    assert [(p.done, p.total) for p in progress] == [(1, 2), (2, 2)]
    assert report.has_drift and report.in_sync == 1 and report.not_checked == []
    (d,) = report.drifted
    assert d.where == "DatabaseStack/Database" and d.status == "MODIFIED"
    assert [(p.path, p.expected, p.actual, p.difference) for p in d.properties] == [
        ("/BackupRetentionPeriod", "7", "1", "NOT_EQUAL")
    ]
    text = drift.render_text(report)
    assert "DatabaseStack/Database" in text and "expected 7 actual 1" in text and "NOT_EQUAL" in text
    md = drift.render_markdown(report)
    assert "| `DatabaseStack/Database` | AWS::RDS::DBInstance | MODIFIED | /BackupRetentionPeriod | NOT_EQUAL" in md


def test_unsupported_resource_is_listed_as_not_checked_never_in_sync():
    """A resource type drift detection does not support is absent from
    DescribeStackResourceDrifts; ListStackResources still lists it (its
    DriftInformation says NOT_CHECKED). It is reported as not checked, and
    a stack whose checked resources are in sync is not called drifted."""
    aws, stub = stubbed_cfn()
    policy = summary("ScaleOut", "AWS::AutoScaling::ScalingPolicy", "sp-1", "NOT_CHECKED")
    root_and_child(stub, [policy])
    _start(stub)
    _status(stub, "det-root", ROOT_ID, "DETECTION_COMPLETE", "IN_SYNC")
    _status(stub, "det-db", CHILD_ID, "DETECTION_COMPLETE", "IN_SYNC")
    _drifts(stub, ROOT_ID, [])
    stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT_ID})
    _drifts(stub, CHILD_ID, [])
    stub.add_response("list_stack_resources", {"StackResourceSummaries": [policy]}, {"StackName": CHILD_ID})
    _, report = _run(aws)
    assert not report.has_drift and report.in_sync == 0
    assert [(r.where, r.status) for r in report.not_checked] == [("DatabaseStack/ScaleOut", "NOT_CHECKED")]
    text = drift.render_text(report)
    assert "not checked" in text and "DatabaseStack/ScaleOut" in text and "0 in sync" in text


def test_detection_failure_is_reported_with_its_reason():
    """DETECTION_FAILED (API_DescribeStackDriftDetectionStatus: "The stack drift
    detection operation has failed for at least one resource"): the reason is
    in the report, which the CLI turns into exit 1."""
    aws, stub = stubbed_cfn()
    root_and_child(stub, [])
    _start(stub)
    reason = "Failed to detect drift on resource [Database]: Access denied"
    _status(stub, "det-root", ROOT_ID, "DETECTION_COMPLETE", "IN_SYNC")
    _status(stub, "det-db", CHILD_ID, "DETECTION_FAILED", "UNKNOWN", reason)
    _drifts(stub, ROOT_ID, [])
    stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT_ID})
    _drifts(stub, CHILD_ID, [])
    stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": CHILD_ID})
    _, report = _run(aws)
    assert [s.stack for s in report.failed] == ["DatabaseStack"]
    assert f"detection failed on DatabaseStack: {reason}" in drift.render_text(report)


def test_detection_that_never_finishes_times_out_with_one_line():
    """A detection still DETECTION_IN_PROGRESS at the timeout: a CommandError
    (exit 1) naming the stack still running, not an endless wait."""
    aws, stub = stubbed_cfn()
    root_and_child(stub, [])
    _start(stub)
    _status(stub, "det-root", ROOT_ID, "DETECTION_COMPLETE", "IN_SYNC")
    _status(stub, "det-db", CHILD_ID, "DETECTION_IN_PROGRESS")
    # Polled again at 5s and 10s; only the unfinished one is asked.
    _status(stub, "det-db", CHILD_ID, "DETECTION_IN_PROGRESS")
    _status(stub, "det-db", CHILD_ID, "DETECTION_IN_PROGRESS")
    with pytest.raises(CommandError) as err:
        _run(aws, timeout=10)
    stub.assert_no_pending_responses()
    assert err.value.exit_code == 1
    assert "still running after 10s: DatabaseStack" in str(err.value)


def test_drift_calls_only_the_actions_it_declares():
    """Stubber: the API calls a full drift run makes (recorded as botocore
    builds each request) are exactly drift.CALLS, the list the plan role is
    granted from; the read actions DetectStackDrift needs per resource come
    from the schemas' read handlers."""
    aws, stub = stubbed_cfn()
    called = set()
    aws.cfn.meta.events.register(
        "before-parameter-build.cloudformation", lambda model, **_: called.add(f"cloudformation:{model.name}")
    )
    _in_sync_run(stub)
    _run(aws)
    assert called == set(drift.CALLS)
    reads = drift.detection_read_actions(
        {"t": {"Resources": {"D": {"Type": "AWS::RDS::DBInstance"}}}}, "ap-northeast-2"
    )
    assert "rds:DescribeDBInstances" in reads and not any(
        a.split(":")[1].startswith(("Create", "Delete", "Modify")) for a in reads
    )


@pytest.mark.parametrize("drifted", [False, True])
def test_cli_exit_code_and_markdown_on_stdout_alone(monkeypatch, drifted):
    """Stubber behind the command line: exit 0 in sync, 1 drifted; with
    --output markdown the document is all of stdout and progress goes to
    stderr (the workflow writes stdout into the issue)."""
    from helpers.daytwo import run_cli
    from wealist_cfn.cli import daytwo as daytwo_cli

    aws, stub = stubbed_cfn()
    if drifted:
        drifted_run(stub)
    else:
        _in_sync_run(stub)
    monkeypatch.setattr(daytwo_cli, "_aws", lambda args: aws)
    code, out, err = run_cli(
        "drift", "--stack-name", "wealist-dev", "--region", "ap-northeast-2", "--output", "markdown"
    )
    assert code == (1 if drifted else 0), err
    assert out.startswith("### Drift of `wealist-dev`") and "drift detection: 2 of 2 stacks done" in err
    assert ("DRIFTED" in out) == drifted
