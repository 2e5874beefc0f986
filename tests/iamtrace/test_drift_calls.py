"""The weekly drift job (drift.yml: ``build.py drift --stack-name wealist-prod
--params params/prod.json --output markdown``) under the plan role, its calls
recorded by wealist_cfn/aws/calltrace.py like the story's.

Stand-in: botocore's Stubber behind the real command line, because moto
does not implement DetectStackDrift and ``drift --local`` is refused (the
story asserts that refusal). Responses are shaped like the CloudFormation
API reference (DetectStackDrift, DescribeStackDriftDetectionStatus,
DescribeStackResourceDrifts; "CloudFormation doesn't detect drift on any
nested stacks belonging to that stack", so each nested stack gets its own).
DetectStackDrift reads each resource's live state with the caller's rights
(CloudFormation user guide, "Detect drift on an entire CloudFormation
stack"): each resource's read-handler permissions are checked under the
plan role too, on that resource's ARN.
"""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from datetime import datetime, timezone

import pytest
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


@pytest.fixture
def drift_calls(tmp_path, monkeypatch):
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


def test_the_plan_role_may_make_every_call_of_the_weekly_drift(drift_calls):
    plan = check.principals()[check.PLAN]
    assert {c["operation"] for c in drift_calls} == {
        "DescribeStacks",
        "ListStackResources",
        "DetectStackDrift",
        "DescribeStackDriftDetectionStatus",
        "DescribeStackResourceDrifts",
    }
    assert {c["job"] for c in drift_calls} == {"drift"}
    denied = [
        f"drift: {check.PLAN} may not {n.line()}: {why}"
        for c in drift_calls
        for n in iamcalls.needs(c, account=check.ACCOUNT)
        if (why := check.evaluate(plan, n, [])) is not None
    ]
    assert denied == []


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


@pytest.mark.parametrize("email", ["", "ops@example.com"], ids=["no-alarm-email", "alarm-email"])
@pytest.mark.parametrize("mode", sorted(check.MODES))
def test_the_plan_role_may_read_every_resource_drift_detection_reads(mode, email):
    """Each resource's read handler, with the plan role's rights, on its ARN;
    with AlarmEmail set the stack also holds the topic's email subscription
    (AWS::SNS::Subscription, read by sns:GetSubscriptionAttributes)."""
    plan = check.principals()[check.PLAN]
    needs = read_needs(mode, AlarmEmail=email)
    assert len(needs) > 100
    assert ("sns:GetSubscriptionAttributes" in {n.action for n in needs}) == bool(email)
    denied = {
        f"drift: {check.PLAN} may not {n.line()}: {why}"
        for n in needs
        if (why := check.evaluate(plan, n, [])) is not None
    }
    assert sorted(denied) == []


@pytest.mark.parametrize("mode", sorted(check.MODES))
def test_an_action_without_a_resource_type_is_asked_on_every_resource(mode):
    """The handlers' and drift's actions whose Service Authorization
    Reference row lists no resource type (wealist_cfn/stacks/iamdata.json) are
    authorised on "*" only, so they are checked on "*": a statement scoped
    to a log group would pass a check on the group's ARN and be refused on
    AWS (logs:DescribeLogGroups is the drift read of every log group)."""
    from wealist_cfn.stacks import iamdata

    needs = [n for _, n in check._handler_needs(check.root_set(mode))] + read_needs(mode)
    unscoped = [n for n in needs if not iamdata.resource_types(n.action)]
    assert any(n.action == "logs:DescribeLogGroups" for n in unscoped)
    assert sorted({f"{n.action} on {n.resource}" for n in unscoped if n.resource != "*"}) == []
