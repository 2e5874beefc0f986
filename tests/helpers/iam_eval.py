"""The tests' names for the product's IAM evaluator (wealist_cfn.policyeval),
kept so the tests written against them read as before; each answers a bool.

* ``allowed(statements, action, resource)``: whether some request context
  could make the statements allow the call (an Allow counts whatever its
  condition, a Deny only when it has none): the stricter reading for "can
  never".
* ``decide(statements, action, resource, context=None)``: the verdict for
  this request context, conditions included; an applicable Deny wins. A
  Principal element is not consulted (identity policies have none).
* ``decide_bounded(statements, boundary, action, resource, context=None)``:
  the same under a permissions boundary: both must allow.
* ``covers(statements, action)``: some Allow names the action.
* ``conditions_hold(condition, context)``.

The rules and their citations are in wealist_cfn/policyeval; for the reason
behind a verdict, call :func:`explain` or the product module directly."""

from __future__ import annotations

from wealist_cfn import policyeval
from wealist_cfn.policyeval import UnmodelledCondition, action_matches, listify, resource_matches

__all__ = [
    "UnmodelledCondition",
    "action_matches",
    "allowed",
    "conditions_hold",
    "covers",
    "decide",
    "decide_bounded",
    "explain",
    "listify",
    "resource_matches",
]


def allowed(statements: list[dict], action: str, resource: str) -> bool:
    return policyeval.could_allow(statements, action, resource).allowed


def covers(statements: list[dict], action: str) -> bool:
    """Some Allow statement names this action (a schema's own wildcard, such
    as ``ssm:Get*``, must appear as it is or inside a broader pattern)."""
    return any(s["Effect"] == "Allow" and "Action" in s and action_matches(s, action) for s in statements)


def conditions_hold(condition: dict, context: dict) -> bool:
    return policyeval.conditions.evaluate(condition, context).holds


def explain(statements: list[dict], action: str, resource: str, context: dict | None = None) -> str:
    """The one-line reason for :func:`decide`'s verdict."""
    return policyeval.evaluate_statements(statements, action, resource, context, policy="policy").reason


def decide(statements: list[dict], action: str, resource: str, context: dict | None = None) -> bool:
    return policyeval.evaluate_statements(statements, action, resource, context).allowed


def decide_bounded(
    statements: list[dict], boundary: list[dict], action: str, resource: str, context: dict | None = None
) -> bool:
    return decide(statements, action, resource, context) and decide(boundary, action, resource, context)
