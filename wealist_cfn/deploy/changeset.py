"""Change sets: create one (CREATE or UPDATE, nested stacks included), wait
for it, walk the nested change sets into one :class:`~.review.Review`, and
recognise the three ways AWS says there is nothing to do."""

from __future__ import annotations

import re
import secrets
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import botocore.exceptions

from ..aws import Aws, error_code, error_message
from ..cfnmodel import NESTED
from ..errors import EXIT_FAILED, CommandError
from . import review as review_mod

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
_NO_CHANGES = re.compile(r"didn't contain changes|No updates are to be performed|no changes", re.I)
_PENDING = {"CREATE_PENDING", "CREATE_IN_PROGRESS"}


@dataclass
class ChangeSet:
    name: str
    id: str
    stack_id: str
    change_set_type: str
    status: str = ""
    reason: str = ""
    no_changes: bool = False


def git_commit(cwd: Path | None = None) -> str:
    """``abc1234`` / ``abc1234+dirty`` / ``unknown``: names the change set's source."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "templates"], cwd=cwd, capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return f"{sha}+dirty" if dirty else sha
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def new_name(commit: str, now: datetime | None = None) -> str:
    """Unique and sortable: ``deploy-20261128-181900-abc1234-9f3e``."""
    now = now or datetime.now(timezone.utc)
    sha = re.sub(r"[^a-zA-Z0-9]", "", commit.split("+")[0])[:7] or "nogit"
    return f"deploy-{now:%Y%m%d-%H%M%S}-{sha}-{secrets.token_hex(2)}"


def create(aws: Aws, *, stack_name: str, change_set_type: str, parameters: list[dict], tags: list[dict],
           template_body: str | None, template_url: str | None, commit: str,
           sleep: Callable[[float], None] = time.sleep, interval: float = 2.0,
           timeout: float = 900.0) -> ChangeSet:
    """Create the change set and wait until CloudFormation has computed it."""
    name = new_name(commit)
    kw = dict(StackName=stack_name, ChangeSetName=name, ChangeSetType=change_set_type, Parameters=parameters,
              Capabilities=CAPABILITIES, Tags=tags, IncludeNestedStacks=True,
              Description=f"wealist-cfn deploy from commit {commit}"[:1024])
    if template_url:
        kw["TemplateURL"] = template_url
    else:
        kw["TemplateBody"] = template_body
    try:
        resp = aws.cfn.create_change_set(**kw)
    except botocore.exceptions.ClientError as exc:
        if _NO_CHANGES.search(error_message(exc)):
            return ChangeSet(name, "", "", change_set_type, "FAILED", error_message(exc), no_changes=True)
        raise CommandError(f"CreateChangeSet: {error_code(exc)}: {error_message(exc)}", EXIT_FAILED) from None
    cs = ChangeSet(name, resp["Id"], resp.get("StackId", ""), change_set_type)
    desc = wait(aws, cs.id, sleep=sleep, interval=interval, timeout=timeout)
    cs.status, cs.reason = desc.get("Status", ""), desc.get("StatusReason", "") or ""
    if cs.status == "FAILED":
        if _NO_CHANGES.search(cs.reason):
            cs.no_changes = True
        else:
            raise CommandError(f"change set {name} failed: {_nested_cause(aws, cs.reason)}", EXIT_FAILED,
                              details=(f"delete it: aws cloudformation delete-change-set --stack-name {stack_name} "
                                       f"--change-set-name {name}",))
    return cs


_NESTED_FAILED = re.compile(r"Nested change set (arn:\S+) was not successfully created")


def _nested_cause(aws: Aws, reason: str, depth: int = 0) -> str:
    """A root change set fails with "Nested change set ARN was not
    successfully created" when a nested one fails; the cause is that one's
    own reason (followed down the nesting)."""
    m = _NESTED_FAILED.search(reason)
    if not m or depth > 5:
        return reason
    try:
        inner = aws.cfn.describe_change_set(ChangeSetName=m.group(1)).get("StatusReason") or ""
    except botocore.exceptions.ClientError:
        return reason
    return f"{reason} Cause: {_nested_cause(aws, inner, depth + 1)}" if inner else reason


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
    first, changes, token = None, [], None
    while True:
        kw = {"ChangeSetName": change_set_id, "IncludePropertyValues": True}
        if token:
            kw["NextToken"] = token
        page = aws.cfn.describe_change_set(**kw)
        first = first or page
        changes += page.get("Changes", [])
        token = page.get("NextToken")
        if not token:
            return first, changes


def describe(aws: Aws, cs: ChangeSet, stack_name: str, *, sleep=time.sleep, interval=2.0) -> review_mod.Review:
    """Walk the root change set and every nested one into a review (rows in
    stack order: a nested stack's row is followed by the rows inside it)."""
    review = review_mod.Review(stack_name=stack_name, change_set_type=cs.change_set_type,
                               change_set_name=cs.name, change_set_id=cs.id)

    def walk(change_set_id: str, path: str):
        head, changes = _pages(aws, change_set_id)
        if head.get("Status") in _PENDING:
            wait(aws, change_set_id, sleep=sleep, interval=interval)
            head, changes = _pages(aws, change_set_id)
        if not path:
            review.description = head.get("Description", "") or ""
        for change in changes:
            if change.get("Type", "Resource") != "Resource":
                continue
            row = review_mod.row_from_change(path, change)
            review.rows.append(row)
            if row.resource_type == NESTED and row.nested_change_set:
                walk(row.nested_change_set, row.where)

    walk(cs.id, "")
    return review


def is_empty(review: review_mod.Review) -> bool:
    return not review.rows


def delete(aws: Aws, cs: ChangeSet) -> None:
    if not cs.id:
        return
    try:
        aws.cfn.delete_change_set(ChangeSetName=cs.id)
    except botocore.exceptions.ClientError as exc:
        raise CommandError(f"DeleteChangeSet {cs.name}: {error_message(exc)}") from None
