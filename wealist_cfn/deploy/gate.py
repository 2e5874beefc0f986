"""Whether a reviewed change set may run: the deploy's two gates, as data.

:func:`replacement` decides whether a change set that removes or replaces
a guarded (stateful) resource may go ahead: ``--allow-replace``,
``--accept-conditional`` or its CI form (``WEALIST_ACCEPT_CONDITIONAL``
naming exactly this change set), or a refusal with the reasons and the way
out. :func:`approval` decides whether a person (or ``--yes``) approved
executing it. :func:`first_create_only` refuses ``--no-rollback`` on an
update. Each returns a :class:`Decision`; the command line prints it and
chooses the exit code (``refused`` and ``not approved``: 3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# The name of the one reviewed change set whose Conditional-only guarded
# changes may go ahead (as --accept-conditional does, stack policies kept):
# how CI, which never passes the flag, ships one (deploy.yml's
# workflow_dispatch input accept-conditional). A name, not a switch, so it
# approves exactly what was reviewed and nothing a later commit brings.
ACCEPT_CONDITIONAL_ENV = "WEALIST_ACCEPT_CONDITIONAL"

# Decision.outcome values.
GO = "go"  # nothing guarded, or the command executes nothing (plan)
ALLOWED = "allowed"  # guarded changes, --allow-replace given
ACCEPTED_CONDITIONAL = "accepted-conditional"  # only Conditional ones, accepted; stack policies kept
REFUSED = "refused"
APPROVED = "approved"
NOT_APPROVED = "not-approved"


@dataclass(frozen=True)
class Decision:
    outcome: str
    # The line to show: why it goes ahead under a condition, or why not.
    message: str = ""
    # Further lines under the message: what else applies, the way out.
    details: tuple[str, ...] = field(default_factory=tuple)

    @property
    def go(self) -> bool:
        return self.outcome in (GO, ALLOWED, ACCEPTED_CONDITIONAL, APPROVED)


def replacement(
    guarded: Sequence,
    *,
    change_set_name: str,
    allow_replace: bool = False,
    accept_conditional: bool = False,
    accepted_by_name: str = "",
    executes: bool = True,
) -> Decision:
    """May a change set with these guarded changes (``review.Callout`` of
    level guarded: removal or replacement of a stateful resource, or of a
    nested stack holding one) run?

    ``accepted_by_name``: the value of ``WEALIST_ACCEPT_CONDITIONAL``, which
    accepts Conditional-only changes of the change set it names and no
    other. ``executes`` False (plan, ``--no-execute``): nothing runs, so
    nothing is refused."""
    if not guarded or not executes:
        return Decision(GO)
    if allow_replace:
        return Decision(ALLOWED, f"--allow-replace: {len(guarded)} guarded change(s) go ahead")
    only_conditional = all(c.conditional for c in guarded)
    by_name = accepted_by_name.strip()
    if only_conditional and (accept_conditional or (by_name and by_name == change_set_name)):
        how = "--accept-conditional" if accept_conditional else f"{ACCEPT_CONDITIONAL_ENV}={change_set_name}"
        return Decision(
            ACCEPTED_CONDITIONAL,
            f"{how}: {len(guarded)} change(s) may replace a stateful resource (Replacement: "
            f"Conditional); the stack policies stay in place and deny an actual replacement, which "
            f"would fail the update and roll it back",
        )
    details = []
    if only_conditional:
        details.append(
            "every one is 'Replacement: Conditional' (CloudFormation will only know while it runs, e.g. "
            "from another nested stack's outputs): --accept-conditional goes ahead with the stack "
            "policies kept, so an actual replacement is still denied"
        )
        if by_name and by_name != change_set_name:
            details.append(f"{ACCEPT_CONDITIONAL_ENV} names {by_name}, not this change set ({change_set_name})")
        details.append(
            f"in CI: run the Deploy workflow by hand with accept-conditional = {change_set_name} "
            f"(docs/deploy.md, 'A guarded change through CI')"
        )
    return Decision(
        REFUSED,
        f"refused: {len(guarded)} guarded change(s) (removal or replacement of stateful "
        f"resources); deploy again with --allow-replace if that is intended",
        tuple(details),
    )


def first_create_only(*, no_rollback: bool, change_set_type: str, stack_name: str, status: str | None) -> Decision:
    """``--no-rollback`` (ExecuteChangeSet DisableRollback) only for a first
    create: an update that fails without rollback leaves the stack
    half-changed."""
    if not no_rollback or change_set_type == "CREATE":
        return Decision(GO)
    return Decision(
        REFUSED,
        f"refused: --no-rollback is for a first create; {stack_name} exists ({status}), and an "
        f"update that fails without rollback leaves the stack half-changed (UPDATE_FAILED)",
    )


def approval(*, yes: bool, interactive: bool, answer: str | None = None) -> Decision:
    """``--yes``, or "y"/"yes" typed at the prompt, approves; anything else,
    and no terminal to ask on, does not. ``answer`` None: not asked (yet)."""
    if yes:
        return Decision(APPROVED)
    if not interactive:
        return Decision(NOT_APPROVED, "not approved: no terminal to ask and no --yes")
    if (answer or "").strip().lower() in ("y", "yes"):
        return Decision(APPROVED)
    return Decision(NOT_APPROVED)
