"""A small evaluator over resolved IAM policy statements, for the tests:
does any statement allow an action on a resource, and does a deny take it
back. ``allowed`` ignores conditions on Allow (an allow that holds only
under a condition still counts as allowed: the stricter reading for "can
never"); ``decide`` evaluates them against a request context, for the calls
whose allow hangs on one.
Matching follows the IAM policy grammar: ``*`` and ``?`` wildcards, actions
case-insensitive, resources case-sensitive
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html,
…/reference_policies_elements_resource.html)."""

from __future__ import annotations

import fnmatch
import re


def listify(v) -> list:
    return v if isinstance(v, list) else [v]


def _match(pattern: str, value: str, *, case: bool) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return re.fullmatch(fnmatch.translate(pattern).replace("(?s:", "(?s:", 1), value) is not None


def action_matches(statement: dict, action: str) -> bool:
    if "NotAction" in statement:
        return not any(_match(p, action, case=False) for p in listify(statement["NotAction"]))
    return any(_match(p, action, case=False) for p in listify(statement["Action"]))


def resource_matches(statement: dict, resource: str) -> bool:
    if "NotResource" in statement:
        return not any(_match(p, resource, case=True) for p in listify(statement["NotResource"]))
    return any(_match(p, resource, case=True) for p in listify(statement.get("Resource", "*")))


def allowed(statements: list[dict], action: str, resource: str) -> bool:
    hits = [s for s in statements if action_matches(s, action) and resource_matches(s, resource)]
    # An unconditional deny wins; a conditional one may not apply, so it does not count.
    if any(s["Effect"] == "Deny" and "Condition" not in s for s in hits):
        return False
    return any(s["Effect"] == "Allow" for s in hits)


def covers(statements: list[dict], action: str) -> bool:
    """Some Allow statement names this action (a schema's own wildcard, such
    as ``ssm:Get*``, must appear as it is or inside a broader pattern)."""
    return any(s["Effect"] == "Allow" and "Action" in s and
               any(_match(p, action, case=False) for p in listify(s["Action"])) for s in statements)


# -- with a request context ------------------------------------------------------------------------
# ``decide`` evaluates conditions too, for the calls whose allow hangs on one
# (tag-on-create, permissions boundaries, iam:PolicyARN, PassedToService).
# Rules, from the IAM User Guide's condition pages:
# * Operators in a block, and keys under an operator, must all hold; the
#   values listed for one key are alternatives ("Creating a condition with
#   multiple context keys or values",
#   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html).
# * A key absent from the request matches no positive operator; a negated
#   one (StringNotEquals, ArnNotLike, ...) then holds; ``...IfExists`` holds
#   when the key is absent; ``Null: true`` holds exactly when it is absent
#   ("IAM JSON policy elements: Condition operators",
#   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
# * ``ForAllValues:`` holds when every value of a multivalued key (such as
#   aws:TagKeys) matches one listed, and also when the key is absent or empty;
#   ``ForAnyValue:`` when at least one does, never when it is absent
#   ("Set operators for multivalued context keys",
#   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html).
# * Condition key names are case-insensitive; String and Arn values are
#   matched case-sensitively; Bool case-insensitively.

_POSITIVE = {
    "StringEquals": lambda want, got: got == want,
    "StringLike": lambda want, got: _match(want, got, case=True),
    "ArnEquals": lambda want, got: got == want,
    "ArnLike": lambda want, got: _match(want, got, case=True),
    "Bool": lambda want, got: str(got).lower() == str(want).lower(),
}
_NEGATED = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike",
            "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}


class UnmodelledCondition(ValueError):
    """A condition operator the evaluator does not know: refused, never guessed."""


def _lookup(context: dict, key: str):
    for k, v in context.items():
        if k.lower() == key.lower():
            return v
    return None


def _operator_holds(operator: str, key: str, wanted, context: dict) -> bool:
    wanted = [str(w) for w in listify(wanted)]
    got = _lookup(context, key)
    if operator == "Null":
        return (got is None) == (wanted[0].lower() == "true")
    set_op, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    negated = operator in _NEGATED
    test = _POSITIVE.get(_NEGATED.get(operator, operator))
    if test is None:
        raise UnmodelledCondition(f"condition operator {operator} is not modelled")
    if set_op == "ForAllValues":
        return all(any(test(w, g) for w in wanted) != negated for g in listify(got or []))
    if set_op == "ForAnyValue":
        return any(any(test(w, g) for w in wanted) != negated for g in listify(got or []))
    if set_op:
        raise UnmodelledCondition(f"set operator {set_op} is not modelled")
    if got is None:
        return if_exists or negated
    hit = any(test(w, g) for w in wanted for g in listify(got))
    return hit != negated


def conditions_hold(condition: dict, context: dict) -> bool:
    return all(_operator_holds(op, key, wanted, context)
               for op, block in condition.items() for key, wanted in block.items())


def decide(statements: list[dict], action: str, resource: str, context: dict | None = None) -> bool:
    """Whether these identity-policy statements allow the call made with
    this request context: an applicable Deny wins, else an applicable Allow
    (the IAM evaluation logic within one account,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)."""
    context = context or {}
    hits = [s for s in statements if action_matches(s, action) and resource_matches(s, resource)
            and conditions_hold(s.get("Condition", {}), context)]
    if any(s["Effect"] == "Deny" for s in hits):
        return False
    return any(s["Effect"] == "Allow" for s in hits)


def decide_bounded(statements: list[dict], boundary: list[dict], action: str, resource: str,
                   context: dict | None = None) -> bool:
    """With a permissions boundary, a call is allowed only when both the
    role's policies and the boundary allow it ("Permissions boundaries for
    IAM entities", https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html)."""
    return decide(statements, action, resource, context) and decide(boundary, action, resource, context)
