"""The backend group's health-check type follows the release state: EC2
checks until every service has a released image, ELB checks from then on.

Why (Amazon EC2 Auto Scaling user guide, "Health checks for instances in an
Auto Scaling group" and "About the health checks for your Auto Scaling
group", docs.aws.amazon.com/autoscaling/ec2/userguide/health-checks-overview.html):
with ELB health checks turned on, an instance that any attached target group
reports unhealthy after its grace period is replaced. Both services' target
groups are attached to the backend group, and an unreleased service runs on
no instance, so with ELB checks before the last first release every instance
would be replaced every few minutes, and a release of one service alone
could never finish its instance refresh.

The compute stack's ``EveryServiceReleased`` condition reads the same tags
(SSM parameter types, resolved at each deploy); between deploys a release is
what changes them, so the release that makes the last service released flips
the live group with UpdateAutoScalingGroup (HealthCheckType may be changed
at any time: UpdateAutoScalingGroup API reference) once its refresh has
succeeded, and the next deploy's template agrees. The group drifts from the
template (detect-drift shows HealthCheckType) only in between.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from ..aws import error_code
from ..settings import DEFAULT_SETTINGS
from .bootstrap import UNRELEASED

ELB, EC2 = "ELB", "EC2"


@dataclass(frozen=True)
class Switch:
    """What :func:`follow` found and did."""

    group: str
    wanted: str
    was: str
    unreleased: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.wanted != self.was


def unreleased(ssm, prefix: str, services=DEFAULT_SETTINGS.services) -> tuple[str, ...]:
    """Services whose tag is missing or still ``unreleased``."""
    out = []
    for svc in services:
        try:
            value = ssm.get_parameter(Name=f"{prefix}/{svc.tag_path}")["Parameter"]["Value"]
        except ClientError as exc:
            if error_code(exc) != "ParameterNotFound":
                raise
            value = ""
        if not value or value == UNRELEASED:
            out.append(svc.name)
    return tuple(out)


def wanted_type(missing: tuple[str, ...]) -> str:
    """The compute stack's condition, in Python."""
    return EC2 if missing else ELB


def follow(ssm, autoscaling, group: str, prefix: str) -> Switch:
    """Set the group's HealthCheckType to what the release state asks."""
    missing = unreleased(ssm, prefix)
    want = wanted_type(missing)
    [found] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    was = found.get("HealthCheckType", EC2)
    if was != want:
        autoscaling.update_auto_scaling_group(AutoScalingGroupName=group, HealthCheckType=want)
    return Switch(group, want, was, missing)
