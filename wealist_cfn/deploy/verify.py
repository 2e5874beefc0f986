"""Proof that a change set this run did not create holds exactly what this
checkout builds, before ``deploy`` executes it (``--change-set NAME``,
``--change-set reviewed``).

A change set on the stack may have been made by anyone who may call
CreateChangeSet on it: a pull request's plan role may, with any template,
parameters and Description. Executed, it runs with the role associated with
the stack (the service role), "even if the users don't have permission to
pass it" (CreateChangeSet API reference, ``RoleARN``). So nothing it says
about itself is evidence: not its name, not its Description (free text its
creator wrote). What is compared, read back from CloudFormation:

* ``Capabilities`` (DescribeChangeSet): exactly the set this deploy passes.
* what else executing would apply that this deploy never sends: ``Tags``
  (applied to the stack and its resources) other than its own,
  ``NotificationARNs``, rollback triggers, ``ImportExistingResources``, a
  ``DeploymentMode``, or an ``Import`` row anywhere (DescribeChangeSet,
  ResourceChange ``Action``).
* the stack's role: DescribeChangeSet does not return the change set's
  ``RoleARN`` (it is not in the API's DescribeChangeSetOutput), and a change
  set made without one runs with the role already associated with the stack.
  So the stack's ``RoleARN`` (DescribeStacks) must be the service role this
  deploy would pass. A change set made *with* a RoleARN cannot be told apart;
  only a principal with ``iam:PassRole`` can make one, and in this project
  only the deploy role holds it, for the service role alone
  (templates/github-oidc.yaml).
* the root's ``Parameters`` (DescribeChangeSet) against the parameter file,
  list parameters as lists. A NoEcho parameter comes back as ``****``
  (API_Parameter; the template's ``NoEcho``): it cannot be compared, so a
  change set that carries one is not proven. This project passes no secret
  as a parameter (secrets are ``{{resolve:ssm-secure:...}}`` references in
  the templates, which CloudFormation keeps and returns literally: "Dynamic
  references", CloudFormation User Guide), so they are compared as template
  text below.
* the templates: GetTemplate(ChangeSetName=<ID>, TemplateStage=Original) of
  the root change set ("For change sets, the Original template is always
  available", GetTemplate API reference), compared as data with the packaged
  root; each nested stack's ``TemplateURL`` is compared by what it resolves
  to, never by its text (a plan packages under ``plan/``, a deploy under
  ``deploy/``, with other version IDs):
  - a nested stack the change set changes has a nested change set
    (``ChangeSetId`` on its row; IncludeNestedStacks): its own GetTemplate;
  - a nested stack it does not change keeps its deployed template:
    GetTemplate of that stack (DescribeStackResource gives its ID);
  - a changed nested stack whose row names no nested change set (a change
    set made without IncludeNestedStacks) cannot be read, so it is not
    proven.

The first difference found is the answer, as one line naming it; the
library returns data and the caller decides (exit 3, nothing executed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import botocore.exceptions
import yaml

from ..aws import Aws, error_code, error_message
from ..cfnmodel import NESTED
from . import review as review_mod
from . import templates as tpl

MASKED = "****"  # a NoEcho value as DescribeChangeSet returns it
_URL = "<TemplateURL: compared by the template it resolves to>"


@dataclass(frozen=True)
class Expected:
    """What this checkout would send in a change set of its own."""
    root_name: str
    templates: Mapping[str, dict]  # file name -> packaged template (TemplateURLs rewritten)
    child_files: Mapping[str, str]  # nested path ("DatabaseStack", "A/B") -> file name
    parameters: Mapping[str, str]
    capabilities: frozenset[str]
    role_arn: str | None  # None: this deploy passes none (the stack's own role is used either way)
    no_echo: frozenset[str] = frozenset()
    tags: frozenset[tuple[str, str]] | None = None  # None: not compared


@dataclass
class Verdict:
    """The answer for one change set: ``difference`` is None when proven."""
    name: str
    change_set_id: str
    difference: str | None = None
    calls: int = 0  # API calls the proof took
    read: list[str] = field(default_factory=list)  # the stacks whose templates were compared

    @property
    def ok(self) -> bool:
        return self.difference is None

    def line(self) -> str:
        return f"change set {self.name}: " + (self.difference or "proven to hold what this checkout builds")


class _Differs(Exception):
    """The first difference; ends the walk."""


def first_difference(theirs: Any, ours: Any, path: str = "") -> str | None:
    """The dotted path of the first place two parsed templates differ (keys
    in sorted order, so the answer does not depend on key order), with
    ``(only in the change set)`` / ``(missing from the change set)`` for a
    key on one side; None when they are equal."""
    if isinstance(theirs, Mapping) and isinstance(ours, Mapping):
        for key in sorted(set(theirs) | set(ours), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in ours:
                return f"{where} (only in the change set)"
            if key not in theirs:
                return f"{where} (missing from the change set)"
            found = first_difference(theirs[key], ours[key], where)
            if found:
                return found
        return None
    if isinstance(theirs, list) and isinstance(ours, list):
        if len(theirs) != len(ours):
            return f"{path or '(top)'} ({len(theirs)} items in the change set, {len(ours)} here)"
        for i, (a, b) in enumerate(zip(theirs, ours)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if theirs == ours and type(theirs) is type(ours) else (path or "(top)")


def _normalised(template: Any, packaged: set[str]) -> Any:
    """A copy with the TemplateURL of each nested stack in ``packaged`` (the
    ones this checkout packages) replaced by a marker: such a child is
    compared by content, separately. Any other URL is compared as written."""
    if not isinstance(template, Mapping):
        return template
    out = dict(template)
    resources = template.get("Resources")
    if isinstance(resources, Mapping):
        out["Resources"] = {}
        for lid, res in resources.items():
            if lid in packaged and isinstance(res, Mapping) and res.get("Type") == NESTED and \
                    isinstance(res.get("Properties"), Mapping) and "TemplateURL" in res["Properties"]:
                res = dict(res, Properties=dict(res["Properties"], TemplateURL=_URL))
            out["Resources"][lid] = res
    return out


def _body(resp: dict) -> Any:
    """GetTemplate's TemplateBody: a string (YAML or JSON), or, for a JSON
    template, the document botocore already decoded."""
    body = resp.get("TemplateBody")
    if isinstance(body, Mapping):
        return body
    if not isinstance(body, str):
        raise _Differs("GetTemplate returned no template body")
    try:
        return tpl.load(body)
    except (yaml.YAMLError, ValueError) as exc:
        raise _Differs(f"its template is not readable ({type(exc).__name__})") from None


class _Proof:
    def __init__(self, aws: Aws, expected: Expected):
        self.aws, self.expected = aws, expected
        self.calls = 0
        self.read: list[str] = []

    def call(self, method: str, **kw) -> dict:
        self.calls += 1
        try:
            return getattr(self.aws.cfn, method)(**kw)
        except botocore.exceptions.ClientError as exc:
            raise _Differs(f"{method} ({', '.join(f'{k}={v}' for k, v in kw.items())}) failed: "
                           f"{error_code(exc)}: {error_message(exc)}; nothing can be proven") from None

    def head_and_changes(self, change_set_id: str) -> tuple[dict, list[dict]]:
        head, changes, token = None, [], None
        while True:
            kw = {"ChangeSetName": change_set_id}
            if token:
                kw["NextToken"] = token
            page = self.call("describe_change_set", **kw)
            head = head or page
            changes += page.get("Changes", []) or []
            token = page.get("NextToken")
            if not token:
                return head, changes

    # -- what the root change set declares ----------------------------------------------------

    def capabilities(self, head: dict) -> None:
        theirs = frozenset(head.get("Capabilities") or [])
        if theirs != self.expected.capabilities:
            missing = sorted(self.expected.capabilities - theirs)
            extra = sorted(theirs - self.expected.capabilities)
            parts = ([f"lacks {', '.join(missing)}"] if missing else []) + \
                    ([f"adds {', '.join(extra)}"] if extra else [])
            raise _Differs(f"capabilities differ from what this deploy passes ({'; '.join(parts)})")

    def options(self, head: dict) -> None:
        """What executing would apply besides templates and parameters, which
        a change set of this deploy never carries."""
        if head.get("ImportExistingResources"):
            raise _Differs("it imports existing resources (ImportExistingResources), which this deploy never does")
        if head.get("DeploymentMode"):
            raise _Differs(f"it was made with DeploymentMode {head['DeploymentMode']}, which this deploy never uses")
        if head.get("NotificationARNs"):
            raise _Differs("it sets notification topics (NotificationARNs), which this deploy does not")
        rollback = head.get("RollbackConfiguration") or {}
        if rollback.get("RollbackTriggers") or rollback.get("MonitoringTimeInMinutes"):
            raise _Differs("it sets rollback triggers (RollbackConfiguration), which this deploy does not")
        if self.expected.tags is not None:
            theirs = frozenset((t.get("Key"), t.get("Value")) for t in head.get("Tags") or [])
            if theirs != self.expected.tags:
                keys = sorted({k for k, _ in theirs ^ self.expected.tags}, key=str)
                raise _Differs(f"its tags differ from this deploy's ({', '.join(map(str, keys))})")

    def no_imports(self, changes: list[dict], path: str) -> None:
        for c in changes:
            rc = c.get("ResourceChange") or {}
            if rc.get("Action") == "Import":
                where = f"{path}/{rc.get('LogicalResourceId')}" if path else rc.get("LogicalResourceId")
                raise _Differs(f"it imports {where} (Action Import), which this deploy never does")

    def role(self, stack_role: str | None) -> None:
        want = self.expected.role_arn
        if want and stack_role != want:
            have = f"the stack's role is {stack_role}" if stack_role else "the stack has no role associated"
            raise _Differs(f"{have}, not the service role {want} this deploy passes; a change set runs with "
                           f"the stack's role when it was made without one")

    def parameters(self, head: dict) -> None:
        theirs = {p.get("ParameterKey"): p.get("ParameterValue") for p in head.get("Parameters") or []}
        ours = dict(self.expected.parameters)
        for key in sorted(set(theirs) | set(ours)):
            if key not in ours:
                raise _Differs(f"parameter {key} is not in the parameter file")
            if key not in theirs:
                raise _Differs(f"parameter {key} is missing from the change set")
            have, want = theirs[key], ours[key]
            if have == MASKED and key in self.expected.no_echo:
                raise _Differs(f"parameter {key} is NoEcho and comes back masked ({MASKED}): its value cannot "
                               f"be proven")
            if have is None or review_mod.list_value(have).replace(" ", "") != \
                    review_mod.list_value(want).replace(" ", ""):
                # Values are never printed: one may be a secret in another project's file.
                raise _Differs(f"parameter {key} differs from the parameter file")

    # -- templates --------------------------------------------------------------------------

    def template(self, theirs: Any, path: str, file_name: str, rows: dict[str, dict], stack_id: str) -> None:
        ours = self.expected.templates[file_name]
        label = f"nested template {path}" if path else "root template"
        paths = {lid: f"{path}/{lid}" if path else lid for lid in tpl.nested_stacks(ours)}
        children = {lid: self.expected.child_files[p] for lid, p in paths.items() if p in self.expected.child_files}
        where = first_difference(_normalised(theirs, set(children)), _normalised(ours, set(children)))
        if where:
            raise _Differs(f"{label} differs from what this checkout builds ({where})")
        self.read.append(path or "root")
        for lid, child_file in children.items():
            child_path = f"{path}/{lid}" if path else lid
            row = rows.get(lid)
            if row is not None and row.get("ChangeSetId"):
                nested_id = row["ChangeSetId"]
                body = _body(self.call("get_template", ChangeSetName=nested_id, TemplateStage="Original"))
                head, changes = self.head_and_changes(nested_id)
                self.no_imports(changes, child_path)
                self.template(body, child_path, child_file, _nested_rows(changes), head.get("StackId", ""))
            elif row is not None:
                raise _Differs(f"nested stack {child_path} is changed ({row.get('Action', '?')}) but names no "
                               f"nested change set, so the template it would run cannot be read (made without "
                               f"IncludeNestedStacks?)")
            else:
                # Unchanged by the change set: it keeps the template it runs now.
                res = self.call("describe_stack_resource", StackName=stack_id, LogicalResourceId=lid)
                child_id = res.get("StackResourceDetail", {}).get("PhysicalResourceId", "")
                if not child_id:
                    raise _Differs(f"nested stack {child_path} has no stack yet and no nested change set")
                body = _body(self.call("get_template", StackName=child_id, TemplateStage="Original"))
                self.template(body, child_path, child_file, {}, child_id)


def _nested_rows(changes: list[dict]) -> dict[str, dict]:
    """Logical ID -> ResourceChange of each nested stack's row."""
    out = {}
    for c in changes:
        rc = c.get("ResourceChange") or {}
        if c.get("Type", "Resource") == "Resource" and rc.get("ResourceType") == NESTED:
            out[rc.get("LogicalResourceId")] = rc
    return out


def prove(aws: Aws, change_set_id: str, expected: Expected, *, name: str = "", stack_id: str,
          stack_role: str | None) -> Verdict:
    """Compare the change set with what this checkout builds; the verdict
    names the first difference (or none). ``stack_id``: the stack it is on;
    ``stack_role``: that stack's RoleARN (DescribeStacks)."""
    proof = _Proof(aws, expected)
    verdict = Verdict(name or change_set_id, change_set_id)
    try:
        head, changes = proof.head_and_changes(change_set_id)
        verdict.name = name or head.get("ChangeSetName") or change_set_id
        if head.get("StackId") and stack_id and head["StackId"] != stack_id:
            raise _Differs(f"it belongs to another stack ({head['StackId']})")
        proof.capabilities(head)
        proof.options(head)
        proof.no_imports(changes, "")
        proof.role(stack_role)
        proof.parameters(head)
        body = _body(proof.call("get_template", ChangeSetName=change_set_id, TemplateStage="Original"))
        proof.template(body, "", expected.root_name, _nested_rows(changes), stack_id)
    except _Differs as exc:
        verdict.difference = str(exc)
    verdict.calls, verdict.read = proof.calls, proof.read
    return verdict
