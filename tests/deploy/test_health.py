"""Verify after deploy (wealist_cfn.deploy.health and the deploy CLI's hook):
waits bounded until every target group is healthy, reports each target's
state and reason and the Auto Scaling group's recent activities when not,
and treats a service with no released image as "not released yet".

Stand-in: botocore's Stubber, with responses shaped like the API references:
CloudFormation DescribeStackResource / DescribeStacks, ELBv2
DescribeTargetHealth (TargetHealthDescriptions: Target, HealthCheckPort,
TargetHealth {State, Reason, Description}), Auto Scaling
DescribeScalingActivities (Activities: ActivityId, AutoScalingGroupName,
Description, Cause, StartTime, StatusCode, StatusMessage, Progress), SSM
GetParameter. The Stubber checks every request and response against
botocore's service models.
"""

from __future__ import annotations

import argparse
import io
from contextlib import redirect_stderr, redirect_stdout
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import Stubber

from wealist_cfn import config
from wealist_cfn.aws import Aws
from wealist_cfn.cli import deploy as cli
from wealist_cfn.deploy import health

PARAMS = Path(__file__).resolve().parents[2] / "params" / "prod.json"
pytestmark = pytest.mark.stubbed

REGION, ACCOUNT = "ap-northeast-2", "123456789012"
LB_STACK = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod-LoadBalancerStack-X/3333"
ROOT = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod/1111"
KEYS = ("UserService", "BoardService", "Grafana", "Prometheus")
TG = {
    k: f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/wealist-{k.lower()}/{i:016x}"
    for i, k in enumerate(KEYS, 1)
}
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def cfg():
    return config.load(PARAMS)


@pytest.fixture
def stubbed():
    aws = Aws(REGION)
    stubs = {}
    for service in ("cloudformation", "elbv2", "ssm", "autoscaling"):
        c = boto3.client(service, region_name=REGION)
        aws._clients[service] = c
        stubs[service] = Stubber(c)
        stubs[service].activate()
    yield aws, stubs
    for s in stubs.values():
        s.assert_no_pending_responses()


def _locate(stubs):
    stubs["cloudformation"].add_response(
        "describe_stack_resource",
        {
            "StackResourceDetail": {
                "StackName": "wealist-prod",
                "StackId": ROOT,
                "LogicalResourceId": "LoadBalancerStack",
                "PhysicalResourceId": LB_STACK,
                "ResourceType": "AWS::CloudFormation::Stack",
                "LastUpdatedTimestamp": T0,
                "ResourceStatus": "CREATE_COMPLETE",
            }
        },
        {"StackName": "wealist-prod", "LogicalResourceId": "LoadBalancerStack"},
    )
    stubs["cloudformation"].add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackId": LB_STACK,
                    "StackName": "wealist-prod-LoadBalancerStack-X",
                    "CreationTime": T0,
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [{"OutputKey": f"{k}TargetGroupArn", "OutputValue": arn} for k, arn in TG.items()]
                    + [{"OutputKey": "LoadBalancerDnsName", "OutputValue": "x.elb.amazonaws.com"}],
                }
            ]
        },
        {"StackName": LB_STACK},
    )


def _targets(stubs, key, *states):
    """One DescribeTargetHealth answer: (id, state, reason, description) per target."""
    port = {"UserService": 8081, "BoardService": 8000, "Grafana": 3000, "Prometheus": 9090}[key]
    stubs["elbv2"].add_response(
        "describe_target_health",
        {
            "TargetHealthDescriptions": [
                {
                    "Target": {"Id": iid, "Port": port},
                    "HealthCheckPort": str(port),
                    "TargetHealth": {
                        "State": state,
                        **({"Reason": reason} if reason else {}),
                        **({"Description": desc} if desc else {}),
                    },
                }
                for iid, state, reason, desc in states
            ]
        },
        {"TargetGroupArn": TG[key]},
    )


def _tag(stubs, svc, value):
    name = f"/wealist/prod/deploy/{svc}_image_tag"
    stubs["ssm"].add_response(
        "get_parameter",
        {
            "Parameter": {
                "Name": name,
                "Type": "String",
                "Value": value,
                "Version": 1,
                "LastModifiedDate": T0,
                "ARN": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}",
                "DataType": "text",
            }
        },
        {"Name": name},
    )


HEALTHY = ("i-0aaa", "healthy", "", "")
INITIAL = ("i-0aaa", "initial", "Elb.RegistrationInProgress", "Target registration is in progress")
FAILING = ("i-0bbb", "unhealthy", "Target.FailedHealthChecks", "Health checks failed")


def _poll(stubs, user, board, grafana=HEALTHY, prometheus=HEALTHY, tags=("abc123", "def456")):
    for key, states, svc, tag in (
        ("UserService", user, "user_service", tags[0]),
        ("BoardService", board, "board_service", tags[1]),
    ):
        _targets(stubs, key, *states)
        _tag(stubs, svc, tag)
    _targets(stubs, "Grafana", grafana)
    _targets(stubs, "Prometheus", prometheus)


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_waits_until_every_target_group_is_healthy(stubbed, cfg):
    aws, stubs = stubbed
    _locate(stubs)
    _poll(stubs, user=[INITIAL], board=[HEALTHY])
    _poll(stubs, user=[HEALTHY], board=[HEALTHY])
    clock = Clock()

    items = list(health.wait(aws, cfg, "wealist-prod", interval=15, timeout=600, sleep=clock.sleep, clock=clock))

    [progress, outcome] = items
    assert isinstance(progress, health.Progress) and progress.pending == ("user-service",)
    assert (progress.healthy, progress.total) == (3, 4)
    assert outcome.ok and not outcome.timed_out and outcome.waited == 15
    assert clock.sleeps == [15]


def test_unhealthy_after_the_timeout_reports_targets_and_scaling_activities(stubbed, cfg):
    aws, stubs = stubbed
    _locate(stubs)
    _poll(stubs, user=[HEALTHY], board=[FAILING])
    _poll(stubs, user=[HEALTHY], board=[FAILING])
    stubs["autoscaling"].add_response(
        "describe_scaling_activities",
        {
            "Activities": [
                {
                    "ActivityId": "f9f2d65b-f1f2-43e7-b46d-d86756459699",
                    "AutoScalingGroupName": "wealist-prod-backend-asg",
                    "Description": "Terminating EC2 instance: i-0bbb",
                    "Cause": "At 2026-11-28T12:20:00Z an instance was taken out of service in response to an ELB "
                    "system "
                    "health check failure.",
                    "StartTime": T0,
                    "StatusCode": "InProgress",
                    "Progress": 50,
                }
            ]
        },
        {"AutoScalingGroupName": "wealist-prod-backend-asg", "MaxRecords": 5},
    )
    clock = Clock()

    *progress, outcome = list(
        health.wait(aws, cfg, "wealist-prod", interval=30, timeout=30, sleep=clock.sleep, clock=clock)
    )

    assert len(progress) == 1 and not outcome.ok and outcome.timed_out
    [board] = [g for g in outcome.groups if g.group.serves == "board-service"]
    assert board.status == health.UNHEALTHY
    assert board.targets[0].reason == "Target.FailedHealthChecks"
    assert list(outcome.activities) == ["wealist-prod-backend-asg"]
    text = "\n".join(health.lines(outcome))
    assert "i-0bbb:8000 unhealthy (Target.FailedHealthChecks: Health checks failed)" in text
    assert "Terminating EC2 instance: i-0bbb" in text and "/var/log/wealist-boot.log" in text


def test_a_service_not_released_yet_does_not_fail_the_deploy(stubbed, cfg):
    """The first deploy: no image yet for user-service; its targets fail
    (nothing listens), which is expected; everything else is healthy."""
    aws, stubs = stubbed
    _locate(stubs)
    _poll(stubs, user=[FAILING], board=[HEALTHY], tags=("unreleased", "def456"))

    [outcome] = list(health.wait(aws, cfg, "wealist-prod", sleep=pytest.fail))

    assert outcome.ok
    statuses = {g.group.serves: g.status for g in outcome.groups}
    assert statuses == {
        "user-service": health.NOT_RELEASED,
        "board-service": health.HEALTHY,
        "grafana": health.HEALTHY,
        "prometheus": health.HEALTHY,
    }
    assert any("user-service   not released yet" in line for line in health.lines(outcome))


def test_monitoring_must_be_healthy_even_when_no_service_is_released(stubbed, cfg):
    aws, stubs = stubbed
    _locate(stubs)
    _poll(stubs, user=[FAILING], board=[FAILING], grafana=FAILING, tags=("unreleased", "unreleased"))
    stubs["autoscaling"].add_response(
        "describe_scaling_activities",
        {"Activities": []},
        {"AutoScalingGroupName": "wealist-prod-monitoring-asg", "MaxRecords": 5},
    )

    [outcome] = list(health.wait(aws, cfg, "wealist-prod", timeout=0, sleep=pytest.fail))

    assert not outcome.ok
    assert [g.group.serves for g in outcome.groups if not g.ok] == ["grafana"]


def _cli_verify(aws, cfg, **flags):
    args = argparse.Namespace(**{"no_wait_healthy": False, "local": False, **flags})
    dep = SimpleNamespace(
        aws=aws,
        config=cfg,
        opts=SimpleNamespace(stack_name="wealist-prod"),
        result=SimpleNamespace(final=SimpleNamespace(status="UPDATE_COMPLETE")),
    )
    out, err, doc = io.StringIO(), io.StringIO(), {}
    with redirect_stdout(out), redirect_stderr(err):
        code = cli._verify_health(args, dep, out, doc)
    return code, out.getvalue(), err.getvalue(), doc


def test_deploy_exits_1_when_targets_stay_unhealthy(stubbed, cfg, monkeypatch):
    """The CLI hook: progress, the unhealthy target and its reason, exit 1."""
    aws, stubs = stubbed
    _locate(stubs)
    _poll(stubs, user=[HEALTHY], board=[HEALTHY], prometheus=FAILING)
    stubs["autoscaling"].add_response(
        "describe_scaling_activities",
        {"Activities": []},
        {"AutoScalingGroupName": "wealist-prod-monitoring-asg", "MaxRecords": 5},
    )
    original = health.wait
    monkeypatch.setattr(health, "wait", lambda *a, **kw: original(*a, **{**kw, "timeout": 0}))

    code, out, err, doc = _cli_verify(aws, cfg)

    assert code == 1
    assert "prometheus     unhealthy (0/1 targets healthy)" in out
    assert "target groups still unhealthy" in err and "UPDATE_COMPLETE" in err
    assert doc["health"]["ok"] is False


def test_no_wait_healthy_makes_no_call(stubbed, cfg):
    """--no-wait-healthy: nothing is asked of AWS (the Stubber has no answer queued)."""
    aws, _ = stubbed
    code, out, _, doc = _cli_verify(aws, cfg, no_wait_healthy=True)
    assert code == 0 and "target health not checked (--no-wait-healthy)" in out
    assert "health" not in doc


# -- many targets per group, and the failure paths -----------------------------------------------

HEALTHY_2 = ("i-0ccc", "healthy", "", "")
DRAINING = ("i-0ddd", "draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")


@pytest.mark.parametrize("board", [[HEALTHY, FAILING], [FAILING, HEALTHY], [HEALTHY, HEALTHY_2, FAILING]])
def test_a_group_is_healthy_only_when_every_one_of_its_targets_is(stubbed, cfg, board):
    """Two or three targets per group, one of them failing, wherever it
    stands in the answer: the group is unhealthy and so is the outcome."""
    aws, stubs = stubbed
    _locate(stubs)
    _poll(stubs, user=[HEALTHY, HEALTHY_2], board=board, grafana=HEALTHY, prometheus=HEALTHY)
    stubs["autoscaling"].add_response(
        "describe_scaling_activities",
        {"Activities": []},
        {"AutoScalingGroupName": "wealist-prod-backend-asg", "MaxRecords": 5},
    )

    [outcome] = list(health.wait(aws, cfg, "wealist-prod", timeout=0, sleep=pytest.fail))

    statuses = {g.group.serves: g.status for g in outcome.groups}
    assert statuses == {
        "user-service": health.HEALTHY,
        "board-service": health.UNHEALTHY,
        "grafana": health.HEALTHY,
        "prometheus": health.HEALTHY,
    }
    assert not outcome.ok
    text = "\n".join(health.lines(outcome))
    assert f"board-service  unhealthy ({len(board) - 1}/{len(board)} targets healthy)" in text
    assert "user-service   healthy (2/2 targets healthy)" in text
    assert "i-0bbb:8000 unhealthy" in text and "i-0aaa:8000" not in text and "i-0ccc" not in text


def test_draining_targets_do_not_count_and_a_group_of_only_draining_ones_has_none(stubbed, cfg):
    """A target being deregistered (draining) is neither healthy nor
    failing; a group left with nothing else has no targets (not ok)."""
    aws, stubs = stubbed
    _poll(stubs, user=[HEALTHY, DRAINING], board=[DRAINING], grafana=HEALTHY, prometheus=HEALTHY)

    snapshot = health.check(aws, cfg, "wealist-prod", TG)

    statuses = {g.group.serves: (g.status, g.ok) for g in snapshot}
    assert statuses["user-service"] == (health.HEALTHY, True)
    assert statuses["board-service"] == (health.NO_TARGETS, False)


def test_a_group_missing_from_the_load_balancer_outputs_is_not_ok(stubbed, cfg):
    aws, stubs = stubbed
    arns = {k: v for k, v in TG.items() if k != "Prometheus"}
    for key, svc, tag in (("UserService", "user_service", "abc"), ("BoardService", "board_service", "def")):
        _targets(stubs, key, HEALTHY)
        _tag(stubs, svc, tag)
    _targets(stubs, "Grafana", HEALTHY)

    snapshot = health.check(aws, cfg, "wealist-prod", arns)

    [missing] = [g for g in snapshot if not g.ok]
    assert (missing.group.serves, missing.status, missing.arn) == ("prometheus", health.NO_TARGETS, "")


@pytest.mark.parametrize("value,released", [("abc123", True), ("unreleased", False), ("", False)])
def test_released_reads_the_image_tag(stubbed, value, released):
    aws, stubs = stubbed
    name = "/wealist/prod/deploy/user_service_image_tag"
    stubs["ssm"].add_response(
        "get_parameter",
        {
            "Parameter": {
                "Name": name,
                "Type": "String",
                "Value": value,
                "Version": 1,
                "LastModifiedDate": T0,
                "ARN": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}",
                "DataType": "text",
            }
        },
        {"Name": name},
    )
    assert health._released(aws.client("ssm"), name) is released


def test_a_missing_image_tag_is_not_released_but_any_other_error_is_raised(stubbed):
    """Failure paths of GetParameter (SSM API reference, Errors:
    ParameterNotFound 400; AccessDeniedException for a caller without
    ssm:GetParameter): a parameter bootstrap never made means nothing is
    released; being refused the read must not pass for "not released"."""
    from botocore.exceptions import ClientError

    aws, stubs = stubbed
    name = "/wealist/prod/deploy/user_service_image_tag"
    stubs["ssm"].add_client_error(
        "get_parameter", "ParameterNotFound", http_status_code=400, expected_params={"Name": name}
    )
    stubs["ssm"].add_client_error(
        "get_parameter", "AccessDeniedException", http_status_code=400, expected_params={"Name": name}
    )
    assert health._released(aws.client("ssm"), name) is False
    with pytest.raises(ClientError):
        health._released(aws.client("ssm"), name)


def test_the_wait_sleeps_no_longer_than_the_time_left(stubbed, cfg):
    """interval 15, timeout 20: one full interval, then the 5 s left, then
    the timed-out outcome; every poll counts the groups that are ok."""
    aws, stubs = stubbed
    _locate(stubs)
    for _ in range(3):
        _poll(stubs, user=[INITIAL], board=[HEALTHY])
    stubs["autoscaling"].add_response(
        "describe_scaling_activities",
        {"Activities": []},
        {"AutoScalingGroupName": "wealist-prod-backend-asg", "MaxRecords": 5},
    )
    clock = Clock()

    *progress, outcome = list(
        health.wait(aws, cfg, "wealist-prod", interval=15, timeout=20, sleep=clock.sleep, clock=clock)
    )

    assert clock.sleeps == [15, 5]
    assert [(p.waited, p.healthy, p.total, p.pending) for p in progress] == [
        (0, 3, 4, ("user-service",)),
        (15, 3, 4, ("user-service",)),
    ]
    assert outcome.timed_out and outcome.waited == 20 and not outcome.ok


def test_a_timed_out_outcome_holds_the_failing_groups_activities_in_full(stubbed, cfg):
    """Only the Auto Scaling groups behind a failing target group are asked
    for their activities, and each activity keeps its start, status,
    description, cause and message, in the text and in the JSON."""
    aws, stubs = stubbed
    _locate(stubs)
    _poll(stubs, user=[HEALTHY], board=[HEALTHY], grafana=FAILING, prometheus=HEALTHY)
    stubs["autoscaling"].add_response(
        "describe_scaling_activities",
        {
            "Activities": [
                {
                    "ActivityId": "a1",
                    "AutoScalingGroupName": "wealist-prod-monitoring-asg",
                    "Description": "Launching a new EC2 instance: i-0eee",
                    "Cause": "capacity from 0 to 1",
                    "StartTime": T0,
                    "StatusCode": "Failed",
                    "StatusMessage": "We currently do not have sufficient capacity",
                    "Progress": 100,
                }
            ]
        },
        {"AutoScalingGroupName": "wealist-prod-monitoring-asg", "MaxRecords": 5},
    )

    [outcome] = list(health.wait(aws, cfg, "wealist-prod", timeout=0, sleep=pytest.fail))

    assert outcome.activities == {
        "wealist-prod-monitoring-asg": [
            health.Activity(
                str(T0),
                "Failed",
                "Launching a new EC2 instance: i-0eee",
                "capacity from 0 to 1",
                "We currently do not have sufficient capacity",
            )
        ]
    }
    text = health.lines(outcome)
    assert "  recent activities of wealist-prod-monitoring-asg:" in text
    assert (
        f"      {T0} Failed: Launching a new EC2 instance: i-0eee (We currently do not have sufficient capacity)"
    ) in text
    doc = outcome.to_dict()
    assert (doc["ok"], doc["timedOut"], doc["waitedSeconds"]) == (False, True, 0)
    grafana = next(g for g in doc["groups"] if g["serves"] == "grafana")
    assert grafana == {
        "targetGroup": "Grafana",
        "serves": "grafana",
        "arn": TG["Grafana"],
        "status": "unhealthy",
        "autoScalingGroup": "wealist-prod-monitoring-asg",
        "targets": [
            {
                "id": "i-0bbb",
                "port": 3000,
                "state": "unhealthy",
                "reason": "Target.FailedHealthChecks",
                "description": "Health checks failed",
            }
        ],
    }
    assert doc["activities"] == {
        "wealist-prod-monitoring-asg": [
            {
                "start": str(T0),
                "status": "Failed",
                "description": "Launching a new EC2 instance: i-0eee",
                "cause": "capacity from 0 to 1",
                "message": "We currently do not have sufficient capacity",
            }
        ]
    }


def test_an_asg_with_no_recent_activity_says_none(stubbed, cfg):
    aws, stubs = stubbed
    _locate(stubs)
    _poll(stubs, user=[HEALTHY], board=[HEALTHY], grafana=HEALTHY, prometheus=FAILING)
    stubs["autoscaling"].add_response(
        "describe_scaling_activities",
        {"Activities": []},
        {"AutoScalingGroupName": "wealist-prod-monitoring-asg", "MaxRecords": 5},
    )
    [outcome] = list(health.wait(aws, cfg, "wealist-prod", timeout=0, sleep=pytest.fail))
    text = health.lines(outcome)
    assert text[text.index("  recent activities of wealist-prod-monitoring-asg:") + 1] == "      none"


def test_optional_fields_left_out_by_the_api_read_as_empty(stubbed, cfg):
    """DescribeScalingActivities: Description and StatusMessage are optional
    in an Activity (Auto Scaling API reference; ActivityId, Cause,
    StartTime, StatusCode are required); TargetHealth's Reason and
    Description are optional too. Absent, they read as "" and the text adds
    no empty parentheses."""
    aws, stubs = stubbed
    _locate(stubs)
    _poll(stubs, user=[HEALTHY], board=[HEALTHY], grafana=("i-0fff", "unavailable", "", ""), prometheus=HEALTHY)
    stubs["autoscaling"].add_response(
        "describe_scaling_activities",
        {
            "Activities": [
                {
                    "ActivityId": "a2",
                    "AutoScalingGroupName": "wealist-prod-monitoring-asg",
                    "Cause": "a user request",
                    "StartTime": T0,
                    "StatusCode": "Successful",
                }
            ]
        },
        {"AutoScalingGroupName": "wealist-prod-monitoring-asg", "MaxRecords": 5},
    )

    [outcome] = list(health.wait(aws, cfg, "wealist-prod", timeout=0, sleep=pytest.fail))

    assert outcome.activities["wealist-prod-monitoring-asg"] == [
        health.Activity(str(T0), "Successful", "", "a user request", "")
    ]
    text = health.lines(outcome)
    assert "      i-0fff:3000 unavailable" in text
    assert f"      {T0} Successful: " in text
    assert text[-1] == (
        "  an instance's boot log: /var/log/wealist-boot.log (Session Manager), or aws ec2 "
        "get-console-output --instance-id ID; docs/operations.md, 'When a target stays unhealthy'"
    )
    [grafana] = [g for g in outcome.to_dict()["groups"] if g["serves"] == "grafana"]
    assert grafana["targets"] == [
        {"id": "i-0fff", "port": 3000, "state": "unavailable", "reason": "", "description": ""}
    ]


def test_the_last_sleep_is_the_time_left_even_below_a_second(stubbed, cfg):
    """interval 15, timeout 15.5: the second sleep is the half second left,
    not more: the wait ends at its deadline."""
    aws, stubs = stubbed
    _locate(stubs)
    for _ in range(3):
        _poll(stubs, user=[INITIAL], board=[HEALTHY])
    stubs["autoscaling"].add_response(
        "describe_scaling_activities",
        {"Activities": []},
        {"AutoScalingGroupName": "wealist-prod-backend-asg", "MaxRecords": 5},
    )
    clock = Clock()
    *_, outcome = list(health.wait(aws, cfg, "wealist-prod", interval=15, timeout=15.5, sleep=clock.sleep, clock=clock))
    assert clock.sleeps == [15, 0.5] and outcome.waited == 15.5 and outcome.timed_out


def test_a_group_missing_in_the_middle_does_not_hide_the_ones_after_it(stubbed, cfg):
    """BoardService has no output: it has no targets, and Grafana and
    Prometheus after it are still checked."""
    aws, stubs = stubbed
    arns = {k: v for k, v in TG.items() if k != "BoardService"}
    _targets(stubs, "UserService", HEALTHY)
    _tag(stubs, "user_service", "abc")
    _targets(stubs, "Grafana", FAILING)
    _targets(stubs, "Prometheus", HEALTHY)

    snapshot = health.check(aws, cfg, "wealist-prod", arns)

    assert [(g.group.serves, g.status) for g in snapshot] == [
        ("user-service", health.HEALTHY),
        ("board-service", health.NO_TARGETS),
        ("grafana", health.UNHEALTHY),
        ("prometheus", health.HEALTHY),
    ]


def test_a_load_balancer_stack_without_outputs_yet_has_no_target_groups(stubbed):
    """DescribeStacks leaves Outputs out while a stack has none (API
    reference: Stack.Outputs is optional): no ARNs, not an error."""
    aws, stubs = stubbed
    stubs["cloudformation"].add_response(
        "describe_stack_resource",
        {
            "StackResourceDetail": {
                "StackName": "wealist-prod",
                "StackId": ROOT,
                "LogicalResourceId": "LoadBalancerStack",
                "PhysicalResourceId": LB_STACK,
                "ResourceType": "AWS::CloudFormation::Stack",
                "LastUpdatedTimestamp": T0,
                "ResourceStatus": "CREATE_IN_PROGRESS",
            }
        },
        {"StackName": "wealist-prod", "LogicalResourceId": "LoadBalancerStack"},
    )
    stubs["cloudformation"].add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackId": LB_STACK,
                    "StackName": "wealist-prod-LoadBalancerStack-X",
                    "CreationTime": T0,
                    "StackStatus": "CREATE_IN_PROGRESS",
                }
            ]
        },
        {"StackName": LB_STACK},
    )
    assert health.target_group_arns(aws, "wealist-prod") == {}


def test_an_answer_without_target_descriptions_is_a_group_without_targets(stubbed, cfg):
    """DescribeTargetHealth's TargetHealthDescriptions is optional in the
    output (ELBv2 API reference): left out, the group has no targets."""
    aws, stubs = stubbed
    _targets(stubs, "UserService", HEALTHY)
    _tag(stubs, "user_service", "abc")
    stubs["elbv2"].add_response("describe_target_health", {}, {"TargetGroupArn": TG["BoardService"]})
    _tag(stubs, "board_service", "def")
    _targets(stubs, "Grafana", HEALTHY)
    _targets(stubs, "Prometheus", HEALTHY)
    snapshot = health.check(aws, cfg, "wealist-prod", TG)
    assert [(g.group.serves, g.status) for g in snapshot][1] == ("board-service", health.NO_TARGETS)
