"""One IAM policy evaluator for the project: does AWS allow this request,
and why. It decides a request (action, resource, request context, the
principal making it) over the principal's identity policies, its
permissions boundary and the resource's policy (bucket, topic, KMS key),
the way the IAM User Guide's "Policy evaluation logic" documents it, and
answers with a :class:`Decision` that names the statement that allowed or
denied it, or the context key whose absence failed a condition.

Used by the strict layer over the local endpoint (``wealist_cfn.rehearsal.strict``)
and by the tests (``tests/helpers/iam_eval.py`` wraps it with the older names).
Standard library only; it imports no other part of wealist_cfn.

Entry points:

* :func:`evaluate_statements` ``(statements, action, resource, context=None,
  *, principal=None, policy="policy") -> Decision``: one policy's verdict.
* :func:`evaluate` ``(action, resource, context=None, *, principal,
  identity=(), boundary=None, resource_policy=None, resource_account=None,
  key_policy=False) -> Decision``: the combined decision.
* :func:`could_allow` ``(statements, action, resource) -> Decision``: whether
  any request context could make the statements allow it.
* :func:`conditions.evaluate` ``(condition, context) -> Outcome``, and
  :func:`action_matches` / :func:`resource_matches` for one statement.

What it models and what it refuses: Allow/Deny, Action/NotAction,
Resource/NotResource, Principal/NotPrincipal (AWS account, ARN, service,
``*``), the String/Arn/Bool/Null operators with IfExists and
ForAllValues:/ForAnyValue:, policy variables, and the context keys in
:data:`conditions.KNOWN_KEYS`. Any other operator, key or element raises
:class:`UnmodelledPolicy` (:class:`UnmodelledCondition` for conditions):
never a silent true or false. SCPs, RCPs and session policies are not
modelled; the project has none.

Why a new evaluator and not a pinned one. Checked before writing it:

* IAM's policy simulator (SimulatePrincipalPolicy, SimulateCustomPolicy) and
  IAM Access Analyzer's checks (CheckAccessNotGranted): the right answers,
  but service APIs that need an AWS account; there is none here.
* parliament 1.6.4 (already pinned for its lint): a linter of policy
  documents (unknown actions, resource mismatches); it decides no request.
* policyuniverse 1.5.1 (last release 2023-11): parses statements, ARNs and
  expands action wildcards; it has no condition evaluation against a
  request context and no combination of policy types.
* policy_sentry 0.15 writes least-privilege policies; cloudsplaining 0.9
  reports risky grants over an account's authorization details; neither
  evaluates a request.
* iam-ape 1.1: effective permissions of an account's entities from
  GetAccountAuthorizationDetails output; no request context, so no
  conditions, and no KMS key-policy rule.
* moto 5.2.5's ``moto.iam.access_control``: the stand-in's own check, with
  most condition operators unmodelled; it is what this project checks
  against, so it cannot be the reference.
* @cloud-copilot/iam-simulate (npm): the closest match, a request simulator
  with conditions; a Node.js package, so a second toolchain for every
  check and the strict layer, in a project whose checks run in Python.

So a small evaluator of exactly what the project's policies use, refusing
everything else, with table tests taken from AWS's documented examples
(tests/policyeval/).
"""

from __future__ import annotations

from . import conditions
from .conditions import KNOWN_KEYS, Outcome, UnmodelledCondition, UnmodelledPolicy
from .engine import (
    ALLOW,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    Decision,
    Principal,
    StatementRef,
    action_matches,
    could_allow,
    evaluate,
    evaluate_statements,
    listify,
    resource_matches,
    statements_of,
)

__all__ = [
    "ALLOW",
    "EXPLICIT_DENY",
    "IMPLICIT_DENY",
    "KNOWN_KEYS",
    "Decision",
    "Outcome",
    "Principal",
    "StatementRef",
    "UnmodelledCondition",
    "UnmodelledPolicy",
    "action_matches",
    "conditions",
    "could_allow",
    "evaluate",
    "evaluate_statements",
    "listify",
    "resource_matches",
    "statements_of",
]
