"""Every AWS behaviour the project relies on and cannot prove offline: an
experiment (:mod:`.cfn_behaviour`, :mod:`.services`) or an entry saying why
it is not one. docs/deploy.md's table is generated from here
(:func:`docs_table`), and a test keeps the two in step."""

from __future__ import annotations

from ..errors import EXIT_USAGE, CommandError
from . import cfn_behaviour, services
from .model import Experiment, NotAnExperiment, Reliance

EXPERIMENTS: tuple[Experiment, ...] = cfn_behaviour.EXPERIMENTS + services.EXPERIMENTS

_IAM_ROLES = (
    "the service role may create roles only under the environment's names, with its permissions "
    "boundary, for the stack it serves (templates/github-oidc.yaml): the behaviour shows only on the "
    "real IamStack, so the first deploy of the whole stack to a sandbox environment is the test"
)

NOT_EXPERIMENTS: tuple[NotAnExperiment, ...] = (
    NotAnExperiment(
        "boundary-first-deploy-rollback",
        "Adding PermissionsBoundary to existing roles together with a failing change ends UPDATE_ROLLBACK_FAILED "
        "on exactly the three roles, and the printed --resources-to-skip command recovers it.",
        (Reliance("wealist_cfn/deploy/flow.py", "Deployment.stopped"),),
        "a one-time transition of already deployed roles (created before the boundary existed) under the "
        "service role: it needs a stack with the previous release's roles, not a small template; run it by "
        "hand once, as docs/operations.md 'The boundary ships alone' describes",
        ("former check 7 (boundary)",),
    ),
    NotAnExperiment(
        "put-role-policy-after-create",
        "On a first create the role handler's PutRolePolicy, right after CreateRole with the boundary, is "
        "allowed by the iam:PermissionsBoundary condition.",
        (Reliance("wealist_cfn/stacks/github_oidc.py", "_service_role_statements"),),
        _IAM_ROLES,
        ("former check 8",),
    ),
    NotAnExperiment(
        "update-assume-role-policy",
        "The role handler calls UpdateAssumeRolePolicy only when AssumeRolePolicyDocument changed.",
        (Reliance("wealist_cfn/stacks/github_oidc.py", "_service_role_statements"),),
        _IAM_ROLES,
        ("former check 9",),
    ),
    NotAnExperiment(
        "cloudwatch-kms-source-account",
        "CloudWatch's KMS calls for an encrypted alarm topic carry aws:SourceAccount.",
        (Reliance("wealist_cfn/stacks/alarms.py", "_add_topic"),),
        "the evidence is a notification arriving at a subscriber: an e-mail needs a person to confirm the "
        "subscription, and reading an SQS subscriber's messages (ReceiveMessage) consumes them, which is not a "
        "read-only observation; not built yet",
        ("former check 10",),
    ),
    NotAnExperiment(
        "tag-on-create-exposure",
        "With the service role's credentials, the project's tags can still be put on another key that delegates to "
        "IAM and carries none of them (IAM cannot tell it from a key being created); no tag lets the role "
        "administer a key (the alarm key's own policy grants that), and the secrets key refuses both.",
        (Reliance("wealist_cfn/stacks/github_oidc.py", "_service_role_statements"),),
        "it needs the service role's own credentials, and the role trusts only cloudformation.amazonaws.com: a "
        "person cannot act as it without changing its trust policy, which the kit will not do",
        ("former check 12",),
    ),
    NotAnExperiment(
        "termination-protection-mid-create",
        "A create with termination protection switched on mid-create still rolls back normally.",
        (Reliance("wealist_cfn/deploy/flow.py", "_termination_protection"),),
        "it needs the real first create of the whole stack failing after the tool switched protection on; the "
        "first sandbox deploy with a broken parameter (e.g. an invalid DbInstanceClass) exercises it; not built "
        "as a small template yet",
        ("unproven: termination protection mid-create",),
    ),
    NotAnExperiment(
        "deletion-protection-no-interruption",
        "Switching RDS and ALB deletion protection on by an update is a no-interruption update.",
        (Reliance("wealist_cfn/deploy/flow.py", "Deployment._switch_on_protection"),),
        "documented by RDS and ELBv2 (no interruption) and exercised by every first deploy; an experiment needs "
        "an RDS instance (about 20 minutes and a priced instance-hour): not built yet",
        ("unproven: deletion protection by an update",),
    ),
    NotAnExperiment(
        "validation-event-shapes",
        "Pre-deployment validation events for this project's templates carry ValidationName and ValidationPath "
        "as the API reference shows.",
        (Reliance("wealist_cfn/deploy/failures.py", "change_set_error"),),
        "depends on which validations AWS runs on a given failure; no fixed small template is known to trigger "
        "one; read them from the first real failure",
        ("failures: validation names and paths",),
    ),
    NotAnExperiment(
        "resource-import-procedure",
        "Importing an existing log group by the manual import procedure works as the User Guide describes.",
        (Reliance("wealist_cfn/preflight/checks.py", "check_log_groups"),),
        "an operator procedure for one account's history, run when needed; not built yet",
        ("log groups: resource import",),
    ),
)

ALL = {e.id: e for e in EXPERIMENTS + NOT_EXPERIMENTS}


def select(only: list[str] | None) -> list[Experiment]:
    """The experiments named (in registry order), or all. An unknown ID, or
    one that is not an experiment, is one line naming it (exit 2)."""
    if not only:
        return list(EXPERIMENTS)
    ids = {e.id for e in EXPERIMENTS}
    for name in only:
        if name not in ALL:
            raise CommandError(f"--only {name}: no such experiment (python build.py prove --list)", EXIT_USAGE)
        if name not in ids:
            raise CommandError(f"--only {name}: not an experiment: {ALL[name].why}", EXIT_USAGE)
    return [e for e in EXPERIMENTS if e.id in only]


TABLE_BEGIN = "<!-- prove-table: generated from wealist_cfn/prove/registry.py; tests/prove/test_docs.py -->"
TABLE_END = "<!-- /prove-table -->"


def docs_table(estimate) -> str:
    """The markdown table docs/deploy.md carries: each experiment with its
    cost and time in ``estimate``'s region, then what is not an experiment
    and why."""
    rows = {r.experiment: r for r in estimate.rows}
    lines = [
        TABLE_BEGIN,
        "",
        f"| experiment | assumption | relied on by | cost ({estimate.region}) | minutes | replaces |",
        "|---|---|---|---|---|---|",
    ]
    for e in EXPERIMENTS:
        r = rows[e.id]
        cost = f"${r.usd:.2f}" + (" + not priced: " + "; ".join(r.unpriced) if r.unpriced else "")
        relies = ", ".join(f"`{x}`" for x in e.relies)
        role = " (service role)" if e.service_role else ""
        lines.append(f"| `{e.id}`{role} | {e.assumption} | {relies} | {cost} | {e.minutes:g} | {'; '.join(e.docs)} |")
    lines += ["", "Not experiments, and why:", "", "| id | assumption | why not | replaces |", "|---|---|---|---|"]
    for n in NOT_EXPERIMENTS:
        lines.append(f"| `{n.id}` | {n.assumption} | {n.why} | {'; '.join(n.docs)} |")
    lines += ["", TABLE_END]
    return "\n".join(lines)
