"""A deploy's rollback-trigger lookup (deploy/triggers.py for_change_set:
DescribeAlarms of the stack's serving alarms by name) under the deploy
role, recorded by wealist_cfn/aws/calltrace.py like the story's calls.

Stand-in: botocore's Stubber, shaped like the CloudWatch API reference
(DescribeAlarms: MetricAlarms with AlarmName, AlarmArn, StateValue), since
the story runs against the local endpoint, where for_change_set makes no
call. What IAM authorises: DescribeAlarms names the alarm resource type
(Service Authorization Reference, Amazon CloudWatch); a call that names its
alarms is authorised on each alarm's ARN, so the deploy role's
RollbackTriggerAlarms statement, scoped to the stack's alarms, allows it.
On AWS a denial here is not fatal: for_change_set sends no triggers and the
review says so in a note (tests/deploy/test_rollback_triggers.py).
"""

from __future__ import annotations

from botocore.stub import Stubber

from wealist_cfn.aws import Aws, calltrace, iamcalls
from wealist_cfn.deploy import triggers

from . import check

PREFIX = "wealist-prod"


def _recorded(tmp_path, monkeypatch) -> tuple[list[dict], triggers.Triggers]:
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv(calltrace.ENV, str(trace))
    monkeypatch.setenv(calltrace.JOB_ENV, "merge-deploy")
    monkeypatch.setenv(calltrace.PRINCIPAL_ENV, check.DEPLOY)
    aws = Aws(check.REGION)
    aws.account = check.ACCOUNT
    cw = aws.session.client("cloudwatch", region_name=check.REGION)
    aws._clients["cloudwatch"] = cw
    names = sorted(triggers.alarm_names(PREFIX))
    alarms = [
        {"AlarmName": n, "AlarmArn": f"arn:aws:cloudwatch:{check.REGION}:{check.ACCOUNT}:alarm:{n}", "StateValue": "OK"}
        for n in names
    ]
    with Stubber(cw) as stub:
        stub.add_response(
            "describe_alarms", {"MetricAlarms": alarms}, {"AlarmNames": names, "AlarmTypes": ["MetricAlarm"]}
        )
        result = triggers.for_change_set(aws, PREFIX, "UPDATE")
        stub.assert_no_pending_responses()
    return calltrace.read(trace), result


def test_the_deploy_role_may_read_the_alarms_it_names_as_rollback_triggers(tmp_path, monkeypatch):
    calls, result = _recorded(tmp_path, monkeypatch)
    assert len(result.configuration["RollbackTriggers"]) == len(triggers.CRITICAL)
    [call] = calls
    needs = iamcalls.needs(call, account=check.ACCOUNT)
    assert sorted(n.resource for n in needs) == sorted(
        f"arn:aws:cloudwatch:{check.REGION}:{check.ACCOUNT}:alarm:{n}" for n in triggers.alarm_names(PREFIX)
    )
    deploy = check.principals()[check.DEPLOY]
    denied = [f"{n.line()}: {why}" for n in needs if (why := check.evaluate(deploy, n, [])) is not None]
    assert denied == []


def test_a_describe_alarms_without_names_is_asked_on_every_alarm():
    """No AlarmNames: the call lists every alarm of the account and region."""
    call = {"service": "cloudwatch", "operation": "DescribeAlarms", "params": {}, "region": check.REGION}
    [need] = iamcalls.needs(call, account=check.ACCOUNT)
    assert need.resource == f"arn:aws:cloudwatch:{check.REGION}:{check.ACCOUNT}:alarm:*"
