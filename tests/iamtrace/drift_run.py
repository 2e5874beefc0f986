"""The weekly drift job (python build.py drift) run as the plan role against a Stubber, recorded, and the
read permissions of every resource drift detection reads: shared by tests/iamtrace/test_drift_calls.py
and the story's report (test_story.py); the recorded run is the drift_calls fixture (conftest.py)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from datetime import datetime, timezone

from botocore.stub import Stubber

from wealist_cfn.aws import Aws, calltrace, iamcalls

from . import check

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=timezone.utc)


ROOT_ID = f"arn:aws:cloudformation:{check.REGION}:{check.ACCOUNT}:stack/wealist-prod/{iamcalls.SOME_ID}"


CHILD_ID = (
    f"arn:aws:cloudformation:{check.REGION}:{check.ACCOUNT}:stack/wealist-prod-DatabaseStack-1ABC/"
    "22222222-aaaa-bbbb-cccc-000000000000"
)


def _script(stub: Stubber) -> None:
    stub.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {"StackName": "wealist-prod", "StackId": ROOT_ID, "CreationTime": T0, "StackStatus": "UPDATE_COMPLETE"}
            ]
        },
        {"StackName": "wealist-prod"},
    )
    stub.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": "DatabaseStack",
                    "PhysicalResourceId": CHILD_ID,
                    "ResourceType": "AWS::CloudFormation::Stack",
                    "LastUpdatedTimestamp": T0,
                    "ResourceStatus": "UPDATE_COMPLETE",
                }
            ]
        },
        {"StackName": ROOT_ID},
    )
    stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": CHILD_ID})
    for det, sid in (("det-root", ROOT_ID), ("det-db", CHILD_ID)):
        stub.add_response("detect_stack_drift", {"StackDriftDetectionId": det}, {"StackName": sid})
    for det, sid in (("det-root", ROOT_ID), ("det-db", CHILD_ID)):
        stub.add_response(
            "describe_stack_drift_detection_status",
            {
                "StackId": sid,
                "StackDriftDetectionId": det,
                "DetectionStatus": "DETECTION_COMPLETE",
                "StackDriftStatus": "IN_SYNC",
                "Timestamp": T0,
            },
            {"StackDriftDetectionId": det},
        )
    for sid in (ROOT_ID, CHILD_ID):
        stub.add_response("describe_stack_resource_drifts", {"StackResourceDrifts": []}, {"StackName": sid})
        stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": sid})


def record_drift(tmp_path, monkeypatch) -> list[dict]:
    """The drift workflow's command, run as the plan role's job, recorded."""
    from wealist_cfn import cli
    from wealist_cfn.cli import daytwo as daytwo_cli
    from wealist_cfn.daytwo import tree

    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv(calltrace.ENV, str(trace))
    monkeypatch.setenv(calltrace.JOB_ENV, "drift")
    monkeypatch.setenv(calltrace.PRINCIPAL_ENV, check.PLAN)
    monkeypatch.setattr("sys.argv", ["build.py", "drift"])
    monkeypatch.setattr(tree, "WORKERS", 1)  # the calls reach Stubber in a fixed order
    aws = Aws(check.REGION)
    aws.account = check.ACCOUNT
    client = aws.session.client("cloudformation", region_name=check.REGION)
    aws._clients["cloudformation"] = client
    stub = Stubber(client)
    stub.activate()
    _script(stub)
    monkeypatch.setattr(daytwo_cli, "_aws", lambda args: aws)
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        code = cli.main(
            ["drift", "--stack-name", "wealist-prod", "--params", "params/prod.json", "--output", "markdown"]
        )
    assert code == 0 and out.getvalue().startswith("### Drift of `wealist-prod`")
    stub.assert_no_pending_responses()
    return calltrace.read(trace)


def read_needs(mode: str, **values: str) -> list[iamcalls.Need]:
    """Each resource's read handler permissions, on that resource's ARN."""
    from wealist_cfn.stacks import iamdata

    stacks = check.root_set(mode, **values)
    out = []
    for stack in stacks.values():
        for rid, res in stack.resources.items():
            reads = iamdata.resource_schema(res["Type"]).get("handlers", {}).get("read", {}).get("permissions", [])
            props = check._concrete(res.get("Properties", {}), stacks)
            for action in reads:
                for resource, ctx in check.resources_for(action, res["Type"], rid, props):
                    out.append(iamcalls.Need(action, resource, ctx))
    return out
