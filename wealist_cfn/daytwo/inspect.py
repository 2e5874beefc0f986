"""``outputs`` and ``events``: the root's outputs, and the recent events of
the root and every nested stack merged in time order with their nested path.

Events reuse :class:`wealist_cfn.deploy.events.StackEvent` and
:func:`~wealist_cfn.deploy.events.is_failure` (public and stable; the
watcher class around them is not used here).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import botocore.exceptions

from wealist_cfn.aws import pages
from wealist_cfn.cfn.model import NESTED

from ..aws import Aws
from ..deploy.events import StackEvent, is_failure
from ..errors import EXIT_USAGE, CommandError
from .tree import client_error, describe_root, pmap, stack_tree

_SINCE = re.compile(r"^(\d+)([smhd])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def outputs(aws: Aws, stack_name: str) -> list[dict]:
    """``[{"key", "value", "description", "export"}]`` of the root."""
    st = describe_root(aws, stack_name)
    return [
        {
            "key": o["OutputKey"],
            "value": o.get("OutputValue", ""),
            "description": o.get("Description", ""),
            "export": o.get("ExportName", ""),
        }
        for o in st.get("Outputs", []) or []
    ]


def parse_since(text: str) -> timedelta:
    m = _SINCE.match(text.strip())
    if not m or int(m.group(1)) == 0:
        raise CommandError(f"--since {text!r}: expected a positive duration such as 30m, 1h or 2d", EXIT_USAGE)
    return timedelta(**{_UNIT[m.group(2)]: int(m.group(1))})


def _stack_events(aws: Aws, path: str, sid: str, since: datetime) -> list[StackEvent]:
    out: list[StackEvent] = []
    read = pages.pages(aws.cfn, "describe_stack_events", StackName=sid)
    while True:
        try:
            page = next(read, None)
        except botocore.exceptions.ClientError as exc:
            raise client_error(exc, f"DescribeStackEvents {path or 'root'}") from None
        if page is None:
            return out
        for e in page.get("StackEvents", []):  # newest first
            if e["Timestamp"] < since:
                return out
            where, lid = path, e.get("LogicalResourceId", "")
            if path and e.get("ResourceType") == NESTED and lid == e.get("StackName"):
                # A nested stack's own status, logged under its generated name: show it by its path.
                where, _, lid = path.rpartition("/")
            out.append(
                StackEvent(
                    path=where,
                    logical_id=lid,
                    resource_type=e.get("ResourceType", ""),
                    status=e.get("ResourceStatus", ""),
                    reason=e.get("ResourceStatusReason", "") or "",
                    timestamp=e["Timestamp"],
                    event_id=e["EventId"],
                    physical_id=e.get("PhysicalResourceId", "") or "",
                )
            )


def recent_events(
    aws: Aws, stack_name: str, since: timedelta, *, now: datetime | None = None
) -> tuple[list[StackEvent], list[StackEvent]]:
    """(failures, all events), each oldest first, of the root and every nested stack."""
    start = (now or datetime.now(timezone.utc)) - since
    root = describe_root(aws, stack_name)
    tree = stack_tree(aws, root["StackId"])
    merged = sorted(
        (e for evs in pmap(lambda i: _stack_events(aws, i[0], i[1], start), tree.items()) for e in evs),
        key=lambda e: e.timestamp,
    )
    return [
        e
        for e in merged
        if e.status.endswith("_FAILED") or (is_failure(e.status) and e.resource_type == "AWS::CloudFormation::Stack")
    ], merged
