"""Why a change set FAILED: the real cause, not the root's summary.

A root change set with nested stacks that fails usually says only "Nested
change set <arn> was not successfully created: Currently in FAILED" or points
at the early-validation results. The cause is elsewhere:

* in the failed **nested change set's** StatusReason (DescribeChangeSet on the
  ``ChangeSetId`` a nested stack's row names, recursively), and
* in CloudFormation's **pre-deployment validation** events:
  ``DescribeEvents(ChangeSetName=..., Filters={"FailedEvents": True})``
  returns OperationEvents of EventType VALIDATION_ERROR with ValidationName,
  ValidationStatusReason, ValidationPath (where in the resource) and
  ValidationFailureMode (FAIL blocks the change set, WARN does not)
  (API reference: DescribeEvents, OperationEvent; User Guide: "Validate stack
  deployments").

An endpoint without DescribeEvents (moto, an older partition, an SDK without
the operation) is no error: the reasons from the change sets remain, and one
note says the validation events could not be read.

:func:`explain` returns data; :func:`change_set_error` turns it into the
one-line :class:`~wealist_cfn.errors.CommandError` (with the detail lines and
the structured data for ``--output json``) that the deploy raises.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import botocore.exceptions
import botocore.parsers

from wealist_cfn.aws import pages
from wealist_cfn.cfn.model import NESTED

from ..aws import Aws, error_code, error_message
from ..errors import EXIT_FAILED, CommandError

# The root's reason when the failure is really a nested change set's, or the
# early-validation results'; then the real cause goes on the first line.
_POINTER = re.compile(
    r"Nested change set .* was not successfully created|"
    r"validation|describe-events|DescribeEvents",
    re.I,
)


_NESTED_ARN = re.compile(r"Nested change set (arn:\S+) was not successfully created")


@dataclass
class NestedFailure:
    path: str  # nested stack path below the root: "DatabaseStack", "A/B"
    change_set_id: str
    reason: str


@dataclass
class Validation:
    where: str  # "DatabaseStack/Database" (path of the stack + logical ID), or the stack path
    resource_type: str
    name: str  # ValidationName
    path: str  # ValidationPath, e.g. /Resources/Database/Properties/DBName
    reason: str  # ValidationStatusReason (or ResourceStatusReason)
    mode: str  # FAIL / WARN ("" when not reported)

    def text(self) -> str:
        at = f" at {self.path}" if self.path else ""
        kind = f" ({self.resource_type})" if self.resource_type else ""
        name = f"{self.name}: " if self.name else ""
        mode = " [warning only]" if self.mode == "WARN" else ""
        return f"{self.where}{kind}{at}: {name}{self.reason}{mode}"


@dataclass
class Failure:
    change_set_name: str
    reason: str  # the root change set's StatusReason
    nested: list[NestedFailure] = field(default_factory=list)
    validations: list[Validation] = field(default_factory=list)
    note: str = ""  # what could not be read

    @property
    def cause(self) -> str:
        """The most specific cause: a blocking validation, else the deepest
        failed nested change set, else the root's reason."""
        blocking = [v for v in self.validations if v.mode != "WARN"] or self.validations
        if blocking:
            return blocking[0].text()
        if self.nested:
            deepest = max(self.nested, key=lambda n: n.path.count("/"))
            return f"{deepest.path}: {deepest.reason}"
        return self.reason or "no reason given"

    def lines(self) -> list[str]:
        out = []
        if self.reason and self.reason not in self.cause:
            out.append(f"root change set: {self.reason}")
        out += [f"nested change set {n.path}: {n.reason}" for n in self.nested if n.reason not in self.cause]
        out += [f"validation: {v.text()}" for v in self.validations if v.text() != self.cause]
        if self.note:
            out.append(f"note: {self.note}")
        return out

    def to_dict(self) -> dict:
        return asdict(self) | {"cause": self.cause}


def explain(aws: Aws, change_set_id: str, change_set_name: str = "", reason: str | None = None) -> Failure:
    """Read why ``change_set_id`` failed: its nested change sets and the
    validation events. Never raises for what the endpoint cannot answer."""
    failure = Failure(change_set_name or change_set_id, reason or "")
    stack_paths: dict[str, str] = {}  # stack ID -> nested path ("" for the root)
    failed_ids: list[str] = [change_set_id]

    walked: set[str] = set()

    def walk(cs_id: str, path: str, depth: int = 0) -> None:
        walked.add(cs_id)
        try:
            head, changes = _describe(aws, cs_id)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            failure.note = _join(failure.note, f"DescribeChangeSet {path or 'root'}: {_why(exc)}")
            return
        if head.get("StackId"):
            stack_paths[head["StackId"]] = path
        if not path:
            failure.reason = failure.reason or head.get("StatusReason", "") or ""
        elif head.get("Status") == "FAILED":
            failure.nested.append(NestedFailure(path, cs_id, head.get("StatusReason", "") or ""))
            failed_ids.append(cs_id)
        for change in changes:
            rc = change.get("ResourceChange", {})
            if rc.get("ResourceType") == NESTED and rc.get("ChangeSetId") and depth < 10:
                child = f"{path}/{rc.get('LogicalResourceId')}" if path else rc.get("LogicalResourceId", "?")
                walk(rc["ChangeSetId"], child, depth + 1)
        # A failed change set may list no changes at all: its reason still
        # names the nested change set that failed.
        named = _NESTED_ARN.search(head.get("StatusReason", "") or "")
        if named and named.group(1) not in walked and depth < 10:
            walk(named.group(1), f"{path}/(nested)" if path else "(nested)", depth + 1)

    walk(change_set_id, "")
    seen: set[str] = set()
    for cs_id in failed_ids:
        try:
            events = _failed_events(aws, cs_id)
        except _Unsupported as exc:
            failure.note = _join(failure.note, f"CloudFormation's validation events could not be read: {exc}")
            break
        for ev in events:
            key = ev.get("EventId") or repr(sorted(ev.items()))
            if key in seen:
                continue
            seen.add(key)
            failure.validations.append(_validation(ev, stack_paths))
    return failure


def change_set_error(
    aws: Aws, change_set_id: str, change_set_name: str, stack_name: str, reason: str, *, delete_hint: bool = True
) -> CommandError:
    """The error a deploy raises for a FAILED change set: the real cause on
    the first line, the other causes and (unless the caller deletes the
    change set itself) the command that deletes it after."""
    failure = explain(aws, change_set_id, change_set_name, reason)
    details = list(failure.lines())
    if delete_hint:
        details.append(
            f"delete it: aws cloudformation delete-change-set --stack-name {stack_name} "
            f"--change-set-name {change_set_name}"
        )
    return CommandError(
        f"change set {change_set_name} failed: {failure.cause}",
        EXIT_FAILED,
        details=tuple(details),
        data={"changeSetFailure": failure.to_dict()},
    )


# -- reading ---------------------------------------------------------------------------------------


class _Unsupported(Exception):
    pass


def _describe(aws: Aws, cs_id: str) -> tuple[dict, list[dict]]:
    return pages.first_and_all(aws.cfn, "describe_change_set", "Changes", ChangeSetName=cs_id)


def _failed_events(aws: Aws, cs_id: str) -> list[dict]:
    if not hasattr(aws.cfn, "describe_events"):
        raise _Unsupported("this botocore has no DescribeEvents")
    try:
        return pages.first_and_all(
            aws.cfn, "describe_events", "OperationEvents", ChangeSetName=cs_id, Filters={"FailedEvents": True}
        )[1]
    except botocore.exceptions.ClientError as exc:
        # Not implemented (moto: 404/500, InvalidAction) or AccessDenied: say
        # so in one note and keep the causes the change sets gave.
        code = error_code(exc) or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        raise _Unsupported(f"{code}: {error_message(exc)}"[:200]) from None
    except (botocore.exceptions.BotoCoreError, botocore.parsers.ResponseParserError, ValueError) as exc:
        # ResponseParserError and friends: an endpoint that answers something else.
        raise _Unsupported(f"{type(exc).__name__}") from None


def _validation(ev: dict, stack_paths: dict[str, str]) -> Validation:
    path = stack_paths.get(ev.get("StackId", ""), "")
    lid = ev.get("LogicalResourceId", "") or ""
    # The stack's own row names the stack (logical ID = stack name); show the path then.
    is_stack_row = ev.get("ResourceType") == NESTED and ev.get("PhysicalResourceId") == ev.get("StackId")
    where = path if is_stack_row else "/".join(x for x in (path, lid) if x)
    return Validation(
        where=where or lid or "root",
        resource_type=ev.get("ResourceType", "") or "",
        name=ev.get("ValidationName", "") or ev.get("EventType", "") or "",
        path=ev.get("ValidationPath", "") or "",
        reason=ev.get("ValidationStatusReason")
        or ev.get("ResourceStatusReason")
        or ev.get("HookStatusReason")
        or "no reason given",
        mode=ev.get("ValidationFailureMode", "") or ev.get("HookFailureMode", "") or "",
    )


def _why(exc: Exception) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return f"{error_code(exc)}: {error_message(exc)}"
    return type(exc).__name__


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b
