"""Watch a stack operation: stream the events of the root and of every
nested stack (by stack ID, so a deleted child still counts) until the root
reaches a final state, with progress and the first cause of a failure.

The watcher is a generator of plain data (:class:`StackEvent`,
:class:`Progress`, :class:`Final`); the command line prints them. Its clock
and poll interval are injectable so tests run without waiting.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterator

import botocore.exceptions

from wealist_cfn.aws import pages
from wealist_cfn.cfn.model import NESTED

from ..aws import Aws, error_message

# Failures that only follow from another one: never the first cause.
CONSEQUENCE = re.compile(
    r"Resource (creation|update|deletion) cancelled|Embedded stack .* was not successfully|"
    r"The following resource\(s\) failed to|Stack operation cancelled|cancelled due to|"
    r"Rollback requested by user",
    re.I,
)


# A stack shell an unexecuted CREATE change set made: nothing runs in it and
# nothing will until someone executes a change set, so no watch waits on it.
REVIEW = "REVIEW_IN_PROGRESS"


def is_final(status: str) -> bool:
    """An operation that ends by itself is over (REVIEW_IN_PROGRESS is not one:
    see :data:`REVIEW` and :meth:`Watcher.watch`)."""
    return not status.endswith("_IN_PROGRESS") and status != REVIEW


def is_running(status: str | None) -> bool:
    """Something runs in CloudFormation: a ``*_IN_PROGRESS`` that is not a shell."""
    return bool(status) and status.endswith("_IN_PROGRESS") and status != REVIEW


class WatchTimeout(Exception):
    """The watch gave up; the operation itself goes on in AWS."""

    def __init__(self, status: str, waited: float):
        super().__init__(f"still {status} after {int(waited // 60)} min of watching")
        self.status, self.waited = status, waited


# The overall bound on one watch. The AWS CLI's stack waiters give up after
# 120 attempts 30 s apart, 60 minutes (botocore cloudformation/2010-05-15/
# waiters-2.json, StackCreateComplete / StackUpdateComplete). A first create
# of this stack (RDS, ElastiCache, NAT) takes 20-40 minutes, a Multi-AZ switch
# longer; 90 minutes covers those and still leaves ``status`` and the health
# wait room inside deploy.yml's 120-minute job. CloudFormation itself sets no
# limit; the message says the operation goes on and how to follow it.
WATCH_TIMEOUT = 90 * 60
# ExecuteChangeSet moves a shell to CREATE_IN_PROGRESS at once; one that
# still reads REVIEW_IN_PROGRESS this long after it started nothing.
SHELL_GRACE = 60.0


def is_failure(status: str) -> bool:
    return status.endswith("_FAILED") or "ROLLBACK" in status


@dataclass
class StackEvent:
    path: str  # nested path below the root; "" for the root
    logical_id: str
    resource_type: str
    status: str
    reason: str
    timestamp: datetime
    event_id: str
    physical_id: str = ""

    @property
    def where(self) -> str:
        return f"{self.path}/{self.logical_id}" if self.path else self.logical_id


@dataclass
class StackProgress:
    """One stack of the operation (the root is path ""): its resources done
    out of its total, and the resource in progress the longest, with the
    server time it entered that status."""

    path: str
    done: int
    total: int
    slowest: str = ""  # logical ID
    slowest_type: str = ""
    slowest_status: str = ""
    slowest_since: datetime | None = None

    def to_dict(self) -> dict:
        return {
            "stack": self.path,
            "done": self.done,
            "total": self.total,
            "slowest": None
            if not self.slowest
            else {
                "logicalId": self.slowest,
                "type": self.slowest_type,
                "status": self.slowest_status,
                "since": self.slowest_since.isoformat() if self.slowest_since else None,
            },
        }


@dataclass
class Progress:
    """Resources done out of the total, overall and per stack; ``at`` is the
    newest event's server time (what an age is measured against when the
    local clock cannot be trusted)."""

    done: int
    total: int
    stacks: list[StackProgress] = field(default_factory=list)
    at: datetime | None = None


@dataclass
class Final:
    status: str
    reason: str
    first_cause: StackEvent | None = None

    @property
    def ok(self) -> bool:
        return not is_failure(self.status)


def first_cause(events: list[StackEvent]) -> StackEvent | None:
    """The earliest failure that is not a consequence of another."""
    failed = sorted((e for e in events if e.status.endswith("_FAILED")), key=lambda e: e.timestamp)
    for e in failed:
        if not CONSEQUENCE.search(e.reason or ""):
            return e
    return failed[0] if failed else None


class Watcher:
    """Follows one operation on ``stack_id``.

    Only events of this operation are shown. An event that carries an
    ``OperationId`` (StackEvent in the pinned botocore model) of an operation
    the stack had already run before this one (``Stack.LastOperations`` read
    before the execute) is older. Every event, root and nested alike, must
    also pass both older checks: its ClientRequestToken, when CloudFormation
    stamps it, is ours, AND it is no older than the root's newest event
    before the operation (server time, so a skewed local clock does not
    matter). A rollback is an operation of its own, so a positive match on
    one operation ID would hide it; the exclusion does not.
    """

    def __init__(
        self,
        aws: Aws,
        stack_id: str,
        *,
        total: int = 0,
        totals: dict[str, int] | None = None,
        token: str | None = None,
        since: datetime | None = None,
        seen: set[str] | None = None,
        old_operations: set[str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        interval: float = 5.0,
        timeout: float = WATCH_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.aws, self.root_id, self.total, self.token = aws, stack_id, total, token
        self.timeout, self.clock = timeout, clock
        self.since = since
        self.old_operations: set[str] = set(old_operations or ())
        self.seen: set[str] = set(seen or ())
        self.sleep, self.interval = sleep, interval
        self.stacks: dict[str, str] = {stack_id: ""}  # stack ID -> path
        self.events: list[StackEvent] = []
        self.last_status: dict[str, str] = {}  # resource path -> latest status
        self.totals: dict[str, int] = dict(totals or {})  # stack path -> resources the change set touches there
        self._resource: dict[str, StackEvent] = {}  # resource path -> its latest event
        self._entered: dict[str, datetime] = {}  # resource path -> when its current status began

    @staticmethod
    def mark(aws: Aws, stack_id: str) -> tuple[set[str], datetime | None]:
        """Event IDs already on the root before an operation starts (newest page)."""
        try:
            evs = aws.cfn.describe_stack_events(StackName=stack_id).get("StackEvents", [])
        except botocore.exceptions.ClientError:
            return set(), None
        return {e["EventId"] for e in evs}, (evs[0]["Timestamp"] if evs else None)

    @staticmethod
    def operations(aws: Aws, stack_id: str) -> set[str]:
        """The stack's ``LastOperations`` IDs (empty where the endpoint has none)."""
        try:
            st = aws.cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        except (botocore.exceptions.ClientError, KeyError, IndexError):
            return set()
        return {o["OperationId"] for o in st.get("LastOperations", []) or [] if o.get("OperationId")}

    def _fetch(self, stack_id: str, path: str) -> list[StackEvent]:
        new: list[StackEvent] = []
        read = pages.pages(self.aws.cfn, "describe_stack_events", StackName=stack_id)
        while True:
            try:
                page = next(read, None)
            except botocore.exceptions.ClientError as exc:
                if "does not exist" in error_message(exc):
                    return new
                raise
            if page is None:
                break
            stop = False
            for e in page.get("StackEvents", []):  # newest first
                if e["EventId"] in self.seen:
                    stop = True
                    break
                if e.get("OperationId") and e["OperationId"] in self.old_operations:
                    stop = True
                    break
                if self.token and e.get("ClientRequestToken") and e["ClientRequestToken"] != self.token:
                    stop = True
                    break
                if self.since and e["Timestamp"] < self.since:
                    stop = True
                    break
                new.append(
                    StackEvent(
                        path=path,
                        logical_id=e.get("LogicalResourceId", ""),
                        resource_type=e.get("ResourceType", ""),
                        status=e.get("ResourceStatus", ""),
                        reason=e.get("ResourceStatusReason", "") or "",
                        timestamp=e["Timestamp"],
                        event_id=e["EventId"],
                        physical_id=e.get("PhysicalResourceId", "") or "",
                    )
                )
            if stop:
                break
        return new

    def poll(self) -> list[StackEvent]:
        """New events of every known stack, oldest first; learns nested stacks."""
        fresh: list[StackEvent] = []
        queue = list(self.stacks.items())
        while queue:
            sid, path = queue.pop(0)
            for ev in self._fetch(sid, path):
                self.seen.add(ev.event_id)
                fresh.append(ev)
                if (
                    ev.resource_type == NESTED
                    and ev.physical_id.startswith("arn:")
                    and ev.physical_id != sid
                    and ev.physical_id not in self.stacks
                ):
                    child_path = ev.where
                    self.stacks[ev.physical_id] = child_path
                    queue.append((ev.physical_id, child_path))
        fresh.sort(key=lambda e: e.timestamp)
        for ev in fresh:
            if not self._is_stack_self(ev):
                if self.last_status.get(ev.where) != ev.status:
                    self._entered[ev.where] = ev.timestamp
                self.last_status[ev.where] = ev.status
                self._resource[ev.where] = ev
        self.events += fresh
        return fresh

    def _is_stack_self(self, ev: StackEvent) -> bool:
        """An event about a stack itself (its own status), not a resource in it."""
        return ev.resource_type == NESTED and self.stacks.get(ev.physical_id) == ev.path

    def progress(self) -> Progress:
        done = sum(1 for s in self.last_status.values() if not s.endswith("_IN_PROGRESS"))
        self.total = max(self.total, len(self.last_status))
        return Progress(
            done, self.total, self.stack_progress(), max((e.timestamp for e in self._resource.values()), default=None)
        )

    def stack_progress(self) -> list[StackProgress]:
        """Per stack, in the order the stacks were first seen (root first)."""
        rows: dict[str, StackProgress] = {}
        for path in self.stacks.values():
            rows.setdefault(path, StackProgress(path, 0, 0))
        for where, ev in self._resource.items():
            row = rows.setdefault(ev.path, StackProgress(ev.path, 0, 0))
            row.total += 1
            if not ev.status.endswith("_IN_PROGRESS"):
                row.done += 1
            elif row.slowest_since is None or self._entered[where] < row.slowest_since:
                row.slowest, row.slowest_type = ev.logical_id, ev.resource_type
                row.slowest_status, row.slowest_since = ev.status, self._entered[where]
        for row in rows.values():
            row.total = max(row.total, self.totals.get(row.path, 0))
        return [r for r in rows.values() if r.total]

    def root_status(self) -> tuple[str, str]:
        st = self.aws.cfn.describe_stacks(StackName=self.root_id)["Stacks"][0]
        return st["StackStatus"], st.get("StackStatusReason", "") or ""

    def watch(self) -> Iterator[StackEvent | Progress | Final]:
        """Events until the root is final; bounded by ``timeout`` (then
        :class:`WatchTimeout`). A root still REVIEW_IN_PROGRESS after
        :data:`SHELL_GRACE` is reported final: nothing runs in a shell."""
        last = None
        # Time passes in the API calls too (botocore's retries of a throttled
        # poll back off for seconds): the bound is the time elapsed on a
        # monotonic clock, or the intervals slept when the sleep is injected
        # and does not pass, whichever is larger.
        start, slept = self.clock(), 0.0
        while True:
            waited = max(self.clock() - start, slept)
            status, reason = self.root_status()
            if status == REVIEW and waited >= SHELL_GRACE:
                yield Final(status, reason or "no operation runs: a stack shell whose change set was not executed")
                return
            for ev in self.poll():
                yield ev
            p = self.progress()
            # No resource events at all (an endpoint that reports none): no
            # made-up "0 of N" line. Otherwise one each poll while anything
            # runs (a live view's ages move on), and whenever a count changes.
            key = (p.done, p.total, tuple((r.path, r.done, r.total, r.slowest) for r in p.stacks))
            if self.last_status and (key != last or p.done < p.total):
                last = key
                yield p
            if is_final(status):
                # One more look: a final event may land after the status read.
                for ev in self.poll():
                    yield ev
                yield Final(status, reason, first_cause(self.events))
                return
            waited = max(self.clock() - start, slept)
            if waited >= self.timeout:
                raise WatchTimeout(status, waited)
            self.sleep(self.interval)
            slept += self.interval
