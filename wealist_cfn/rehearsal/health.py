"""A model of the backend group's instance health, for the local endpoint
(moto runs no instances and no health checks) and for tests.

The rules it applies, from the Amazon EC2 Auto Scaling user guide:

* "Health checks for instances in an Auto Scaling group" and "About the
  health checks for your Auto Scaling group"
  (docs.aws.amazon.com/autoscaling/ec2/userguide/health-checks-overview.html):
  EC2 status checks are the default; with ``HealthCheckType: ELB`` the
  group also takes the load balancer's view, and an InService instance that
  ANY attached target group reports unhealthy after the health check grace
  period is replaced by a new one launched from the group's current
  settings.
* "Attach an Elastic Load Balancing load balancer to your Auto Scaling
  group": "can replace a running instance if any of the Elastic Load
  Balancing load balancers you attach to the Auto Scaling group report it
  as unhealthy".
* Instance refresh ("How instance refresh works"): a replacement counts
  toward MinHealthyPercentage only once it passes the group's health checks
  (and its warm-up); one that never does is replaced again and the refresh
  cannot finish.

And of this project: an instance runs exactly the services whose image tag
is released (instance-files/config/render.py leaves the others out), and a
target group's check passes only on an instance where its service runs
(a container answering on the group's port). A released image may be
broken (its container starts but never answers): its target group then
reports every instance unhealthy, and with EC2 checks the refresh still
succeeds (EC2 status checks look at the instance, not the service), which
is why a release on EC2 checks is judged on target health afterwards
(ops/rollout.py ``TargetCheck``). On the local endpoint a tag that starts
with ``broken-`` stands for such an image (:data:`BROKEN_PREFIX`).

The model is data in, data out; :func:`from_moto` reads the same facts
from moto's backends for the local instance-refresh answer (refresh.py).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

ELB, EC2 = "ELB", "EC2"
UNRELEASED = "unreleased"
BROKEN_PREFIX = "broken-"


@dataclass(frozen=True)
class Backend:
    """What decides an instance's health: the group's health-check type,
    the services whose target groups are attached, and the released ones."""

    health_check_type: str
    attached: tuple[str, ...]  # services, one per attached target group
    released: frozenset[str]
    broken: frozenset[str] = frozenset()  # released, but the container never answers

    def failing_groups(self) -> tuple[str, ...]:
        """Attached target groups that report a new instance unhealthy
        (nothing listens on the port of an unreleased service, nothing
        answers on a broken one's)."""
        return tuple(s for s in self.attached if s not in self.released or s in self.broken)

    def target_health(self, service: str) -> str:
        """What the service's target group reports for a new instance once
        its checks have run (DescribeTargetHealth's State)."""
        return "unhealthy" if service in self.failing_groups() else "healthy"

    def replaced_after_grace(self) -> tuple[str, ...]:
        """Why every instance is replaced once its grace period ends:
        the failing target groups when the group takes ELB health into
        account; nothing with EC2 checks (the instances are running)."""
        return self.failing_groups() if self.health_check_type == ELB else ()

    def churns(self) -> bool:
        return bool(self.replaced_after_grace())

    def refresh(self) -> tuple[str, str]:
        """(Status, StatusReason) an instance refresh ends in."""
        failing = self.replaced_after_grace()
        if failing:
            return "Failed", (
                f"new instances never pass the health checks of the target groups of "
                f"{', '.join(failing)} (not released: nothing listens on their ports), so "
                f"each replacement is replaced again after its grace period"
            )
        return "Successful", ""


def release(state: Backend, service: str, *, broken: bool = False) -> Backend:
    """The same group after ``service``'s tag is set (before any switch);
    ``broken``: its image never answers."""
    return Backend(
        state.health_check_type,
        state.attached,
        state.released | {service},
        state.broken | {service} if broken else state.broken - {service},
    )


# -- reading moto --------------------------------------------------------------------------------

_PORT = re.compile(r'\b([A-Z]+)_SERVICE_PORT="(\d+)"')
_PREFIX = re.compile(r'\bWEALIST_PREFIX="([^"]+)"')


def _user_data(group) -> str | None:
    template = getattr(group, "ec2_launch_template", None)
    version = template.latest_version() if template is not None else None
    raw = version.user_data if version else None
    return base64.b64decode(str(raw)).decode("utf-8", "replace") if raw else None


def service_of(account: str, region: str, group_name: str, target_group_arn: str) -> str | None:
    """The service a backend group's target group serves (by its port), or None."""
    from moto.autoscaling.models import autoscaling_backends
    from moto.elbv2.models import elbv2_backends

    text = _user_data(autoscaling_backends[account][region].autoscaling_groups[group_name])
    if not text:
        return None
    ports = {int(port): f"{name.lower()}-service" for name, port in _PORT.findall(text)}
    tg = elbv2_backends[account][region].target_groups.get(target_group_arn)
    return ports.get(int(tg.port)) if tg is not None and tg.port is not None else None


def from_moto(account: str, region: str, group_name: str) -> Backend | None:
    """The model's inputs for a group of moto's, or None when the group's
    launch template is not a Wealist backend one (no service ports in its
    UserData): the ports and the Parameter Store prefix come from the
    UserData, as the instance itself reads them."""
    from moto.autoscaling.models import autoscaling_backends
    from moto.elbv2.models import elbv2_backends
    from moto.ssm.models import ssm_backends

    group = autoscaling_backends[account][region].autoscaling_groups[group_name]
    text = _user_data(group)
    if not text:
        return None
    ports = {int(port): f"{name.lower()}-service" for name, port in _PORT.findall(text)}
    prefix = _PREFIX.search(text)
    if not ports or not prefix:
        return None
    tgs = elbv2_backends[account][region].target_groups
    attached = tuple(
        ports[int(tgs[arn].port)]
        for arn in group.target_group_arns
        if arn in tgs and tgs[arn].port is not None and int(tgs[arn].port) in ports
    )
    ssm = ssm_backends[account][region]
    released, broken = set(), set()
    for service in ports.values():
        found = ssm.get_parameter(f"{prefix.group(1)}/deploy/{service.replace('-', '_')}_image_tag")
        if found is not None and found.value and found.value != UNRELEASED:
            released.add(service)
            if found.value.startswith(BROKEN_PREFIX):
                broken.add(service)
    return Backend(group.health_check_type or EC2, attached, frozenset(released), frozenset(broken))
