"""A release on EC2 health checks is judged on its target group, the
refresh waits a measured boot per instance, and BackendHealthCheckType
goes to ELB only when every service is released and every target healthy.

Stand-in: botocore's Stubber, responses shaped like the API references:
Auto Scaling (DescribeAutoScalingGroups, StartInstanceRefresh,
DescribeInstanceRefreshes: https://docs.aws.amazon.com/autoscaling/ec2/APIReference/),
Elastic Load Balancing v2 (DescribeTargetGroups, DescribeTargetHealth;
TargetHealth.State is initial | healthy | unhealthy | unused | draining |
unavailable, with a Reason such as Target.FailedHealthChecks:
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html)
and SSM (GetParameter, GetParameters, PutParameter). The stubs check each
request's exact parameters and order. What real AWS does that they do not:
EC2 status checks pass an instance whose service never answers (Auto
Scaling user guide, "Health checks for instances in an Auto Scaling
group"), which is why the target check exists; and with ELB checks an
instance any attached target group reports unhealthy after the grace
period is replaced (same page), which is why the switch waits for health.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from helpers.release import GROUP, TAG, _follow, _get, _put, _quiet, _refresh
from wealist_cfn import config
from wealist_cfn.ops import releasestate

from .release_target_scenarios import (
    BOARD_TG,
    INSTANCES,
    USER_TG,
    _describe_group,
    _health,
    _release,
    _start,
    _tags,
    cli_release_on_ec2_checks_waits_a_boot_and_checks_the_released_service_only,
    on_ec2_checks_a_release_whose_targets_stay_unhealthy_is_rolled_back,
    released_but_unhealthy_keeps_ec2_and_says_why,
)
from .tools import ROOT

pytestmark = pytest.mark.stubbed


@pytest.fixture
def clients():
    kw = dict(region_name="ap-northeast-2")
    ssm, asg, elb = boto3.client("ssm", **kw), boto3.client("autoscaling", **kw), boto3.client("elbv2", **kw)
    with Stubber(ssm) as s, Stubber(asg) as a, Stubber(elb) as e:
        yield ssm, s, asg, a, elb, e
        for stub in (s, a, e):
            stub.assert_no_pending_responses()


def test_on_ec2_checks_a_release_whose_targets_stay_unhealthy_is_rolled_back(clients):
    """The refresh succeeds (EC2 checks see running instances), the user
    service's target group keeps reporting both instances unhealthy past
    the grace period: the release failed, the previous tag is restored and
    rolled out again. Before the target check, this release succeeded."""
    on_ec2_checks_a_release_whose_targets_stay_unhealthy_is_rolled_back(clients)


def test_on_ec2_checks_a_release_succeeds_once_every_instance_is_healthy(clients):
    """initial, then healthy: the check waits (bounded) instead of failing."""
    ssm, s, asg, a, elb, e = clients
    _get(s, "feedbeef")
    _quiet(a)
    _put(s, "0123abcd")
    _start(a, "r1")
    _follow(a, "r1", _refresh("r1", "Successful", 100, 0))
    _describe_group(a)
    _health(e, USER_TG, {INSTANCES[0]: "healthy", INSTANCES[1]: "initial"}, reason="Elb.RegistrationInProgress")
    _describe_group(a)
    _health(e, USER_TG, {INSTANCES[0]: "healthy", INSTANCES[1]: "healthy"})
    result = _release(ssm, asg, elb)
    assert result.succeeded and not result.restored and result.unhealthy == []


def test_an_instance_missing_from_the_target_group_counts_as_not_healthy(clients):
    _, _, asg, a, elb, e = clients
    _describe_group(a)
    _health(e, USER_TG, {INSTANCES[0]: "healthy"})
    assert releasestate.target_problems(asg, elb, GROUP, (USER_TG,)) == [
        f"target group wealist-prod-user-tg reports {INSTANCES[1]} not registered"
    ]


# -- what deploy passes for BackendHealthCheckType -----------------------------------------------------


@pytest.mark.parametrize("user,board", [("unreleased", "b1"), (None, "b1"), ("u1", "unreleased")])
def test_ec2_while_any_service_is_unreleased_without_asking_the_group(clients, user, board):
    ssm, s, asg, _, elb, _ = clients
    _tags(s, user, board)
    got = releasestate.derive(ssm, asg, elb, "/wealist/prod", GROUP, "EC2")
    assert got.value == "EC2" and got.unreleased
    assert "not released yet" in got.source() and "the params file does not set it" in got.source()


def test_elb_once_every_service_is_released_and_every_target_is_healthy(clients):
    ssm, s, asg, a, elb, e = clients
    _tags(s, "u1", "b1")
    _describe_group(a)
    _health(e, USER_TG, dict.fromkeys(INSTANCES, "healthy"))
    _health(e, BOARD_TG, dict.fromkeys(INSTANCES, "healthy"))
    got = releasestate.derive(ssm, asg, elb, "/wealist/prod", GROUP, "EC2")
    assert got.value == "ELB" and not got.held
    assert got.source().startswith(f"BackendHealthCheckType ELB: derived from Parameter Store ({TAG} = u1, ")


def test_released_but_unhealthy_keeps_ec2_and_says_why(clients):
    """Switching now would have Auto Scaling replace the board instances
    after their grace period; the deploy keeps EC2 and names them."""
    released_but_unhealthy_keeps_ec2_and_says_why(clients)


def test_a_stack_on_elb_stays_elb_and_a_new_stack_starts_on_ec2(clients):
    """Once ELB, target health is what the checks act on, not a reason to
    go back; a stack that does not exist yet has no healthy targets."""
    ssm, s, asg, _, elb, _ = clients
    _tags(s, "u1", "b1")
    assert releasestate.derive(ssm, asg, elb, "/wealist/prod", GROUP, "ELB").value == "ELB"
    _tags(s, "u1", "b1")
    created = releasestate.derive(ssm, asg, elb, "/wealist/prod", GROUP, None)
    assert created.value == "EC2" and "does not exist yet" in created.held[0]


def test_a_params_file_that_sets_the_derived_parameter_is_refused(tmp_path):
    import json

    entries = json.loads((ROOT / "params" / "prod.json").read_text())
    entries.append({"ParameterKey": "BackendHealthCheckType", "ParameterValue": "ELB"})
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(entries))
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert str(err.value).startswith(f"{path}: BackendHealthCheckType: is derived by deploy and plan")


# -- the CLI on an EC2-checked group ---------------------------------------------------------------------


def test_cli_release_on_ec2_checks_waits_a_boot_and_checks_the_released_service_only(clients, capsys, monkeypatch):
    """StartInstanceRefresh carries InstanceWarmup = measured boot + 60 s
    (the group's 180 s default would let the refresh move on before the
    services answer); the target check covers user-service's group, found
    by its port; after the release the CLI says health checks stay EC2 and
    changes no group setting (no UpdateAutoScalingGroup is stubbed)."""
    cli_release_on_ec2_checks_waits_a_boot_and_checks_the_released_service_only(clients, capsys, monkeypatch)
