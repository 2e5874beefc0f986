"""Verify after deploy: whether the stack serves, not only whether
CloudFormation finished.

CREATE_COMPLETE says the resources exist; an instance whose boot failed
still counts. After a create or update, :func:`wait` polls every target
group of the load balancer (ELBv2 ``DescribeTargetHealth``) until each has
healthy targets, for a bounded time, yielding a :class:`Progress` per poll
and a final :class:`Outcome`. A service whose image tag in Parameter Store is
still ``unreleased`` (before its first release) is "not released yet": the
instances leave it out (instance-files/config/render.py), its targets cannot
pass, and that is not a failure. Every released service and both monitoring
targets must become healthy. When they do not, the outcome holds each
target's state, reason and description (``TargetHealth``) and the Auto
Scaling group's recent activities (``DescribeScalingActivities``).

:func:`check` takes one snapshot (what ``status`` shows). The module
returns data; :func:`lines` turns it into text for the CLI.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

from botocore.exceptions import ClientError

from wealist_cfn.core.settings import DEFAULT_SETTINGS

from ..aws import Aws, error_code
from ..config import Config
from ..ops.bootstrap import UNRELEASED, parameter_prefix
from ..ops.rollout import group_name

DEFAULT_TIMEOUT = 900.0  # seconds: UserData, image pulls, the services' start and 2 checks of 15 s
DEFAULT_INTERVAL = 15.0  # the target groups' HealthCheckIntervalSeconds
ACTIVITIES = 5
HEALTHY, NOT_RELEASED, UNHEALTHY, NO_TARGETS = "healthy", "not released yet", "unhealthy", "no targets"


@dataclass(frozen=True)
class Group:
    """One target group: its output key in the load balancer stack, what it
    serves, the Auto Scaling group behind it and, for a released service,
    the Parameter Store name of its image tag."""

    key: str
    serves: str
    asg: str
    tag_parameter: str | None = None


@dataclass(frozen=True)
class Target:
    id: str
    port: int | None
    state: str
    reason: str = ""
    description: str = ""


@dataclass(frozen=True)
class GroupHealth:
    group: Group
    arn: str
    status: str
    targets: tuple[Target, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status in (HEALTHY, NOT_RELEASED)


@dataclass(frozen=True)
class Activity:
    start: str
    status: str
    description: str
    cause: str = ""
    message: str = ""


@dataclass(frozen=True)
class Progress:
    waited: float
    healthy: int
    total: int
    pending: tuple[str, ...]


@dataclass
class Outcome:
    groups: list[GroupHealth]
    waited: float = 0.0
    timed_out: bool = False
    activities: dict[str, list[Activity]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(g.ok for g in self.groups)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "waitedSeconds": round(self.waited),
            "timedOut": self.timed_out,
            "groups": [
                {
                    "targetGroup": g.group.key,
                    "serves": g.group.serves,
                    "arn": g.arn,
                    "status": g.status,
                    "autoScalingGroup": g.group.asg,
                    "targets": [asdict(t) for t in g.targets],
                }
                for g in self.groups
            ],
            "activities": {asg: [asdict(a) for a in acts] for asg, acts in self.activities.items()},
        }


def groups(cfg: Config) -> list[Group]:
    """The load balancer's target groups (loadbalancer.py's output keys)."""
    prefix = parameter_prefix(cfg)
    out = [
        Group(
            f"{svc.key}Service",
            svc.name,
            group_name(cfg, "backend"),
            f"{prefix}/deploy/{svc.name.replace('-', '_')}_image_tag",
        )
        for svc in DEFAULT_SETTINGS.services
    ]
    out += [Group(key, key.lower(), group_name(cfg, "monitoring")) for key in ("Grafana", "Prometheus")]
    return out


def target_group_arns(aws: Aws, stack_name: str) -> dict[str, str]:
    """``{output key: ARN}`` from the load balancer's nested stack."""
    cfn = aws.cfn
    child = cfn.describe_stack_resource(StackName=stack_name, LogicalResourceId="LoadBalancerStack")
    stack_id = child["StackResourceDetail"]["PhysicalResourceId"]
    [stack] = cfn.describe_stacks(StackName=stack_id)["Stacks"]
    return {
        o["OutputKey"].removesuffix("TargetGroupArn"): o["OutputValue"]
        for o in stack.get("Outputs", [])
        if o["OutputKey"].endswith("TargetGroupArn")
    }


def _released(ssm, name: str) -> bool:
    try:
        value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as exc:
        if error_code(exc) == "ParameterNotFound":
            return False  # bootstrap has not run: nothing is released either
        raise
    return bool(value) and value != UNRELEASED


def check(aws: Aws, cfg: Config, stack_name: str, arns: dict[str, str] | None = None) -> list[GroupHealth]:
    """One look at every target group."""
    arns = arns if arns is not None else target_group_arns(aws, stack_name)
    elbv2, ssm = aws.client("elbv2"), aws.client("ssm")
    out = []
    for g in groups(cfg):
        arn = arns.get(g.key)
        if arn is None:
            out.append(GroupHealth(g, "", NO_TARGETS))
            continue
        resp = elbv2.describe_target_health(TargetGroupArn=arn)
        targets = tuple(
            Target(
                d["Target"]["Id"],
                d["Target"].get("Port"),
                d["TargetHealth"]["State"],
                d["TargetHealth"].get("Reason", ""),
                d["TargetHealth"].get("Description", ""),
            )
            for d in resp.get("TargetHealthDescriptions", [])
        )
        live = [t for t in targets if t.state != "draining"]
        if g.tag_parameter and not _released(ssm, g.tag_parameter):
            status = NOT_RELEASED
        elif not live:
            status = NO_TARGETS
        elif all(t.state == "healthy" for t in live):
            status = HEALTHY
        else:
            status = UNHEALTHY
        out.append(GroupHealth(g, arn, status, targets))
    return out


def activities(aws: Aws, asg: str, limit: int = ACTIVITIES) -> list[Activity]:
    resp = aws.client("autoscaling").describe_scaling_activities(AutoScalingGroupName=asg, MaxRecords=limit)
    return [
        Activity(
            str(a.get("StartTime", "")),
            a.get("StatusCode", ""),
            a.get("Description", ""),
            a.get("Cause", ""),
            a.get("StatusMessage", ""),
        )
        for a in resp.get("Activities", [])
    ]


def wait(
    aws: Aws,
    cfg: Config,
    stack_name: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = DEFAULT_INTERVAL,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Progress | Outcome]:
    """Poll until every target group is healthy (or not released yet), at
    most ``timeout`` seconds; a :class:`Progress` per poll, then the
    :class:`Outcome` (with the groups' recent scaling activities when not ok)."""
    arns = target_group_arns(aws, stack_name)
    start = clock()
    while True:
        snapshot = check(aws, cfg, stack_name, arns)
        waited = clock() - start
        if all(g.ok for g in snapshot):
            yield Outcome(snapshot, waited)
            return
        if waited >= timeout:
            failing = sorted({g.group.asg for g in snapshot if not g.ok})
            yield Outcome(snapshot, waited, timed_out=True, activities={asg: activities(aws, asg) for asg in failing})
            return
        yield Progress(
            waited, sum(1 for g in snapshot if g.ok), len(snapshot), tuple(g.group.serves for g in snapshot if not g.ok)
        )
        sleep(min(interval, max(timeout - waited, 0.0)))


def lines(outcome: Outcome | list[GroupHealth]) -> list[str]:
    """Text for the CLI: one line per target group, one per target that is
    not healthy, the scaling activities, and where to look next."""
    snapshot = outcome.groups if isinstance(outcome, Outcome) else outcome
    out = []
    for g in snapshot:
        if g.status == NOT_RELEASED:
            out.append(
                f"  {g.group.serves:<14} not released yet ({g.group.tag_parameter} is missing or "
                f"'{UNRELEASED}'; its first release starts it)"
            )
            continue
        healthy = sum(1 for t in g.targets if t.state == "healthy")
        out.append(f"  {g.group.serves:<14} {g.status} ({healthy}/{len(g.targets)} targets healthy)")
        for t in g.targets:
            if t.state != "healthy":
                why = ": ".join(x for x in (t.reason, t.description) if x)
                out.append(f"      {t.id}:{t.port} {t.state}" + (f" ({why})" if why else ""))
    if isinstance(outcome, Outcome):
        for asg, acts in outcome.activities.items():
            out.append(f"  recent activities of {asg}:")
            out += [
                f"      {a.start} {a.status}: {a.description}" + (f" ({a.message})" if a.message else "") for a in acts
            ] or ["      none"]
        if not outcome.ok:
            out.append(
                "  an instance's boot log: /var/log/wealist-boot.log (Session Manager), or "
                "aws ec2 get-console-output --instance-id ID; docs/operations.md, 'When a target stays "
                "unhealthy'"
            )
    return out
