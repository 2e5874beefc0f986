"""The Condition element of an IAM policy statement, decided against a
request context: the operators and context keys this project's policies
use, each rule beside the page of the IAM User Guide it follows.

A request context is a mapping of context key to value: a string, a bool, or
a list of strings for a multivalued key such as ``aws:TagKeys``. Key names
are matched case-insensitively
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html:
"Condition key names are not case-sensitive").

An operator or key outside what is modelled here raises
:class:`UnmodelledCondition`: a verdict is never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .patterns import arn_matches, glob_matches, substitute


class UnmodelledPolicy(ValueError):
    """A policy uses an element, operator or context key this evaluator does
    not model: refused rather than guessed."""


class UnmodelledCondition(UnmodelledPolicy):
    """A condition operator or context key the evaluator does not model."""


# -- the context keys this project relies on ------------------------------------------------------
# Global keys: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
# Service keys: the Service Authorization Reference of KMS, IAM and S3
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html,
# .../list_awsidentityandaccessmanagementiam.html, .../list_amazons3.html); the GitHub OIDC keys are
# IAM's web-identity keys (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif).
KNOWN_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:PrincipalArn",
        "aws:PrincipalAccount",
        "aws:PrincipalServiceName",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SecureTransport",
        "aws:RequestedRegion",
        "aws:TagKeys",
        "aws:username",
        "aws:userid",
        "aws:MultiFactorAuthPresent",
        "aws:TokenIssueTime",
        "kms:ViaService",
        "kms:CallerAccount",
        "kms:EncryptionContextKeys",
        "kms:GrantIsForAWSResource",
        "iam:PassedToService",
        "iam:PermissionsBoundary",
        "iam:PolicyARN",
        "iam:AWSServiceName",
        "s3:prefix",
        "s3:delimiter",
        "s3:VersionId",
        "s3:x-amz-server-side-encryption",
        "token.actions.githubusercontent.com:aud",
        "token.actions.githubusercontent.com:sub",
    )
)
KNOWN_PREFIXES = tuple(
    p.lower()
    for p in (
        "aws:RequestTag/",
        "aws:ResourceTag/",
        "aws:PrincipalTag/",
        "kms:EncryptionContext:",
        "s3:ExistingObjectTag/",
        "s3:RequestObjectTag/",
    )
)
# Keys that may hold several values in one request ("Single-valued vs.
# multivalued context keys": ArrayOf types in the Service Authorization
# Reference), https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
MULTIVALUED = frozenset(k.lower() for k in ("aws:TagKeys", "kms:EncryptionContextKeys"))


def known_key(key: str) -> bool:
    low = key.lower()
    return low in KNOWN_KEYS or low.startswith(KNOWN_PREFIXES)


def lookup(context: Mapping[str, Any], key: str):
    """The request's value for ``key`` (names case-insensitive), or None."""
    if key in context:
        return context[key]
    low = key.lower()
    for k, v in context.items():
        if k.lower() == low:
            return v
    return None


def _values(raw) -> list[str]:
    if raw is None:
        return []
    items = raw if isinstance(raw, (list, tuple, set, frozenset)) else [raw]
    return [("true" if v else "false") if isinstance(v, bool) else str(v) for v in items]


# -- operators ----------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
# String: StringEquals is exact and case-sensitive; ...IgnoreCase ignores case;
# StringLike takes * and ? anywhere in the value. ARN: "ArnEquals, ArnLike:
# Case-sensitive matching of the ARN. Each of the six colon-delimited
# components of the ARN is checked separately and each can include
# multi-character match wildcards (*) or single-character match wildcards
# (?)": the two behave alike. Bool: "true"/"false", compared without case.
_BASE = {
    "StringEquals": lambda want, got: got == want,
    "StringEqualsIgnoreCase": lambda want, got: got.lower() == want.lower(),
    "StringLike": lambda want, got: glob_matches(want, got, case=True),
    "ArnEquals": arn_matches,
    "ArnLike": arn_matches,
    "Bool": lambda want, got: got.lower() == want.lower(),
}
# Negated operators: "If a single negated matching condition operator
# includes multiple values for a context key, those values are evaluated
# using a logical NOR" (Conditions with multiple context keys or values,
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html).
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}
# Operators whose values may hold policy variables (the operators page, each
# family's "Policy variables" line; https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
_VARIABLES = {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "Bool"}


@dataclass(frozen=True)
class Outcome:
    """Whether a Condition block holds, and the context keys whose absence
    made it fail (empty when it holds or failed on a present value)."""

    holds: bool
    missing: tuple[str, ...] = ()


def _parse(operator: str) -> tuple[str, str, bool, bool]:
    set_op, _, name = operator.rpartition(":")
    if set_op not in ("", "ForAllValues", "ForAnyValue"):
        raise UnmodelledCondition(f"condition set operator {set_op!r} is not modelled ({operator})")
    if_exists = name.endswith("IfExists")
    base = name.removesuffix("IfExists")
    negated = base in _NEGATED
    base = _NEGATED.get(base, base)
    if base == "Null":
        if set_op or if_exists:
            raise UnmodelledCondition(f"condition operator {operator} is not modelled")
    elif base not in _BASE:
        raise UnmodelledCondition(
            f"condition operator {operator} is not modelled (modelled: "
            f"{', '.join(sorted([*_BASE, *_NEGATED, 'Null']))}, with IfExists and "
            "ForAllValues:/ForAnyValue:)"
        )
    return set_op, base, negated, if_exists


def _one(operator: str, key: str, wanted, context: Mapping[str, Any]) -> bool | None:
    """True or False; None when it is False because the key is absent."""
    if not known_key(key):
        raise UnmodelledCondition(f"condition key {key} (under {operator}) is not modelled")
    set_op, base, negated, if_exists = _parse(operator)
    got = _values(lookup(context, key))
    absent = not got
    wanted = _values(wanted)
    if base == "Null":
        # "Use a Null condition operator to check if a condition key is absent
        # at the time of authorization. In the policy statement, use either
        # true (the key doesn't exist — it is null) or false (the key exists
        # and its value is not null)."
        if len(wanted) != 1 or wanted[0].lower() not in ("true", "false"):
            raise UnmodelledCondition(f"Null on {key} takes true or false, not {wanted}")
        if absent == (wanted[0].lower() == "true"):
            return True
        return None if absent else False
    if base in _VARIABLES:
        wanted = [w for w in (substitute(w, context) for w in wanted) if w is not None]
    test = _BASE[base]

    def single(value: str) -> bool:
        return any(test(w, value) for w in wanted) != negated

    if set_op == "ForAllValues":
        # "The ForAllValues qualifier tests whether the value of every member
        # of the request set is a subset of the condition key set ... It also
        # returns true if there are no context keys in the request."
        # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html)
        return all(single(v) for v in got)
    if set_op == "ForAnyValue":
        # "...at least one member of the set of request values matches at
        # least one member of the set of condition key values"; with no key
        # in the request it returns false.
        if absent:
            return True if if_exists else None
        return any(single(v) for v in got)
    if len(got) > 1 or key.lower() in MULTIVALUED:
        raise UnmodelledCondition(f"{operator} on the multivalued key {key}: use ForAllValues: or ForAnyValue:")
    if absent:
        # "If the key that you specify in a policy condition is not present in
        # the request context, the values do not match and the condition is
        # false. If the policy condition requires that the key is not matched,
        # such as StringNotLike or ArnNotLike, and the right key is not
        # present, the condition is true." ...IfExists: "If the policy key is
        # present in the context of the request, process the key as specified
        # in the policy. If the key is not present, evaluate the condition
        # element as true."
        if if_exists or negated:
            return True
        return None
    return single(got[0])


def evaluate(condition: Mapping[str, Mapping[str, Any]] | None, context: Mapping[str, Any]) -> Outcome:
    """Every operator and every key under it must hold (AND); the values
    listed for one key are alternatives (OR)
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html).
    Every operator is checked, so an unmodelled one raises even when another
    already failed."""
    if not condition:
        return Outcome(True)
    if not isinstance(condition, Mapping):
        raise UnmodelledPolicy(f"a Condition is a map of operator to keys, not {condition!r}")
    holds, missing = True, []
    for operator, block in condition.items():
        if not isinstance(block, Mapping):
            raise UnmodelledCondition(f"condition operator {operator} maps keys to values, not {block!r}")
        _parse(operator)  # an unmodelled operator is refused even with no key under it
        for key, wanted in block.items():
            result = _one(operator, key, wanted, context)
            if result is None:
                missing.append(key)
            holds = holds and bool(result)
    return Outcome(holds, tuple(missing) if not holds else ())


__all__ = ["Outcome", "UnmodelledCondition", "UnmodelledPolicy", "evaluate", "known_key", "lookup"]
