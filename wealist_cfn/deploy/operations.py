"""Commands for what a stuck or running stack needs, which the deploy used
to print only as AWS CLI hints: cancel an update, continue a rollback that
failed, and list or delete this project's change sets.

Each checks the stack's state first and refuses, with the reason, what the
CloudFormation API would refuse (the allowed states are cited beside each
check), so the answer is one line naming the state instead of AWS's
ValidationError. The library returns data; ``cli/deploy.py`` prints it.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Callable

import botocore.exceptions

from ..aws import Aws, error_code, error_message
from ..errors import EXIT_FAILED, EXIT_REFUSED, EXIT_USAGE, CommandError
from . import changeset, stackstate

# The names this tool gives change sets (changeset.new_name, and status's
# deletion-protection repair): what "this project's" means, together with
# the Description it writes (changeset.description). 4 hex digits: names
# made before they carried 16.
OUR_NAME = re.compile(r"(deploy|protect)-\d{8}-\d{6}-[A-Za-z0-9]{1,7}-(?:[0-9a-f]{16}|[0-9a-f]{4})")
OUR_DESCRIPTION = "wealist-cfn "


def _state(aws: Aws, name: str) -> stackstate.StackState:
    state = stackstate.describe(aws, name)
    if state.status is None:
        raise CommandError(f"stack {name} does not exist", EXIT_USAGE)
    return state


def _call(doing: str, fn, **kw):
    try:
        return fn(**kw)
    except botocore.exceptions.ClientError as exc:
        raise CommandError(f"{doing}: {error_code(exc)}: {error_message(exc)}", EXIT_FAILED) from None


# -- cancel ------------------------------------------------------------------------------------


def cancel(aws: Aws, name: str) -> stackstate.StackState:
    """CancelUpdateStack on the root. The API reference: "You can cancel
    only stacks that are in the UPDATE_IN_PROGRESS state", and a nested
    stack's update is cancelled through its root. The update then rolls
    back (UPDATE_ROLLBACK_IN_PROGRESS)."""
    state = _state(aws, name)
    if state.root_id and state.root_id != state.stack_id:
        # A nested stack (DescribeStacks: ParentId and RootId set) is updated,
        # and cancelled, only through its root.
        root = state.root_id.split("/")[1] if state.root_id.count("/") >= 2 else state.root_id
        raise CommandError(
            f"refused: {name} is a nested stack; an update is cancelled on its root stack: "
            f"python build.py cancel --stack-name {root}",
            EXIT_REFUSED,
        )
    if state.status != "UPDATE_IN_PROGRESS":
        why = {
            "CREATE_IN_PROGRESS": "a create cannot be cancelled; it rolls back by itself when it fails, or "
            "delete the stack once it is final",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": "the update already succeeded; CloudFormation is removing "
            "replaced resources",
            "UPDATE_ROLLBACK_IN_PROGRESS": "it is already rolling back",
        }.get(state.status, "only an update that is running can be cancelled")
        raise CommandError(
            f"refused: {name} is {state.status}: {why} (CancelUpdateStack accepts only UPDATE_IN_PROGRESS)",
            EXIT_REFUSED,
        )
    _call(
        f"CancelUpdateStack {name}",
        aws.cfn.cancel_update_stack,
        StackName=state.stack_id,
        ClientRequestToken=f"wealist-cancel-{uuid.uuid4()}",
    )
    return state


# -- continue-rollback -------------------------------------------------------------------------


def skip_name(where: str) -> str:
    """``status``'s path of a resource (``DatabaseStack/Database``) as
    ResourcesToSkip wants it: a resource of a nested stack is
    ``NestedStackName.ResourceLogicalID``, NestedStackName being the nested
    stack resource's logical ID in its parent (ContinueUpdateRollback,
    ResourcesToSkip)."""
    return where.replace("/", ".")


def continue_rollback(aws: Aws, name: str, skip: list[str]) -> tuple[stackstate.StackState, list[str]]:
    """ContinueUpdateRollback on the root, skipping ``skip`` (paths as
    ``status`` names them, or already dotted).

    API reference rules enforced here before the call: the stack must be
    UPDATE_ROLLBACK_FAILED; a resource to skip must be one whose rollback
    failed (UPDATE_FAILED: "you can specify only resources that are in the
    UPDATE_FAILED state because a rollback failed"); a nested stack resource
    itself may be skipped only when its stack is DELETE_IN_PROGRESS,
    DELETE_COMPLETE or DELETE_FAILED, which CloudFormation checks."""
    state = _state(aws, name)
    if state.status != "UPDATE_ROLLBACK_FAILED":
        raise CommandError(
            f"refused: {name} is {state.status}: ContinueUpdateRollback continues only a rollback "
            f"that failed (UPDATE_ROLLBACK_FAILED)",
            EXIT_REFUSED,
        )
    # Only UPDATE_FAILED: ContinueUpdateRollback refuses a resource in any
    # other state (a CREATE_FAILED or DELETE_FAILED one included).
    failed = stackstate.resources_in(aws, state.stack_id, {"UPDATE_FAILED"})
    skippable = {skip_name(w): w for w, _, _, _ in failed}
    wanted = []
    for s in skip:
        dotted = skip_name(s)
        if dotted not in skippable:
            raise CommandError(
                f"refused: --skip {s}: not a resource whose rollback failed in {name}",
                EXIT_REFUSED,
                details=tuple(f"skippable: {w} (--skip {w})" for w in sorted(skippable.values()))
                or ("no resource of the stack is UPDATE_FAILED",),
            )
        wanted.append(dotted)
    kw = {"StackName": state.stack_id, "ClientRequestToken": f"wealist-continue-{uuid.uuid4()}"}
    if wanted:
        kw["ResourcesToSkip"] = wanted
    _call(f"ContinueUpdateRollback {name}", aws.cfn.continue_update_rollback, **kw)
    return state, wanted


# -- change sets -------------------------------------------------------------------------------


@dataclass
class ChangeSetRow:
    name: str
    id: str
    status: str
    execution_status: str
    created: str
    description: str

    @property
    def ours(self) -> bool:
        return bool(OUR_NAME.fullmatch(self.name)) and self.description.startswith(OUR_DESCRIPTION)


def list_change_sets(aws: Aws, name: str, *, everything: bool = False) -> list[ChangeSetRow]:
    """The root's change sets this tool made (by name pattern and
    Description), oldest first; ``everything``: all of them."""
    state = _state(aws, name)
    rows = []
    try:
        for page in aws.cfn.get_paginator("list_change_sets").paginate(StackName=state.stack_id):
            for c in page.get("Summaries", []):
                rows.append(
                    ChangeSetRow(
                        c.get("ChangeSetName", ""),
                        c.get("ChangeSetId", ""),
                        c.get("Status", ""),
                        c.get("ExecutionStatus", ""),
                        str(c.get("CreationTime", "")),
                        c.get("Description", "") or "",
                    )
                )
    except botocore.exceptions.ClientError as exc:
        raise CommandError(f"ListChangeSets {name}: {error_code(exc)}: {error_message(exc)}", EXIT_FAILED) from None
    rows.sort(key=lambda r: (r.created, r.name))
    return rows if everything else [r for r in rows if r.ours]


def delete_change_sets(
    aws: Aws, name: str, names: list[str], *, sleep: Callable[[float], None] = time.sleep
) -> list[str]:
    """Delete change sets of this project by name (all of them when
    ``names`` is empty); one line each. A change set this tool did not make
    is refused. One that is running (ExecutionStatus EXECUTE_IN_PROGRESS) is
    refused: DeleteChangeSet answers InvalidChangeSetStatus for it. Deleting
    a change set with nested ones is asynchronous: waited for, bounded."""
    rows = {r.name: r for r in list_change_sets(aws, name, everything=True)}
    targets = [r for r in rows.values() if r.ours] if not names else []
    for n in names:
        r = rows.get(n)
        if r is None:
            raise CommandError(
                f"refused: {name} has no change set {n}",
                EXIT_USAGE,
                details=tuple(f"ours: {x.name}" for x in rows.values() if x.ours),
            )
        if not r.ours:
            raise CommandError(
                f"refused: change set {n} was not made by this tool (its name or Description "
                f"says otherwise); delete it yourself if it is no longer wanted: aws "
                f"cloudformation delete-change-set --change-set-name {r.id}",
                EXIT_REFUSED,
            )
        targets.append(r)
    lines = []
    for r in targets:
        if r.execution_status == "EXECUTE_IN_PROGRESS":
            lines.append(f"kept {r.name}: it is being executed (EXECUTE_IN_PROGRESS)")
            continue
        pending = changeset.delete_and_wait(aws, changeset.ChangeSet(r.name, r.id, "", ""), sleep=sleep)
        lines.append(f"deleted {r.name}" if not pending else f"deleting {r.name}: {pending}")
    return lines
