"""The local endpoint's answer to EC2 Auto Scaling instance refreshes, which
moto does not implement (its server answers StartInstanceRefresh with an
HTML 404 that botocore cannot parse).

What AWS does (API reference: StartInstanceRefresh, DescribeInstanceRefreshes,
CancelInstanceRefresh, and the InstanceRefresh data type): a refresh is
started on an existing group and replaces its instances over minutes;
DescribeInstanceRefreshes lists refreshes newest first with Status
(Pending | InProgress | Successful | Failed | Cancelling | Cancelled | ...),
PercentageComplete and InstancesToUpdate; a second start while one is
unfinished is ``InstanceRefreshInProgress``; an unknown group is a
``ValidationError``; cancelling when none is active is
``ActiveInstanceRefreshNotFound``.

What this answer does: it keeps those rules and shapes, and records each
refresh as ended the moment it starts, with a StatusReason that says it is
a local record: moto's groups run no instances that could be replaced, so
there is nothing to wait for. How it ends comes from the health model
(health.py): ``Failed`` when the group takes ELB health into account and an
attached target group's service is not released (its replacements would
never pass that group's checks, so the refresh could not finish on AWS),
else ``Successful`` at 100%. A rehearsal proves the command's path (group
name, preferences, following to the end) and that health rule, not an
instance replacement.

DescribeTargetHealth follows the same model: moto reports every registered
target healthy; here a backend target group whose service is unreleased or
broken (health.py) reports its instances unhealthy, so a release on EC2
checks is judged on target health as it would be on AWS.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from wealist_cfn.rehearsal import health

LOCAL_REASON = "local endpoint: recorded as done at once; moto runs no instances to replace"
_UNFINISHED = {"Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"}


def install() -> str:
    from moto.autoscaling.exceptions import AutoscalingClientError
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import ActionResult

    refreshes: dict[tuple[str, str, str], list[dict]] = {}  # (account, region, group) -> newest first

    def _group(self) -> tuple[tuple[str, str, str], str]:
        name = self._get_param("AutoScalingGroupName")
        if name not in self.autoscaling_backend.autoscaling_groups:
            raise AutoscalingClientError("ValidationError", f"AutoScalingGroup name not found - {name}")
        return (self.current_account, self.region, name), name

    def start_instance_refresh(self):
        key, name = _group(self)
        held = refreshes.setdefault(key, [])
        if any(r["Status"] in _UNFINISHED for r in held):
            raise AutoscalingClientError(
                "InstanceRefreshInProgress", f"An Instance Refresh is already in progress for {name}"
            )
        now = datetime.now(timezone.utc)
        prefs = self._get_param("Preferences") or {}
        model = health.from_moto(self.current_account, self.region, name)
        status, why = model.refresh() if model is not None else ("Successful", "")
        refresh = {
            "InstanceRefreshId": str(uuid.uuid4()),
            "AutoScalingGroupName": name,
            "Status": status,
            "StatusReason": f"{LOCAL_REASON}: {why}" if why else LOCAL_REASON,
            "StartTime": now,
            "EndTime": now,
            "PercentageComplete": 100 if status == "Successful" else 0,
            "InstancesToUpdate": 0,
            "Preferences": prefs,
            "Strategy": self._get_param("Strategy") or "Rolling",
        }
        held.insert(0, refresh)
        return ActionResult({"InstanceRefreshId": refresh["InstanceRefreshId"]})

    def describe_instance_refreshes(self):
        key, _name = _group(self)
        wanted = self._get_param("InstanceRefreshIds") or []
        found = [r for r in refreshes.get(key, []) if not wanted or r["InstanceRefreshId"] in wanted]
        limit = self._get_int_param("MaxRecords", 50)
        return ActionResult({"InstanceRefreshes": found[:limit]})

    def cancel_instance_refresh(self):
        key, name = _group(self)
        for r in refreshes.get(key, []):
            if r["Status"] in _UNFINISHED:
                r["Status"] = "Cancelled"
                return ActionResult({"InstanceRefreshId": r["InstanceRefreshId"]})
        raise AutoscalingClientError(
            "ActiveInstanceRefreshNotFound",
            f"No in progress or pending Instance Refresh found for Auto Scaling group {name}",
        )

    # DescribeTargetHealth: moto reports every registered target healthy.
    # Here a backend target group's answer follows the health model: an
    # unreleased or broken service's group reports its instances unhealthy
    # (State and Reason as in the ELB API reference's TargetHealth type).
    from moto.autoscaling.models import autoscaling_backends
    from moto.elbv2.responses import ELBV2Response

    original = ELBV2Response.describe_target_health

    def describe_target_health(self):
        result = original(self)
        arn = self._get_param("TargetGroupArn")
        groups = autoscaling_backends[self.current_account][self.region].autoscaling_groups
        for name, group in list(groups.items()):
            if arn not in (group.target_group_arns or []):
                continue
            model = health.from_moto(self.current_account, self.region, name)
            service = health.service_of(self.current_account, self.region, name, arn)
            if model is None or service is None or model.target_health(service) == "healthy":
                continue
            for d in result.result["TargetHealthDescriptions"]:
                d.status, d.reason = "unhealthy", "Target.FailedHealthChecks"
                d.description = f"local model: {service} does not answer on this port"
        return result

    ELBV2Response.describe_target_health = describe_target_health
    AutoScalingResponse.start_instance_refresh = start_instance_refresh
    AutoScalingResponse.describe_instance_refreshes = describe_instance_refreshes
    AutoScalingResponse.cancel_instance_refresh = cancel_instance_refresh
    return "instance-refresh"
