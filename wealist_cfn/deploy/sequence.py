"""Deploy-time sequencing: a change set that a service would refuse in one
update (updaterules.py) is never executed, whatever the flags; the error
names the two deploys that get there instead. And what a deploy leaves to a
later step: a changed launch template reaches running instances only
through a rollout."""

from __future__ import annotations

from wealist_cfn.cfn import updaterules

from ..errors import EXIT_REFUSED, CommandError


def refuse_one_step(review) -> None:
    """Raise :class:`CommandError` (exit 3) when ``review`` holds a change a
    service refuses in one update."""
    if review is None or review.change_set_type != "UPDATE":
        return
    found = updaterules.violations(review.rows, review.parameters)
    if found:
        first = found[0]
        raise CommandError(
            f"refused: {first.where}: {first.message()}",
            EXIT_REFUSED,
            details=tuple(f"{v.where}: {v.message()}" for v in found[1:]),
        )


def rollout_notes(rows) -> list[tuple[str, str, str]]:
    """(where, resource type, message) for each launch template the update
    modifies. An Auto Scaling group's running instances keep the launch
    template version they were launched with; only instances launched after
    the update (scale-out, replacement, instance refresh) use the new one
    (EC2 Auto Scaling user guide, "Change the launch template for an Auto
    Scaling group": new instances are launched with the new configuration,
    existing instances are not affected)."""
    out = []
    for r in rows:
        if r.resource_type == "AWS::EC2::LaunchTemplate" and r.action == "Modify":
            group = "monitoring" if r.logical_id.lower().startswith("monitoring") else "backend"
            flag = " --group monitoring" if group == "monitoring" else ""
            out.append(
                (
                    r.where,
                    r.resource_type,
                    f"running {group} instances keep the old launch template version; only instances launched "
                    f"after this update get it. Replace them when it is done: python build.py rollout "
                    f"--params PARAMS{flag}",
                )
            )
    return out


# What each part of the mode switch does while it runs, shown in the review
# of a change to the parameter. Sources: RDS user guide, "Converting a DB
# instance to a Multi-AZ deployment" (a snapshot of the primary's volumes
# becomes the standby's, initialised in the background; synchronous
# replication raises write latency; performance can suffer, write-heavy
# workloads most) and "Converting to Single-AZ"; ElastiCache user guide,
# "Increasing the number of replicas" / "Decreasing the number of replicas"
# (online), and CreateReplicationGroup's PreferredCacheClusterAZs (default:
# "system chosen Availability Zones", so the replica's AZ is not ours to
# promise); which member a decrease to one node removes is not documented
# (hashicorp/terraform-provider-aws pull request 4504 fails over first when
# it is the primary); VPC user guide, route tables: a changed route applies
# to new flows, and NAT gateway connections are tied to the gateway that
# opened them.
MODE_NOTES = {
    ("EnableMultiAZ", "false", "true"): (
        "mode switch to multi-AZ: RDS creates the standby from a snapshot of the primary (no failover, the "
        "primary keeps serving; the standby's volumes initialise in the background and synchronous replication "
        "then raises write latency: run it off-peak); ElastiCache adds a replica in an AZ it chooses (the primary "
        "keeps serving; check the members' AZs after this step); NAT gateways 2 and 3 are created and the "
        "private routes of zones 2 and 3 move to them, which cuts connections open through NAT gateway 1 from "
        "those subnets; the load balancer and the subnets do not change; nothing is replaced "
        "(docs/operations.md, 'Switching modes')"
    ),
    ("EnableMultiAZ", "true", "false"): (
        "mode switch to cost mode: the private routes of zones 2 and 3 move back to NAT gateway 1 (connections "
        "open through gateways 2 and 3 are cut) and gateways 2 and 3 are deleted; RDS drops its standby (no "
        "downtime); ElastiCache removes the replica, and which member goes is not documented: before this "
        "step make <group>-001 the primary if a failover made -002 primary (docs/operations.md, 'Switching "
        "modes'); the load balancer and the subnets do not change; nothing is replaced"
    ),
    ("CacheFailover", "auto", "off"): (
        "CacheFailover off: ElastiCache turns automatic failover and Multi-AZ off; no failover happens, and "
        "until it is back on a failed primary is not replaced by the replica"
    ),
    ("CacheFailover", "off", "auto"): (
        "CacheFailover auto: ElastiCache turns automatic failover and Multi-AZ on (with EnableMultiAZ true); "
        "no failover happens"
    ),
}


def mode_notes(parameters) -> list[str]:
    """The review's notes for the mode parameters that change."""
    return [MODE_NOTES[(p.key, p.old or "", p.new)] for p in parameters if (p.key, p.old or "", p.new) in MODE_NOTES]
