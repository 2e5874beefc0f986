"""Property changes a service refuses in one update, kept as data with the
evidence, and what the review does with them: a change set that holds one is
refused before it runs, naming the exact deploys that reach the same state
one accepted step at a time.

CloudFormation applies all of a resource's changed properties in one update
of that resource. Some services refuse certain combinations in one call, and
CloudFormation then fails the whole update and rolls every stack back (a
mode switch would undo the RDS Multi-AZ conversion and delete the new NAT
gateways with it). A rule names the resource type, the property that must
change alone and the properties it may not change with; the steps are
parameter values per direction of the parameter that causes it. A new rule
is one more :data:`RULES` row.

Used by review.py (a guarded call-out in every review), flow.py (refused
before execution even with ``--allow-replace``, which cannot make the
service accept it) and the local endpoint's update model
(rehearsal/changemodel.py, which fails the update as the service does).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    resource_type: str
    alone: str  # the property that must change in an update of its own ...
    not_with: tuple[str, ...]  # ... never together with any of these
    service_error: str  # what the service answers, as reported
    sources: tuple[str, ...]
    # (parameter, old, new) -> the parameter values of the two deploys, in order
    steps: dict[tuple[str, str, str], tuple[dict[str, str], dict[str, str]]] = field(default_factory=dict)


RULES: tuple[Rule, ...] = (
    Rule(
        resource_type="AWS::ElastiCache::ReplicationGroup",
        alone="NumCacheClusters",
        not_with=("AutomaticFailoverEnabled", "MultiAZEnabled"),
        service_error="Replication group must have at least one read replica to enable autofailover (on the "
        "way back: Must have at least 1 replica for Multi-AZ enabled)",
        sources=(
            # NumCacheClusters 1 -> 2 with AutomaticFailoverEnabled true in one
            # stack update, cache.t3.micro: the update fails with that message.
            "https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/383",
            # ModifyReplicationGroup: AutomaticFailoverEnabled and MultiAZEnabled
            # need a replica; a replica is added by IncreaseReplicaCount, a
            # separate call, and removed by DecreaseReplicaCount, which refuses
            # to go below one replica while failover is on.
            "https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html",
            "https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DecreaseReplicaCount.html",
        ),
        steps={
            # Replica first (failover held off), then failover and Multi-AZ.
            ("EnableMultiAZ", "false", "true"): (
                {"EnableMultiAZ": "true", "CacheFailover": "off"},
                {"EnableMultiAZ": "true", "CacheFailover": "auto"},
            ),
            # The mirror: failover and Multi-AZ off first, then the replica goes.
            ("EnableMultiAZ", "true", "false"): (
                {"EnableMultiAZ": "true", "CacheFailover": "off"},
                {"EnableMultiAZ": "false", "CacheFailover": "auto"},
            ),
        },
    ),
)


@dataclass(frozen=True)
class Violation:
    rule: Rule
    where: str  # Stack/LogicalId
    resource_type: str
    together: tuple[str, ...]  # the properties that change with rule.alone
    steps: tuple[dict[str, str], dict[str, str]] | None

    def message(self) -> str:
        r = self.rule
        text = (
            f"the service refuses {r.alone} together with {', '.join(self.together)} in one update "
            f'("{r.service_error}"; {r.sources[0]}): CloudFormation would fail and roll back the whole '
            f"update, every stack's part of it included. --allow-replace does not change that."
        )
        if self.steps:
            first, second = (" ".join(f"{k}={v}" for k, v in s.items()) for s in self.steps)
            text += f" Deploy twice: first with {first}, then with {second}."
        else:
            text += f" Change {r.alone} in a deploy of its own."
        return text


def violations(rows, parameters=()) -> list[Violation]:
    """Rules broken by a review's rows (review.Row: resource_type, action,
    details with .name, .where); ``parameters`` (review.ParameterChange)
    pick the steps."""
    out = []
    changed = {(p.key, p.old or "", p.new) for p in parameters}
    for row in rows:
        if row.action != "Modify":
            continue
        names = {d.name for d in row.details}
        for rule in RULES:
            together = tuple(n for n in rule.not_with if n in names)
            if row.resource_type == rule.resource_type and rule.alone in names and together:
                steps = next((s for key, s in rule.steps.items() if key in changed), None)
                out.append(Violation(rule, row.where, row.resource_type, together, steps))
    return out


def violations_in(resource_type: str, changed_properties) -> list[Rule]:
    """Rules broken by one resource's changed property names (the local
    update model's view)."""
    names = set(changed_properties)
    return [
        r
        for r in RULES
        if r.resource_type == resource_type and r.alone in names and any(n in names for n in r.not_with)
    ]
