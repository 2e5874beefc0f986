"""The backend group's health-check type follows the release state: EC2
checks until every service has a released image, ELB checks from then on;
and the target-health facts a release and the switch are judged on.

Why EC2 first (Amazon EC2 Auto Scaling user guide, "Health checks for
instances in an Auto Scaling group" and "About the health checks for your
Auto Scaling group", docs.aws.amazon.com/autoscaling/ec2/userguide/health-checks-overview.html):
with ELB health checks turned on, an instance that any attached target group
reports unhealthy after its grace period is replaced. Both services' target
groups are attached to the backend group, and an unreleased service runs on
no instance, so with ELB checks before the last first release every instance
would be replaced every few minutes, and a release of one service alone
could never finish its instance refresh.

Who sets it: CloudFormation, through the root parameter
``BackendHealthCheckType``, which ``deploy`` and ``plan`` derive here
(:func:`derive`) from the release tags in Parameter Store; the params file
does not set it. Never an out-of-band UpdateAutoScalingGroup, because:

* nested templates are content-addressed and the root has no SSM-typed
  parameters, so after a release an unchanged deploy makes a change set with
  no changes, and an unmodified nested stack is not updated
  ("AWS::CloudFormation::Stack", CloudFormation user guide: "If you don't
  modify the nested stack's template or parameters, CloudFormation doesn't
  update the nested stack"), nor does a changed SSM parameter value alone
  count as a change (aws-cloudformation/cloudformation-coverage-roadmap
  #844): an SSM-typed compute parameter would never be resolved again;
* a value set out of band is drift (CloudFormation compares the live
  property with the template's, "Detect drift on an entire CloudFormation
  stack"), and any later update or rollback of the compute stack writes the
  recorded value (EC2) back.

With the type a root parameter, the recorded value and the group agree
after every outcome: a deploy that flips it shows the parameter change in
its review; a rollback restores both together.

The switch to ELB is gated on target health as well as tags: CloudFormation
makes it only when every attached target group reports every InService
instance healthy (:func:`elb_problems`); otherwise the deploy keeps EC2 and
says why, because switching then would have Auto Scaling replace those
instances after their grace period (the user guide's rule above).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wealist_cfn.core.settings import DEFAULT_SETTINGS

from .bootstrap import UNRELEASED

ELB, EC2 = "ELB", "EC2"
PARAMETER = "BackendHealthCheckType"


@dataclass(frozen=True)
class Derived:
    """The value ``deploy`` passes for ``BackendHealthCheckType`` and where it came from."""

    value: str
    tags: dict[str, str]  # parameter name -> value ('' when missing)
    unreleased: tuple[str, ...]
    held: list[str] = field(default_factory=list)  # why ELB was held back (target health)

    def source(self) -> str:
        """One line for the review: the value and the facts it follows."""
        tags = ", ".join(f"{n} = {v or 'missing'}" for n, v in self.tags.items())
        if self.held:
            why = f"kept EC2, every service is released but {'; '.join(self.held)}"
        elif self.unreleased:
            why = f"{', '.join(self.unreleased)} not released yet"
        else:
            why = "every service is released"
        return (
            f"{PARAMETER} {self.value}: derived from Parameter Store ({tags}): {why}; the params file does not set it"
        )


def tag_values(ssm, prefix: str, services=DEFAULT_SETTINGS.services) -> dict[str, str]:
    """Each service's tag parameter -> its value ('' when it does not exist)."""
    names = [f"{prefix}/{svc.tag_path}" for svc in services]
    found = ssm.get_parameters(Names=names, WithDecryption=False)
    values = {p["Name"]: p["Value"] for p in found.get("Parameters", [])}
    return {n: values.get(n, "") for n in names}


def unreleased(ssm, prefix: str, services=DEFAULT_SETTINGS.services) -> tuple[str, ...]:
    """Services whose tag is missing or still ``unreleased``."""
    values = tag_values(ssm, prefix, services)
    return tuple(svc.name for svc in services if values[f"{prefix}/{svc.tag_path}"] in ("", UNRELEASED))


def wanted_type(missing: tuple[str, ...]) -> str:
    return EC2 if missing else ELB


def derive(ssm, autoscaling, elbv2, prefix: str, group: str, deployed: str | None) -> Derived:
    """What ``BackendHealthCheckType`` a deploy passes. ``deployed`` is the
    stack's current value (None: no stack yet). Going to ELB from EC2 also
    needs every attached target group to report every InService instance
    healthy; once on ELB it stays (an unhealthy instance then is what ELB
    checks are for)."""
    tags = tag_values(ssm, prefix)
    missing = tuple(
        svc.name for svc in DEFAULT_SETTINGS.services if tags[f"{prefix}/{svc.tag_path}"] in ("", UNRELEASED)
    )
    want = wanted_type(missing)
    if want == ELB and deployed is None:
        return Derived(
            EC2,
            tags,
            missing,
            [
                "the stack does not exist yet: its first instances must pass their "
                "target groups before ELB checks; a later deploy switches"
            ],
        )
    if want == ELB and deployed != ELB:
        held = elb_problems(autoscaling, elbv2, group)
        if held:
            return Derived(EC2, tags, missing, held)
    return Derived(want, tags, missing)


# -- target health ---------------------------------------------------------------------------------


def group_facts(autoscaling, group: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(HealthCheckType, attached target group ARNs, InService instance ids)."""
    found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    if not found:
        raise LookupError(f"Auto Scaling group {group} not found")
    g = found[0]
    in_service = tuple(i["InstanceId"] for i in g.get("Instances", []) if i.get("LifecycleState") == "InService")
    return g.get("HealthCheckType", EC2), tuple(g.get("TargetGroupARNs", [])), in_service


def unhealthy(elbv2, target_group: str, instances: tuple[str, ...]) -> list[str]:
    """InService instances the target group does not report ``healthy``
    (DescribeTargetHealth, ELB API reference: TargetHealth.State is one of
    initial | healthy | unhealthy | unused | draining | unavailable; an
    instance not registered is absent)."""
    resp = elbv2.describe_target_health(TargetGroupArn=target_group)
    state = {d["Target"]["Id"]: d.get("TargetHealth", {}) for d in resp.get("TargetHealthDescriptions", [])}
    out = []
    for iid in instances:
        th = state.get(iid)
        if th is None:
            out.append(f"{iid} not registered")
        elif th.get("State") != "healthy":
            reason = th.get("Reason") or th.get("Description") or ""
            out.append(f"{iid} {th.get('State')}" + (f" ({reason})" if reason else ""))
    return out


def _short(arn: str) -> str:
    return arn.split(":targetgroup/")[-1].split("/")[0]


def target_problems(autoscaling, elbv2, group: str, target_groups: tuple[str, ...] | None = None) -> list[str]:
    """Per target group (default: every one attached to ``group``), the
    InService instances it does not report healthy. Empty: every InService
    instance is healthy in every one of them."""
    _, attached, in_service = group_facts(autoscaling, group)
    if not in_service:
        return [f"{group} has no InService instance to judge"]
    out = []
    for tg in attached if target_groups is None else target_groups:
        bad = unhealthy(elbv2, tg, in_service)
        if bad:
            out.append(f"target group {_short(tg)} reports {', '.join(bad)}")
    return out


def elb_problems(autoscaling, elbv2, group: str) -> list[str]:
    """Why switching ``group`` to ELB checks now would replace instances
    (every attached target group counts: the user guide's rule above)."""
    return target_problems(autoscaling, elbv2, group)


def service_target_groups(autoscaling, elbv2, group: str, ports: dict[str, int]) -> dict[str, str]:
    """Service name -> the attached target group on its port (``ports``:
    service -> port, from the params file), by DescribeTargetGroups' Port."""
    _, attached, _ = group_facts(autoscaling, group)
    if not attached:
        return {}
    by_port = {
        tg["Port"]: tg["TargetGroupArn"]
        for tg in elbv2.describe_target_groups(TargetGroupArns=list(attached))["TargetGroups"]
    }
    return {svc: by_port[port] for svc, port in ports.items() if port in by_port}


def deployed_value(parameters: dict[str, str] | None) -> str | None:
    """The stack's recorded BackendHealthCheckType (None: no stack)."""
    if parameters is None:
        return None
    return parameters.get(PARAMETER, EC2)
