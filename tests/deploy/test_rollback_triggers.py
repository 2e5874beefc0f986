"""Rollback triggers: the stack's serving alarms as RollbackConfiguration.

Stand-in: botocore's Stubber, shaped like the API references: CloudWatch
DescribeAlarms (MetricAlarms with AlarmName, AlarmArn, StateValue) and
CloudFormation CreateChangeSet, whose ``RollbackConfiguration`` botocore
validates against the pinned model (RollbackTriggers of Arn/Type,
MonitoringTimeInMinutes 0-180). moto evaluates no alarm and ignores the
configuration, so it would prove nothing here.

The rules relied on (CloudFormation API reference and User Guide, cited in
deploy/triggers.py): a trigger's alarm must exist or the operation fails;
an omitted RollbackConfiguration reuses the stack's last one, and an empty
RollbackTriggers list removes them.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import ANY, Stubber

from helpers.deploy import REGION, stubbed_aws
from wealist_cfn.deploy import changeset, triggers

pytestmark = pytest.mark.stubbed

ACCOUNT = "123456789012"
PREFIX = "wealist-prod"
NAMES = sorted(f"{PREFIX}-alarm-{s}" for s in triggers.CRITICAL)


def _alarm(name, state="OK"):
    return {"AlarmName": name, "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}", "StateValue": state}


def _cloudwatch(aws):
    cw = boto3.client("cloudwatch", region_name=REGION)
    aws._clients["cloudwatch"] = cw
    stub = Stubber(cw)
    stub.activate()
    return stub


def test_an_update_names_the_existing_serving_alarms_and_leaves_out_one_in_alarm():
    """Three of the four serving alarms exist, one of them in ALARM: two
    triggers, the monitoring time from the alarm windows, and a note for
    each alarm left out."""
    aws, _ = stubbed_aws()
    cw = _cloudwatch(aws)
    present = [_alarm(NAMES[0]), _alarm(NAMES[1], "ALARM"), _alarm(NAMES[3], "INSUFFICIENT_DATA")]
    cw.add_response("describe_alarms", {"MetricAlarms": present}, {"AlarmNames": NAMES, "AlarmTypes": ["MetricAlarm"]})
    t = triggers.for_change_set(aws, PREFIX, "UPDATE")
    assert t.configuration == {
        "RollbackTriggers": [
            {"Arn": present[0]["AlarmArn"], "Type": "AWS::CloudWatch::Alarm"},
            {"Arn": present[2]["AlarmArn"], "Type": "AWS::CloudWatch::Alarm"},
        ],
        "MonitoringTimeInMinutes": 10,
    }
    assert t.notes[0].startswith("rollback triggers: 2 alarm(s) (")
    assert f"rollback trigger left out: {NAMES[1]} is in ALARM now (this deploy may be the fix)" in t.notes
    assert f"rollback trigger left out: {NAMES[2]} does not exist" in t.notes


def test_monitoring_time_covers_the_longest_alarm_window_and_delivery():
    """No stand-in: 5 one-minute periods (5xx rate, in-service) + 5 min of
    metric delivery = 10; within CloudFormation's 0-180."""
    assert triggers.monitoring_minutes() == 10


def test_a_first_create_has_none_and_off_removes_them():
    """No AWS call on a create (the alarms do not exist yet); with
    --no-rollback-triggers an empty list is sent, which removes the stack's
    previous triggers (left out, CloudFormation would reuse them)."""
    aws, _ = stubbed_aws()
    _cloudwatch(aws)  # no response queued: a call would fail the test
    assert triggers.for_change_set(aws, PREFIX, "CREATE").configuration is None
    off = triggers.for_change_set(aws, PREFIX, "UPDATE", enabled=False)
    assert off.configuration == {"RollbackTriggers": []} and "off (--no-rollback-triggers)" in off.notes[0]


def test_not_allowed_to_read_alarms_sends_none_and_says_so():
    aws, _ = stubbed_aws()
    cw = _cloudwatch(aws)
    cw.add_client_error("describe_alarms", "AccessDenied", "no")
    t = triggers.for_change_set(aws, PREFIX, "UPDATE")
    assert t.configuration is None and "not read (DescribeAlarms: AccessDenied" in t.notes[0]


def test_create_change_set_carries_the_rollback_configuration():
    """Stubbed CreateChangeSet: the configuration is a CreateChangeSet
    parameter (botocore validates its shape against the model)."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    conf = {
        "RollbackTriggers": [{"Arn": _alarm(NAMES[0])["AlarmArn"], "Type": "AWS::CloudWatch::Alarm"}],
        "MonitoringTimeInMinutes": 10,
    }
    cs = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/x/1"
    cfn.add_response(
        "create_change_set",
        {"Id": cs, "StackId": "arn:s"},
        {
            "StackName": "wealist-prod",
            "ChangeSetName": ANY,
            "ChangeSetType": "UPDATE",
            "Parameters": [],
            "Capabilities": ANY,
            "Tags": [],
            "IncludeNestedStacks": True,
            "ClientToken": ANY,
            "Description": ANY,
            "TemplateBody": "{}",
            "RollbackConfiguration": conf,
        },
    )
    cfn.add_response(
        "describe_change_set",
        {"ChangeSetId": cs, "Status": "CREATE_COMPLETE", "ExecutionStatus": "AVAILABLE"},
        {"ChangeSetName": cs},
    )
    changeset.create(
        aws,
        stack_name="wealist-prod",
        change_set_type="UPDATE",
        parameters=[],
        tags=[],
        template_body="{}",
        template_url=None,
        commit="abc",
        rollback_configuration=conf,
        sleep=lambda s: None,
    )
    cfn.assert_no_pending_responses()


def test_the_review_lists_the_triggers_the_change_set_itself_carries():
    """Stubbed DescribeChangeSet (its RollbackConfiguration member): the
    review of a change set, a plan's executed later included, names the
    alarms it carries and the monitoring time."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cs = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/x/1"
    cfn.add_response(
        "describe_change_set",
        {
            "ChangeSetId": cs,
            "Status": "CREATE_COMPLETE",
            "ExecutionStatus": "AVAILABLE",
            "Changes": [],
            "RollbackConfiguration": {
                "MonitoringTimeInMinutes": 10,
                "RollbackTriggers": [{"Arn": _alarm(NAMES[0])["AlarmArn"], "Type": "AWS::CloudWatch::Alarm"}],
            },
        },
        {"ChangeSetName": cs, "IncludePropertyValues": True},
    )
    rev = changeset.describe(aws, changeset.ChangeSet("x", cs, "arn:s", "UPDATE"), "wealist-prod")
    assert rev.notes == [f"this change set carries rollback triggers: {NAMES[0]} (monitoring 10 min)"]
