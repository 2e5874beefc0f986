"""``diff``: what differs between the local templates and parameter file and
what the stack runs, without a change set and without an upload.

The deployed root and every nested template come from GetTemplate (fetched
concurrently), matched to the local files by the nested stack's logical ID.
Both sides are resolved with :mod:`wealist_cfn.cfn.model` for their own
parameter values (deployed: what DescribeStacks reports; local: the
parameter file), so a mode switch reads as the resources and properties it
changes, not as every ``Fn::If`` that mentions the condition.

Replacement is *predicted*: a changed property listed in the resource
type's ``createOnlyProperties`` (the CloudFormation resource schemas cfn-lint
ships) means CloudFormation must create a new resource. The prediction
cannot see values only known while a deploy runs, so it always says that a
change set confirms it.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import botocore.exceptions
import yaml

from wealist_cfn import config
from wealist_cfn.cfn import model as cfnmodel
from wealist_cfn.cfn import templates as tpl
from wealist_cfn.cfn.model import NESTED
from wealist_cfn.core.parameters import ROOT_PARAMETERS

from ..aws import Aws
from ..deploy.review import GUARDED_TYPES, list_value
from ..errors import EXIT_USAGE, CommandError
from .tree import client_error, describe_root, pmap, stack_tree

MASK = "****"
CONFIRM = "a change set confirms"
# Compared besides Properties: a change to these is a change CloudFormation makes.
ATTRIBUTES = ("Type", "Condition", "DeletionPolicy", "UpdateReplacePolicy")


@dataclass
class PropertyChange:
    path: str  # "Properties.MultiAZ", "Properties.Tags[1].Value", "DeletionPolicy"
    old: object = None
    new: object = None
    create_only: bool = False


@dataclass
class ResourceChange:
    stack: str  # nested path: "" for the root, "DatabaseStack"
    logical_id: str
    resource_type: str
    action: str  # Add | Remove | Modify
    properties: list[PropertyChange] = field(default_factory=list)
    replacement: str = ""  # "" | "predicted (a change set confirms)"
    guarded: bool = False  # a stateful resource removed or predicted to be replaced

    @property
    def where(self) -> str:
        return f"{self.stack}/{self.logical_id}" if self.stack else self.logical_id


@dataclass
class ParameterDiff:
    key: str
    old: str | None  # None: not set on that side
    new: str | None
    no_echo: bool = False
    comparable: bool = True  # False: NoEcho, so the deployed value is not readable


@dataclass
class ConditionDiff:
    stack: str
    name: str
    old: bool | None
    new: bool | None


@dataclass
class OutputDiff:
    stack: str
    key: str
    old: object
    new: object


@dataclass
class DiffReport:
    stack_name: str
    stacks: int  # templates compared
    parameters: list[ParameterDiff] = field(default_factory=list)
    conditions: list[ConditionDiff] = field(default_factory=list)
    resources: list[ResourceChange] = field(default_factory=list)
    outputs: list[OutputDiff] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # NoEcho parameters that cannot be compared

    @property
    def changed_parameters(self) -> list[ParameterDiff]:
        return [p for p in self.parameters if p.comparable]

    @property
    def has_differences(self) -> bool:
        return bool(self.changed_parameters or self.resources or self.outputs)

    @property
    def guarded(self) -> list[ResourceChange]:
        return [r for r in self.resources if r.guarded]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["differences"] = self.has_differences
        return d


# -- reading -------------------------------------------------------------------------------------


def _parse(body) -> dict:
    """GetTemplate's TemplateBody: botocore hands JSON over already decoded, YAML as text."""
    if isinstance(body, dict):
        return json.loads(json.dumps(body))
    return tpl.load(body)


def fetch_deployed(aws: Aws, stack_name: str) -> tuple[dict, dict[str, str], dict[str, dict]]:
    """(root description, {path: stack ID}, {path: template}) of the deployed set.
    GetTemplate with TemplateStage Original returns the template as submitted
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_GetTemplate.html)."""
    root = describe_root(aws, stack_name)
    tree = stack_tree(aws, root["StackId"])

    def get(item):
        path, sid = item
        try:
            body = aws.cfn.get_template(StackName=sid, TemplateStage="Original")["TemplateBody"]
        except botocore.exceptions.ClientError as exc:
            raise client_error(exc, f"GetTemplate {path or stack_name}") from None
        try:
            return _parse(body)
        except (yaml.YAMLError, ValueError) as exc:
            raise CommandError(f"GetTemplate {path or stack_name}: unreadable template: {exc}") from None

    paths = list(tree.items())
    return root, tree, dict(zip((p for p, _ in paths), pmap(get, paths)))


# -- comparing -----------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def create_only(region: str, resource_type: str) -> tuple[str, ...]:
    """The type's createOnlyProperties as dotted paths (``Properties.DBName``),
    from the resource schema cfn-lint ships for the region."""
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except Exception:  # noqa: BLE001 - an unknown type or region: no prediction, never a crash
        return ()
    return tuple(
        "Properties." + p.removeprefix("/properties/").replace("/", ".") for p in schema.get("createOnlyProperties", [])
    )


def _scalar(v):
    # CloudFormation passes every scalar as a string: 5432 and "5432" are the same value.
    return str(v).lower() if isinstance(v, bool) else str(v)


def _changes(old, new, path: str) -> list[PropertyChange]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in list(old) + [k for k in new if k not in old]:
            sub = f"{path}.{k}" if path else k
            if k not in new:
                out.append(PropertyChange(sub, old[k], None))
            elif k not in old:
                out.append(PropertyChange(sub, None, new[k]))
            else:
                out += _changes(old[k], new[k], sub)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [c for i, (a, b) in enumerate(zip(old, new)) for c in _changes(a, b, f"{path}[{i}]")]
    if isinstance(old, (dict, list)) or isinstance(new, (dict, list)):
        return [] if old == new else [PropertyChange(path, old, new)]
    return [] if _scalar(old) == _scalar(new) else [PropertyChange(path, old, new)]


def _comparable(res: dict) -> dict:
    out = {k: res[k] for k in ATTRIBUTES if k in res}
    props = dict(res.get("Properties") or {})
    if res.get("Type") == NESTED:
        # Deployed: an S3 URL; local: a file name. The child's content is compared on its own.
        props.pop("TemplateURL", None)
    out["Properties"] = props
    return out


def _is_create_only(path: str, keys: tuple[str, ...]) -> bool:
    bare = path.split("[", 1)[0]
    return any(bare == k or bare.startswith(k + ".") for k in keys)


def compare_resource(stack: str, lid: str, old: dict | None, new: dict | None, region: str) -> ResourceChange | None:
    if old is None:
        return ResourceChange(stack, lid, new["Type"], "Add")
    if new is None:
        rtype = old["Type"]
        return ResourceChange(stack, lid, rtype, "Remove", guarded=rtype in GUARDED_TYPES)
    props = _changes(_comparable(old), _comparable(new), "")
    if not props:
        return None
    keys = create_only(region, new["Type"])
    for p in props:
        p.create_only = p.path == "Type" or _is_create_only(p.path, keys)
    replacement = f"predicted ({CONFIRM})" if any(p.create_only for p in props) else ""
    guarded = bool(replacement) and new["Type"] in GUARDED_TYPES
    return ResourceChange(stack, lid, new["Type"], "Modify", props, replacement, guarded)


def _path(model_path: str) -> str:
    return "" if model_path == "Root" else model_path


def compare(
    stack_name: str,
    deployed: dict[str, cfnmodel.Stack],
    local: dict[str, cfnmodel.Stack],
    params: list[ParameterDiff],
    region: str,
    unreadable: list[str] = (),
) -> DiffReport:
    report = DiffReport(
        stack_name, stacks=len(set(deployed) | set(local)), parameters=params, unreadable=list(unreadable)
    )
    for mpath in list(deployed) + [p for p in local if p not in deployed]:
        old, new = deployed.get(mpath), local.get(mpath)
        path = _path(mpath)
        oc, nc = (old.conditions if old else {}), (new.conditions if new else {})
        for name in list(oc) + [n for n in nc if n not in oc]:
            if oc.get(name) != nc.get(name):
                report.conditions.append(ConditionDiff(path, name, oc.get(name), nc.get(name)))
        ores, nres = (old.resources if old else {}), (new.resources if new else {})
        for lid in list(ores) + [i for i in nres if i not in ores]:
            change = compare_resource(path, lid, ores.get(lid), nres.get(lid), region)
            if change:
                report.resources.append(change)
        oo, no = (old.outputs if old else {}), (new.outputs if new else {})
        for key in list(oo) + [k for k in no if k not in oo]:
            if _changes(oo.get(key), no.get(key), ""):
                report.outputs.append(OutputDiff(path, key, oo.get(key), no.get(key)))
    return report


def _parameter_diffs(
    root_template: dict, deployed: dict[str, str], local: dict[str, str], old_template: dict
) -> tuple[list[ParameterDiff], dict[str, str], list[str]]:
    """Parameter differences, the deployed values to resolve with, and the
    NoEcho keys that cannot be compared. DescribeStacks returns ``****`` for
    a NoEcho parameter (API_Parameter: "ParameterValue ... NoEcho"), so its
    deployed value is resolved as the local one and reported as unreadable."""
    decls = {**(old_template.get("Parameters") or {}), **(root_template.get("Parameters") or {})}
    resolve_with = dict(deployed)
    diffs, unreadable = [], []
    for key in list(deployed) + [k for k in local if k not in deployed]:
        no_echo = str(decls.get(key, {}).get("NoEcho", "false")).lower() == "true"
        old, new = deployed.get(key), local.get(key)
        if no_echo:
            if old == MASK:
                resolve_with[key] = new if new is not None else old
                unreadable.append(key)
                continue
            if old != new:
                diffs.append(
                    ParameterDiff(key, None if old is None else MASK, None if new is None else MASK, no_echo=True)
                )
            continue
        if old != new:
            diffs.append(ParameterDiff(key, old, new))
    return diffs, resolve_with, unreadable


def with_derived(local_values: dict[str, str], deployed_values: dict[str, str]) -> dict[str, str]:
    """The file's values, with each derived parameter (BackendHealthCheckType)
    taken from the stack: deploy computes it from live state
    (ops/releasestate.py), so the file holds no value to compare."""
    out = dict(local_values)
    for spec in ROOT_PARAMETERS:
        if spec.derived and spec.name in out and spec.name in deployed_values:
            out[spec.name] = deployed_values[spec.name]
    return out


def run(aws: Aws, stack_name: str, params_file: Path, templates_dir: Path) -> DiffReport:
    """Compare; raises CommandError (exit 2) for a bad parameter file or templates."""
    cfg = config.load(params_file)
    local_set = tpl.read(templates_dir)
    local_templates = {name: local_set.parsed(name) for name in local_set.texts}
    root_local = local_templates[local_set.root_name]
    local_values = {k: v for k, v in cfg.values.items() if k in (root_local.get("Parameters") or {})}

    root, tree, deployed_templates = fetch_deployed(aws, stack_name)
    deployed_values = {p["ParameterKey"]: list_value(p.get("ParameterValue", "")) for p in root.get("Parameters", [])}
    local_values = with_derived(local_values, deployed_values)
    params, resolve_with, unreadable = _parameter_diffs(
        root_local, deployed_values, local_values, deployed_templates[""]
    )
    named = {("root.yaml" if p == "" else p): t for p, t in deployed_templates.items() if "/" not in p}
    child_files = {p: p for p in named if p != "root.yaml"}
    region = aws.region
    try:
        deployed = cfnmodel.resolve_set(named, resolve_with, region=region, child_files=child_files)
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise CommandError(f"cannot resolve the deployed templates of {stack_name}: {exc}") from None
    try:
        local = cfnmodel.resolve_set(local_templates, local_values, root_name=local_set.root_name, region=region)
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise CommandError(
            f"{templates_dir}: cannot resolve the templates for {params_file}: {exc}", EXIT_USAGE
        ) from None
    return compare(stack_name, deployed, local, params, region, unreadable)


# -- rendering (the CLI prints these) ------------------------------------------------------------


def _short(v, limit: int = 80) -> str:
    if v is None:
        return "(none)"
    text = v if isinstance(v, str) else json.dumps(v, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _lines(v) -> list[str]:
    """A value as lines to diff: JSON (a dashboard body, a policy) pretty-printed, other text as it is."""
    if isinstance(v, str):
        try:
            parsed = json.loads(v)
        except ValueError:
            return v.splitlines()
        if not isinstance(parsed, (dict, list)):
            return v.splitlines()
        v = parsed
    return json.dumps(v, default=str, sort_keys=True, indent=2).splitlines()


def _property_lines(p: PropertyChange, indent: str, limit: int = 80) -> list[str]:
    """One line for a short change; a long value (either side past ``limit``)
    diffed line by line, so two long values never show as the same cut
    prefix."""
    mark = "  [createOnly]" if p.create_only else ""
    long = any(v is not None and len(_short(v, limit=10**9)) > limit for v in (p.old, p.new))
    if not long or p.old is None or p.new is None:
        return [f"{indent}{p.path}: {_short(p.old)} -> {_short(p.new)}{mark}"]
    diff = list(difflib.unified_diff(_lines(p.old), _lines(p.new), lineterm="", n=1))[2:]
    return [f"{indent}{p.path}: changed, line by line (- deployed, + local){mark}"] + [
        f"{indent}  {line}" for line in diff
    ]


def _summary(r: DiffReport) -> str:
    if not r.has_differences:
        return f"no differences: {r.stack_name} runs what the templates and parameter file say ({r.stacks} templates)"
    counts = {a: sum(1 for x in r.resources if x.action == a) for a in ("Add", "Modify", "Remove")}
    return (
        f"{len(r.changed_parameters)} parameter(s), {counts['Add']} to add, {counts['Modify']} to modify, "
        f"{counts['Remove']} to remove, {len(r.guarded)} guarded ({r.stacks} templates compared)"
    )


def render_text(r: DiffReport, *, quiet: bool = False) -> str:
    """The differences and the summary; ``quiet`` (-q) leaves out the heading."""
    lines = [] if quiet else [f"diff of {r.stack_name} (deployed -> local)"]
    if r.changed_parameters:
        lines.append("parameters:")
        lines += [
            f"  {p.key}: {_short(p.old)} -> {_short(p.new)}" + ("  (NoEcho)" if p.no_echo else "")
            for p in r.changed_parameters
        ]
    if r.conditions:
        lines.append("conditions:")
        lines += [f"  {c.stack or 'root'} {c.name}: {c.old} -> {c.new}" for c in r.conditions]
    sign = {"Add": "+", "Remove": "-", "Modify": "~"}
    if r.resources:
        lines.append("resources:")
    for c in r.resources:
        note = f"  replacement {c.replacement}" if c.replacement else ""
        guard = "  GUARDED" if c.guarded else ""
        lines.append(f"  {sign[c.action]} {c.where} ({c.resource_type}){note}{guard}")
        for p in c.properties:
            lines += _property_lines(p, "      ")
    if r.outputs:
        lines.append("outputs:")
        lines += [f"  {o.stack + '/' if o.stack else ''}{o.key}: {_short(o.old)} -> {_short(o.new)}" for o in r.outputs]
    if r.unreadable:
        lines.append(f"not compared (NoEcho, the deployed value is not readable): {', '.join(r.unreadable)}")
    lines.append(_summary(r))
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(r: DiffReport) -> str:
    lines = [f"### diff of `{r.stack_name}`", "", _summary(r), ""]
    if r.changed_parameters:
        lines += ["| Parameter | Deployed | Local |", "|---|---|---|"]
        lines += [f"| {p.key} | `{_md(_short(p.old))}` | `{_md(_short(p.new))}` |" for p in r.changed_parameters]
        lines.append("")
    if r.conditions:
        lines += ["| Stack | Condition | Deployed | Local |", "|---|---|---|---|"]
        lines += [f"| {c.stack or 'root'} | {c.name} | {c.old} | {c.new} |" for c in r.conditions]
        lines.append("")
    if r.resources:
        lines += [
            "| Action | Resource | Type | Replacement | Property | Deployed | Local |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in r.resources:
            repl = ("**guarded** " if c.guarded else "") + c.replacement
            rows = c.properties or [PropertyChange("")]
            for i, p in enumerate(rows):
                head = f"| {c.action} | `{c.where}` | {c.resource_type} | {repl} |" if i == 0 else "| | | | |"
                lines.append(
                    f"{head} {p.path} | `{_md(_short(p.old))}` | `{_md(_short(p.new))}` |"
                    if p.path
                    else f"{head} | | |"
                )
        lines.append("")
    if r.unreadable:
        lines.append(f"Not compared (NoEcho): {', '.join(r.unreadable)}")
    return "\n".join(lines).rstrip() + "\n"


def render_json(r: DiffReport, extra: dict | None = None) -> str:
    """``extra``: keys the command adds (the parameter file and values,
    cliopts.params_document). Here ``parameters`` is the comparison,
    deployed against local: the effective values go under ``values``, the
    key the change-set review's document gives them (deploy/review.py)."""
    extra = dict(extra or {})
    if "parameters" in extra:
        extra["values"] = extra.pop("parameters")
    return json.dumps({**r.to_dict(), **extra}, indent=2, default=str)
