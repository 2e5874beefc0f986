"""A prepared deployment through botocore's Stubber: DescribeChangeSet pages and
the calls before a change set, shaped like the CloudFormation API reference's."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from botocore.stub import ANY

from wealist_cfn.cfn import templates as tpl
from wealist_cfn.deploy import flow, package

ACCOUNT = "123456789012"


ROOT = f"arn:aws:cloudformation:ap-northeast-2:{ACCOUNT}:stack/wealist-prod/1111"


ROOT_CS = f"arn:aws:cloudformation:ap-northeast-2:{ACCOUNT}:changeSet/deploy-1/aaaa"


T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def _cs(status="CREATE_COMPLETE", execution="AVAILABLE", changes=(), **extra):
    return {
        "ChangeSetId": ROOT_CS,
        "ChangeSetName": "deploy-1",
        "StackId": ROOT,
        "StackName": "wealist-prod",
        "Status": status,
        "ExecutionStatus": execution,
        "Changes": list(changes),
        **extra,
    }


def _stack(status, stack_id=ROOT, name="wealist-prod", **extra):
    return {"Stacks": [{"StackName": name, "StackId": stack_id, "CreationTime": T0, "StackStatus": status, **extra}]}


def _packaged(root: dict) -> package.Packaged:
    return package.Packaged(bucket="b", root_body=json.dumps(root), root_url=None, templates={"root.yaml": root})


def _set_sources(dep, root: dict) -> None:
    """What package() leaves: the committed templates and their packaged copies."""
    dep.template_set = tpl.TemplateSet(Path("templates"), "root.yaml", {"root.yaml": json.dumps(root)})
    dep.packaged = _packaged(root)


ROOT_TEMPLATE = {
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}, "Export": {"Name": "wealist-topic"}}},
}


def _prepare_stubs(cfn, prod_params):
    from wealist_cfn import config

    params = {p["ParameterKey"]: p["ParameterValue"] for p in config.load(prod_params).cfn_parameters()}
    cfn.add_response(
        "describe_stacks",
        _stack("UPDATE_COMPLETE", Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()]),
        {"StackName": "wealist-prod"},
    )
    cfn.add_response(
        "create_change_set",
        {"Id": ROOT_CS, "StackId": ROOT},
        {
            "StackName": "wealist-prod",
            "ChangeSetName": ANY,
            "ChangeSetType": "UPDATE",
            "Parameters": ANY,
            "Capabilities": ANY,
            "Tags": ANY,
            "IncludeNestedStacks": True,
            "Description": ANY,
            "TemplateBody": ANY,
            "ClientToken": ANY,
        },
    )


def _prepared(aws, prod_params, root):
    dep = flow.Deployment(flow.Options(stack_name="wealist-prod", params=prod_params, sleep=lambda s: None), aws=aws)

    def fake_package(upload_root=False):
        _set_sources(dep, root)
        return iter(())

    dep.package = fake_package
    # Rollback triggers have their own tests (test_rollback_triggers.py).
    dep.rollback_triggers = lambda cs_type: None
    return dep
