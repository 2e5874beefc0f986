"""Proof that a change set this run did not create holds exactly what this
checkout builds, before ``deploy`` executes it (``--change-set NAME``,
``--change-set reviewed``).

A change set on the stack may have been made by anyone who may call
CreateChangeSet on it: a pull request's plan role may, with any template,
parameters, options and Description. Executed, it runs with the role
associated with the stack (the service role), "even if the users don't have
permission to pass it" (CreateChangeSet API reference, ``RoleARN``). So
nothing it says about itself is evidence: not its name, not its Description
(free text its creator wrote). What is compared, read back from
CloudFormation:

* ``Capabilities`` (DescribeChangeSet): exactly the set this deploy passes.
* what else executing would apply that this deploy never sends: ``Tags``
  (applied to the stack and its resources) other than its own,
  ``NotificationARNs``, rollback triggers, ``ImportExistingResources``, a
  ``DeploymentMode``, a ``DeploymentConfig`` other than the defaults
  (``Mode`` STANDARD, ``DisableRollback`` false: EXPRESS ends the operation
  before resources serve, DisableRollback leaves a failed update in place;
  API_DeploymentConfig), an ``OnStackFailure`` other than ROLLBACK
  (DO_NOTHING leaves a failed operation in place, DELETE deletes a failed
  new stack; CreateChangeSet ``OnStackFailure``), or an ``Import`` row
  anywhere (ResourceChange ``Action``). These members exist only where the
  installed botocore's model of DescribeChangeSetOutput has them: its parser
  drops a member it does not know, so an absent member would read as "not
  set". The proof therefore refuses when the model lacks any member it reads
  (:data:`READ_MEMBERS`).
* ``IncludeNestedStacks`` true on the root change set and on every nested
  one: without it the nested stacks' changes are not computed into nested
  change sets, yet executing still updates them (aws/aws-cli#6949), so what
  they would run cannot be read.
* the stack's role: DescribeChangeSet does not return the change set's
  ``RoleARN`` (it is not in the API's DescribeChangeSetOutput), and a change
  set made without one runs with the role already associated with the stack.
  So the stack's ``RoleARN`` (DescribeStacks) must be the service role this
  deploy would pass. A change set made *with* a RoleARN cannot be told apart;
  only a principal with ``iam:PassRole`` can make one, and in this project
  only the deploy role holds it, for the service role alone
  (templates/github-oidc.yaml).
* the root's ``Parameters`` (DescribeChangeSet) against the parameter file:
  a ``List<...>``/``CommaDelimitedList`` parameter item by item (split on
  commas, each item stripped: how CloudFormation splits it), every other
  parameter exactly. A parameter whose value is empty may come back as
  ``""`` or without ``ParameterValue``; both are read as empty. A NoEcho
  parameter comes back as ``****`` (API_Parameter): it cannot be compared,
  so a change set that carries one is not proven. This project passes no
  secret as a parameter (secrets are ``{{resolve:ssm-secure:...}}``
  references, which CloudFormation keeps and returns literally: "Dynamic
  references", CloudFormation User Guide), so they are compared as template
  text below. A parameter of an ``AWS::SSM::Parameter::Value<...>`` type was
  resolved when the change set was made (``ResolvedValue``); the verdict
  lists those values (:attr:`Verdict.resolved`) so the review can say that an
  older change set deploys what the SSM parameter held then.
* the templates: GetTemplate(ChangeSetName=<ID>, TemplateStage=Original) of
  the root change set ("For change sets, the Original template is always
  available", GetTemplate API reference). A template whose packaged bytes
  are the committed file (a leaf: package.py uploads it verbatim) must come
  back byte for byte. The root and any child that nests stacks are parsed
  with a strict loader (no merge keys, anchors, aliases or duplicate keys,
  and only CloudFormation's short-form tags: CloudFormation does not expand
  YAML merge keys, which PyYAML's SafeLoader does (cfn-lint W1100, PR
  aws-cloudformation/cfn-lint#4028), and rejects aliases ("YAML aliases are
  not allowed in CloudFormation templates")), then compared as data with
  each packaged nested ``TemplateURL`` set aside. Each of those URLs must be
  either, as text, the URL the deployed parent names for that child, or this
  project's artifact bucket with a ``versionId`` whose object bytes
  (GetObject with ``VersionId``) hash to the packaged child's; never a URL
  whose bytes someone can still change. Then, by what it resolves to:
  - a nested stack the change set changes has a nested change set
    (``ChangeSetId`` on its row): its own GetTemplate, recursively;
  - a nested stack it does not change keeps its deployed template:
    GetTemplate of that stack (DescribeStackResource gives its ID);
  - a changed nested stack whose row names no nested change set cannot be
    read, so it is not proven.

The first difference found is the answer, as one line naming it; the
library returns data and the caller decides (exit 3, nothing executed). An
API error (throttling, AccessDenied, a broken connection) is no difference:
it raises :class:`~..errors.CommandError` (exit 1) naming the call, so a
caller never mistakes it for a refusal or falls back on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import parse_qs, urlsplit

import botocore.exceptions
import yaml

from wealist_cfn.aws import pages
from wealist_cfn.cfn import templates as tpl
from wealist_cfn.cfn.model import NESTED

from ..aws import Aws, error_code, error_message
from ..errors import EXIT_FAILED, CommandError
from . import review as review_mod

MASKED = "****"  # a NoEcho value as DescribeChangeSet returns it
_URL = "<TemplateURL: checked on its own>"
# DescribeChangeSetOutput members the proof reads; botocore drops what its
# model lacks, so each must be in the installed model or nothing is proven.
READ_MEMBERS = (
    "Capabilities",
    "Parameters",
    "Tags",
    "NotificationARNs",
    "RollbackConfiguration",
    "ImportExistingResources",
    "DeploymentMode",
    "DeploymentConfig",
    "OnStackFailure",
    "IncludeNestedStacks",
    "Changes",
    "StackId",
)
# API_DeploymentConfig: the defaults, which is what this deploy (sending none) gets.
DEPLOYMENT_DEFAULTS = {"Mode": "STANDARD", "DisableRollback": False}
# CloudFormation's short-form intrinsic function tags (User Guide, "Intrinsic
# function reference"): the only explicit tags a template may carry.
SHORT_FORMS = frozenset(
    "!" + n
    for n in (
        "Ref",
        "Condition",
        "Base64",
        "Cidr",
        "FindInMap",
        "GetAtt",
        "GetAZs",
        "ImportValue",
        "Join",
        "Select",
        "Split",
        "Sub",
        "Transform",
        "And",
        "Equals",
        "If",
        "Not",
        "Or",
        "Length",
        "ToJsonString",
        "ForEach",
    )
)


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
    texts: Mapping[str, str] = field(default_factory=dict)  # file name -> the packaged bytes (as text)
    bucket: str = ""  # the artifact bucket this deploy packages to
    list_parameters: frozenset[str] = frozenset()  # List<...> and CommaDelimitedList parameters
    # The alarm names a rollback trigger may name (triggers.alarm_names) and the
    # monitoring time this deploy computes (triggers.monitoring_minutes).
    # Empty: this deploy sends no triggers (--no-rollback-triggers), so none may be there.
    rollback_alarms: frozenset[str] = frozenset()
    monitoring_minutes: int = 0


@dataclass
class Verdict:
    """The answer for one change set: ``difference`` is None when proven."""

    name: str
    change_set_id: str
    difference: str | None = None
    calls: int = 0  # API calls the proof took
    read: list[str] = field(default_factory=list)  # the stacks whose templates were compared
    resolved: dict[str, str] = field(default_factory=dict)  # "Stack/Param" -> ResolvedValue at creation
    notes: list[str] = field(default_factory=list)  # what the review says of a proven change set

    @property
    def ok(self) -> bool:
        return self.difference is None

    def line(self) -> str:
        return f"change set {self.name}: " + (self.difference or "proven to hold what this checkout builds")


class _Differs(Exception):
    """The first difference; ends the walk."""


def missing_members(client) -> list[str]:
    """The members of :data:`READ_MEMBERS` that the client's model of
    DescribeChangeSetOutput lacks (its parser would drop them)."""
    shape = client.meta.service_model.operation_model("DescribeChangeSet").output_shape
    return [m for m in READ_MEMBERS if m not in shape.members]


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


# -- reading a template the way CloudFormation does ----------------------------------------------


class StrictYamlError(ValueError):
    """A YAML feature CloudFormation does not read as PyYAML would."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without what CloudFormation does not do: ``<<`` merge keys
    (expanded by PyYAML, kept as a key or refused by CloudFormation), anchors
    and aliases, duplicate keys (PyYAML keeps the last), and any explicit tag
    but CloudFormation's short forms (``!!binary``, ``!!set``, ...)."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise StrictYamlError(f"an alias *{event.anchor} (line {event.start_mark.line + 1})")
        if getattr(event, "anchor", None):
            raise StrictYamlError(f"an anchor &{event.anchor} (line {event.start_mark.line + 1})")
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and tag not in SHORT_FORMS:
            raise StrictYamlError(f"the tag {tag} (line {event.start_mark.line + 1})")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise StrictYamlError(f"a merge key << (line {key_node.start_mark.line + 1})")
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise StrictYamlError(f"the duplicate key {key} (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_multi_constructor("!", tpl._construct)


def strict_load(text: str) -> dict:
    """Parse a template as CloudFormation reads it, refusing what it would
    read otherwise than PyYAML (:class:`StrictYamlError`)."""
    data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict):
        raise ValueError("a template must be a mapping")
    return data


def _normalised(template: Any, packaged: set[str]) -> Any:
    """A copy with the TemplateURL of each nested stack in ``packaged`` (the
    ones this checkout packages) replaced by a marker: such a URL is checked
    on its own, and the child by content. Any other URL is compared as
    written."""
    if not isinstance(template, Mapping):
        return template
    out = dict(template)
    resources = template.get("Resources")
    if isinstance(resources, Mapping):
        out["Resources"] = {}
        for lid, res in resources.items():
            if (
                lid in packaged
                and isinstance(res, Mapping)
                and res.get("Type") == NESTED
                and isinstance(res.get("Properties"), Mapping)
                and "TemplateURL" in res["Properties"]
            ):
                res = dict(res, Properties=dict(res["Properties"], TemplateURL=_URL))
            out["Resources"][lid] = res
    return out


def _child_url(template: Any, lid: str) -> Any:
    try:
        return template["Resources"][lid]["Properties"]["TemplateURL"]
    except (KeyError, TypeError):
        return None


def _is_list_type(declared: Any) -> bool:
    t = str(declared.get("Type", "")) if isinstance(declared, Mapping) else ""
    return t == "CommaDelimitedList" or t.startswith("List<")


def list_parameters(root: Mapping) -> frozenset[str]:
    """The root's parameters whose type is a list (``List<...>``,
    ``CommaDelimitedList``)."""
    return frozenset(k for k, v in (root.get("Parameters") or {}).items() if _is_list_type(v))


def _items(value: str) -> list[str]:
    # CloudFormation splits a list parameter on commas; spaces around items
    # are not part of them. moto renders a list as "['a', 'b']" (review.list_value).
    return [i.strip() for i in review_mod.list_value(value).split(",")]


class _Proof:
    def __init__(self, aws: Aws, expected: Expected):
        self.aws, self.expected = aws, expected
        self.calls = 0
        self.read: list[str] = []
        self.resolved: dict[str, str] = {}
        self._deployed: dict[str, Any] = {}  # stack ID -> its deployed template
        self.notes: list[str] = []
        self.stack_arn = ""  # the root stack's ID (an ARN: its partition, region and account)

    def call(
        self, method: str, *, service: str = "cloudformation", absent: tuple[str, ...] = (), paged: str = "", **kw
    ) -> Any:
        """One API call. An error whose code is in ``absent`` means the thing
        is not there (a content answer, :class:`_Differs`); any other is an
        API error: exit 1, never a refusal. ``paged``: read every page
        (botocore's paginator, bounded: wealist_cfn.aws.pages) and return the
        first page with the ``paged`` lists of all pages joined."""
        args = ", ".join(f"{k}={v}" for k, v in kw.items() if k != "ExpectedBucketOwner")
        client = self.aws.client(service)
        try:
            if not paged:
                self.calls += 1
                return getattr(client, method)(**kw)
            first, items = None, []
            for page in pages.pages(client, method, **kw):
                self.calls += 1
                first = first or page
                items += page.get(paged, []) or []
            return first, items
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in absent:
                raise _Differs(f"{method} ({args}): {error_code(exc)}: {error_message(exc)}") from None
            raise CommandError(
                f"proving the change set: {method} ({args}) failed: {error_code(exc)}: "
                f"{error_message(exc)}; nothing was executed",
                EXIT_FAILED,
            ) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise CommandError(
                f"proving the change set: {method} ({args}) failed: {exc}; nothing was executed", EXIT_FAILED
            ) from None

    def head_and_changes(self, change_set_id: str, path: str) -> tuple[dict, list[dict]]:
        head, changes = self.call("describe_change_set", ChangeSetName=change_set_id, paged="Changes")
        for p in head.get("Parameters") or []:
            if p.get("ResolvedValue") is not None:
                self.resolved[f"{path}/{p.get('ParameterKey')}" if path else p.get("ParameterKey")] = p["ResolvedValue"]
        return head, changes

    @staticmethod
    def include_nested(head: dict, path: str) -> None:
        if head.get("IncludeNestedStacks") is not True:
            where = f"its nested change set for {path}" if path else "it"
            raise _Differs(
                f"{where} was made without IncludeNestedStacks, so what its nested stacks would run "
                f"cannot be read (executing still updates them)"
            )

    # -- what the root change set declares ----------------------------------------------------

    def capabilities(self, head: dict) -> None:
        theirs = frozenset(head.get("Capabilities") or [])
        if theirs != self.expected.capabilities:
            missing = sorted(self.expected.capabilities - theirs)
            extra = sorted(theirs - self.expected.capabilities)
            parts = ([f"lacks {', '.join(missing)}"] if missing else []) + (
                [f"adds {', '.join(extra)}"] if extra else []
            )
            raise _Differs(f"capabilities differ from what this deploy passes ({'; '.join(parts)})")

    def options(self, head: dict) -> None:
        """What executing would apply besides templates and parameters, which
        a change set of this deploy never carries."""
        if head.get("ImportExistingResources"):
            raise _Differs("it imports existing resources (ImportExistingResources), which this deploy never does")
        if head.get("DeploymentMode"):
            raise _Differs(f"it was made with DeploymentMode {head['DeploymentMode']}, which this deploy never uses")
        config = head.get("DeploymentConfig")
        if config is not None:
            other = {k: v for k, v in config.items() if k not in DEPLOYMENT_DEFAULTS or v != DEPLOYMENT_DEFAULTS[k]}
            if other:
                said = ", ".join(f"{k} {v}" for k, v in sorted(other.items()))
                raise _Differs(
                    f"it was made with DeploymentConfig {said}; this deploy uses the defaults (Mode "
                    f"STANDARD, DisableRollback false)"
                )
        if head.get("OnStackFailure") not in (None, "ROLLBACK"):
            raise _Differs(
                f"it was made with OnStackFailure {head['OnStackFailure']}; this deploy rolls a failure back (ROLLBACK)"
            )
        if head.get("NotificationARNs"):
            raise _Differs("it sets notification topics (NotificationARNs), which this deploy does not")
        self.rollback(head)
        if self.expected.tags is not None:
            theirs = frozenset((t.get("Key"), t.get("Value")) for t in head.get("Tags") or [])
            if theirs != self.expected.tags:
                keys = sorted({k for k, _ in theirs ^ self.expected.tags}, key=str)
                raise _Differs(f"its tags differ from this deploy's ({', '.join(map(str, keys))})")

    def rollback(self, head: dict) -> None:
        """RollbackConfiguration as a change set of this deploy carries it
        (triggers.py): triggers only on this stack's own critical alarms, in
        this stack's account and region, and the monitoring time this deploy
        computes.

        A subset is proven: the plan leaves out an alarm that did not exist
        or was in ALARM when it was made, and that must not make a genuine
        plan unprovable. Each alarm left out is named in the review, and so is
        a change set with no triggers at all, so removing them is never
        silent. A foreign ARN (another account's, another region's, or an
        alarm anyone may create and hold in ALARM to roll every deploy back,
        or keep OK to silence the project's own) is refused: only the names
        this project derives are accepted, never a pattern a stranger can
        match. RollbackTrigger: Arn and Type (AWS::CloudWatch::Alarm or
        AWS::CloudWatch::CompositeAlarm); RollbackConfiguration:
        MonitoringTimeInMinutes 0-180, default 0 (CloudFormation API
        reference)."""
        config = head.get("RollbackConfiguration") or {}
        triggers = config.get("RollbackTriggers") or []
        minutes = config.get("MonitoringTimeInMinutes") or 0
        allowed = self.expected.rollback_alarms
        if triggers and not allowed:
            raise _Differs(
                "it sets rollback triggers (RollbackConfiguration), which this deploy does not (--no-rollback-triggers)"
            )
        arn = self.stack_arn.split(":")
        partition, region, account = (arn[1], arn[3], arn[4]) if len(arn) > 5 else ("", "", "")
        named = []
        for t in triggers:
            parts = str(t.get("Arn", "")).split(":")
            name = parts[6] if len(parts) == 7 else ""
            if (
                t.get("Type") != "AWS::CloudWatch::Alarm"
                or parts[:6] != ["arn", partition, "cloudwatch", region, account, "alarm"]
                or name not in allowed
            ):
                raise _Differs(
                    f"its rollback trigger {t.get('Arn')} ({t.get('Type')}) is not one of this stack's "
                    f"critical alarms in {account or 'its account'} {region}; this deploy names only "
                    f"those"
                )
            if name in named:
                raise _Differs(f"it names rollback trigger {name} twice")
            named.append(name)
        if triggers and minutes != self.expected.monitoring_minutes:
            raise _Differs(
                f"its rollback triggers are watched {minutes} min after the update; this deploy computes "
                f"{self.expected.monitoring_minutes} (triggers.monitoring_minutes)"
            )
        if not triggers and minutes:
            raise _Differs(
                f"it holds the update {minutes} min before cleaning up (MonitoringTimeInMinutes) with "
                f"no rollback trigger, which this deploy never does"
            )
        if not allowed:
            return
        if not triggers:
            self.notes.append(
                "rollback triggers: none in this change set"
                + (
                    " (an empty list: executing removes any the stack has)"
                    if "RollbackTriggers" in config
                    else " (none sent: executing keeps the stack's previous ones, if any)"
                )
                + "; a plan has none when its alarms did not exist or were all in ALARM when it was made"
            )
            return
        self.notes.append(
            f"rollback triggers: {len(named)} of this stack's {len(allowed)} critical alarms, "
            f"watched {minutes} min after the update"
        )
        for name in sorted(allowed - set(named)):
            self.notes.append(
                f"rollback trigger left out of this change set: {name} (it did not exist or was "
                f"in ALARM when the change set was made)"
            )

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
            raise _Differs(
                f"{have}, not the service role {want} this deploy passes; a change set runs with "
                f"the stack's role when it was made without one"
            )

    def parameters(self, head: dict) -> None:
        # An empty value may come back as "" or with no ParameterValue at all.
        theirs = {p.get("ParameterKey"): p.get("ParameterValue") or "" for p in head.get("Parameters") or []}
        ours = dict(self.expected.parameters)
        for key in sorted(set(theirs) | set(ours)):
            if key not in ours:
                raise _Differs(f"parameter {key} is not in the parameter file")
            if key not in theirs:
                raise _Differs(f"parameter {key} is missing from the change set")
            have, want = theirs[key], ours[key]
            if have == MASKED and key in self.expected.no_echo:
                raise _Differs(
                    f"parameter {key} is NoEcho and comes back masked ({MASKED}): its value cannot be proven"
                )
            same = _items(have) == _items(want) if key in self.expected.list_parameters else have == want
            if not same:
                # Values are never printed: one may be a secret in another project's file.
                raise _Differs(f"parameter {key} differs from the parameter file")

    # -- templates --------------------------------------------------------------------------

    def body(self, resp: dict, file_name: str, label: str, *, root: bool = False) -> Any:
        """GetTemplate's TemplateBody, checked the way this file is packaged:
        a leaf child (uploaded as the committed bytes) byte for byte, the
        root and any other child parsed strictly. A JSON body comes as the
        document botocore already decoded."""
        body = resp.get("TemplateBody")
        ours = self.expected.templates[file_name]
        text = self.expected.texts.get(file_name)
        leaf = not root and text is not None and not tpl.nested_stacks(ours)
        if leaf and body == text:
            return ours
        if isinstance(body, Mapping):
            data = body
        elif not isinstance(body, str):
            raise _Differs(f"GetTemplate returned no template body for the {label}")
        else:
            try:
                data = strict_load(body)
            except StrictYamlError as exc:
                raise _Differs(
                    f"{label} holds {exc}, which CloudFormation does not read as this comparison would"
                ) from None
            except (yaml.YAMLError, ValueError) as exc:
                raise _Differs(f"{label} is not readable ({type(exc).__name__})") from None
        if leaf:
            where = first_difference(data, ours)
            raise _Differs(
                f"{label} differs from what this checkout builds ({where})"
                if where
                else f"{label} is not byte for byte the {file_name} this checkout uploads (equal as data: "
                f"formatting or comments differ)"
            )
        return data

    def deployed(self, stack_id: str) -> Any:
        """The template the stack runs now (None: none can be read)."""
        if stack_id not in self._deployed:
            try:
                body = self.call(
                    "get_template", absent=("ValidationError",), StackName=stack_id, TemplateStage="Original"
                ).get("TemplateBody")
                self._deployed[stack_id] = body if isinstance(body, Mapping) else tpl.load(body)
            except (_Differs, yaml.YAMLError, ValueError, AttributeError):
                self._deployed[stack_id] = None
        return self._deployed[stack_id]

    def child_url(self, url: Any, child_path: str, lid: str, file_name: str, stack_id: str) -> None:
        """A nested TemplateURL whose bytes cannot change under the proof:
        the one the deployed parent names, or a version of this project's
        artifact bucket holding exactly the packaged child."""
        bucket = self.expected.bucket
        null = False
        if isinstance(url, str) and bucket:
            parts = urlsplit(url)
            query = parse_qs(parts.query)
            versions = query.get("versionId", [])
            key = parts.path.lstrip("/")
            if self.aws.path_style and key.startswith(f"{bucket}/"):
                key = key[len(bucket) + 1 :]
            # "null" is the version written while versioning was off or
            # suspended; a PUT while suspended overwrites it (S3 User Guide,
            # "Adding objects to versioning-suspended buckets"): no pin.
            null = versions == ["null"] and self.aws.s3_url(bucket, key, "null") == url
            if (
                len(versions) == 1
                and not null
                and set(query) == {"versionId"}
                and self.aws.s3_url(bucket, key, versions[0]) == url
            ):
                owner = {"ExpectedBucketOwner": self.aws.account} if self.aws.account else {}
                obj = self.call(
                    "get_object",
                    service="s3",
                    absent=("NoSuchKey", "NoSuchVersion", "404"),
                    Bucket=bucket,
                    Key=key,
                    VersionId=versions[0],
                    **owner,
                )
                digest = hashlib.sha256(obj["Body"].read()).hexdigest()
                want = (
                    hashlib.sha256(self.expected.texts[file_name].encode("utf-8")).hexdigest()
                    if file_name in self.expected.texts
                    else None
                )
                if digest != want:
                    raise _Differs(
                        f"nested stack {child_path}'s TemplateURL names an object version whose bytes "
                        f"are not the {file_name} this checkout packages"
                    )
                return
        if stack_id and isinstance(url, str) and _child_url(self.deployed(stack_id), lid) == url:
            return
        if null:
            raise _Differs(
                f"nested stack {child_path}'s TemplateURL names the null version (versionId=null) of the "
                f"artifact bucket {bucket}, which a later upload replaces: what it points at could change "
                f"after this proof"
            )
        raise _Differs(
            f"nested stack {child_path}'s TemplateURL is neither the deployed one nor an object version "
            f"(?versionId=) in the artifact bucket {bucket or '(none)'}: what it points at could change "
            f"after this proof"
        )

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
            child_label = f"nested template {child_path}"
            self.child_url(_child_url(theirs, lid), child_path, lid, child_file, stack_id)
            row = rows.get(lid)
            if row is not None and row.get("ChangeSetId"):
                nested_id = row["ChangeSetId"]
                body = self.body(
                    self.call("get_template", ChangeSetName=nested_id, TemplateStage="Original"),
                    child_file,
                    child_label,
                )
                head, changes = self.head_and_changes(nested_id, child_path)
                self.include_nested(head, child_path)
                self.no_imports(changes, child_path)
                self.template(body, child_path, child_file, _nested_rows(changes), head.get("StackId", ""))
            elif row is not None:
                raise _Differs(
                    f"nested stack {child_path} is changed ({row.get('Action', '?')}) but names no "
                    f"nested change set, so the template it would run cannot be read"
                )
            else:
                # Unchanged by the change set: it keeps the template it runs now.
                res = self.call(
                    "describe_stack_resource", absent=("ValidationError",), StackName=stack_id, LogicalResourceId=lid
                )
                child_id = res.get("StackResourceDetail", {}).get("PhysicalResourceId", "")
                if not child_id:
                    raise _Differs(f"nested stack {child_path} has no stack yet and no nested change set")
                body = self.body(
                    self.call("get_template", StackName=child_id, TemplateStage="Original"), child_file, child_label
                )
                self.template(body, child_path, child_file, {}, child_id)


def _nested_rows(changes: list[dict]) -> dict[str, dict]:
    """Logical ID -> ResourceChange of each nested stack's row."""
    out = {}
    for c in changes:
        rc = c.get("ResourceChange") or {}
        if c.get("Type", "Resource") == "Resource" and rc.get("ResourceType") == NESTED:
            out[rc.get("LogicalResourceId")] = rc
    return out


def prove(
    aws: Aws, change_set_id: str, expected: Expected, *, name: str = "", stack_id: str, stack_role: str | None
) -> Verdict:
    """Compare the change set with what this checkout builds; the verdict
    names the first difference (or none). ``stack_id``: the stack it is on;
    ``stack_role``: that stack's RoleARN (DescribeStacks). An API error
    raises :class:`CommandError` (exit 1)."""
    proof = _Proof(aws, expected)
    verdict = Verdict(name or change_set_id, change_set_id)
    try:
        unread = missing_members(aws.cfn)
        if unread:
            raise _Differs(
                f"the installed botocore's DescribeChangeSet model lacks {', '.join(unread)}, which "
                f"its parser would drop: they cannot be read, so nothing is proven (upgrade botocore)"
            )
        head, changes = proof.head_and_changes(change_set_id, "")
        verdict.name = name or head.get("ChangeSetName") or change_set_id
        proof.include_nested(head, "")
        if head.get("StackId") and stack_id and head["StackId"] != stack_id:
            raise _Differs(f"it belongs to another stack ({head['StackId']})")
        proof.stack_arn = head.get("StackId") or stack_id or ""
        proof.capabilities(head)
        proof.options(head)
        proof.no_imports(changes, "")
        proof.role(stack_role)
        proof.parameters(head)
        body = proof.body(
            proof.call("get_template", ChangeSetName=change_set_id, TemplateStage="Original"),
            expected.root_name,
            "root template",
            root=True,
        )
        proof.template(body, "", expected.root_name, _nested_rows(changes), stack_id)
    except _Differs as exc:
        verdict.difference = str(exc)
    verdict.calls, verdict.read, verdict.resolved = proof.calls, proof.read, proof.resolved
    verdict.notes = proof.notes if verdict.ok else []
    return verdict
