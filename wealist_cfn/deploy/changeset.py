"""Change sets: create one (CREATE or UPDATE, nested stacks included), wait
for it, walk the nested change sets into one :class:`~.review.Review`, and
recognise the three ways AWS says there is nothing to do.

Whether there is anything to do is decided on the change set's ``Status``
and ``ExecutionStatus`` alone, never on an empty ``Changes`` list: a change
to the root's Outputs or Exports only is CREATE_COMPLETE / AVAILABLE with
zero Changes, and it must be executed (DescribeChangeSet in the
CloudFormation API reference; aws-cdk PR #2029). Nothing to do is:

1. CreateChangeSet answered ``ValidationError: No updates are to be performed.``
2. a FAILED change set whose StatusReason is "The submitted information didn't
   contain changes. Submit different information to create a change set."
3. a FAILED change set whose StatusReason is "No updates are to be performed."

Every change set this tool makes names its commit and a content hash in its
Description, for the people reading it. That text is written by whoever made
the change set, so it is never evidence of what the change set holds: before
``deploy --change-set`` executes one it did not make, :mod:`.verify` reads
its templates, parameters and capabilities back from CloudFormation.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import botocore.exceptions

from wealist_cfn.aws import pages
from wealist_cfn.cfn.model import NESTED

from ..aws import Aws, error_code, error_message
from ..errors import EXIT_FAILED, CommandError
from . import failures
from . import review as review_mod

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
# The two texts CloudFormation uses for "nothing to change", matched at the
# start of the reason and nowhere else, case and all: aws-cdk's
# ``changeSetHasNoChanges`` (api/deployments/cfn-api.ts) tests
# ``StatusReason.startsWith`` with exactly these two prefixes ("Error message
# for a regular template" / "when a Transform is involved", aws-cdk #10650).
# The AWS CLI's ``Deployer.wait_for_changeset``
# (awscli/customizations/cloudformation/deployer.py) looks for the same two
# texts with ``in`` (and, by operator precedence, for the second one even
# when the status is not FAILED); the stricter prefix test is CDK's. A real
# failure whose text merely mentions "no changes" is a failure.
NO_CHANGES_REASONS = (
    "The submitted information didn't contain changes. Submit different information to create a change set.",
    "No updates are to be performed.",
)
_NO_CHANGES = re.compile(r"^\s*(?:The submitted information didn't contain changes\.|No updates are to be performed\.)")
_PENDING = {"CREATE_PENDING", "CREATE_IN_PROGRESS"}


EXECUTABLE = "AVAILABLE"


@dataclass
class ChangeSet:
    name: str
    id: str
    stack_id: str
    change_set_type: str
    status: str = ""
    reason: str = ""
    no_changes: bool = False
    execution_status: str = ""
    description: str = ""


def content_hash(templates: dict[str, str], parameters: list[dict]) -> str:
    """sha256 over the template bodies (by file name) and the parameters:
    what a change set was made from, written into its Description for people
    (a hint: anyone who may create a change set can write any Description)."""
    h = hashlib.sha256()
    for name in sorted(templates):
        h.update(name.encode() + b"\0" + templates[name].encode() + b"\0")
    h.update(
        json.dumps(
            sorted((p["ParameterKey"], p.get("ParameterValue", p.get("UsePreviousValue"))) for p in parameters),
            default=str,
        ).encode()
    )
    return h.hexdigest()


def description(commit: str, digest: str | None) -> str:
    text = f"wealist-cfn deploy from commit {commit}"
    if digest:
        text += f"; content sha256:{digest}"
    return text[:1024]


def is_no_changes(status: str, reason: str) -> bool:
    """Shapes 2 and 3 above: FAILED for want of changes."""
    return status == "FAILED" and bool(_NO_CHANGES.search(reason or ""))


def git_commit(cwd: Path | None = None) -> str:
    """``abc1234`` / ``abc1234+dirty`` / ``unknown``: names the change set's source."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "templates"], cwd=cwd, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        return f"{sha}+dirty" if dirty else sha
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def new_name(commit: str, now: datetime | None = None) -> str:
    """Unique and sortable: ``deploy-20261128-181900-abc1234-9f3e0a1b2c3d4e5f``.
    64 random bits: nobody can make a change set under the name a run is
    about to use (which CreateChangeSet would refuse, AlreadyExists)."""
    now = now or datetime.now(timezone.utc)
    sha = re.sub(r"[^a-zA-Z0-9]", "", commit.split("+")[0])[:7] or "nogit"
    return f"deploy-{now:%Y%m%d-%H%M%S}-{sha}-{secrets.token_hex(8)}"


def create(
    aws: Aws,
    *,
    stack_name: str,
    change_set_type: str,
    parameters: list[dict],
    tags: list[dict],
    template_body: str | None,
    template_url: str | None,
    commit: str,
    digest: str | None = None,
    role_arn: str | None = None,
    rollback_configuration: dict | None = None,
    sleep: Callable[[float], None] = time.sleep,
    interval: float = 2.0,
    timeout: float = 900.0,
    on_created: Callable[[ChangeSet], None] | None = None,
) -> ChangeSet:
    """Create the change set and wait until CloudFormation has computed it.

    ``ClientToken`` makes a retried CreateChangeSet (botocore's own retries
    after a lost answer, or ours) idempotent: CloudFormation answers the
    retry with the change set the first attempt made. AlreadyExistsException
    therefore means a change set of this name that this run did not make
    (anyone who may create change sets could have guessed the name): it is
    refused, never used nor deleted. ``on_created`` hears of the change set
    as soon as it exists, so a caller can delete it on any later exit path."""
    name = new_name(commit)
    kw = dict(
        StackName=stack_name,
        ChangeSetName=name,
        ChangeSetType=change_set_type,
        Parameters=parameters,
        Capabilities=CAPABILITIES,
        Tags=tags,
        IncludeNestedStacks=True,
        ClientToken=name,
        Description=description(commit, digest),
    )
    if role_arn:
        kw["RoleARN"] = role_arn
    if rollback_configuration is not None:
        kw["RollbackConfiguration"] = rollback_configuration
    if template_url:
        kw["TemplateURL"] = template_url
    else:
        kw["TemplateBody"] = template_body
    try:
        resp = aws.cfn.create_change_set(**kw)
        cs = ChangeSet(name, resp["Id"], resp.get("StackId", ""), change_set_type)
    except botocore.exceptions.ClientError as exc:
        if _NO_CHANGES.search(error_message(exc)):
            return ChangeSet(name, "", "", change_set_type, "FAILED", error_message(exc), no_changes=True)
        if error_code(exc) == "AlreadyExistsException":
            raise CommandError(
                f"CreateChangeSet: a change set named {name} already exists on {stack_name} and this run did not "
                f"make it (a retry of ours is answered with our own change set, by ClientToken)",
                EXIT_FAILED,
                details=(
                    "nothing was created or executed, and that change set was left as it is; run again "
                    "(a new name), and find out who made it",
                ),
            ) from None
        raise CommandError(f"CreateChangeSet: {error_code(exc)}: {error_message(exc)}", EXIT_FAILED) from None
    if on_created:
        on_created(cs)
    desc = wait(aws, cs.id, sleep=sleep, interval=interval, timeout=timeout)
    cs.status, cs.reason = desc.get("Status", ""), desc.get("StatusReason", "") or ""
    cs.execution_status, cs.description = desc.get("ExecutionStatus", ""), desc.get("Description", "") or ""
    if cs.status == "FAILED":
        if is_no_changes(cs.status, cs.reason):
            cs.no_changes = True
        else:
            # A caller that heard of the change set (on_created) deletes it itself.
            raise failures.change_set_error(aws, cs.id, name, stack_name, cs.reason, delete_hint=on_created is None)
    return cs


def wait(aws: Aws, change_set_id: str, *, sleep=time.sleep, interval=2.0, timeout=900.0) -> dict:
    """DescribeChangeSet until it leaves CREATE_PENDING / CREATE_IN_PROGRESS."""
    waited = 0.0
    while True:
        # The change set's ARN names it unambiguously; no StackName needed.
        desc = aws.cfn.describe_change_set(ChangeSetName=change_set_id)
        if desc.get("Status") not in _PENDING:
            return desc
        if waited >= timeout:
            raise CommandError(f"change set {change_set_id} still {desc.get('Status')} after {int(timeout)}s")
        sleep(interval)
        waited += interval


def _pages(aws: Aws, change_set_id: str) -> tuple[dict, list[dict]]:
    return pages.first_and_all(
        aws.cfn, "describe_change_set", "Changes", ChangeSetName=change_set_id, IncludePropertyValues=True
    )


def describe(aws: Aws, cs: ChangeSet, stack_name: str, *, sleep=time.sleep, interval=2.0) -> review_mod.Review:
    """Walk the root change set and every nested one into a review (rows in
    stack order: a nested stack's row is followed by the rows inside it)."""
    review = review_mod.Review(
        stack_name=stack_name, change_set_type=cs.change_set_type, change_set_name=cs.name, change_set_id=cs.id
    )

    def walk(change_set_id: str, path: str):
        head, changes = _pages(aws, change_set_id)
        if head.get("Status") in _PENDING:
            wait(aws, change_set_id, sleep=sleep, interval=interval)
            head, changes = _pages(aws, change_set_id)
        if not path:
            review.description = head.get("Description", "") or ""
            # What the change set itself carries (a plan's, executed later, too).
            conf = head.get("RollbackConfiguration") or {}
            arns = [t.get("Arn", "").rsplit(":", 1)[-1] for t in conf.get("RollbackTriggers", []) or []]
            if arns:
                review.notes.append(
                    f"this change set carries rollback triggers: {', '.join(arns)} (monitoring "
                    f"{conf.get('MonitoringTimeInMinutes', 0)} min)"
                )
        for change in changes:
            if change.get("Type", "Resource") != "Resource":
                continue
            row = review_mod.row_from_change(path, change)
            review.rows.append(row)
            if row.resource_type == NESTED and row.nested_change_set:
                walk(row.nested_change_set, row.where)

    walk(cs.id, "")
    return review


# ``deploy --change-set reviewed``: a change set on the stack that is proven
# (deploy/verify.py) to hold what this checkout builds, else exit 3;
# ``reviewed-or-new``: that, else the deploy makes its own and says so.
REVIEWED = "reviewed"
REVIEWED_OR_NEW = "reviewed-or-new"
# At most this many of the newest waiting change sets are examined: each
# proof costs API calls, and a stack rarely holds more (executing one
# deletes all others). More waiting is said, never skipped silently.
MAX_CANDIDATES = 20


def candidates(aws: Aws, stack_name: str) -> tuple[list[dict], int]:
    """The stack's root change sets that could be proven, newest first, and
    how many others were left out on their ListChangeSets summary alone:
    only Status CREATE_COMPLETE with ExecutionStatus AVAILABLE can run
    (DescribeChangeSet: "only AVAILABLE can be executed"), and one made
    without IncludeNestedStacks is never proven (verify.py), so neither costs
    a proof nor takes a place in the window. Which one, if any, holds what
    this checkout builds is for :func:`.verify.prove` to say; a summary's
    Description is not looked at. An API error is exit 1."""
    try:
        summaries = [
            c
            for page in aws.cfn.get_paginator("list_change_sets").paginate(StackName=stack_name)
            for c in page.get("Summaries", [])
        ]
    except botocore.exceptions.ClientError as exc:
        raise CommandError(
            f"ListChangeSets on {stack_name}: {error_code(exc)}: {error_message(exc)}", EXIT_FAILED
        ) from None
    found = [
        c
        for c in summaries
        if c.get("ExecutionStatus") == EXECUTABLE
        and c.get("Status") == "CREATE_COMPLETE"
        and c.get("IncludeNestedStacks") is True
        and not c.get("ParentChangeSetId")
    ]
    found.sort(key=lambda c: (str(c.get("CreationTime", "")), c.get("ChangeSetName", "")), reverse=True)
    return found, len(summaries) - len(found)


# DescribeChangeSet answers ChangeSetNotFound for more than one reason; the
# message names them all rather than guess. Executing any change set deletes
# every other on the stack (ExecuteChangeSet API reference), so a named one
# left for review is then gone, not OBSOLETE.
GONE = (
    "not found (ChangeSetNotFound): a change set on this stack was executed since (that deletes every other, "
    "ExecuteChangeSet reference), it was deleted (DeleteChangeSet), or the name, stack or region is wrong"
)


def gone(aws: Aws, stack_name: str, name: str) -> str:
    """:data:`GONE`, with the change set the stack last executed
    (DescribeStacks ``ChangeSetId``) when it can be read."""
    try:
        last = aws.cfn.describe_stacks(StackName=stack_name)["Stacks"][0].get("ChangeSetId") or ""
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, KeyError, IndexError):
        last = ""
    last_name = last.split(":changeSet/", 1)[-1].split("/", 1)[0] if last else ""
    where = f"; looked on {stack_name} in {aws.region}"
    if last_name and last_name == name:
        return f"it was executed: it is the change set {stack_name} last executed (DescribeStacks ChangeSetId)"
    if last_name:
        return f"{GONE}{where}; the stack last executed change set {last_name} ({last})"
    return GONE + where


def lookup(aws: Aws, stack_name: str, name: str, *, stack_status: str | None = None) -> ChangeSet:
    """An existing change set by name (``deploy --change-set``).
    ``stack_status``: the stack's status as the caller already read it."""
    try:
        d = aws.cfn.describe_change_set(ChangeSetName=name, StackName=stack_name)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ("ChangeSetNotFound", "ChangeSetNotFoundException"):
            raise CommandError(
                f"change set {name} on {stack_name}: {gone(aws, stack_name, name)}",
                EXIT_FAILED,
                details=("nothing was executed; plan again",),
            ) from None
        raise CommandError(
            f"change set {name} on {stack_name}: {error_code(exc)}: {error_message(exc)}", EXIT_FAILED
        ) from None
    stack = d.get("StackId", "")
    if stack_status is None:
        stack_status = _stack_status(aws, stack)
    return ChangeSet(
        d.get("ChangeSetName", name),
        d["ChangeSetId"],
        stack,
        "CREATE" if stack_status == "REVIEW_IN_PROGRESS" else "UPDATE",
        d.get("Status", ""),
        d.get("StatusReason", "") or "",
        execution_status=d.get("ExecutionStatus", ""),
        description=d.get("Description", "") or "",
    )


def same_id(change_set_id: str, pinned: str) -> bool:
    """``pinned`` names this change set: its whole ARN
    (``arn:aws:cloudformation:REGION:ACCOUNT:changeSet/NAME/UUID``) or the
    UUID that ends it. CloudFormation makes the UUID; nobody chooses it."""
    pinned = pinned.strip()
    return (
        bool(pinned)
        and bool(change_set_id)
        and (change_set_id == pinned or ("/" not in pinned and change_set_id.rsplit("/", 1)[-1] == pinned))
    )


def _stack_status(aws: Aws, stack_id: str) -> str:
    """The stack's status; an error is exit 1 (guessing UPDATE would treat a
    first create as an update)."""
    try:
        return aws.cfn.describe_stacks(StackName=stack_id)["Stacks"][0].get("StackStatus", "")
    except botocore.exceptions.ClientError as exc:
        raise CommandError(f"DescribeStacks {stack_id}: {error_code(exc)}: {error_message(exc)}", EXIT_FAILED) from None


def check_executable(aws: Aws, cs: ChangeSet) -> None:
    """Refuse a change set CloudFormation would not execute (ExecutionStatus
    other than AVAILABLE: OBSOLETE after another change, EXECUTE_* already
    run, UNAVAILABLE while computing or after a failure). Per the
    DescribeChangeSet reference only AVAILABLE can be executed."""
    try:
        d = aws.cfn.describe_change_set(ChangeSetName=cs.id)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ("ChangeSetNotFound", "ChangeSetNotFoundException"):
            raise CommandError(
                f"change set {cs.name}: {GONE}",
                EXIT_FAILED,
                details=("nothing was executed and no stack policy was changed",),
            ) from None
        raise CommandError(f"change set {cs.name}: {error_code(exc)}: {error_message(exc)}", EXIT_FAILED) from None
    cs.status, cs.execution_status = d.get("Status", ""), d.get("ExecutionStatus", "")
    if cs.execution_status != EXECUTABLE:
        # Another change set's execute deletes this one (ChangeSetNotFound,
        # above); OBSOLETE is left for an update made some other way.
        why = {"OBSOLETE": "the stack changed after it was made"}.get(cs.execution_status, d.get("StatusReason") or "")
        raise CommandError(
            f"change set {cs.name} cannot be executed: ExecutionStatus {cs.execution_status or '?'} "
            f"(Status {cs.status or '?'})" + (f": {why}" if why else ""),
            EXIT_FAILED,
            details=("nothing was executed and no stack policy was changed; make a new change set (plan or deploy)",),
        )


def delete(aws: Aws, cs: ChangeSet) -> None:
    if not cs.id:
        return
    try:
        aws.cfn.delete_change_set(ChangeSetName=cs.id)
    except botocore.exceptions.ClientError as exc:
        raise CommandError(f"DeleteChangeSet {cs.name}: {error_code(exc)}: {error_message(exc)}") from None


# ChangeSetStatus values of a change set being deleted (DescribeChangeSet /
# ChangeSetSummary in the API reference). Deleting a change set that has
# nested change sets is asynchronous: DeleteChangeSet returns while the set
# (and the stack shell's listing) shows DELETE_PENDING, then
# DELETE_IN_PROGRESS, before it is gone.
DELETING = {"DELETE_PENDING", "DELETE_IN_PROGRESS", "DELETE_COMPLETE"}


def delete_and_wait(
    aws: Aws,
    cs: ChangeSet,
    *,
    sleep: Callable[[float], None] = time.sleep,
    interval: float = 2.0,
    timeout: float = 120.0,
) -> str:
    """DeleteChangeSet, then DescribeChangeSet until it is gone (bounded).

    Returns "" once it is gone (ChangeSetNotFound or DELETE_COMPLETE), else
    what it still is ("DELETE_IN_PROGRESS after 120s", "DELETE_FAILED: …").
    DeleteChangeSet's own error raises :class:`CommandError`."""
    delete(aws, cs)
    if not cs.id:
        return ""
    waited = 0.0
    while True:
        try:
            d = aws.cfn.describe_change_set(ChangeSetName=cs.id)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "ChangeSetNotFound" or "does not exist" in error_message(exc):
                return ""
            return f"could not read it after the delete ({error_code(exc)})"
        status = d.get("Status", "")
        if status == "DELETE_COMPLETE":
            return ""
        if status == "DELETE_FAILED":
            return f"DELETE_FAILED: {d.get('StatusReason') or 'no reason given'}"
        if status not in DELETING:
            # An endpoint that keeps the set readable in its old status after
            # the delete was accepted (no asynchronous deletion): taken as gone.
            return ""
        if waited >= timeout:
            return f"still {status} after {int(waited)}s"
        sleep(interval)
        waited += interval
