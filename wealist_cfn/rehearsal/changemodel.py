"""Change-set details for the local endpoint, where moto reports too little.

For an UPDATE, moto's DescribeChangeSet lists only the root stack's rows as
``Action`` + ``LogicalResourceId`` + ``ResourceType``: no nested change sets,
no ``Replacement``, no ``Details``. AWS reports, for every nested stack, a
change set of its own, and for every row the properties that change, why,
and whether they recreate the resource (DescribeChangeSet API reference:
ResourceChange, ResourceChangeDetail, ResourceTargetDefinition; "Update
behaviors of stack resources" in the CloudFormation User Guide).

This module fills those in from a model of CloudFormation's update
semantics, and serves them through moto's own DescribeChangeSet, so the
client code reads the same shapes it reads from AWS:

* Both sides are resolved with :func:`wealist_cfn.cfn.model.resolve_set`:
  the deployed templates with the deployed parameter values, and the change
  set's templates with its values (Conditions evaluated, ``Fn::If`` picked).
  A resource in one side only is an ``Add`` or ``Remove``; one whose
  resolved properties (or DeletionPolicy / UpdateReplacePolicy / Metadata)
  differ is a ``Modify``.
* A changed property recreates the resource (``RequiresRecreation:
  Always``, ``Replacement: True``) when the type's resource schema lists it
  in ``createOnlyProperties`` (the schemas cfn-lint ships); otherwise
  ``Never``. A nested stack is always updated in place.
* A property whose new value names a resource that is added or replaced in
  the same update is only known while the change set runs: ``Evaluation:
  Dynamic``; if that property is create-only, the recreation is
  ``Conditionally`` (AWS's "Replacement: Conditional"). This follows values
  across stacks, since nested outputs resolve to the resources they name.
* Causes: ``ParameterReference <name>`` for each changed parameter the
  property reads (directly or through a Condition),
  ``ResourceReference <id>`` for a replaced or added resource it names, and
  ``DirectModification`` when only the template changed.

What the model does not know, and AWS does: replacement that depends on the
current value (some types document "Some interruptions" or conditional
replacement for a property not in ``createOnlyProperties``), and
pre-deployment validation. Rows it serves come in change sets named
``local-model-…``, by which the client marks the review as locally detailed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import uuid

from wealist_cfn.cfn import model as cfnmodel
from wealist_cfn.cfn import templates as templates_mod
from wealist_cfn.cfn import updaterules

LOCAL_MARK = "local-model-"
log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=None)
def create_only(resource_type: str, region: str) -> frozenset[str]:
    """Top-level properties of ``resource_type`` whose change replaces it."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except Exception:  # noqa: BLE001 - an unknown type has no schema: nothing known to force replacement
        return frozenset()
    return frozenset(p.split("/")[2] for p in schema.get("createOnlyProperties", []) if p.count("/") >= 2)


def _refs(node, template: dict) -> tuple[set[str], set[str]]:
    """(parameters, resources) an expression reads, Conditions followed."""
    params: set[str] = set()
    resources: set[str] = set()
    seen: set[str] = set()
    declared = template.get("Parameters", {})

    def cond(name):
        if name not in seen:
            seen.add(name)
            walk((template.get("Conditions") or {}).get(name))

    def walk(n):
        if isinstance(n, dict):
            for k, v in n.items():
                if k == "Ref" and isinstance(v, str):
                    (params if v in declared else resources).add(v)
                elif k == "Fn::GetAtt":
                    target = v[0] if isinstance(v, list) else str(v).split(".")[0]
                    resources.add(target)
                elif k == "Fn::Sub":
                    text = v[0] if isinstance(v, list) else v
                    for name in _sub_names(text):
                        (params if name in declared else resources).add(name.split(".")[0])
                    walk(v[1] if isinstance(v, list) and len(v) > 1 else None)
                elif k == "Fn::If" and isinstance(v, list) and v:
                    cond(v[0])
                    walk(v[1:])
                elif k == "Condition" and isinstance(v, str):
                    cond(v)
                else:
                    walk(v)
        elif isinstance(n, list):
            for v in n:
                walk(v)

    walk(node)
    return params, resources


def _sub_names(text) -> list[str]:
    import re

    return [m for m in re.findall(r"\$\{([^}!][^}]*)\}", text or "") if not m.startswith("AWS::")]


def _mentions(value, symbols: set[str]) -> bool:
    if isinstance(value, str):
        return any(value == s or value.startswith(s + ".") or s + "." in value or s in value.split() for s in symbols)
    if isinstance(value, dict):
        return any(_mentions(v, symbols) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, symbols) for v in value)
    return False


def _policy(res: dict, replace: bool) -> str:
    if replace:
        return {"Retain": "ReplaceAndRetain", "Snapshot": "ReplaceAndSnapshot"}.get(
            res.get("UpdateReplacePolicy", ""), "ReplaceAndDelete"
        )
    return {"Retain": "Retain", "RetainExceptOnCreate": "Retain", "Snapshot": "Snapshot"}.get(
        res.get("DeletionPolicy", ""), "Delete"
    )


def model(old: dict[str, cfnmodel.Stack], new: dict[str, cfnmodel.Stack], region: str) -> dict[str, list[dict]]:
    """ResourceChange dicts per stack path ("Root", "NetworkStack", ...)."""
    changed_params = {
        path: {
            p
            for p in set(s.params) | set(old[path].params if path in old else {})
            if path not in old or old[path].params.get(p) != s.params.get(p)
        }
        for path, s in new.items()
    }
    # Symbols (cfnmodel's "Path/LogicalId") of resources added or replaced; grows to a fixed point.
    moving: set[str] = set()
    for path, s in new.items():
        before = old.get(path)
        moving |= {f"{path}/{rid}" for rid in s.resources if before is None or rid not in before.resources}
    out: dict[str, list[dict]] = {}
    for _ in range(5):
        out, replaced = {}, set()
        for path, s in new.items():
            before = old.get(path)
            rows = []
            for rid, res in s.resources.items():
                prior = before.resources.get(rid) if before else None
                if prior is None:
                    rows.append({"Action": "Add", "LogicalResourceId": rid, "ResourceType": res["Type"]})
                    continue
                row = _modify(path, rid, prior, res, s.template, changed_params[path], moving, region)
                if row:
                    rows.append(row)
                    if row["Replacement"] in ("True", "Conditional"):
                        replaced.add(f"{path}/{rid}")
            for rid, res in before.resources.items() if before else ():
                if rid not in s.resources:
                    rows.append(
                        {
                            "Action": "Remove",
                            "LogicalResourceId": rid,
                            "ResourceType": res["Type"],
                            "PolicyAction": _policy(res, False),
                            "Scope": [],
                            "Details": [],
                        }
                    )
            out[path] = rows
        if replaced <= moving:
            break
        moving |= replaced
    return out


def _modify(path, rid, prior, res, template, changed, moving, region) -> dict | None:
    nested = res["Type"] == cfnmodel.NESTED
    once = create_only(res["Type"], region) if not nested else frozenset()
    raw = template.get("Resources", {}).get(rid, {})
    details, scope = [], []
    old_p, new_p = prior.get("Properties", {}), res.get("Properties", {})
    names = sorted(set(old_p) | set(new_p))
    for name in names:
        dynamic = _mentions(new_p.get(name), moving)
        if old_p.get(name) == new_p.get(name) and not dynamic:
            continue
        params, resources = _refs(raw.get("Properties", {}).get(name), template)
        causes = [("ParameterReference", p) for p in sorted(params & changed)]
        causes += [("ResourceReference", r) for r in sorted(resources) if f"{path}/{r}" in moving]
        if dynamic and not any(c[0] == "ResourceReference" for c in causes):
            causes.append(("ResourceAttribute", ""))
        if not causes:
            causes = [("DirectModification", "")]
        recreation = (
            ("Conditionally" if dynamic and old_p.get(name) == new_p.get(name) else "Always")
            if name in once
            else "Never"
        )
        kind = "Add" if name not in old_p else "Remove" if name not in new_p else "Modify"
        for source, entity in causes:
            d = {
                "Target": {
                    "Attribute": "Properties",
                    "Name": name,
                    "RequiresRecreation": recreation,
                    "Path": f"/Properties/{name}",
                    "AttributeChangeType": kind,
                },
                "Evaluation": "Dynamic" if dynamic else "Static",
                "ChangeSource": source,
            }
            if entity:
                d["CausingEntity"] = entity
            details.append(d)
        if "Properties" not in scope:
            scope.append("Properties")
    for attr in ("Metadata", "DeletionPolicy", "UpdateReplacePolicy"):
        if prior.get(attr) != res.get(attr):
            details.append(
                {
                    "Target": {"Attribute": attr, "RequiresRecreation": "Never"},
                    "Evaluation": "Static",
                    "ChangeSource": "DirectModification",
                }
            )
            scope.append(attr)
    if not details:
        return None
    recreations = {d["Target"]["RequiresRecreation"] for d in details}
    replacement = "True" if "Always" in recreations else "Conditional" if "Conditionally" in recreations else "False"
    row = {
        "Action": "Modify",
        "LogicalResourceId": rid,
        "ResourceType": res["Type"],
        "Replacement": replacement,
        "Scope": scope,
        "Details": details,
    }
    if replacement != "False":
        row["PolicyAction"] = _policy(res, True)
    return row


class _Templates(dict):
    """Templates by name; a missing one is read from moto's S3 by its TemplateURL."""

    def __init__(self, account: str, region: str, **kw):
        super().__init__(**kw)
        self.account, self.region = account, region

    def __missing__(self, url: str) -> dict:
        from moto.cloudformation.utils import get_stack_from_s3_url
        from moto.utilities.utils import get_partition

        body = templates_mod.load(
            get_stack_from_s3_url(url, account_id=self.account, partition=get_partition(self.region))
        )
        self[url] = body
        return body


def _values(params: dict) -> dict:
    return {k: v for k, v in (params or {}).items()}


def install() -> str:
    """Wrap moto's change-set diff (after the compat layer's) so UPDATE
    change sets carry the model's rows, details and nested change sets."""
    from moto.cloudformation import models

    inner = models.ChangeSet.diff

    def diff(self):
        if self.change_set_type == "UPDATE" and _unchanged(self):
            # Same root template (whose nested TemplateURLs name content-addressed
            # files) and same parameters: nothing can change, as AWS also answers.
            return []
        changes = inner(self)
        if self.change_set_type != "UPDATE":
            return changes
        try:
            return _detailed(self, models)
        except Exception:  # noqa: BLE001 - a model gap falls back to moto's own rows, logged
            log.exception("local change-set model failed for %s; moto's rows are served", self.change_set_name)
            return changes

    models.ChangeSet.diff = diff

    execute = models.CloudFormationBackend.execute_change_set

    def execute_change_set(self, change_set_name, stack_name=None):
        cs = self.change_sets.get(change_set_name) or next(
            (c for c in self.change_sets.values() if c.change_set_name == change_set_name), None
        )
        refused = getattr(cs, "refused_by", None) if cs is not None else None
        if not refused:
            return execute(self, change_set_name, stack_name)
        # What AWS does when the service refuses the update: the resource's
        # update fails, the stack rolls back, nothing changes (the events
        # carry the service's message). moto has no rollback: nothing is
        # applied, and the events and the status say what AWS would.
        stack = self.stacks[cs.stack_id]
        where, rule = refused[0]
        stack._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
        stack._add_stack_event(
            "UPDATE_ROLLBACK_IN_PROGRESS",
            resource_status_reason=f"{where}: {rule.service_error} (local model of {rule.sources[0]})",
        )
        stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
        cs.execution_status = "EXECUTE_FAILED"

    models.CloudFormationBackend.execute_change_set = execute_change_set
    return "change-set-model"


def _unchanged(cs) -> bool:
    rmap = cs.stack.resource_map
    current = getattr(rmap, "_template", None) or cs.stack.template_dict
    params = getattr(rmap, "input_parameters", None) or cs.stack.parameters
    return current == cs.template_dict and dict(params or {}) == dict(cs.parameters or {})


def _template_by_content(root: cfnmodel.Stack, loaded: "_Templates") -> None:
    """Name each nested template by its content, not its URL: the plan/ and
    deploy/ prefixes hold the same content-addressed files, and a URL that
    names the same template changes nothing inside the nested stack."""
    for res in root.resources.values():
        props = res.get("Properties", {})
        if res["Type"] == cfnmodel.NESTED and isinstance(props.get("TemplateURL"), str):
            body = json.dumps(loaded[props["TemplateURL"]], sort_keys=True, default=str)
            props["TemplateURL"] = "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def _detailed(cs, models) -> list:
    stack = cs.stack
    account, region = stack.account_id, stack.region_name
    loaded = _Templates(account, region)
    # What the stack runs now: an executed change set updates the resource
    # map's template and parameters, not the Stack object's own copies.
    rmap = stack.resource_map
    loaded["root"] = getattr(rmap, "_template", None) or stack.template_dict
    current = getattr(rmap, "input_parameters", None) or stack.parameters
    old = cfnmodel.resolve_set(loaded, _values(current), root_name="root", region=region)
    _template_by_content(old["Root"], loaded)
    loaded["root"] = cs.template_dict
    new = cfnmodel.resolve_set(loaded, _values(cs.parameters), root_name="root", region=region)
    _template_by_content(new["Root"], loaded)
    rows = model(old, new, region)
    # Combinations the service refuses in one update (cfn/updaterules.py):
    # executing this change set fails as it would on AWS.
    cs.refused_by = [
        (f"{path}/{row['LogicalResourceId']}", rule)
        for path, path_rows in rows.items()
        for row in path_rows
        if row["Action"] == "Modify"
        for rule in updaterules.violations_in(
            row["ResourceType"], {d["Target"].get("Name") for d in row.get("Details", [])}
        )
    ]
    backend = models.cloudformation_backends[account][region]
    parsed = getattr(stack.resource_map, "_parsed_resources", {})
    changes = []
    for row in rows["Root"]:
        rid = row["LogicalResourceId"]
        if row["ResourceType"] == cfnmodel.NESTED and row["Action"] == "Modify" and rid in rows:
            child = parsed.get(rid)
            if child is not None and getattr(child, "stack_id", None):
                row["ChangeSetId"] = _nested(cs, child, rid, rows[rid], backend, models, parsed_of=child)
        changes.append(_change(models, row, parsed))
    # A nested stack whose insides change while its own properties do not still updates.
    listed = {r["LogicalResourceId"] for r in rows["Root"]}
    for rid, inside in rows.items():
        if rid != "Root" and inside and rid not in listed and rid in parsed:
            row = {
                "Action": "Modify",
                "LogicalResourceId": rid,
                "ResourceType": cfnmodel.NESTED,
                "Replacement": "False",
                "Scope": [],
                "Details": [],
            }
            row["ChangeSetId"] = _nested(cs, parsed[rid], rid, inside, backend, models, parsed_of=parsed[rid])
            changes.append(_change(models, row, parsed))
    return changes


def _change(models, row: dict, parsed: dict):
    c = models.Change(
        action=row["Action"], logical_resource_id=row["LogicalResourceId"], resource_type=row["ResourceType"]
    )
    c.replacement = row.get("Replacement")
    c.policy_action = row.get("PolicyAction")
    c.scope = row.get("Scope")
    c.details = row.get("Details")
    c.change_set_id = row.get("ChangeSetId")
    physical = getattr(parsed.get(row["LogicalResourceId"]), "physical_resource_id", None)
    if row["Action"] != "Add" and isinstance(physical, str):
        c.physical_resource_id = physical
    return c


def _nested(cs, child_stack, rid: str, rows: list[dict], backend, models, parsed_of) -> str:
    """Register a describable change set for a nested stack; return its ARN."""
    name = f"{LOCAL_MARK}{rid}-{uuid.uuid4().hex[:8]}"
    arn = f"{child_stack.stack_id.split(':stack/')[0]}:changeSet/{name}/{uuid.uuid4()}"
    nested = object.__new__(models.ChangeSet)
    nested.__dict__.update({k: v for k, v in cs.__dict__.items() if k != "changes"})
    inner_parsed = getattr(getattr(parsed_of, "resource_map", None), "_parsed_resources", {})
    nested.__dict__.update(
        change_set_id=arn,
        change_set_name=name,
        stack=child_stack,
        stack_id=child_stack.stack_id,
        stack_name=child_stack.name,
        parameters={},
        description=f"{cs.change_set_name} ({rid}, detailed by the local model)",
        changes=[_change(models, r, inner_parsed) for r in rows],
        status="CREATE_COMPLETE",
        execution_status="AVAILABLE",
        status_reason=None,
    )
    nested.parent_change_set_id = cs.change_set_id
    nested.root_change_set_id = cs.change_set_id
    backend.change_sets[arn] = nested
    return arn


__all__ = ["LOCAL_MARK", "create_only", "install", "model"]
