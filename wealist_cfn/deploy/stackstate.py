"""What state the target stack is in, and what a deploy must do about it.

* missing, or only a REVIEW_IN_PROGRESS shell: CREATE, at once. A shell is
  what an unexecuted CREATE change set leaves; nothing runs in it, so there
  is nothing to wait for.
* ROLLBACK_COMPLETE, ROLLBACK_FAILED or CREATE_FAILED (a failed first
  create): nothing can update it; with ``--replace-failed`` it is deleted
  (CREATE_FAILED rolled back first) and created again. The
  stack never completed a create, so nothing in it served anyone.
* ``*_IN_PROGRESS``: another operation runs; wait for it to settle first.
* UPDATE_ROLLBACK_FAILED, ROLLBACK_FAILED, DELETE_FAILED: name the resources
  that block it and give the exact commands.
* everything else: UPDATE.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import botocore.exceptions

from wealist_cfn.cfn.model import NESTED

from ..aws import Aws, error_message
from ..errors import EXIT_FAILED, CommandError
from .events import is_final


@dataclass
class StackState:
    name: str
    status: str | None  # None: no such stack
    stack_id: str = ""
    reason: str = ""
    termination_protection: bool = False
    parameters: dict[str, str] = field(default_factory=dict)
    outputs: list[dict] = field(default_factory=list)
    role_arn: str = ""  # the role associated with the stack (its service role), "" when none
    root_id: str = ""  # a nested stack's root stack ID (DescribeStacks RootId), "" for a root

    @property
    def change_set_type(self) -> str:
        return "CREATE" if self.status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"

    @property
    def never_created(self) -> bool:
        """No create of this stack ever completed: what it would hold is made
        by the next create (after --replace-failed), not kept by the stack."""
        return self.status in NEVER_CREATED


# Statuses of a stack whose first create never completed (StackStatus,
# CloudFormation API reference: a stack leaves them only by DeleteStack).
NEVER_CREATED = frozenset(
    {
        None,
        "REVIEW_IN_PROGRESS",
        "CREATE_IN_PROGRESS",
        "CREATE_FAILED",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
    }
)
# How long --replace-failed waits for the rollback and then the delete of a
# failed first create, each: a nested stack's deletes (NAT gateways, the
# database) take minutes; past this the run stops and says what runs.
REPLACE_TIMEOUT = 60 * 60.0


@dataclass
class Waiting:
    """Yielded while another operation on the stack settles."""

    status: str
    waited: float


def describe(aws: Aws, name: str) -> StackState:
    try:
        st = aws.cfn.describe_stacks(StackName=name)["Stacks"][0]
    except botocore.exceptions.ClientError as exc:
        if "does not exist" in error_message(exc):
            return StackState(name, None)
        raise CommandError(f"DescribeStacks {name}: {error_message(exc)}") from None
    return StackState(
        name,
        st["StackStatus"],
        st["StackId"],
        st.get("StackStatusReason", "") or "",
        bool(st.get("EnableTerminationProtection")),
        {p["ParameterKey"]: p.get("ParameterValue", "") for p in st.get("Parameters", [])},
        st.get("Outputs", []) or [],
        role_arn=st.get("RoleARN", "") or "",
        root_id=st.get("RootId", "") or "",
    )


def _listed(aws: Aws, stack: str) -> list[dict]:
    """ListStackResources of one stack, every page; [] when it cannot be
    read (a stack gone meanwhile answers as having nothing to report)."""
    try:
        return [
            r
            for page in aws.cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
            for r in page.get("StackResourceSummaries", [])
        ]
    except botocore.exceptions.ClientError:
        return []


def failed_resources(aws: Aws, stack: str, path: str = "") -> list[tuple[str, str, str]]:
    """(path/logical ID, type, reason) of resources in a *_FAILED state, nested included."""
    out = []
    for r in _listed(aws, stack):
        where = f"{path}/{r['LogicalResourceId']}" if path else r["LogicalResourceId"]
        if r["ResourceType"] == NESTED and r.get("PhysicalResourceId", "").startswith("arn:"):
            inner = failed_resources(aws, r["PhysicalResourceId"], where)
            if inner:
                out += inner
                continue
        if r.get("ResourceStatus", "").endswith("_FAILED"):
            out.append((where, r["ResourceType"], r.get("ResourceStatusReason", "") or ""))
    return out


def resources_in(aws: Aws, stack: str, statuses: set[str], path: str = "") -> list[tuple[str, str, str, str]]:
    """(path/logical ID, type, physical ID, status) of the resources, nested
    included, whose ResourceStatus is one of ``statuses``. A nested stack is
    read by its stack ID, so a deleted child still answers."""
    out = []
    for r in _listed(aws, stack):
        where = f"{path}/{r['LogicalResourceId']}" if path else r["LogicalResourceId"]
        phys = r.get("PhysicalResourceId", "") or ""
        if r["ResourceType"] == NESTED and phys.startswith("arn:"):
            out += resources_in(aws, phys, statuses, where)
            continue
        if r.get("ResourceStatus") in statuses:
            out.append((where, r["ResourceType"], phys, r["ResourceStatus"]))
    return out


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


# ChangeSetSummary.Status of a change set on its way out: not "another plan".
_GOING = ("DELETE_PENDING", "DELETE_IN_PROGRESS", "DELETE_COMPLETE")


def delete_review_shell(aws: Aws, stack: str, name: str, *, ours: str = "") -> str:
    """Delete a REVIEW_IN_PROGRESS stack shell that holds no change set (it
    has no resources: DeleteStack removes only the shell). A change set being
    deleted (``ours``, by ID, or any in a DELETE_* status) does not count as
    another plan's. One line says what happened."""
    keep = f"delete it when no longer needed: aws cloudformation delete-stack --stack-name {name}"
    try:
        st = aws.cfn.describe_stacks(StackName=stack)["Stacks"][0]
        if st["StackStatus"] != "REVIEW_IN_PROGRESS":
            return f"stack {name} is {st['StackStatus']}, not an empty shell: left as it is"
        others = [
            c.get("ChangeSetName")
            for page in aws.cfn.get_paginator("list_change_sets").paginate(StackName=stack)
            for c in page.get("Summaries", [])
            if c.get("Status") not in _GOING and not (ours and c.get("ChangeSetId") == ours)
        ]
        if others:
            return (
                f"left the stack shell {name} (REVIEW_IN_PROGRESS): it holds {len(others)} other change "
                f"set(s) ({', '.join(others[:3])}); {keep}"
            )
        aws.cfn.delete_stack(StackName=stack)
    except Exception as exc:  # noqa: BLE001 - runs on error paths: it must never hide the first error
        return f"left the stack shell {name} (REVIEW_IN_PROGRESS; deleting it failed: {_short(exc)}); {keep}"
    return f"deleted the empty stack shell {name} (REVIEW_IN_PROGRESS, made by this run)"


def settle(
    aws: Aws,
    name: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    interval: float = 10.0,
    timeout: float = 3 * 3600,
) -> Iterator[Waiting | StackState]:
    """Yield :class:`Waiting` while an operation runs, then the settled state."""
    waited = 0.0
    while True:
        state = describe(aws, name)
        # REVIEW_IN_PROGRESS: a CREATE change set was made and not executed; nothing runs.
        if state.status is None or state.status == "REVIEW_IN_PROGRESS" or is_final(state.status):
            yield state
            return
        if waited >= timeout:
            raise CommandError(f"stack {name} still {state.status} after {int(waited)}s; try again later")
        yield Waiting(state.status, waited)
        sleep(interval)
        waited += interval


# Termination protection refuses DeleteStack (UpdateTerminationProtection,
# CloudFormation API reference); a new stack of this tool has it on.
UNPROTECT_CMD = "aws cloudformation update-termination-protection --no-enable-termination-protection --stack-name {n}"
ROLLBACK_CMD = "aws cloudformation rollback-stack --stack-name {n} --retain-except-on-create"

REPLACE_WHY = {
    "ROLLBACK_COMPLETE": "its first create failed and rolled back",
    "ROLLBACK_FAILED": "its first create failed and the rollback could not finish",
    # deploy --no-rollback (DisableRollback): what the create made is kept.
    "CREATE_FAILED": "its first create failed with rollback off (--no-rollback), keeping what it made",
}


# The roles that carry the permissions boundary, as failed_resources names
# them (nested stack's logical ID / role's logical ID: templates/root.yaml,
# iam.yaml, network.yaml).
BOUNDARY_ROLES = ("IamStack/Ec2Role", "IamStack/MonitoringRole", "NetworkStack/FlowLogRole")


def _blocking(aws: Aws, state: StackState) -> list[tuple[str, str, str]]:
    return failed_resources(aws, state.stack_id or state.name)


def _blocking_lines(blocking: list[tuple[str, str, str]]) -> tuple[str, ...]:
    return tuple(f"  blocking: {w} ({t}): {r}" for w, t, r in blocking) or ("  (no failed resource reported)",)


def check_deployable(aws: Aws, state: StackState, *, replace_failed: bool) -> str | None:
    """Raise a CommandError explaining a stuck state; return "replace" when a
    failed first create (ROLLBACK_COMPLETE, ROLLBACK_FAILED) is to be
    deleted and created again."""
    n = state.name
    if state.status in REPLACE_WHY:
        if replace_failed:
            return "replace"
        if state.status == "ROLLBACK_COMPLETE":
            raise CommandError(
                f"stack {n} is ROLLBACK_COMPLETE: {REPLACE_WHY[state.status]}, and such a stack cannot be updated",
                EXIT_FAILED,
                details=(
                    "its resources were deleted by the rollback (the ECR repositories are "
                    "RetainExceptOnCreate); delete it and create it again with --replace-failed",
                    f"(or: {UNPROTECT_CMD.format(n=n)}; aws cloudformation delete-stack --stack-name {n})",
                ),
            )
        if state.status == "CREATE_FAILED":
            raise CommandError(
                f"stack {n} is CREATE_FAILED: {REPLACE_WHY[state.status]}",
                EXIT_FAILED,
                details=_blocking_lines(_blocking(aws, state))
                + (
                    "when done debugging: python build.py deploy --replace-failed ... rolls it back with "
                    "RetainExceptOnCreate (deleting what the create made, Retain resources included), deletes "
                    "it and creates it again",
                    f"(by hand: {ROLLBACK_CMD.format(n=n)}; wait for ROLLBACK_COMPLETE; then "
                    f"{UNPROTECT_CMD.format(n=n)}; aws cloudformation delete-stack --stack-name {n}. A delete-stack "
                    f"of the CREATE_FAILED stack itself keeps the ECR repositories, the access-log bucket and "
                    f"the flow-log group, and the next create fails on their names)",
                ),
            )
        blocking = _blocking(aws, state)
        raise CommandError(
            f"stack {n} is ROLLBACK_FAILED: {REPLACE_WHY[state.status]}: {state.reason or 'no reason given'}",
            EXIT_FAILED,
            details=_blocking_lines(blocking)
            + (
                "fix the cause (e.g. deletion protection switched on by hand, or a resource held by something "
                "outside the stack), then delete the stack and create it again:",
                "  python build.py deploy --replace-failed ... (deletes it first)",
                f"  or: {UNPROTECT_CMD.format(n=n)}; aws cloudformation delete-stack --stack-name {n}",
                "the stack never finished its create, so nothing in it served traffic or holds data",
            ),
        )
    if state.status == "UPDATE_ROLLBACK_FAILED":
        blocking = _blocking(aws, state)
        skip = [w for w, _, _ in blocking if "/" not in w] + [
            f"{w.rsplit('/', 1)[0].replace('/', '.')}.{w.rsplit('/', 1)[1]}" for w, _, _ in blocking if "/" in w
        ]
        cli_hint = f"aws cloudformation continue-update-rollback --stack-name {n}"
        hint = f"python build.py continue-rollback --stack-name {n} --params FILE"
        # A rollback to templates whose roles carried no permissions
        # boundary calls iam:DeleteRolePermissionsBoundary, which the service
        # role is denied on purpose (github_oidc.py NeverRemoveTheBoundary):
        # nothing to fix, the roles are skipped and keep their boundary.
        unbound = [
            w
            for w, t, r in blocking
            if t == "AWS::IAM::Role" and ("DeleteRolePermissionsBoundary" in r or w in BOUNDARY_ROLES)
        ]
        if unbound and len(unbound) == len(blocking):
            named = all("DeleteRolePermissionsBoundary" in r for _, _, r in blocking)
            cause = (
                ("" if named else "if their reason is iam:DeleteRolePermissionsBoundary: ")
                + f"the rollback would take the permissions boundary off {', '.join(unbound)}, which the "
                "service role may never do; nothing to fix: skip them (they keep their boundary, which the "
                "templates name again) and run (docs/operations.md, 'The boundary ships alone'):"
            )
            hint += " " + " ".join(f"--skip {w}" for w, _, _ in blocking)
            hint += f"  (or: {cli_hint} --resources-to-skip " + " ".join(skip) + ")"
        else:
            cause = "fix the cause (e.g. a resource changed or deleted outside CloudFormation) and run:"
            if skip:
                hint += " [" + " ".join(f"--skip {w}" for w, _, _ in blocking) + "]"
            hint += f"  (or: {cli_hint}" + (" [--resources-to-skip " + " ".join(skip) + "])" if skip else ")")
        raise CommandError(
            f"stack {n} is UPDATE_ROLLBACK_FAILED: a rollback could not finish, so no update can start",
            EXIT_FAILED,
            details=_blocking_lines(blocking)
            + (cause, f"  {hint}", "skipping a resource marks it rolled back without touching it; then deploy again"),
        )
    if state.status == "DELETE_FAILED":
        blocking = _blocking(aws, state)
        top = sorted({w.split("/")[0] for w, _, _ in blocking})
        retain = f" --retain-resources {' '.join(top)}" if top else ""
        raise CommandError(
            f"stack {n} is DELETE_FAILED: {state.reason or 'no reason given'}",
            EXIT_FAILED,
            details=_blocking_lines(blocking)
            + (
                "someone started deleting this stack; a deploy does not resume or undo that. Fix the cause "
                "(e.g. empty the bucket, turn off deletion protection) and delete it again:",
                f"  aws cloudformation delete-stack --stack-name {n}",
                "or keep the blocking resources (they stay in the account, outside any stack):",
                f"  aws cloudformation delete-stack --stack-name {n}{retain}",
                "then deploy to create it again (names the kept resources hold are then taken)",
            ),
        )
    if state.status == "IMPORT_ROLLBACK_FAILED":
        raise CommandError(
            f"stack {n} is {state.status}: {state.reason or 'no reason given'}",
            EXIT_FAILED,
            details=_blocking_lines(_blocking(aws, state))
            + (
                f"it must be fixed or deleted before a deploy: {UNPROTECT_CMD.format(n=n)}; "
                f"aws cloudformation delete-stack --stack-name {n}",
            ),
        )
    return None


def _read(aws: Aws, stack_id: str) -> dict | None:
    try:
        return aws.cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    except botocore.exceptions.ClientError as exc:
        if "does not exist" in error_message(exc):
            return None
        raise CommandError(f"DescribeStacks {stack_id}: {error_message(exc)}") from None


def delete_failed(
    aws: Aws, state: StackState, *, sleep=time.sleep, interval=10.0, timeout=REPLACE_TIMEOUT, clock=time.monotonic
) -> Iterator[Waiting]:
    """Delete a failed first create (ROLLBACK_COMPLETE, ROLLBACK_FAILED,
    CREATE_FAILED) and wait until it is gone; each wait ends after
    ``timeout`` seconds (by ``clock``) with a CommandError naming the status.

    CREATE_FAILED (``--no-rollback``) is rolled back first, with
    RetainExceptOnCreate: DeleteStack of it keeps every resource whose
    DeletionPolicy is Retain (the access-log bucket, the flow-log group) and
    the RetainExceptOnCreate ECR repositories (that policy deletes only when
    the creating operation itself is rolled back), so the next create would
    fail on their names. RollbackStack: "Rolls back the specified stack to
    the last known stable state from CREATE_FAILED or UPDATE_FAILED";
    RetainExceptOnCreate: "When set to true, newly created resources are
    deleted when the operation rolls back. This includes newly created
    resources marked with a deletion policy of Retain" (CloudFormation API
    reference, RollbackStack). The reference also says it "will delete a
    stack if it doesn't contain a last known stable state", so a stack gone
    after it is taken as deleted."""
    status = state.status
    started = clock()
    if status == "CREATE_FAILED":
        aws.cfn.rollback_stack(StackName=state.stack_id, RetainExceptOnCreate=True)
        while True:
            st = _read(aws, state.stack_id)
            status = st["StackStatus"] if st else "DELETE_COMPLETE"
            if status in ("ROLLBACK_COMPLETE", "DELETE_COMPLETE"):
                break
            if status == "ROLLBACK_FAILED":
                # ROLLBACK_FAILED: the delete of a resource failed (check_deployable names it).
                check_deployable(
                    aws,
                    StackState(state.name, "ROLLBACK_FAILED", state.stack_id, st.get("StackStatusReason", "") or ""),
                    replace_failed=False,
                )
            if clock() - started >= timeout:
                raise CommandError(
                    f"stack {state.name} still {status} {int(clock() - started)}s after RollbackStack "
                    f"(--replace-failed); nothing was created: deploy --replace-failed again once "
                    f"it is ROLLBACK_COMPLETE"
                )
            yield Waiting(status, clock() - started)
            sleep(interval)
        if status == "DELETE_COMPLETE":
            return
    if state.termination_protection:
        aws.cfn.update_termination_protection(StackName=state.stack_id, EnableTerminationProtection=False)
    aws.cfn.delete_stack(StackName=state.stack_id)
    started = clock()
    while True:
        st = _read(aws, state.stack_id)
        if st is None or st["StackStatus"] == "DELETE_COMPLETE":
            return
        if st["StackStatus"] == "DELETE_FAILED":
            check_deployable(
                aws,
                StackState(state.name, "DELETE_FAILED", state.stack_id, st.get("StackStatusReason", "") or ""),
                replace_failed=False,
            )
        if clock() - started >= timeout:
            raise CommandError(
                f"stack {state.name} still {st['StackStatus']} {int(clock() - started)}s after "
                f"DeleteStack (--replace-failed); nothing was created: deploy --replace-failed "
                f"again once it is gone"
            )
        yield Waiting(st["StackStatus"], clock() - started)
        sleep(interval)
