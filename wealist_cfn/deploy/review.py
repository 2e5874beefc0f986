"""The review of a change set: one table over the root and every nested
change set, counts per action, and the call-outs an operator must not miss.

Call-outs:

* **guarded** (refused without ``--allow-replace``): removal or replacement
  (``Replacement`` True *or* Conditional: CloudFormation cannot promise it
  will not replace) of a stateful resource, and removal or replacement of a
  nested stack (which would delete whatever it holds). A *conditional* one
  (Replacement: Conditional, typically a value that only another nested
  stack's update will tell) may instead go ahead with
  ``--accept-conditional``, which keeps the stack policies that deny an
  actual replacement in place.
* **warning**: replacement of a DB/cache subnet group (the database or
  cache moves with it); a change to a role's trust policy, which the
  service role may not make (the update would fail under it).
* **security**: any IAM or security-group change. When the endpoint reports
  property values (``IncludePropertyValues``), new principals, actions,
  resources and ingress sources are listed as a broadening; when it does not,
  the change is flagged for a manual look.

The review carries names and property *names*, never property values, except
the IAM/ingress elements of a broadening; root parameter values of NoEcho
parameters are never shown.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field

from wealist_cfn.cfn import updaterules
from wealist_cfn.cfn.model import NESTED
from wealist_cfn.core.parameters import PARAMS_BY_NAME
from wealist_cfn.deploy import sequence

STATEFUL_TYPES = frozenset(
    {
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBCluster",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::ElastiCache::CacheCluster",
        "AWS::ECR::Repository",
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
    }
)
GUARDED_TYPES = STATEFUL_TYPES | {NESTED}
# Stateful types this project always names (database.py, cache.py).
# CloudFormation cannot replace a custom-named resource: the update fails
# ("You can't perform an update that causes a custom-named resource to be
# replaced": CloudFormation template reference, "Resource custom naming",
# aws-properties-name.html) and rolls back; nothing is replaced.
NAMED_TYPES = frozenset({"AWS::RDS::DBInstance", "AWS::ElastiCache::ReplicationGroup"})
WARN_TYPES = frozenset({"AWS::RDS::DBSubnetGroup", "AWS::ElastiCache::SubnetGroup"})
SG_TYPES = frozenset({"AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"})
# A listener rule's source-ip condition is what keeps Grafana and Prometheus private.
RULE_TYPE = "AWS::ElasticLoadBalancingV2::ListenerRule"
ACTIONS = ("Add", "Modify", "Remove", "Import", "Dynamic")
# The service role is never given iam:UpdateAssumeRolePolicy
# (stacks/github_oidc.py WITHHELD): a role's trust decides who holds it, and
# the secrets key trusts the role by ARN. A trust change in the templates
# therefore fails at execution, and the update rolls back.
TRUST_CHANGE = (
    "trust policy (AssumeRolePolicyDocument) changes: the service role may not call "
    "iam:UpdateAssumeRolePolicy, so this update will fail and roll back under it; an administrator "
    "changes the trust by hand first (docs/operations.md, the trust model)"
)


# CloudFormation writes this in a change set's property values (BeforeContext /
# AfterContext, ResourceChangeDetail.Target.AfterValue) where a value is only
# known once the change set runs, e.g. the ARN of a resource it creates.
# "Viewing a change set" in the CloudFormation User Guide
# (using-cfn-updating-stacks-changesets-view.html) names the placeholder.
_PLACEHOLDER = re.compile(r"\{\{changeSet:[A-Za-z_]+\}\}")
KNOWN_AT_EXECUTION = "(known only at execution)"

# ResourceChangeDetail.ChangeSource values (API reference, ResourceChangeDetail).
CAUSES = (
    "DirectModification",
    "ParameterReference",
    "ResourceReference",
    "ResourceAttribute",
    "Automatic",
    "NoModification",
)


def is_placeholder(value) -> bool:
    """A value CloudFormation only knows when the change set executes."""
    return isinstance(value, str) and bool(_PLACEHOLDER.search(value))


@dataclass
class Detail:
    """One changed property or attribute of a Modify row (ResourceChangeDetail,
    merged per name)."""

    name: str  # "InstanceType", "Tags", "Metadata", "DeletionPolicy" ...
    attribute: str  # Properties / Metadata / Tags / DeletionPolicy / UpdateReplacePolicy ...
    recreation: str  # Never / Conditionally / Always
    causes: list[str] = field(default_factory=list)  # "DirectModification", "ParameterReference Environment"
    known_at_execution: bool = False  # the new value is only known when the change set runs

    def text(self) -> str:
        known = f"; value {KNOWN_AT_EXECUTION}" if self.known_at_execution else ""
        return f"{self.name} ({' + '.join(self.causes) or 'cause not reported'}; recreation {self.recreation}{known})"


@dataclass
class Row:
    path: str  # nested stack path below the root ("" for the root, "DatabaseStack", "A/B")
    action: str
    logical_id: str
    resource_type: str
    replacement: str = ""  # True / Conditional / False; empty for Add/Remove
    policy_action: str = ""  # Delete / Retain / Snapshot / ReplaceAndDelete ...
    scopes: list[str] = field(default_factory=list)
    properties: list[str] = field(default_factory=list)  # "Name" (+ " (replaces)" / " (may replace)")
    causes: list[str] = field(default_factory=list)  # parameters / resources that cause the change
    # One entry per changed property or attribute: what changed, why, and whether it recreates.
    details: list[Detail] = field(default_factory=list)
    physical_id: str = ""
    nested_change_set: str = ""
    before: dict | None = None  # property values when the endpoint reports them; never rendered
    after: dict | None = None

    @property
    def where(self) -> str:
        return f"{self.path}/{self.logical_id}" if self.path else self.logical_id

    @property
    def replaces(self) -> bool:
        return (
            self.action == "Remove"
            or self.replacement in ("True", "Conditional")
            or self.policy_action.startswith("Replace")
        )


@dataclass
class Callout:
    level: str  # guarded | warning | security
    where: str
    resource_type: str
    message: str
    conditional: bool = False  # guarded only as "possibly replaced" (Replacement: Conditional)


@dataclass
class ParameterChange:
    key: str
    old: str | None
    new: str


@dataclass
class Value:
    """One root parameter's value as this deploy sends it, and where it came
    from: ``--parameter``, ``file`` (the parameter file), ``derived`` or
    ``default`` (the parameter's own default)."""

    key: str
    value: str
    source: str


@dataclass
class Review:
    stack_name: str
    change_set_type: str  # CREATE / UPDATE
    change_set_name: str = ""
    change_set_id: str = ""
    description: str = ""
    rows: list[Row] = field(default_factory=list)
    parameters: list[ParameterChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the endpoint did not report, compat fills
    callouts: list[Callout] = field(default_factory=list)
    values: list[Value] = field(default_factory=list)  # effective parameter values, template order
    params_file: str = ""  # the parameter file and how it was chosen, e.g. "params/prod.json (--env prod)"

    @property
    def counts(self) -> dict[str, int]:
        """Every row counted once, nested stacks and the rows inside them
        included: a Modify that replaces (Replacement True or Conditional)
        counts as Replace, not Modify."""
        c = Counter(
            "Replace" if r.action == "Modify" and r.replacement in ("True", "Conditional") else r.action
            for r in self.rows
        )
        return {k: c[k] for k in ("Add", "Modify", "Replace", "Remove", "Import", "Dynamic") if c[k]}

    @property
    def conditional_replacements(self) -> int:
        return sum(1 for r in self.rows if r.action == "Modify" and r.replacement == "Conditional")

    @property
    def guarded(self) -> list[Callout]:
        return [c for c in self.callouts if c.level == "guarded"]

    def to_dict(self) -> dict:
        rows = []
        for r in self.rows:
            d = asdict(r)
            d.pop("before"), d.pop("after")
            rows.append(d)
        return {
            "stack": self.stack_name,
            "changeSetType": self.change_set_type,
            "changeSetName": self.change_set_name,
            "changeSetId": self.change_set_id,
            "description": self.description,
            "counts": self.counts,
            "changes": rows,
            "parameters": [asdict(p) for p in self.parameters],
            "callouts": [asdict(c) for c in self.callouts],
            "notes": self.notes,
            "paramsFile": self.params_file,
            "values": [asdict(v) for v in self.values],
        }


# --- parameters ------------------------------------------------------------------------------


def effective_values(cfg, mask=lambda key, value: value) -> list[Value]:
    """Every root parameter of a validated config with its source; ``mask``
    hides a NoEcho value."""
    return [Value(e["key"], mask(e["key"], e["value"]), e["source"]) for e in cfg.effective()]


EMPTY = "''"


def _values_lines(review: "Review") -> list[str]:
    """The effective values: each one set by a flag or the file on a line of
    its own with its source, the defaults together on one line."""
    if not review.values:
        return []
    named = [v for v in review.values if v.source != "default"]
    defaults = [v for v in review.values if v.source == "default"]
    width = max((len(v.key) for v in named), default=0)
    head = f"Values ({review.params_file}):" if review.params_file else "Values:"
    out = [head]
    out += [f"  {v.key.ljust(width)}  {v.value or EMPTY}  ({v.source})" for v in named]
    if defaults:
        out.append("  defaults: " + ", ".join(f"{v.key}={v.value or EMPTY}" for v in defaults))
    return out


def _is_list_type(key: str) -> bool:
    spec = PARAMS_BY_NAME.get(key)
    return spec is not None and (spec.type.startswith("List<") or spec.type == "CommaDelimitedList")


def _as_items(value: str) -> list[str]:
    """A list parameter's value as its items. CloudFormation returns
    ``a,b,c`` (DescribeStacks Parameter.ParameterValue); some endpoints
    return the list itself or its Python/JSON rendering (``['a', 'b']``)."""
    if isinstance(value, list):
        return [str(v).strip() for v in value]
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [v.strip().strip("'\"") for v in text.split(",") if v.strip()]


def list_value(value: str) -> str:
    """A deployed list parameter in the form CloudFormation takes it
    (``a,b``), also when the endpoint reported the list's rendering
    (moto: ``['a', 'b']``); any other value unchanged."""
    text = str(value).strip()
    return ",".join(_as_items(text)) if text.startswith("[") and text.endswith("]") else value


def parameter_changes(deployed: dict[str, str], wanted: dict[str, str]) -> list[ParameterChange]:
    """The root parameters whose value changes. List parameters are compared
    as lists (so ``a, b`` and ``a,b`` are the same value); NoEcho values are
    never shown."""
    out = []
    for key, new in wanted.items():
        old = deployed.get(key)
        if old is not None and _is_list_type(key):
            if _as_items(old) == _as_items(new):
                continue
            old = ",".join(_as_items(old))
        elif old == new:
            continue
        spec = PARAMS_BY_NAME.get(key)
        if spec is not None and spec.no_echo:
            old, new = (None if old is None else "****"), "****"
        out.append(ParameterChange(key, old, new))
    return out


# --- building rows from DescribeChangeSet -------------------------------------------------------

_RECREATION_ORDER = {"Never": 0, "Conditionally": 1, "Always": 2}


def row_from_change(path: str, change: dict) -> Row:
    """One review row from a DescribeChangeSet ``Changes`` entry (API reference:
    Change, ResourceChange, ResourceChangeDetail, ResourceTargetDefinition)."""
    rc = change.get("ResourceChange", {})
    props: list[str] = []
    causes: list[str] = []
    details: dict[str, Detail] = {}
    for d in rc.get("Details", []):
        target = d.get("Target", {})
        attribute = target.get("Attribute", "") or ""
        # A property change names the property; an attribute change (Metadata,
        # Tags, DeletionPolicy, UpdateReplacePolicy ...) is named by the attribute.
        name = target.get("Name") or attribute or "?"
        recreate = target.get("RequiresRecreation", "Never") or "Never"
        label = name + {"Always": " (replaces)", "Conditionally": " (may replace)"}.get(recreate, "")
        # A property can appear once per cause; show it once, keeping the strongest recreation mark.
        base = [p for p in props if p.split(" (")[0] == name]
        if not base:
            props.append(label)
        elif recreate == "Always":
            props[props.index(base[0])] = label
        source = d.get("ChangeSource") or ""
        cause = d.get("CausingEntity") or source
        if cause and source != "DirectModification" and cause not in causes:
            causes.append(cause)
        det = details.setdefault(name, Detail(name=name, attribute=attribute, recreation=recreate))
        if _RECREATION_ORDER.get(recreate, 0) > _RECREATION_ORDER.get(det.recreation, 0):
            det.recreation = recreate
        why = " ".join(x for x in (source, d.get("CausingEntity") or "") if x)
        if why and why not in det.causes:
            det.causes.append(why)
        if d.get("Evaluation") == "Dynamic" or is_placeholder(target.get("AfterValue")):
            det.known_at_execution = True
    return Row(
        path=path,
        action=rc.get("Action", "?"),
        logical_id=rc.get("LogicalResourceId", "?"),
        resource_type=rc.get("ResourceType", "?"),
        replacement=rc.get("Replacement", "") or "",
        policy_action=rc.get("PolicyAction", "") or "",
        scopes=list(rc.get("Scope", [])),
        properties=props,
        causes=causes,
        details=list(details.values()),
        physical_id=rc.get("PhysicalResourceId", "") or "",
        nested_change_set=rc.get("ChangeSetId", "") or "",
        before=_context(rc.get("BeforeContext")),
        after=_context(rc.get("AfterContext")),
    )


def _context(value) -> dict | None:
    if not value:
        return None
    try:
        data = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return None
    if isinstance(data, dict) and "Properties" in data and isinstance(data["Properties"], dict):
        return data["Properties"]
    return data if isinstance(data, dict) else None


# --- call-outs ----------------------------------------------------------------------------------


def analyse(review: Review) -> None:
    """Fill ``review.callouts`` from the rows."""
    out: list[Callout] = []
    for r in review.rows:
        if r.resource_type in GUARDED_TYPES and r.replaces and review.change_set_type == "UPDATE":
            what = (
                "removed"
                if r.action == "Remove"
                else (
                    "replaced"
                    if r.replacement == "True" or r.policy_action.startswith("Replace")
                    else "possibly replaced (Replacement: Conditional)"
                )
            )
            if r.resource_type == NESTED:
                msg = f"nested stack {what}: every resource in it goes with it"
            elif r.resource_type in NAMED_TYPES and r.action == "Modify":
                msg = (
                    f"custom-named, so CloudFormation cannot replace it: this update would fail and roll back "
                    f"(if it is {what.split(' (')[0]}); to replace it, it needs a new name"
                )
            else:
                keep = f"; policy action {r.policy_action}" if r.policy_action else ""
                msg = f"stateful resource {what}: its data is lost unless restored from a snapshot{keep}"
            trigger = [p for p in r.properties if "replace" in p]
            if trigger:
                msg += f" (because of {', '.join(p.split(' (')[0] for p in trigger)})"
            conditional = (
                r.action != "Remove" and r.replacement == "Conditional" and not r.policy_action.startswith("Replace")
            )
            out.append(Callout("guarded", r.where, r.resource_type, msg, conditional=conditional))
        elif r.resource_type in WARN_TYPES and r.replaces and review.change_set_type == "UPDATE":
            out.append(
                Callout(
                    "warning",
                    r.where,
                    r.resource_type,
                    f"{'removed' if r.action == 'Remove' else 'replaced'}: the database or cache "
                    f"that uses it moves to the new one",
                )
            )
        if (
            review.change_set_type == "UPDATE"
            and r.resource_type == "AWS::IAM::Role"
            and r.action == "Modify"
            and any(p.split(" (")[0] == "AssumeRolePolicyDocument" for p in r.properties)
        ):
            out.append(Callout("warning", r.where, r.resource_type, TRUST_CHANGE))
        if review.change_set_type == "UPDATE" and (
            r.resource_type.startswith("AWS::IAM::") or r.resource_type in SG_TYPES or r.resource_type == RULE_TYPE
        ):
            out.append(Callout("security", r.where, r.resource_type, _security_message(r)))
    if review.change_set_type == "UPDATE":
        # Combinations a service refuses in one update (updaterules.py).
        out += [
            Callout("guarded", v.where, v.resource_type, v.message())
            for v in updaterules.violations(review.rows, review.parameters)
        ]
        out += [Callout("warning", *note) for note in sequence.rollout_notes(review.rows)]
        review.notes += [n for n in sequence.mode_notes(review.parameters) if n not in review.notes]
    review.callouts = out


def _security_message(r: Row) -> str:
    kind = (
        "IAM"
        if r.resource_type.startswith("AWS::IAM::")
        else "listener rule"
        if r.resource_type == RULE_TYPE
        else "security group"
    )
    if r.action == "Remove":
        return f"{kind} resource removed (narrows access)"
    if r.after is None and r.action != "Add":
        changed = ", ".join(p.split(" (")[0] for p in r.properties) or "properties"
        return f"{kind} change to {changed}; values not reported by the endpoint: check the template diff"
    if r.action == "Add" and r.after is None:
        return f"new {kind} resource: review what it grants in the template"
    grants = _grants(r.resource_type, r.after or {})
    before = _grants(r.resource_type, r.before or {}) if r.action != "Add" else {}
    # A grant that holds a placeholder is no grant yet: its value is only known
    # when the change set runs. It is named as such, never as a broadening or
    # a narrowing (the same statement reads as "new" on one side only).
    pending = sorted(g for g in grants if KNOWN_AT_EXECUTION in g)
    grants = {g: key for g, key in grants.items() if KNOWN_AT_EXECUTION not in g}
    before = {g: key for g, key in before.items() if KNOWN_AT_EXECUTION not in g}
    # A grant covered by one that was there before (a port inside the old
    # range, a CIDR inside the old block, an action the old wildcard
    # matched) is no broadening.
    new = sorted(g for g in grants.keys() - before.keys() if not any(_covers(b, grants[g]) for b in before.values()))
    # An old grant that a pending one may equal once its value is known (same
    # action and principal, the resource only known at execution) is not a
    # narrowing either.
    shapes = [re.compile(".+?".join(re.escape(part) for part in g.split(KNOWN_AT_EXECUTION))) for g in pending]
    gone = sorted(
        g
        for g in before.keys() - grants.keys()
        if not any(_covers(n, before[g]) for n in grants.values()) and not any(shape.fullmatch(g) for shape in shapes)
    )
    parts = []
    if new:
        parts.append(f"broadens {kind}: " + "; ".join(new[:8]) + (f"; and {len(new) - 8} more" if len(new) > 8 else ""))
    if gone:
        parts.append(f"narrows {kind}: " + "; ".join(gone[:8]))
    if pending:
        parts.append("values known only at execution, check them after the deploy: " + "; ".join(pending[:8]))
    return "; ".join(parts) if parts else f"{kind} change that neither adds nor removes a grant"


def _value(v) -> str:
    return KNOWN_AT_EXECUTION if is_placeholder(v) else str(v)


def _as_list(v) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _network(peer: str):
    try:
        return ipaddress.ip_network(peer, strict=False)
    except ValueError:
        return None


def _covers(old: tuple, new: tuple) -> bool:
    """Whether the grant ``old`` already allows everything ``new`` does."""
    if old[0] != new[0]:
        return False
    if old[0] == "sg":
        (_, d0, p0, lo0, hi0, peer0), (_, d1, p1, lo1, hi1, peer1) = old, new
        if d0 != d1 or p0 not in ("-1", p1):
            return False
        if p0 != "-1" and lo0 != -1 and not (lo0 <= lo1 and hi1 <= hi0 and lo1 != -1):
            return False
        return _peer_covers(peer0, peer1)
    if old[0] == "rule":
        return old[1] == new[1] and _peer_covers(old[2], new[2])
    if old[0] == "iam":
        (_, a0, r0, pr0), (_, a1, r1, pr1) = old, new
        return pr0 in ("*", pr1) and fnmatch.fnmatchcase(a1.lower(), a0.lower()) and fnmatch.fnmatchcase(r1, r0 or "*")
    return old == new


def _peer_covers(old: str, new: str) -> bool:
    if old == new:
        return True
    a, b = _network(old), _network(new)
    return a is not None and b is not None and a.version == b.version and b.subnet_of(a)


def _grants(resource_type: str, props: dict) -> dict[str, tuple]:
    """What a resource grants: a readable string -> a comparable key."""
    out: dict[str, tuple] = {}
    if resource_type in SG_TYPES:
        rules: list[tuple[str, dict]] = []
        if resource_type == "AWS::EC2::SecurityGroup":
            rules += [("ingress", x) for x in _as_list(props.get("SecurityGroupIngress")) if isinstance(x, dict)]
            rules += [("egress", x) for x in _as_list(props.get("SecurityGroupEgress")) if isinstance(x, dict)]
        else:
            rules.append(("ingress" if resource_type.endswith("Ingress") else "egress", props))
        for direction, rule in rules:
            peer = next(
                (
                    _value(rule[k])
                    for k in (
                        "CidrIp",
                        "CidrIpv6",
                        "SourceSecurityGroupId",
                        "SourcePrefixListId",
                        "DestinationSecurityGroupId",
                        "DestinationPrefixListId",
                    )
                    if rule.get(k)
                ),
                "?",
            )
            ports = str(rule.get("FromPort", "all"))
            if str(rule.get("ToPort", ports)) != ports:
                ports += f"-{rule.get('ToPort')}"
            word = "from" if direction == "ingress" else "to"
            proto = str(rule.get("IpProtocol", "?"))
            try:
                lo, hi = int(rule.get("FromPort", -1)), int(rule.get("ToPort", rule.get("FromPort", -1)))
            except (TypeError, ValueError):
                lo, hi = -1, -1
            out[f"{direction} {proto}/{ports} {word} {peer}"] = ("sg", direction, proto, lo, hi, peer)
        return out
    if resource_type == RULE_TYPE:
        conditions = [c for c in _as_list(props.get("Conditions")) if isinstance(c, dict)]
        sources = [
            str(v)
            for c in conditions
            if c.get("Field") == "source-ip"
            for v in _as_list((c.get("SourceIpConfig") or {}).get("Values"))
        ]
        match = json.dumps([c for c in conditions if c.get("Field") != "source-ip"], sort_keys=True, default=str)
        what = json.dumps(props.get("Actions"), sort_keys=True, default=str) + match
        for src in sources or ["0.0.0.0/0"]:
            label = f"any address ({src})" if src == "0.0.0.0/0" else src
            out[f"requests from {label}"] = ("rule", what, src)
        return out
    docs = []
    for key in ("AssumeRolePolicyDocument", "PolicyDocument", "Policies", "SecurityGroupIngress"):
        if is_placeholder(props.get(key)):
            out[f"{key} {KNOWN_AT_EXECUTION}"] = ("pending", key)
    for key in ("AssumeRolePolicyDocument", "PolicyDocument"):
        if isinstance(props.get(key), dict):
            docs.append((key, props[key]))
    for p in _as_list(props.get("Policies")):
        if isinstance(p, dict) and isinstance(p.get("PolicyDocument"), dict):
            docs.append((p.get("PolicyName", "inline"), p["PolicyDocument"]))
    for arn in _as_list(props.get("ManagedPolicyArns")):
        out[f"managed policy {_value(arn)}"] = ("arn", _value(arn))
    for name, doc in docs:
        for st in _as_list(doc.get("Statement")):
            if not isinstance(st, dict) or st.get("Effect") != "Allow":
                continue
            principal = st.get("Principal")
            principals = (
                [f"{k}:{_value(v)}" for k, vs in principal.items() for v in _as_list(vs)]
                if isinstance(principal, dict)
                else [_value(p) for p in _as_list(principal)] or [""]
            )
            for pr in principals:
                for action in _as_list(st.get("Action")) or ["(NotAction)"]:
                    for res in _as_list(st.get("Resource")) or [""]:
                        who = f" to {pr}" if pr else ""
                        on = f" on {_value(res)}" if res else ""
                        out[f"allow {_value(action)}{on}{who}"] = ("iam", _value(action), _value(res), pr)
    return out


# --- rendering ----------------------------------------------------------------------------------

_HEAD = ("Stack", "Action", "Logical ID", "Type", "Replacement", "Changes")


def _cells(review: Review, r: Row) -> tuple[str, ...]:
    stack = f"{review.stack_name}/{r.path}" if r.path else review.stack_name
    changes = []
    if r.details:
        # Modify: each changed property / attribute with its cause and whether it recreates.
        changes.append("; ".join(d.text() for d in r.details))
    elif r.properties:
        changes.append(", ".join(r.properties))
        if r.causes:
            changes.append(f"[via {', '.join(r.causes)}]")
    elif r.action == "Modify":
        scope = f" ({','.join(r.scopes)})" if r.scopes else ""
        changes.append(f"changed{scope}; properties not reported by the endpoint")
    if r.policy_action and r.policy_action not in ("Delete",) and r.action != "Add":
        changes.append(f"policy {r.policy_action}")
    return (stack, r.action, r.logical_id, r.resource_type, r.replacement or "-", " ".join(changes) or "-")


def _summary(review: Review) -> str:
    counts = review.counts
    if not counts:
        return "no resource changes"
    parts = [f"{n} {k.lower()}" for k, n in counts.items()]
    conditional = review.conditional_replacements
    if conditional:
        i = list(counts).index("Replace")
        parts[i] += f" ({conditional} only conditionally)"
    return ", ".join(parts)


def render_text(review: Review, *, color: bool = False) -> str:
    """An aligned table; ANSI emphasis on a terminal only."""
    rows = [_cells(review, r) for r in review.rows]
    widths = [max([len(h)] + [len(c[i]) for c in rows]) for i, h in enumerate(_HEAD)]
    widths[-1] = len(_HEAD[-1])  # the last column is not padded

    def line(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    guarded = {c.where for c in review.guarded}
    out = [f"Change set {review.change_set_name} ({review.change_set_type}) for stack {review.stack_name}"]
    if review.description:
        out.append(f"  {review.description}")
    out += _values_lines(review)
    if review.parameters:
        out.append("Parameters:")
        for p in review.parameters:
            out.append(f"  {p.key}: {p.old if p.old is not None else '(new)'} -> {p.new}")
    out.append(line(_HEAD))
    out.append(line(tuple("-" * w for w in widths[:-1]) + ("-" * len(_HEAD[-1]),)))
    for r, cells in zip(review.rows, rows):
        text = line(cells)
        if color and r.where in guarded:
            text = f"\033[1;31m{text}\033[0m"
        elif color and r.action == "Remove":
            text = f"\033[31m{text}\033[0m"
        out.append(text)
    out.append(f"Summary: {_summary(review)}")
    for c in review.callouts:
        tag = {"guarded": "REFUSED WITHOUT --allow-replace", "warning": "WARNING", "security": "SECURITY"}[c.level]
        text = f"  {tag}: {c.where} ({c.resource_type}): {c.message}"
        if color and c.level == "guarded":
            text = f"\033[1;31m{text}\033[0m"
        out.append(text)
    for n in review.notes:
        out.append(f"  note: {n}")
    return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(review: Review) -> str:
    out = [
        f"### CloudFormation change set `{review.change_set_name}` ({review.change_set_type}) "
        f"for `{review.stack_name}`",
        "",
    ]
    if review.description:
        out += [review.description, ""]
    out += [f"**{_summary(review)}**", ""]
    if review.guarded:
        out += ["> [!CAUTION]", "> Refused without `--allow-replace`:"]
        out += [f"> - `{c.where}` ({c.resource_type}): {_md(c.message)}" for c in review.guarded]
        out.append("")
    others = [c for c in review.callouts if c.level != "guarded"]
    if others:
        out += ["| | Where | Type | Note |", "|---|---|---|---|"]
        out += [f"| {c.level} | `{c.where}` | {c.resource_type} | {_md(c.message)} |" for c in others]
        out.append("")
    if review.values:
        overridden = [v for v in review.values if v.source == "--parameter"]
        out += [
            f"<details><summary>Values ({_md(review.params_file) or 'parameter file'}"
            f"{'; ' + str(len(overridden)) + ' set by --parameter' if overridden else ''})</summary>",
            "",
            "| Parameter | Value | From |",
            "|---|---|---|",
        ]
        out += [f"| {v.key} | {_md(v.value)} | {v.source} |" for v in review.values]
        out += ["", "</details>", ""]
    if review.parameters:
        out += ["| Parameter | Old | New |", "|---|---|---|"]
        out += [f"| {p.key} | {_md(p.old or '(new)')} | {_md(p.new)} |" for p in review.parameters]
        out.append("")
    if review.rows:
        out += ["| " + " | ".join(_HEAD) + " |", "|" + "---|" * len(_HEAD)]
        out += ["| " + " | ".join(_md(c) for c in _cells(review, r)) + " |" for r in review.rows]
    for n in review.notes:
        out += ["", f"_note: {_md(n)}_"]
    return "\n".join(out)


def render_json(review: Review) -> str:
    return json.dumps(review.to_dict(), indent=2)
