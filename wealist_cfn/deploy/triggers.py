"""Rollback triggers: the stack's own critical alarms, handed to
CloudFormation as ``RollbackConfiguration`` on CreateChangeSet, so an
update that breaks serving is rolled back by CloudFormation itself.

``RollbackConfiguration`` is a parameter of CreateChangeSet (and of
CreateStack/UpdateStack), not of ExecuteChangeSet: it is fixed when the
change set is made (CreateChangeSet and RollbackConfiguration in the
CloudFormation API reference). CloudFormation watches the alarms during the
operation and for ``MonitoringTimeInMinutes`` (0-180) after the last
resource is deployed; "If any of the alarms goes to ALARM state during the
stack operation or the monitoring period, CloudFormation rolls back the
entire stack operation" (User Guide, "Roll back your CloudFormation stack on
alarm breach with rollback triggers"). Rules this follows:

* The triggers are the serving alarms of alarms.py: the services' 5xx rate,
  each service's unhealthy targets, the backend's in-service count below
  its minimum. Not the database, cache or NAT alarms: an update of the
  web tier must not be undone by a slow disk.
* An alarm must exist, or the whole operation fails (RollbackTrigger: "If a
  specified trigger is missing, the entire stack operation fails and is
  rolled back"): on a first create none exists yet, so a create has none;
  an update names only those DescribeAlarms finds.
* An alarm already in ALARM is left out and the review says so: the deploy
  may be the fix, and the trigger would undo it.
* Left out of a CreateChangeSet, CloudFormation reuses the stack's last
  rollback configuration; ``--no-rollback-triggers`` therefore sends an
  empty list, which removes them (RollbackConfiguration, RollbackTriggers).
* The alarms' ARNs are built from their names (``<project>-<env>-alarm-…``,
  alarms.py) as ``arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>``
  and confirmed by DescribeAlarms, which returns each AlarmArn.

Monitoring time: the longest of the triggers' alarm windows (periods ×
period: five one-minute periods for the 5xx rate and the in-service count)
plus five minutes for CloudWatch's metric delivery, so a breach the update
causes in its last minute can still reach ALARM before CloudFormation
disposes of the old resources. From the build settings, so it follows a
changed threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import botocore.exceptions

from wealist_cfn.core.settings import DEFAULT_SETTINGS, AlarmSettings

from ..aws import Aws, error_code, error_message

# Alarm name suffix -> what it watches (alarms.py names them <prefix>-alarm-<suffix>).
CRITICAL = {
    "target-5xx": "5xx rate of user-service and board-service",
    "user-service-unhealthy": "user-service unhealthy targets",
    "board-service-unhealthy": "board-service unhealthy targets",
    "backend-in-service": "backend instances in service below BackendMinSize",
}
DELIVERY_MARGIN_MINUTES = 5


def alarm_names(name_prefix: str) -> frozenset[str]:
    """The names of the alarms a rollback trigger of this stack may name
    (alarms.py: ``<prefix>-alarm-<suffix>``); the trust proof allows no other."""
    return frozenset(f"{name_prefix}-alarm-{suffix}" for suffix in CRITICAL)


def monitoring_minutes(rules: AlarmSettings = DEFAULT_SETTINGS.alarms) -> int:
    windows = [
        rules.target_5xx_percent.periods * rules.target_5xx_percent.period,
        rules.unhealthy_hosts.periods * rules.unhealthy_hosts.period,
        rules.backend_in_service_periods * 60,
    ]
    return min(180, math.ceil(max(windows) / 60) + DELIVERY_MARGIN_MINUTES)


@dataclass
class Triggers:
    configuration: dict | None  # RollbackConfiguration to send; None: send none
    notes: list[str] = field(default_factory=list)


def for_change_set(aws: Aws, name_prefix: str, change_set_type: str, *, enabled: bool = True) -> Triggers:
    """The RollbackConfiguration for a change set of this stack, and the
    review notes that say what it holds or why it holds nothing."""
    if not enabled:
        return Triggers(
            {"RollbackTriggers": []}, ["rollback triggers: off (--no-rollback-triggers); any the stack had are removed"]
        )
    if change_set_type == "CREATE":
        return Triggers(None, ["rollback triggers: none for a first create (the alarms are made by it)"])
    if aws.target.evaluates_alarms is False:
        return Triggers(None, [f"rollback triggers: none on {aws.target.name} (it evaluates no alarm)"])
    names = {f"{name_prefix}-alarm-{suffix}": what for suffix, what in CRITICAL.items()}
    try:
        found = aws.client("cloudwatch").describe_alarms(AlarmNames=sorted(names), AlarmTypes=["MetricAlarm"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        # Not allowed to look (or throttled, or unreachable): no new triggers
        # rather than no deploy, and none sent, so CloudFormation keeps the
        # stack's last configuration. The review says so.
        why = (
            f"{error_code(exc)}: {error_message(exc)}"
            if isinstance(exc, botocore.exceptions.ClientError)
            else type(exc).__name__
        )
        return Triggers(
            None, [f"rollback triggers: not read (DescribeAlarms: {why}); the stack's previous ones, if any, apply"]
        )
    alarms = {a["AlarmName"]: a for a in found.get("MetricAlarms", [])}
    triggers, notes = [], []
    for n in sorted(names):
        a = alarms.get(n)
        if a is None:
            notes.append(f"rollback trigger left out: {n} does not exist")
        elif a.get("StateValue") == "ALARM":
            notes.append(f"rollback trigger left out: {n} is in ALARM now (this deploy may be the fix)")
        else:
            triggers.append({"Arn": a["AlarmArn"], "Type": "AWS::CloudWatch::Alarm"})
    minutes = monitoring_minutes()
    if triggers:
        watched = ", ".join(names[t["Arn"].rsplit(":", 1)[1]] for t in triggers)
        notes.insert(
            0,
            f"rollback triggers: {len(triggers)} alarm(s) ({watched}); CloudFormation rolls the "
            f"update back if one goes to ALARM during it or {minutes} min after",
        )
        return Triggers({"RollbackTriggers": triggers, "MonitoringTimeInMinutes": minutes}, notes)
    return Triggers({"RollbackTriggers": []}, notes or ["rollback triggers: none"])
