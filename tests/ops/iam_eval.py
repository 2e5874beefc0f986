"""A small evaluator over resolved IAM policy statements, for the tests:
does any statement allow an action on a resource, and does a deny take it
back. Conditions are ignored on Allow (an allow that holds only under a
condition still counts as allowed: the stricter reading for "can never").
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
