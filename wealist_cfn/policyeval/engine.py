"""Statements, policies and their combination: which statements apply to a
request, and the decision IAM reaches over identity policies, a permissions
boundary and a resource policy (bucket, key, topic), each rule beside the
page it follows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from . import conditions
from .conditions import UnmodelledPolicy
from .patterns import glob_matches, substitute

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "allow", "explicit-deny", "implicit-deny"


def listify(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def statements_of(policy) -> list[dict]:
    """A policy document (``{"Statement": ...}``), one statement or a list of
    statements, as a list of statements."""
    if not policy:
        return []
    if isinstance(policy, Mapping):
        if "Statement" in policy:
            return listify(policy["Statement"])
        if "Effect" in policy:
            return [dict(policy)]
        raise UnmodelledPolicy(f"a policy document holds a Statement: {dict(policy)}")
    return list(policy)


# -- principals ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """Who makes the request. ``kind``: "AWS" (an IAM role, role session,
    user or account root, by ARN), "Service" (a service principal by name),
    "Federated", or "Anonymous".

    A role's requests are made by a session of it; :meth:`role` gives the
    role's ARN and, optionally, the session's
    (``arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION``)."""

    kind: str
    arn: str = ""
    session_arn: str = ""

    @classmethod
    def role(cls, arn: str, session: str | None = None) -> "Principal":
        if ":role/" not in arn:
            raise ValueError(f"{arn} is not a role ARN")
        session_arn = ""
        if session:
            partition, account = arn.split(":")[1], arn.split(":")[4]
            session_arn = f"arn:{partition}:sts::{account}:assumed-role/{arn.rsplit('/', 1)[1]}/{session}"
        return cls("AWS", arn, session_arn)

    @classmethod
    def aws(cls, arn: str) -> "Principal":
        return cls("AWS", arn)

    @classmethod
    def service(cls, name: str) -> "Principal":
        return cls("Service", name)

    @classmethod
    def anonymous(cls) -> "Principal":
        return cls("Anonymous")

    @property
    def account(self) -> str:
        return self.arn.split(":")[4] if self.kind == "AWS" and self.arn.count(":") >= 5 else ""

    @property
    def is_role(self) -> bool:
        return self.kind == "AWS" and ":role/" in self.arn

    def context(self) -> dict[str, str]:
        """The keys IAM puts in every signed request of this principal:
        aws:PrincipalArn (a role session's is the role's ARN) and
        aws:PrincipalAccount; a service principal's request carries
        aws:PrincipalServiceName instead
        (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn)."""
        if self.kind == "AWS":
            return {"aws:PrincipalArn": self.arn, "aws:PrincipalAccount": self.account}
        if self.kind == "Service":
            return {"aws:PrincipalServiceName": self.arn}
        return {}


# How a resource policy's statement names the caller. A grant to the
# account (root ARN or account id) delegates to the account's IAM policies;
# one that names the entity, its session or everyone grants by itself
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html,
# "AWS account principals": "the resource-based policy ... delegates
# permissions to the account"; the identity-based policies of that account
# must then allow).
NAMES_ACCOUNT, NAMES_ENTITY, NAMES_SESSION, NAMES_EVERYONE, NAMES_SERVICE = (
    "account",
    "entity",
    "session",
    "everyone",
    "service",
)


def _names(element, who: Principal) -> str | None:
    """How a Principal element names ``who``, or None."""
    if element == "*":
        return NAMES_EVERYONE
    if not isinstance(element, Mapping):
        raise UnmodelledPolicy(f'Principal {element!r} is neither "*" nor a map')
    for kind, values in element.items():
        if kind not in ("AWS", "Service", "Federated"):
            raise UnmodelledPolicy(f"Principal kind {kind} is not modelled")
        for value in listify(values):
            value = str(value)
            if kind == "AWS" and value == "*":
                return NAMES_EVERYONE
            if kind != who.kind:
                continue
            if kind == "Service" or kind == "Federated":
                if value == who.arn:
                    return NAMES_SERVICE
                continue
            if who.account and (value == who.account or re.fullmatch(rf"arn:[\w-]+:iam::{who.account}:root", value)):
                return NAMES_ACCOUNT
            if value == who.arn:
                return NAMES_ENTITY
            if who.session_arn and value == who.session_arn:
                return NAMES_SESSION
    return None


# -- statements ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementRef:
    """Where a statement is: the policy's name and its index there."""

    policy: str
    index: int
    sid: str = ""

    def __str__(self) -> str:
        return f"{self.policy} statement {self.index}" + (f" (Sid {self.sid})" if self.sid else "")


def action_matches(statement: Mapping, action: str) -> bool:
    """Action / NotAction: action names are case-insensitive and take * and ?
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html);
    NotAction matches every action except those listed
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html)."""
    if ("Action" in statement) == ("NotAction" in statement):
        raise UnmodelledPolicy(f"a statement has exactly one of Action and NotAction: {dict(statement)}")
    if "NotAction" in statement:
        return not any(glob_matches(p, action, case=False) for p in listify(statement["NotAction"]))
    return any(glob_matches(p, action, case=False) for p in listify(statement["Action"]))


def _resource_pattern_matches(pattern: str, resource: str, context: Mapping[str, Any]) -> bool:
    pattern = substitute(pattern, context)
    return pattern is not None and glob_matches(pattern, resource, case=True)


def resource_matches(statement: Mapping, resource: str, context: Mapping[str, Any] | None = None) -> bool:
    """Resource / NotResource: ARNs are case-sensitive and take * and ?
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html);
    NotResource matches every resource except those listed
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html).
    A statement with neither (a role's trust policy) concerns the role itself."""
    context = context or {}
    if "Resource" in statement and "NotResource" in statement:
        raise UnmodelledPolicy(f"a statement has both Resource and NotResource: {dict(statement)}")
    if "NotResource" in statement:
        return not any(_resource_pattern_matches(p, resource, context) for p in listify(statement["NotResource"]))
    return any(_resource_pattern_matches(p, resource, context) for p in listify(statement.get("Resource", "*")))


def _effect(statement: Mapping) -> str:
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise UnmodelledPolicy(f"Effect is Allow or Deny, not {effect!r}")
    return effect


@dataclass
class _Scan:
    """What one policy says of a request."""

    allows: list[tuple[StatementRef, str]] = field(default_factory=list)
    denies: list[StatementRef] = field(default_factory=list)
    missing: list[tuple[StatementRef, tuple[str, ...]]] = field(default_factory=list)


def _scan(
    statements: Iterable[Mapping],
    name: str,
    action: str,
    resource: str,
    context: Mapping[str, Any],
    principal: Principal | None,
    *,
    optimistic: bool = False,
) -> _Scan:
    out = _Scan()
    for index, st in enumerate(statements):
        effect = _effect(st)
        how = NAMES_EVERYONE
        if principal is not None and ("Principal" in st or "NotPrincipal" in st):
            if "NotPrincipal" in st:
                # "NotPrincipal ... specify the IAM principals that are not
                # allowed access" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html).
                how = NAMES_EVERYONE if _names(st["NotPrincipal"], principal) is None else None
            else:
                how = _names(st["Principal"], principal)
            if how is None:
                continue
        if not action_matches(st, action) or not resource_matches(st, resource, context):
            continue
        ref = StatementRef(name, index, str(st.get("Sid", "")))
        if optimistic:
            # "Could this ever be allowed": a conditional Allow might hold, a
            # conditional Deny might not. Operators are still checked.
            conditions.evaluate(st.get("Condition"), {})  # raises on an unmodelled one
            holds = effect == "Allow" or not st.get("Condition")
            outcome = conditions.Outcome(holds)
        else:
            outcome = conditions.evaluate(st.get("Condition"), context)
        if not outcome.holds:
            if effect == "Allow" and outcome.missing:
                out.missing.append((ref, outcome.missing))
            continue
        if effect == "Deny":
            out.denies.append(ref)
        else:
            out.allows.append((ref, how))
    return out


# -- decisions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """The answer, and why: the statement that denied or allowed it, or that
    no statement allows it (with the context keys whose absence failed a
    condition of a statement that would otherwise have allowed it)."""

    allowed: bool
    effect: str
    reason: str
    statement: StatementRef | None = None
    missing: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.allowed

    def __str__(self) -> str:
        return self.reason


def _denied_by(ref: StatementRef) -> Decision:
    return Decision(False, EXPLICIT_DENY, f"explicitly denied by {ref}", ref)


def _not_allowed(what: str, scans: Sequence[_Scan]) -> Decision:
    near = [(ref, keys) for scan in scans for ref, keys in scan.missing]
    if near:
        ref, keys = near[0]
        return Decision(
            False,
            IMPLICIT_DENY,
            f"{what}: {ref} would allow it but its condition key {', '.join(keys)} is missing from the request",
            ref,
            tuple(k for _, ks in near for k in ks),
        )
    return Decision(False, IMPLICIT_DENY, what)


def evaluate_statements(
    statements,
    action: str,
    resource: str,
    context: Mapping[str, Any] | None = None,
    *,
    principal: Principal | None = None,
    policy: str = "policy",
) -> Decision:
    """One policy's verdict: an applicable Deny wins, else an applicable
    Allow allows, else nothing does (an implicit deny)
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html).

    ``principal``: None leaves any Principal element unconsulted (identity
    policies have none); given, a statement with Principal or NotPrincipal
    applies only to the principals it names, and the principal's own
    context keys (aws:PrincipalArn ...) are added where absent."""
    context = {**(principal.context() if principal else {}), **(context or {})}
    scan = _scan(statements_of(statements), policy, action, resource, context, principal)
    if scan.denies:
        return _denied_by(scan.denies[0])
    if scan.allows:
        ref = scan.allows[0][0]
        return Decision(True, ALLOW, f"allowed by {ref}", ref)
    return _not_allowed(f"no statement of the {policy} allows {action} on {resource}", [scan])


def could_allow(statements, action: str, resource: str, *, policy: str = "policy") -> Decision:
    """Whether some request context could make these statements allow the
    call: an Allow counts whatever its condition, a Deny only when it has
    none. The stricter reading for a check that something can never happen."""
    scan = _scan(statements_of(statements), policy, action, resource, {}, None, optimistic=True)
    if scan.denies:
        return _denied_by(scan.denies[0])
    if scan.allows:
        ref = scan.allows[0][0]
        return Decision(True, ALLOW, f"may be allowed by {ref}", ref)
    return Decision(False, IMPLICIT_DENY, f"no statement of the {policy} allows {action} on {resource}")


def evaluate(
    action: str,
    resource: str,
    context: Mapping[str, Any] | None = None,
    *,
    principal: Principal,
    identity=(),
    boundary=None,
    resource_policy=None,
    resource_account: str | None = None,
    key_policy: bool = False,
) -> Decision:
    """IAM's decision on one request, over the policies that apply to it
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):

    * ``identity``: the principal's identity-based statements (inline and
      attached); ``boundary``: its permissions boundary, None when it has
      none; ``resource_policy``: the resource's policy (bucket, topic, key),
      None when it has none; ``key_policy``: that policy is a KMS key
      policy; ``resource_account``: the resource's account (default: the
      principal's).

    SCPs, RCPs and session policies are not modelled (the project has none).
    """
    context = {**principal.context(), **(context or {})}
    own_account = principal.account
    resource_account = resource_account or own_account
    same_account = principal.kind == "AWS" and resource_account == own_account
    has_identity = principal.kind == "AWS"

    idn = (
        _scan(statements_of(identity), "identity policy", action, resource, context, None) if has_identity else _Scan()
    )
    bnd = (
        _scan(statements_of(boundary), "permissions boundary", action, resource, context, None)
        if has_identity and boundary is not None
        else None
    )
    res_name = "key policy" if key_policy else "resource policy"
    res = (
        _scan(statements_of(resource_policy), res_name, action, resource, context, principal)
        if resource_policy is not None
        else None
    )

    # 1. "An explicit deny in any of these policies overrides the allow"
    # (the same page, "Deny evaluation": every policy type, the boundary and
    # the resource policy included).
    for scan in (idn, bnd, res):
        if scan is not None and scan.denies:
            return _denied_by(scan.denies[0])

    identity_allows = bool(idn.allows)
    boundary_allows = bnd is None or bool(bnd.allows)
    # Identity-based permissions are those both the identity policies and the
    # boundary allow ("Permissions boundaries for IAM entities",
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html:
    # "The effective permissions are everything that is allowed by both
    # policy types").
    identity_grant = identity_allows and boundary_allows
    res_allows = res.allows if res is not None else []
    delegated = [ref for ref, how in res_allows if how == NAMES_ACCOUNT]
    # A grant that names the role (not a session of it), or everyone, is
    # limited by the role's boundary; one that names the session, a user or
    # a service is not ("How AWS enforcement code logic evaluates requests
    # to allow or deny access", Resource-based policies: "Resource-based
    # policies that grant permissions to an IAM role ARN are limited by an
    # implicit deny in a permissions boundary or session policy"; "...to an
    # IAM role session ARN ... not limited by an implicit deny in an
    # identity-based policy, a permissions boundary, or session policy",
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html).
    direct = [
        ref
        for ref, how in res_allows
        if how != NAMES_ACCOUNT and (how in (NAMES_SESSION, NAMES_SERVICE) or not principal.is_role or boundary_allows)
    ]

    def granted(ref: StatementRef, how: str) -> Decision:
        return Decision(True, ALLOW, f"allowed by {ref}{how}", ref)

    scans = [s for s in (res, idn, bnd) if s is not None]
    if key_policy:
        # KMS: "Every KMS key must have exactly one key policy ... no AWS
        # principal ... has any permissions to a KMS key unless that
        # permission is explicitly allowed in a key policy"; IAM policies
        # work only where the key policy allows the account (its root), with
        # the conditions of that statement
        # (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html;
        # https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam).
        if res is None:
            raise UnmodelledPolicy("a KMS key always has a key policy: give it as resource_policy")
        # A service principal has no identity policy: the key policy alone
        # decides for it, as for any resource policy.
        if direct and (same_account or not has_identity or identity_grant):
            return granted(direct[0], "")
        if delegated and identity_grant:
            return granted(idn.allows[0][0], f" (the {delegated[0]} lets IAM policies allow it)")
        if not direct and not delegated:
            return _not_allowed(
                f"the key policy allows no {action} for {principal.arn or principal.kind} "
                "(IAM policies count only where it delegates to the account)",
                [res],
            )
        if not identity_allows:
            return _not_allowed(
                f"the key policy delegates {action} to the account but no identity policy allows it", [idn]
            )
        return _not_allowed(f"the permissions boundary allows no {action} on {resource}", [bnd])

    if not same_account:
        # Cross-account: "the identity-based policy in the trusted account and
        # the resource-based policy in the trusting account must both allow"
        # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html).
        # A service principal or an anonymous caller has no identity policy:
        # the resource policy alone decides.
        if not has_identity:
            if direct:
                return granted(direct[0], "")
            return _not_allowed(
                f"no statement of the {res_name} allows {action} for {principal.arn or principal.kind}",
                [res] if res else [],
            )
        if (direct or delegated) and identity_grant:
            return granted(idn.allows[0][0], f" and {(direct or delegated)[0]} (cross-account)")
        if not (direct or delegated):
            return _not_allowed(
                f"cross-account {action} needs the {res_name} of account {resource_account} to allow it, and none does",
                [res] if res else [],
            )
        return _not_allowed(
            f"cross-account {action}: the {res_name} allows it but the caller's identity-based permissions do not",
            [idn] + ([bnd] if bnd else []),
        )

    # Within one account: identity-based permissions and resource-based
    # grants add up ("If either the identity-based policy or the
    # resource-based policy within the same account allows the request and
    # the other doesn't, the request is still allowed",
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html).
    if identity_grant:
        return granted(idn.allows[0][0], "")
    if direct:
        return granted(direct[0], "")
    if identity_allows and not boundary_allows:
        return _not_allowed(
            f"the permissions boundary allows no {action} on {resource} (an identity policy does, {idn.allows[0][0]})",
            [bnd],
        )
    if res_allows and principal.is_role and not boundary_allows:
        return _not_allowed(
            f"{res_allows[0][0]} grants the role, but a grant to a role ARN is limited by its "
            "permissions boundary, which allows no such call",
            [bnd],
        )
    return _not_allowed(f"no statement allows {action} on {resource} for {principal.arn or principal.kind}", scans)
