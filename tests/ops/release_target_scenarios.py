"""Releases on EC2 health checks against Stubbed Auto Scaling, Parameter Store and ELB clients: the
helpers and the scenarios of tests/ops/test_release_targets.py, which test_role_calls.py also runs
with recording clients to check every call under the role that makes it."""

from __future__ import annotations

import itertools

from helpers.release import GROUP, PREFS, TAG, _follow, _get, _group, _put, _quiet, _refresh
from wealist_cfn.ops import releasestate, rollout

from .tools import ROOT

BOARD = "/wealist/prod/deploy/board_service_image_tag"


TG_ARN = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/{}/0123456789abcdef"


USER_TG, BOARD_TG = TG_ARN.format("wealist-prod-user-tg"), TG_ARN.format("wealist-prod-board-tg")


INSTANCES = ("i-0aaaaaaaaaaaaaaa1", "i-0bbbbbbbbbbbbbbb2")


def _describe_group(stub, health_type="EC2", instances=INSTANCES, tgs=(USER_TG, BOARD_TG)):
    stub.add_response(
        "describe_auto_scaling_groups",
        {"AutoScalingGroups": [_group(health_type, instances, tgs)]},
        {"AutoScalingGroupNames": [GROUP]},
    )


def _health(stub, tg, states, reason="Target.FailedHealthChecks"):
    descs = []
    for iid, state in states.items():
        th = {"State": state}
        if state != "healthy":
            th.update(Reason=reason, Description="Health checks failed")
        descs.append({"Target": {"Id": iid, "Port": 8081}, "HealthCheckPort": "traffic-port", "TargetHealth": th})
    stub.add_response("describe_target_health", {"TargetHealthDescriptions": descs}, {"TargetGroupArn": tg})


def _start(stub, rid, prefs=PREFS):
    stub.add_response(
        "start_instance_refresh",
        {"InstanceRefreshId": rid},
        {"AutoScalingGroupName": GROUP, "Strategy": "Rolling", "Preferences": prefs},
    )


def _release(ssm, asg, elb, timeout=600.0):
    ticks = itertools.count(0, 60)
    return rollout.release(
        ssm,
        asg,
        GROUP,
        {TAG: "0123abcd"},
        poll_seconds=60,
        sleep=lambda s: None,
        clock=lambda: next(ticks),
        targets=rollout.TargetCheck(elb, (USER_TG,), timeout),
    )


def on_ec2_checks_a_release_whose_targets_stay_unhealthy_is_rolled_back(clients):
    """The scenario of the test of the same name, ``test_`` before it (whose docstring
    says what it proves); test_role_calls.py runs it with clients that record each call."""
    ssm, s, asg, a, elb, e = clients
    _get(s, "feedbeef")
    _quiet(a)
    _put(s, "0123abcd")
    _start(a, "r1")
    done = _refresh("r1", "Successful", 100, 0)
    _follow(a, "r1", done)
    for _ in range(2):  # a minute per clock reading: the second poll is at the 120 s deadline
        _describe_group(a)
        _health(e, USER_TG, {INSTANCES[0]: "unhealthy", INSTANCES[1]: "unhealthy"})
    _put(s, "feedbeef")
    _quiet(a, done)
    _start(a, "r2")
    _follow(a, "r2", _refresh("r2", "Successful", 100, 0))
    result = _release(ssm, asg, elb, timeout=120)
    assert not result.succeeded and result.restored and result.rollback.succeeded
    assert (
        "the refresh succeeded, but after 120s target group wealist-prod-user-tg reports "
        f"{INSTANCES[0]} unhealthy (Target.FailedHealthChecks)" in result.error
    )


def _tags(stub, user, board):
    params = [
        {"Name": n, "Type": "String", "Value": v, "Version": 1, "DataType": "text"}
        for n, v in ((TAG, user), (BOARD, board))
        if v is not None
    ]
    invalid = [n for n, v in ((TAG, user), (BOARD, board)) if v is None]
    stub.add_response(
        "get_parameters",
        {"Parameters": params, **({"InvalidParameters": invalid} if invalid else {})},
        {"Names": [TAG, BOARD], "WithDecryption": False},
    )


def released_but_unhealthy_keeps_ec2_and_says_why(clients):
    """The scenario of the test of the same name, ``test_`` before it (whose docstring
    says what it proves); test_role_calls.py runs it with clients that record each call."""
    ssm, s, asg, a, elb, e = clients
    _tags(s, "u1", "b1")
    _describe_group(a)
    _health(e, USER_TG, dict.fromkeys(INSTANCES, "healthy"))
    _health(e, BOARD_TG, {INSTANCES[0]: "healthy", INSTANCES[1]: "unhealthy"})
    got = releasestate.derive(ssm, asg, elb, "/wealist/prod", GROUP, "EC2")
    assert got.value == "EC2"
    assert got.held == [
        f"target group wealist-prod-board-tg reports {INSTANCES[1]} unhealthy (Target.FailedHealthChecks)"
    ]
    assert "kept EC2, every service is released but target group wealist-prod-board-tg" in got.source()


def cli_release_on_ec2_checks_waits_a_boot_and_checks_the_released_service_only(clients, capsys, monkeypatch):
    """The scenario of the test of the same name, ``test_`` before it (whose docstring
    says what it proves); test_role_calls.py runs it with clients that record each call."""
    from wealist_cfn import cli
    from wealist_cfn.aws import Aws

    ssm, s, asg, a, elb, e = clients
    monkeypatch.setattr(Aws, "check_credentials", lambda self: "123456789012")
    monkeypatch.setattr(Aws, "client", lambda self, service: {"ssm": ssm, "autoscaling": asg, "elbv2": elb}[service])
    _describe_group(a)  # the health-check type
    _describe_group(a)  # the attached target groups
    tg = {"TargetGroupName": "x", "Protocol": "HTTP", "VpcId": "vpc-1", "TargetType": "instance"}
    e.add_response(
        "describe_target_groups",
        {"TargetGroups": [dict(tg, TargetGroupArn=USER_TG, Port=8081), dict(tg, TargetGroupArn=BOARD_TG, Port=8000)]},
        {"TargetGroupArns": [USER_TG, BOARD_TG]},
    )
    _get(s, "unreleased")
    _quiet(a)
    _put(s, "0123abcd")
    _start(a, "r1", dict(PREFS, InstanceWarmup=rollout.EC2_CHECK_WARMUP))
    _follow(a, "r1", _refresh("r1", "Successful", 100, 0))
    _describe_group(a)
    _health(e, USER_TG, dict.fromkeys(INSTANCES, "healthy"))
    _tags(s, "0123abcd", "unreleased")
    _describe_group(a)
    code = cli.main(
        ["rollout", "--params", str(ROOT / "params" / "prod.json"), "--poll", "0", "--release", "user-service=0123abcd"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert rollout.EC2_CHECK_WARMUP > rollout.MEASURED_BOOT_SECONDS + 60 > 180
    assert "release rolled out on wealist-prod-backend-asg and every released service's targets are healthy" in out
    assert "health checks stay EC2 until board-service is released" in out
