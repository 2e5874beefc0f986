"""A nested change set (a database replacement, a widened ingress, a
conditional replacement) read into a review through botocore's Stubber with
DescribeChangeSet pages shaped like the CloudFormation API reference's, and a
prepared deployment of it that runs nothing: what the deploy command's
decisions are tested on (tests/deploy/test_stubbed.py, test_approval.py)."""

from __future__ import annotations

import argparse
import io
import types
from contextlib import redirect_stderr, redirect_stdout
from datetime import datetime, timezone

from helpers.deploy import stubbed_aws
from helpers.scripted import change
from wealist_cfn.aws import target
from wealist_cfn.cli import deploy as cli
from wealist_cfn.deploy import changeset, events, flow, review, stackstate

ACCOUNT = "123456789012"
ROOT = f"arn:aws:cloudformation:ap-northeast-2:{ACCOUNT}:stack/wealist-prod/1111"
DB_STACK = f"arn:aws:cloudformation:ap-northeast-2:{ACCOUNT}:stack/wealist-prod-DatabaseStack-X/2222"
ROOT_CS = f"arn:aws:cloudformation:ap-northeast-2:{ACCOUNT}:changeSet/deploy-1/aaaa"
DB_CS = f"arn:aws:cloudformation:ap-northeast-2:{ACCOUNT}:changeSet/deploy-1-DatabaseStack/bbbb"
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def _cs_page(cs_id, stack_id, changes, **extra):
    return {
        "ChangeSetId": cs_id,
        "ChangeSetName": cs_id.split("/")[1],
        "StackId": stack_id,
        "StackName": "x",
        "Status": "CREATE_COMPLETE",
        "ExecutionStatus": "AVAILABLE",
        "Changes": changes,
        **extra,
    }


def _change(action, lid, rtype, replacement=None, details=(), cs_id=None, before=None, after=None, policy=None):
    """scripted.change, with the nested change set given by its full ID."""
    row = change(
        action,
        lid,
        rtype,
        replacement=replacement,
        details=list(details),
        before=before,
        after=after,
        policy_action=policy,
    )
    if cs_id:
        row["ResourceChange"]["ChangeSetId"] = cs_id
    return row


def _detail(name, recreation, source="DirectModification", causing=None):
    d = {
        "Target": {"Attribute": "Properties", "Name": name, "RequiresRecreation": recreation},
        "Evaluation": "Static",
        "ChangeSource": source,
    }
    if causing:
        d["CausingEntity"] = causing
    return d


def _nested_review():
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response(
        "describe_change_set",
        _cs_page(
            ROOT_CS,
            ROOT,
            [
                _change(
                    "Modify",
                    "DatabaseStack",
                    "AWS::CloudFormation::Stack",
                    "False",
                    [_detail("Parameters", "Never", "ParameterReference", "EnableMultiAZ")],
                    cs_id=DB_CS,
                ),
            ],
            Description="wealist-cfn deploy from commit abc",
        ),
        {"ChangeSetName": ROOT_CS, "IncludePropertyValues": True},
    )
    cfn.add_response(
        "describe_change_set",
        _cs_page(
            DB_CS,
            DB_STACK,
            [
                _change(
                    "Modify",
                    "Database",
                    "AWS::RDS::DBInstance",
                    "True",
                    [_detail("DBName", "Always"), _detail("MultiAZ", "Never", "ParameterReference", "IsMultiAZ")],
                    policy="ReplaceAndSnapshot",
                ),
                _change(
                    "Modify",
                    "DatabaseSecurityGroup",
                    "AWS::EC2::SecurityGroup",
                    "False",
                    [_detail("SecurityGroupIngress", "Never")],
                    before={
                        "SecurityGroupIngress": [
                            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "SourceSecurityGroupId": "sg-ec2"}
                        ]
                    },
                    after={
                        "SecurityGroupIngress": [
                            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "SourceSecurityGroupId": "sg-ec2"},
                            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "CidrIp": "0.0.0.0/0"},
                        ]
                    },
                ),
                _change(
                    "Modify",
                    "DbSubnetGroup",
                    "AWS::RDS::DBSubnetGroup",
                    "Conditional",
                    [_detail("SubnetIds", "Conditionally")],
                ),
            ],
        ),
        {"ChangeSetName": DB_CS, "IncludePropertyValues": True},
    )
    cs = changeset.ChangeSet("deploy-1", ROOT_CS, ROOT, "UPDATE")
    rev = changeset.describe(aws, cs, "wealist-prod", sleep=lambda s: None)
    review.analyse(rev)
    cfn.assert_no_pending_responses()
    return rev


class _FakeDeployment:
    """A prepared deployment (the change set above) for the CLI's decisions."""

    def __init__(self, rev, allow_replace=False):
        self.opts = flow.Options(stack_name="wealist-prod", params="params/prod.json", allow_replace=allow_replace)
        # Against AWS: what the CLI reads of the Aws is its Target.
        self.aws = types.SimpleNamespace(target=target.aws_target())
        cs = changeset.ChangeSet("deploy-1", ROOT_CS, ROOT, "UPDATE")
        self.plan = flow.Plan(stackstate.StackState("wealist-prod", "UPDATE_COMPLETE", ROOT), cs, rev)
        self.executed = False
        self.cleaned = False
        self.left_behind = []

    def cleanup(self):
        self.cleaned = True
        return ["deleted change set deploy-1 (not executed)"]

    def keep(self):
        pass

    def prepare(self):
        return iter(())

    def execute(self):
        self.executed = True
        self.result = flow.Result(events.Final("UPDATE_COMPLETE", ""), stack_id=ROOT)
        return iter(())


def _run_deploy(dep, **kw) -> tuple[int, str, str]:
    """The CLI's decisions on a prepared deployment: exit code, stdout, stderr."""
    args = dict(
        output="text",
        no_execute=False,
        yes=True,
        params="params/prod.json",
        accept_conditional=False,
        discard=False,
        no_wait_healthy=True,
        local=False,
    )
    args.update(kw)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli._deploy(argparse.Namespace(**args), dep)
    return code, out.getvalue(), err.getvalue()
