"""The first releases, one service at a time and in either order, without
instance churn: the health model (wealist_cfn.rehearsal.health) on the
compute template as it was and as it is, then the release path on the local
endpoint, a broken release included.

Stand-ins: moto's server (5.2.5) runs no instances and no health checks;
the local instance-refresh and DescribeTargetHealth answers
(rehearsal/refresh.py) follow the health model, which applies the Auto
Scaling user guide's rules ("Health checks for instances in an Auto Scaling
group", "About the health checks for your Auto Scaling group": with ELB
health checks, an instance that any attached target group reports unhealthy
after the grace period is replaced; EC2 status checks look at the instance,
not at what runs on it). What moto does itself: the stacks, the group's
HealthCheckType as CloudFormation sets it from the BackendHealthCheckType
parameter, Parameter Store, target groups and their registrations."""

from __future__ import annotations

import json

import boto3
import pytest

from wealist_cfn.cfn import model as cfnmodel
from wealist_cfn.core.settings import DEFAULT_SETTINGS
from wealist_cfn.ops import releasestate
from wealist_cfn.rehearsal import health
from wealist_cfn.stacks import compute

from .conftest import run_cli

SERVICES = tuple(s.name for s in DEFAULT_SETTINGS.services)
ORDERS = [SERVICES, tuple(reversed(SERVICES))]
# The backend group as compute.py built it before the fix: ELB checks from
# the first deploy, both target groups attached.
BEFORE_FIX = "ELB"


def _type_after_fix(released: set[str]) -> str:
    """HealthCheckType of the backend group, as CloudFormation resolves the
    compute template with the BackendHealthCheckType that deploy derives for
    this release state (every target healthy)."""
    missing = tuple(s for s in SERVICES if s not in released)
    template = json.loads(compute.build(DEFAULT_SETTINGS).to_json())
    given = {name: "x" for name, decl in template["Parameters"].items() if "Default" not in decl}
    given["BackendHealthCheckType"] = releasestate.wanted_type(missing)
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
    assert steps == [
        ("first deploy", False, ""),
        (f"release {order[0]}", False, "Successful"),
        (f"release {order[1]}", False, "Successful"),
    ]
    assert _type_after_fix(set(SERVICES)) == "ELB"
    assert {_type_after_fix(set()), _type_after_fix({order[0]})} == {"EC2"}


def test_a_released_service_that_then_breaks_is_still_replaced():
    """The fix does not turn ELB checks off for good: once every service
    is released, an instance whose service stops answering fails its target
    group and is replaced."""
    state = health.Backend("ELB", SERVICES, frozenset(SERVICES), frozenset(SERVICES[:1]))
    assert state.replaced_after_grace() == SERVICES[:1]
    assert state.refresh()[0] == "Failed"


def test_a_broken_release_on_ec2_checks_passes_its_refresh_and_fails_its_target_group():
    """The model no longer takes released for healthy: under EC2 checks the
    refresh of a broken image succeeds (nothing looks at the service), and
    only its target group's health shows the failure, which is what the
    release then judges (ops/rollout.py TargetCheck)."""
    state = health.release(health.Backend("EC2", SERVICES, frozenset()), SERVICES[0], broken=True)
    assert state.refresh() == ("Successful", "")
    assert not state.churns()
    assert state.target_health(SERVICES[0]) == "unhealthy"
    fixed = health.release(state, SERVICES[0])
    assert fixed.target_health(SERVICES[0]) == "healthy" and not fixed.broken


# -- on the local endpoint ------------------------------------------------------------------------


def _clients(folder):
    url = json.loads((folder / "state" / "endpoint.json").read_text())["url"]
    kw = dict(
        region_name="ap-northeast-2", endpoint_url=url, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return boto3.client("autoscaling", **kw), boto3.client("ssm", **kw)


def _health_type(asg) -> str:
    [group] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["wealist-prod-backend-asg"])["AutoScalingGroups"]
    return group["HealthCheckType"]


def _release(env, service, tag):
    return run_cli(
        "rollout", "--params", "params/prod.json", "--local", "--poll", "0", "--release", f"{service}={tag}", env=env
    )


def _deploy(env):
    done = run_cli("deploy", "--params", "params/prod.json", "--local", "--yes", env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _push(folder, repository, tag):
    """An image in moto's ECR under ``tag`` (preflight checks that the
    released tags exist before a deploy)."""
    url = json.loads((folder / "state" / "endpoint.json").read_text())["url"]
    ecr = boto3.client(
        "ecr",
        region_name="ap-northeast-2",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1,
            "digest": "sha256:" + "0" * 64,
        },
        "layers": [],
    }
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)


def _tag(ssm, service_index):
    return ssm.get_parameter(Name=f"/wealist/prod/{DEFAULT_SETTINGS.services[service_index].tag_path}")["Parameter"][
        "Value"
    ]


def test_releases_one_at_a_time_finish_and_the_deploy_switches_to_elb_after_the_last(deployed):
    """On the local endpoint, from a fresh deploy (both tags 'unreleased'):
    the group has EC2 checks; releasing the second service first succeeds
    (its target group healthy) and keeps EC2 checks; a broken release of the
    first service passes its refresh under EC2 checks but fails its target
    group, so it is rolled back and its tag restored; the good release of
    the first service then tells the operator to deploy, and the deploy
    (not an out-of-band call) switches the group to ELB, its review naming
    where the value came from; a later deploy keeps ELB with no changes."""
    env, folder = deployed
    asg, ssm = _clients(folder)
    assert _health_type(asg) == "EC2"

    first = _release(env, SERVICES[1], "b1")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "every released service's targets are healthy" in first.stdout
    assert f"health checks stay EC2 until {SERVICES[0]} is released" in first.stdout
    assert _health_type(asg) == "EC2"

    broken = run_cli(
        "rollout",
        "--params",
        "params/prod.json",
        "--local",
        "--poll",
        "0",
        "--target-timeout",
        "0",
        "--release",
        f"{SERVICES[0]}=broken-u0",
        env=env,
    )
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "the refresh succeeded, but after 0s target group" in broken.stderr
    assert "Target.FailedHealthChecks" in broken.stderr
    assert "rolled back" in broken.stderr
    assert _tag(ssm, 0) == "unreleased" and _health_type(asg) == "EC2"

    last = _release(env, SERVICES[0], "u1")
    assert last.returncode == 0, last.stdout + last.stderr
    assert (
        "every service is released and every target is healthy: switch to ELB health checks with "
        "python build.py deploy --params params/prod.json" in last.stdout
    )
    assert _health_type(asg) == "EC2"

    _push(folder, SERVICES[0], "u1")
    _push(folder, SERVICES[1], "b1")
    switched = _deploy(env)
    assert "BackendHealthCheckType ELB: derived from Parameter Store" in switched
    assert "every service is released" in switched
    assert _health_type(asg) == "ELB"

    again = _deploy(env)
    assert "BackendHealthCheckType ELB" in again
    assert _health_type(asg) == "ELB"


def test_a_broken_release_on_elb_checks_fails_its_refresh_and_restores_the_tag(deployed):
    """Once on ELB checks (the test before), a broken image fails its
    refresh (its replacements never pass their target group) and the
    release restores the previous tag."""
    env, folder = deployed
    asg, ssm = _clients(folder)
    if _health_type(asg) != "ELB":
        # Run on its own (not after the test above): release both services
        # and deploy, which is how a group reaches ELB checks.
        for index, tag in ((1, "b1"), (0, "u1")):
            done = _release(env, SERVICES[index], tag)
            assert done.returncode == 0, done.stdout + done.stderr
            _push(folder, SERVICES[index], tag)
        _deploy(env)
    assert _health_type(asg) == "ELB"
    before = _tag(ssm, 1)
    broken = _release(env, SERVICES[1], "broken-b2")
    assert broken.returncode == 1
    assert "never pass the health checks of the target groups of board-service" in broken.stderr + broken.stdout
    assert _tag(ssm, 1) == before
