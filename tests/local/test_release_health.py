"""The first releases, one service at a time and in either order, without
instance churn: the health model (wealist_cfn.localenv.health) on the
compute template as it was and as it is, then the release path on the local
endpoint.

Stand-ins: moto's server (5.2.5) runs no instances and no health checks;
the local instance-refresh answer (localenv/refresh.py) ends a refresh by
the health model, which applies the Auto Scaling user guide's rules ("Health
checks for instances in an Auto Scaling group", "About the health checks for
your Auto Scaling group": with ELB health checks, an instance that any
attached target group reports unhealthy after the grace period is
replaced). What moto does itself: the stacks, the group's HealthCheckType as
CloudFormation resolves it (SSM parameter types included), UpdateAutoScalingGroup,
Parameter Store."""

from __future__ import annotations

import json

import boto3
import pytest

from wealist_cfn import cfnmodel
from wealist_cfn.localenv import health
from wealist_cfn.settings import DEFAULT_SETTINGS
from wealist_cfn.stacks import compute

from .conftest import run_cli

SERVICES = tuple(s.name for s in DEFAULT_SETTINGS.services)
ORDERS = [SERVICES, tuple(reversed(SERVICES))]
# The backend group as compute.py built it before the fix: ELB checks from
# the first deploy, both target groups attached.
BEFORE_FIX = "ELB"


def _type_after_fix(released: set[str]) -> str:
    """HealthCheckType of the backend group, as CloudFormation resolves the
    compute template for this release state (the SSM-typed tag parameters
    resolved to their values)."""
    template = json.loads(compute.build(DEFAULT_SETTINGS).to_json())
    given = {name: "x" for name, decl in template["Parameters"].items() if "Default" not in decl}
    for svc in DEFAULT_SETTINGS.services:
        given[compute.release_tag_parameter(svc)] = "abc123" if svc.name in released else "unreleased"
    stack = cfnmodel._resolve("ComputeStack", template, given, "ap-northeast-2", {})
    return stack.resources["BackendAutoScalingGroup"]["Properties"]["HealthCheckType"]


def _walk(order, health_type_for) -> list[tuple[str, bool, str]]:
    """(step, churns, refresh status) from the first deploy through one
    release per service in ``order``: the group as the deploy left it, each
    release's refresh under the group's type, then the type the release
    state asks for (the switch the release makes)."""
    released: set[str] = set()
    state = health.Backend(health_type_for(released), SERVICES, frozenset())
    steps = [("first deploy", state.churns(), "")]
    for svc in order:
        state = health.release(state, svc)
        status, _ = state.refresh()
        released.add(svc)
        if status == "Successful":
            state = health.Backend(health_type_for(released), SERVICES, frozenset(released))
        steps.append((f"release {svc}", state.churns(), status))
    return steps


@pytest.mark.parametrize("order", ORDERS, ids="-then-".join)
def test_the_template_as_it_was_churns_and_its_first_release_cannot_finish(order):
    """ELB checks with both target groups attached: after the first deploy
    every instance is replaced after each grace period, and the release of
    one service alone boots instances that fail the other group."""
    steps = _walk(order, lambda released: BEFORE_FIX)
    assert steps[0] == ("first deploy", True, "")
    assert steps[1] == (f"release {order[0]}", True, "Failed")


@pytest.mark.parametrize("order", ORDERS, ids="-then-".join)
def test_the_template_now_never_churns_and_each_release_finishes(order):
    """EC2 checks until every service is released, then ELB: no churn at
    any step, every refresh succeeds, and the group ends on ELB checks."""
    steps = _walk(order, _type_after_fix)
    assert steps == [("first deploy", False, ""), (f"release {order[0]}", False, "Successful"),
                     (f"release {order[1]}", False, "Successful")]
    assert _type_after_fix(set(SERVICES)) == "ELB"
    assert {_type_after_fix(set()), _type_after_fix({order[0]})} == {"EC2"}


def test_a_released_service_that_then_breaks_is_still_replaced():
    """The fix does not turn ELB checks off for good: once every service
    is released, an instance whose service stops answering fails its target
    group and is replaced (here: a service whose tag went back to
    unreleased stands for a container that no longer answers)."""
    state = health.Backend("ELB", SERVICES, frozenset(SERVICES[:1]))
    assert state.replaced_after_grace() == SERVICES[1:]


# -- on the local endpoint ------------------------------------------------------------------------

def _clients(folder):
    url = json.loads((folder / "state" / "endpoint.json").read_text())["url"]
    kw = dict(region_name="ap-northeast-2", endpoint_url=url, aws_access_key_id="testing",
              aws_secret_access_key="testing")
    return boto3.client("autoscaling", **kw), boto3.client("ssm", **kw)


def _health_type(asg) -> str:
    [group] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["wealist-prod-backend-asg"])[
        "AutoScalingGroups"]
    return group["HealthCheckType"]


def _release(env, service, tag):
    return run_cli("rollout", "--params", "params/prod.json", "--local", "--poll", "0",
                   "--release", f"{service}={tag}", env=env)


def test_releases_one_at_a_time_finish_and_switch_to_elb_after_the_last(deployed):
    """On the local endpoint, from a fresh deploy (both tags 'unreleased'):
    the group has EC2 checks; releasing the second service first succeeds
    and keeps EC2 checks; releasing the first then succeeds and switches the
    group to ELB; a later deploy resolves the same type, so nothing flips
    back. Then the same group, put on ELB checks with a service unreleased
    (the template as it was), fails a release's refresh and the release
    restores the previous tag."""
    env, folder = deployed
    asg, ssm = _clients(folder)
    assert _health_type(asg) == "EC2"

    first = _release(env, SERVICES[1], "b1")
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"health checks stay EC2 until {SERVICES[0]} is released" in first.stdout
    assert _health_type(asg) == "EC2"

    last = _release(env, SERVICES[0], "u1")
    assert last.returncode == 0, last.stdout + last.stderr
    assert "health checks EC2 -> ELB (every service is released)" in last.stdout
    assert _health_type(asg) == "ELB"

    again = run_cli("deploy", "--params", "params/prod.json", "--local", "--yes", env=env, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _health_type(asg) == "ELB"

    # The template as it was: ELB checks while a service is unreleased.
    ssm.put_parameter(Name=f"/wealist/prod/{DEFAULT_SETTINGS.services[0].tag_path}", Value="unreleased",
                      Type="String", Overwrite=True)
    asg.update_auto_scaling_group(AutoScalingGroupName="wealist-prod-backend-asg", HealthCheckType="ELB")
    broken = _release(env, SERVICES[1], "b2")
    assert broken.returncode != 0
    assert "never pass the health checks of the target groups of user-service" in broken.stderr + broken.stdout
    assert ssm.get_parameter(Name=f"/wealist/prod/{DEFAULT_SETTINGS.services[1].tag_path}")[
        "Parameter"]["Value"] == "b1"
