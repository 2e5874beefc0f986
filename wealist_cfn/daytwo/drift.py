"""``drift``: has anyone changed the stack outside CloudFormation?

DetectStackDrift does not follow nested stacks ("CloudFormation doesn't
detect drift on any nested stacks belonging to that stack. Perform
DetectStackDrift directly on the nested stack itself", API_DetectStackDrift),
so it is started on the root and on every nested stack at once, each
detection is polled with DescribeStackDriftDetectionStatus, and the
resources of each stack are then read with DescribeStackResourceDrifts.

Resources that drift detection does not support come back as NOT_CHECKED
(API_StackResourceDrift: StackResourceDriftStatus) and are reported as not
checked, never as in sync. A detection that fails (DETECTION_FAILED) is
reported with its reason; the resources it did check still count.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

import botocore.exceptions

from wealist_cfn.aws import pages
from wealist_cfn.cfn.model import NESTED

from ..aws import Aws
from ..errors import EXIT_FAILED, CommandError
from .tree import client_error, describe_root, pmap, stack_tree
from .tree import resources as list_resources

# StackResourceDriftStatus (API_StackResourceDriftInformation): IN_SYNC | MODIFIED | DELETED |
# NOT_CHECKED | UNKNOWN | UNSUPPORTED. Only IN_SYNC counts as in sync; anything but drift is "not checked".
DRIFTED = ("MODIFIED", "DELETED")

# The API actions `drift` itself calls (STS GetCallerIdentity needs no permission).
CALLS = (
    "cloudformation:DescribeStacks",
    "cloudformation:ListStackResources",
    "cloudformation:DetectStackDrift",
    "cloudformation:DescribeStackDriftDetectionStatus",
    "cloudformation:DescribeStackResourceDrifts",
)


def detection_read_actions(templates: dict[str, dict], region: str) -> list[str]:
    """What DetectStackDrift needs besides :data:`CALLS`: CloudFormation reads
    each resource with the caller's permissions, so the role needs every
    resource type's ``handlers.read.permissions`` (the resource schemas
    cfn-lint ships)."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    types = {r["Type"] for t in templates.values() for r in (t.get("Resources") or {}).values()}
    actions: set[str] = set()
    for rtype in types:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, rtype).schema
        actions |= set(schema.get("handlers", {}).get("read", {}).get("permissions", []))
    return sorted(actions)


@dataclass
class Progress:
    done: int
    total: int
    waited: float


@dataclass
class PropertyDrift:
    path: str
    expected: str
    actual: str
    difference: str  # ADD | REMOVE | NOT_EQUAL


@dataclass
class ResourceDrift:
    stack: str
    logical_id: str
    resource_type: str
    physical_id: str
    status: str  # MODIFIED | DELETED | NOT_CHECKED | IN_SYNC
    properties: list[PropertyDrift] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.stack}/{self.logical_id}" if self.stack else self.logical_id


@dataclass
class StackDetection:
    stack: str
    stack_id: str
    detection_id: str
    detection_status: str = "DETECTION_IN_PROGRESS"
    drift_status: str = ""
    reason: str = ""


@dataclass
class DriftReport:
    stack_name: str
    stacks: list[StackDetection]
    drifted: list[ResourceDrift]
    not_checked: list[ResourceDrift]
    in_sync: int

    @property
    def has_drift(self) -> bool:
        return bool(self.drifted)

    @property
    def failed(self) -> list[StackDetection]:
        return [s for s in self.stacks if s.detection_status == "DETECTION_FAILED"]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["drifted"] = [asdict(x) for x in self.drifted]
        d["inSync"] = d.pop("in_sync")
        d["hasDrift"] = self.has_drift
        return d


def _start(aws: Aws, item: tuple[str, str]) -> StackDetection:
    path, sid = item
    try:
        did = aws.cfn.detect_stack_drift(StackName=sid)["StackDriftDetectionId"]
    except botocore.exceptions.ClientError as exc:
        raise client_error(exc, f"DetectStackDrift {path or 'root'}") from None
    return StackDetection(path, sid, did)


def _status(aws: Aws, det: StackDetection) -> StackDetection:
    try:
        st = aws.cfn.describe_stack_drift_detection_status(StackDriftDetectionId=det.detection_id)
    except botocore.exceptions.ClientError as exc:
        raise client_error(exc, f"DescribeStackDriftDetectionStatus {det.stack or 'root'}") from None
    det.detection_status = st["DetectionStatus"]
    det.drift_status = st.get("StackDriftStatus", "") or ""
    det.reason = st.get("DetectionStatusReason", "") or ""
    return det


def _resources(aws: Aws, det: StackDetection) -> list[ResourceDrift]:
    out, token = [], None
    # botocore has no paginator for DescribeStackResourceDrifts (none in its
    # paginators-1.json): the token is sent back by hand, for a bounded
    # number of pages (wealist_cfn.aws.pages.MAX_PAGES).
    for _ in range(pages.MAX_PAGES):
        # No status filter: every resource, so one that was not checked is never missed.
        kw = {"StackName": det.stack_id}
        if token:
            kw["NextToken"] = token
        try:
            page = aws.cfn.describe_stack_resource_drifts(**kw)
        except botocore.exceptions.ClientError as exc:
            raise client_error(exc, f"DescribeStackResourceDrifts {det.stack or 'root'}") from None
        for d in page.get("StackResourceDrifts", []):
            out.append(
                ResourceDrift(
                    det.stack,
                    d["LogicalResourceId"],
                    d["ResourceType"],
                    d.get("PhysicalResourceId", "") or "",
                    d["StackResourceDriftStatus"],
                    [
                        PropertyDrift(
                            p["PropertyPath"], p.get("ExpectedValue", ""), p.get("ActualValue", ""), p["DifferenceType"]
                        )
                        for p in d.get("PropertyDifferences", []) or []
                    ],
                )
            )
        token = page.get("NextToken")
        if not token:
            break
    else:
        raise CommandError(
            f"DescribeStackResourceDrifts {det.stack or 'root'}: still more pages after "
            f"{pages.MAX_PAGES}; stopped reading there",
            EXIT_FAILED,
        )
    # DescribeStackResourceDrifts leaves out what it could not check ("Resources
    # that don't currently support drift detection aren't checked, and so not
    # included", API_DescribeStackResourceDrifts): every other resource the
    # stack lists is reported as not checked. Nested stacks are checked on their own.
    seen = {r.logical_id for r in out}
    for r in list_resources(aws, det.stack_id):
        if r["LogicalResourceId"] not in seen and r["ResourceType"] != NESTED:
            status = (r.get("DriftInformation") or {}).get("StackResourceDriftStatus", "NOT_CHECKED")
            out.append(
                ResourceDrift(
                    det.stack,
                    r["LogicalResourceId"],
                    r["ResourceType"],
                    r.get("PhysicalResourceId", "") or "",
                    "NOT_CHECKED" if status == "IN_SYNC" else status,
                )
            )
    return out


def detect(
    aws: Aws,
    stack_name: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    interval: float = 5.0,
    timeout: float = 900.0,
) -> Iterator[Progress | DriftReport]:
    """Yield :class:`Progress` while the detections run, then the :class:`DriftReport`."""
    root = describe_root(aws, stack_name)
    tree = stack_tree(aws, root["StackId"])
    dets = pmap(lambda item: _start(aws, item), tree.items())
    waited = 0.0
    while True:
        pending = [d for d in dets if d.detection_status == "DETECTION_IN_PROGRESS"]
        pmap(lambda d: _status(aws, d), pending)
        done = sum(1 for d in dets if d.detection_status != "DETECTION_IN_PROGRESS")
        yield Progress(done, len(dets), waited)
        if done == len(dets):
            break
        if waited >= timeout:
            late = ", ".join(d.stack or "root" for d in dets if d.detection_status == "DETECTION_IN_PROGRESS")
            raise CommandError(
                f"drift detection of {stack_name} still running after {int(waited)}s: {late}",
                EXIT_FAILED,
                details=("it goes on in AWS; run drift again later",),
            )
        sleep(interval)
        waited += interval
    drifted, not_checked, in_sync = [], [], 0
    for res in pmap(lambda d: _resources(aws, d), dets):
        for r in res:
            if r.status in DRIFTED:
                drifted.append(r)
            elif r.status == "IN_SYNC":
                in_sync += 1
            else:
                not_checked.append(r)
    yield DriftReport(stack_name, dets, drifted, not_checked, in_sync)


# -- rendering -----------------------------------------------------------------------------------


def _summary(r: DriftReport) -> str:
    head = (
        f"DRIFTED: {len(r.drifted)} resource(s) changed outside CloudFormation"
        if r.has_drift
        else "in sync: no checked resource has drifted"
    )
    return (
        f"{head}; {r.in_sync} in sync, {len(r.not_checked)} not checked "
        f"(drift detection does not support them), {len(r.stacks)} stacks"
    )


def render_text(r: DriftReport, *, quiet: bool = False) -> str:
    """Failed detections, drifted resources with each property, what was
    not checked, the verdict; ``quiet`` (-q) leaves out the not-checked list
    (the verdict counts it)."""
    lines = []
    for s in r.failed:
        lines.append(f"detection failed on {s.stack or 'root'}: {s.reason}")
    for d in r.drifted:
        lines.append(f"{d.status:<9} {d.where} ({d.resource_type}) {d.physical_id}")
        for p in d.properties:
            lines.append(f"    {p.path} [{p.difference}]: expected {p.expected!s} actual {p.actual!s}")
    if r.not_checked and not quiet:
        lines.append("not checked (drift detection does not support these; their state is unknown):")
        lines += [f"    {d.where} ({d.resource_type})" for d in r.not_checked]
    lines.append(_summary(r))
    return "\n".join(lines)


def _md(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(r: DriftReport) -> str:
    lines = [f"### Drift of `{r.stack_name}`", "", _summary(r), ""]
    for s in r.failed:
        lines.append(f"- detection failed on `{s.stack or 'root'}`: {_md(s.reason)}")
    if r.drifted:
        lines += [
            "| Resource | Type | Status | Property | Difference | Expected | Actual |",
            "|---|---|---|---|---|---|---|",
        ]
        for d in r.drifted:
            for i, p in enumerate(d.properties or [PropertyDrift("", "", "", "")]):
                head = f"| `{d.where}` | {d.resource_type} | {d.status} |" if i == 0 else "| | | |"
                lines.append(f"{head} {p.path} | {p.difference} | `{_md(p.expected)}` | `{_md(p.actual)}` |")
        lines.append("")
    if r.not_checked:
        lines.append(
            "Not checked (unsupported by drift detection): "
            + ", ".join(f"`{d.where}` ({d.resource_type})" for d in r.not_checked)
        )
    return "\n".join(lines).rstrip() + "\n"


def render_json(r: DriftReport, extra: dict | None = None) -> str:
    """``extra``: keys the command adds (the parameter file and values, cliopts.params_document)."""
    return json.dumps({**r.to_dict(), **(extra or {})}, indent=2, default=str)
