"""A scripted AWS service for tests that drive the real command line.

moto's CloudFormation cannot produce nested change sets with Replacement
details, property values (``IncludePropertyValues``), FAILED change sets for
a real reason, or instance refreshes that end in each of their states. This
helper answers chosen operations of chosen services from a script, by
operation name and not by call order (so the flow may add or reorder calls
without breaking the tests), and lets every other call go through to the
endpoint the command was given (moto's server, for S3 and STS).

It hooks botocore's ``before-call`` event on every session the project
creates (the same mechanism botocore's Stubber uses), so the command under
test runs unchanged from ``wealist_cfn.cli.main``. Every scripted response is
validated against the service's output shape (as Stubber does), so a
response the real API could not send fails the test. This is the one place
the tests depend on how the project builds its AWS session
(:class:`wealist_cfn.aws.Aws`).
"""

from __future__ import annotations

import io
import zlib
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from typing import Callable

from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

from wealist_cfn import cli as main_cli

Handler = Callable[[dict], dict]


class ScriptedError(Exception):
    """Raise from a handler to answer with an AWS error (HTTP 400)."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


class Scripted:
    """``handlers[(service, Operation)] = fn(params) -> response``; every
    call made to a scripted service is recorded in ``calls``."""

    def __init__(self, services: tuple[str, ...], handlers: dict[tuple[str, str], Handler]):
        self.services = set(services)
        self.handlers = dict(handlers)
        self.calls: list[tuple[str, str, dict]] = []
        self._validator = ParamValidator()

    def ops(self, service: str, operation: str) -> list[dict]:
        return [p for s, o, p in self.calls if (s, o) == (service, operation)]

    def _params(self, params, context, **_kw):
        context["scripted_params"] = dict(params)

    def _answer(self, model, context, **_kw):
        service = model.service_model.service_name
        if service not in self.services:
            return None
        params = context.get("scripted_params", {})
        self.calls.append((service, model.name, params))
        handler = self.handlers.get((service, model.name))
        try:
            if handler is None:
                raise ScriptedError("NotScripted", f"{service}:{model.name} is not scripted in this test")
            parsed = handler(params)
        except ScriptedError as exc:
            return AWSResponse(None, exc.status, {}, None), {
                "Error": {"Code": exc.code, "Message": exc.message},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
        if model.output_shape is not None:
            report = self._validator.validate(parsed, model.output_shape)
            if report.has_errors():
                raise AssertionError(
                    f"scripted {service}:{model.name} response is not API-shaped:\n{report.generate_report()}"
                )
        return AWSResponse(None, 200, {}, None), {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    def attach(self, session) -> None:
        session.register("before-parameter-build", self._params)
        session.register("before-call", self._answer)


@contextmanager
def scripted_aws(monkeypatch, script: Scripted):
    """Every :class:`~wealist_cfn.aws.Aws` made inside answers from ``script``."""
    from wealist_cfn import aws as aws_mod

    original = aws_mod.Aws.__post_init__

    def post_init(self):
        original(self)
        script.attach(self.session._session if hasattr(self.session, "_session") else self.session)

    monkeypatch.setattr(aws_mod.Aws, "__post_init__", post_init)
    try:
        yield script
    finally:
        monkeypatch.setattr(aws_mod.Aws, "__post_init__", original)


def run_cli(*argv) -> tuple[int, str, str]:
    """``build.py ARGS`` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main_cli.main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


# --- CloudFormation -----------------------------------------------------------------------------

ACCOUNT = "123456789012"
REGION = "ap-northeast-2"


def stack_arn(name: str) -> str:
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/{zlib.crc32(name.encode()):08x}"


def change_set_arn(name: str) -> str:
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/{name}/{zlib.crc32(name.encode()):08x}"


def change(
    action: str,
    logical_id: str,
    resource_type: str,
    *,
    replacement: str | None = None,
    details: list[dict] | None = None,
    nested: str | None = None,
    before: dict | None = None,
    after: dict | None = None,
    policy_action: str | None = None,
) -> dict:
    """One entry of DescribeChangeSet's ``Changes``, shaped as the API
    reference documents ResourceChange (Replacement only on Modify,
    ChangeSetId on a nested stack's row, Before/AfterContext as JSON strings
    of the resource's properties when IncludePropertyValues is set)."""
    import json

    rc: dict = {
        "Action": action,
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "Scope": ["Properties"] if action == "Modify" else [],
        "Details": list(details or []),
    }
    if action != "Add":
        rc["PhysicalResourceId"] = f"{logical_id.lower()}-1"
    if replacement:
        rc["Replacement"] = replacement
    if nested:
        rc["ChangeSetId"] = change_set_arn(nested)
    if before is not None:
        rc["BeforeContext"] = json.dumps({"Properties": before})
    if after is not None:
        rc["AfterContext"] = json.dumps({"Properties": after})
    if policy_action:
        rc["PolicyAction"] = policy_action
    return {"Type": "Resource", "ResourceChange": rc}


def detail(name: str, recreation: str) -> dict:
    return {
        "Target": {"Attribute": "Properties", "Name": name, "RequiresRecreation": recreation},
        "Evaluation": "Static",
        "ChangeSource": "DirectModification",
    }


class Cfn:
    """A CloudFormation account holding one root stack (or none), answering
    the calls of plan/deploy/status from its state:

    * ``status``: the root's StackStatus (None: no such stack);
    * ``change_sets``: change set name -> its Changes (the root's is "root");
    * ``failure``: (Status reason) for a root change set that ends FAILED;
    * ``create_error``: (code, message) CreateChangeSet answers with;
    * ``tree``: stack path -> [(logical ID, type)] for ListStackResources.
    """

    def __init__(
        self,
        *,
        status: str | None = "UPDATE_COMPLETE",
        change_sets: dict[str, list[dict]] | None = None,
        failure: str | None = None,
        create_error: tuple[str, str] | None = None,
        tree: dict[str, list[tuple[str, str]]] | None = None,
        name: str = "wealist-prod",
    ):
        self.name, self.status = name, status
        self.root_id = stack_arn(name)
        self.change_sets = change_sets or {"root": []}
        self.failure, self.create_error = failure, create_error
        self.tree = tree or {"": []}
        self.policies: dict[str, str] = {}  # stack ID -> StackPolicyBody set
        self.executed = False

    def _stack_id(self, path: str) -> str:
        return self.root_id if not path else stack_arn(f"{self.name}-{path.replace('/', '-')}")

    def _path(self, stack_id: str) -> str:
        return next(p for p in self.tree if self._stack_id(p) == stack_id or (not p and stack_id == self.name))

    def describe_stacks(self, params):
        if self.status is None:
            raise ScriptedError("ValidationError", f"Stack with id {params['StackName']} does not exist")
        from datetime import datetime, timezone

        return {
            "Stacks": [
                {
                    "StackName": self.name,
                    "StackId": self.root_id,
                    "StackStatus": self.status,
                    "CreationTime": datetime(2026, 11, 1, tzinfo=timezone.utc),
                    "Parameters": [],
                }
            ]
        }

    def create_change_set(self, params):
        if self.create_error:
            raise ScriptedError(*self.create_error)
        self.root_cs = params["ChangeSetName"]
        return {"Id": change_set_arn("root"), "StackId": self.root_id}

    def describe_change_set(self, params):
        name = (
            params["ChangeSetName"].split("/")[1]
            if params["ChangeSetName"].startswith("arn:")
            else params["ChangeSetName"]
        )
        page = {
            "ChangeSetId": change_set_arn(name),
            "ChangeSetName": name,
            "StackId": self.root_id,
            "StackName": self.name,
            "Status": "CREATE_COMPLETE",
            "ExecutionStatus": "AVAILABLE",
            "Changes": self.change_sets.get(name, []),
            "Description": "wealist-cfn deploy",
        }
        if name == "root" and self.failure:
            page.update(Status="FAILED", ExecutionStatus="UNAVAILABLE", StatusReason=self.failure, Changes=[])
        return page

    def list_stack_resources(self, params):
        path = self._path(params["StackName"])
        out = []
        for lid, rtype in self.tree.get(path, []):
            child = f"{path}/{lid}" if path else lid
            phys = self._stack_id(child) if rtype == "AWS::CloudFormation::Stack" else f"{lid.lower()}-1"
            from datetime import datetime, timezone

            out.append(
                {
                    "LogicalResourceId": lid,
                    "PhysicalResourceId": phys,
                    "ResourceType": rtype,
                    "LastUpdatedTimestamp": datetime(2026, 11, 1, tzinfo=timezone.utc),
                    "ResourceStatus": "UPDATE_COMPLETE",
                }
            )
        return {"StackResourceSummaries": out}

    def get_stack_policy(self, params):
        body = self.policies.get(params["StackName"])
        return {"StackPolicyBody": body} if body else {}

    def set_stack_policy(self, params):
        self.policies[params["StackName"]] = params["StackPolicyBody"]
        return {}

    def execute_change_set(self, params):
        self.executed = True
        self.status = "UPDATE_COMPLETE" if self.status else "CREATE_COMPLETE"
        return {}

    def handlers(self) -> dict[tuple[str, str], Handler]:
        ops = {
            "DescribeStacks": self.describe_stacks,
            "CreateChangeSet": self.create_change_set,
            "DescribeChangeSet": self.describe_change_set,
            "DeleteChangeSet": lambda p: {},
            "ListStackResources": self.list_stack_resources,
            "GetStackPolicy": self.get_stack_policy,
            "SetStackPolicy": self.set_stack_policy,
            "ExecuteChangeSet": self.execute_change_set,
            "DescribeStackEvents": lambda p: {"StackEvents": []},
            "DescribeEvents": lambda p: {"OperationEvents": []},
            "UpdateTerminationProtection": lambda p: {"StackId": self.root_id},
        }
        return {("cloudformation", k): v for k, v in ops.items()}


def tiny_templates():
    """A template directory with a root of one resource, for tests whose
    change set is scripted (what the templates say does not matter there)."""
    import tempfile
    from pathlib import Path

    d = Path(tempfile.mkdtemp(prefix="wealist-tiny-"))
    (d / "root.yaml").write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\n"
        "Resources:\n"
        "  Marker:\n"
        "    Type: AWS::SSM::Parameter\n"
        "    Properties: {Type: String, Value: x}\n"
    )
    return d
