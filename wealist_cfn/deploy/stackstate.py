"""What state the target stack is in, and what a deploy must do about it.

* missing, or only a REVIEW_IN_PROGRESS shell: CREATE.
* ROLLBACK_COMPLETE (a failed first create): nothing can update it; with
  ``--replace-failed`` it is deleted and created again.
* ``*_IN_PROGRESS``: another operation runs; wait for it to settle first.
* UPDATE_ROLLBACK_FAILED: explain ``continue-update-rollback`` and name the
  resources that block it.
* ROLLBACK_FAILED / DELETE_FAILED: explain; no deploy can proceed.
* everything else: UPDATE.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import botocore.exceptions

from ..aws import Aws, error_message
from ..cfnmodel import NESTED
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

    @property
    def change_set_type(self) -> str:
        return "CREATE" if self.status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"


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
    return StackState(name, st["StackStatus"], st["StackId"], st.get("StackStatusReason", "") or "",
                      bool(st.get("EnableTerminationProtection")),
                      {p["ParameterKey"]: p.get("ParameterValue", "") for p in st.get("Parameters", [])},
                      st.get("Outputs", []) or [])


def failed_resources(aws: Aws, stack: str, path: str = "") -> list[tuple[str, str, str]]:
    """(path/logical ID, type, reason) of resources in a *_FAILED state, nested included."""
    out = []
    try:
        resources = [r for page in aws.cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
                     for r in page.get("StackResourceSummaries", [])]
    except botocore.exceptions.ClientError:
        return out
    for r in resources:
        where = f"{path}/{r['LogicalResourceId']}" if path else r["LogicalResourceId"]
        if r["ResourceType"] == NESTED and r.get("PhysicalResourceId", "").startswith("arn:"):
            inner = failed_resources(aws, r["PhysicalResourceId"], where)
            if inner:
                out += inner
                continue
        if r.get("ResourceStatus", "").endswith("_FAILED"):
            out.append((where, r["ResourceType"], r.get("ResourceStatusReason", "") or ""))
    return out


def settle(aws: Aws, name: str, *, sleep: Callable[[float], None] = time.sleep, interval: float = 10.0,
           timeout: float = 3 * 3600) -> Iterator[Waiting | StackState]:
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


def check_deployable(aws: Aws, state: StackState, *, replace_failed: bool) -> str | None:
    """Raise a CommandError explaining a stuck state; return "replace" when a
    ROLLBACK_COMPLETE stack is to be deleted and created again."""
    n = state.name
    if state.status == "ROLLBACK_COMPLETE":
        if replace_failed:
            return "replace"
        raise CommandError(
            f"stack {n} is ROLLBACK_COMPLETE: its first create failed and rolled back, and such a stack "
            f"cannot be updated", EXIT_FAILED,
            details=("nothing in it is kept; delete it and create it again with --replace-failed",
                     f"(or: aws cloudformation delete-stack --stack-name {n})"))
    if state.status == "UPDATE_ROLLBACK_FAILED":
        blocking = failed_resources(aws, state.stack_id or n)
        lines = [f"  blocking: {w} ({t}): {r}" for w, t, r in blocking] or ["  (no failed resource reported)"]
        skip = " ".join(w for w, _, _ in blocking if "/" not in w)
        nested = [w for w, _, _ in blocking if "/" in w]
        hint = f"aws cloudformation continue-update-rollback --stack-name {n}"
        if skip or nested:
            hint += " [--resources-to-skip " + " ".join(
                [w for w, _, _ in blocking if "/" not in w] +
                [f"{w.rsplit('/', 1)[0].replace('/', '.')}.{w.rsplit('/', 1)[1]}" for w in nested]) + "]"
        raise CommandError(
            f"stack {n} is UPDATE_ROLLBACK_FAILED: a rollback could not finish, so no update can start",
            EXIT_FAILED,
            details=tuple(lines) + (
                "fix the cause (e.g. a resource changed or deleted outside CloudFormation) and run:",
                f"  {hint}",
                "skipping a resource marks it rolled back without touching it; then deploy again"))
    if state.status in ("ROLLBACK_FAILED", "DELETE_FAILED", "IMPORT_ROLLBACK_FAILED"):
        raise CommandError(f"stack {n} is {state.status}: {state.reason or 'no reason given'}", EXIT_FAILED,
                          details=(f"it must be deleted before a deploy: aws cloudformation delete-stack "
                                   f"--stack-name {n} (resources that fail to delete can be retained "
                                   f"with --retain-resources)",))
    return None


def delete_failed(aws: Aws, state: StackState, *, sleep=time.sleep, interval=10.0) -> Iterator[Waiting]:
    """Delete a ROLLBACK_COMPLETE stack and wait until it is gone."""
    if state.termination_protection:
        aws.cfn.update_termination_protection(StackName=state.stack_id, EnableTerminationProtection=False)
    aws.cfn.delete_stack(StackName=state.stack_id)
    waited = 0.0
    while True:
        try:
            st = aws.cfn.describe_stacks(StackName=state.stack_id)["Stacks"][0]
        except botocore.exceptions.ClientError:
            return
        if st["StackStatus"] == "DELETE_COMPLETE":
            return
        if st["StackStatus"] == "DELETE_FAILED":
            raise CommandError(f"deleting {state.name} failed: {st.get('StackStatusReason', '')}")
        yield Waiting(st["StackStatus"], waited)
        sleep(interval)
        waited += interval
