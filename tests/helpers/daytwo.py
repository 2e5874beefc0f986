"""Helpers for the day-two tests (``from helpers.daytwo import ...``)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from datetime import datetime, timezone

from botocore.stub import Stubber

from wealist_cfn import cli as main_cli
from wealist_cfn.aws import Aws

REGION = "ap-northeast-2"
ROOT_ID = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/wealist-dev/11111111-aaaa-bbbb-cccc-000000000000"
CHILD_ID = (
    "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/"
    "wealist-dev-DatabaseStack-1ABC/22222222-aaaa-bbbb-cccc-000000000000"
)
T0 = datetime(2026, 11, 29, 8, 0, tzinfo=timezone.utc)


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main_cli.main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def stubbed_cfn() -> tuple[Aws, Stubber]:
    aws = Aws(REGION)
    aws.account = "123456789012"
    client = aws.session.client("cloudformation", region_name=REGION)  # counted in aws.calls
    aws._clients["cloudformation"] = client
    stub = Stubber(client)
    stub.activate()
    return aws, stub


def root_and_child(stub: Stubber, child_resources: list[dict]) -> None:
    """DescribeStacks of the root, then ListStackResources of the root (one
    nested stack) and of the child: the shapes of API_DescribeStacks and
    API_ListStackResources (StackResourceSummary)."""
    stub.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {"StackName": "wealist-dev", "StackId": ROOT_ID, "CreationTime": T0, "StackStatus": "UPDATE_COMPLETE"}
            ]
        },
        {"StackName": "wealist-dev"},
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
    stub.add_response("list_stack_resources", {"StackResourceSummaries": child_resources}, {"StackName": CHILD_ID})


def summary(lid: str, rtype: str, pid: str, drift: str | None = None) -> dict:
    out = {
        "LogicalResourceId": lid,
        "PhysicalResourceId": pid,
        "ResourceType": rtype,
        "LastUpdatedTimestamp": T0,
        "ResourceStatus": "CREATE_COMPLETE",
    }
    if drift:
        out["DriftInformation"] = {"StackResourceDriftStatus": drift}
    return out


# -- One drift run's responses (DetectStackDrift, DescribeStackDriftDetectionStatus,
# DescribeStackResourceDrifts), shaped like the CloudFormation API reference's.
DB = "wealist-dev-postgres"


def _start(stub, root_det="det-root", child_det="det-db"):
    stub.add_response("detect_stack_drift", {"StackDriftDetectionId": root_det}, {"StackName": ROOT_ID})
    stub.add_response("detect_stack_drift", {"StackDriftDetectionId": child_det}, {"StackName": CHILD_ID})


def _status(stub, det, sid, detection, drift_status=None, reason=None):
    body = {"StackId": sid, "StackDriftDetectionId": det, "DetectionStatus": detection, "Timestamp": T0}
    if drift_status:
        body["StackDriftStatus"] = drift_status
    if reason:
        body["DetectionStatusReason"] = reason
    stub.add_response("describe_stack_drift_detection_status", body, {"StackDriftDetectionId": det})


def _drifts(stub, sid, drifts):
    stub.add_response("describe_stack_resource_drifts", {"StackResourceDrifts": drifts}, {"StackName": sid})


def _db_drift():
    return {
        "StackId": CHILD_ID,
        "LogicalResourceId": "Database",
        "PhysicalResourceId": DB,
        "ResourceType": "AWS::RDS::DBInstance",
        "StackResourceDriftStatus": "MODIFIED",
        "Timestamp": T0,
        "ExpectedProperties": '{"BackupRetentionPeriod":7}',
        "ActualProperties": '{"BackupRetentionPeriod":1}',
        "PropertyDifferences": [
            {
                "PropertyPath": "/BackupRetentionPeriod",
                "ExpectedValue": "7",
                "ActualValue": "1",
                "DifferenceType": "NOT_EQUAL",
            }
        ],
    }


def _in_sync_run(stub):
    root_and_child(stub, [])
    _start(stub)
    _status(stub, "det-root", ROOT_ID, "DETECTION_COMPLETE", "IN_SYNC")
    _status(stub, "det-db", CHILD_ID, "DETECTION_COMPLETE", "IN_SYNC")
    for sid in (ROOT_ID, CHILD_ID):
        _drifts(stub, sid, [])
        stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": sid})


def drifted_run(stub):
    """The responses of one drift run with the database drifted."""
    root_and_child(stub, [])
    _start(stub)
    _status(stub, "det-root", ROOT_ID, "DETECTION_COMPLETE", "IN_SYNC")
    _status(stub, "det-db", CHILD_ID, "DETECTION_COMPLETE", "DRIFTED")
    _drifts(stub, ROOT_ID, [])
    stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT_ID})
    _drifts(stub, CHILD_ID, [_db_drift()])
    stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": CHILD_ID})
