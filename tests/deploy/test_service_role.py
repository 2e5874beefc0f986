"""deploy --role-arn and the default service role.

Stand-in: botocore's Stubber, with responses shaped like the IAM GetRole
and CloudFormation CreateChangeSet API references. What real AWS enforces
and the stub does not: CreateChangeSet's RoleARN must be a role the caller
may pass (iam:PassRole) and CloudFormation may assume
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html);
GetRole answers NoSuchEntity (HTTP 404) for a missing role
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRole.html).
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import ANY, Stubber

from helpers.deploy import stubbed_aws
from wealist_cfn.aws import target
from wealist_cfn.cli import deploy as cli
from wealist_cfn.deploy import changeset, flow
from wealist_cfn.errors import EXIT_USAGE, CommandError
from wealist_cfn.rehearsal import compat as local

ROLE = "arn:aws:iam::123456789012:role/wealist-prod-cfn-role"


def _deployment(role_arn, tgt=None):
    """``tgt``: the Target the endpoint declared (AWS's without one)."""
    aws, stubs = stubbed_aws()
    if tgt is not None:
        aws._target = tgt
    iam = boto3.client("iam", region_name="us-east-1")
    aws._clients["iam"] = iam
    stubs["iam"] = Stubber(iam)
    stubs["iam"].activate()
    opts = flow.Options(stack_name="wealist-prod", params="params/prod.json", role_arn=role_arn)
    return flow.Deployment(opts, aws=aws), stubs


def test_default_is_the_environments_service_role_when_it_exists():
    dep, stubs = _deployment(flow.SERVICE_ROLE_DEFAULT)
    stubs["iam"].add_response(
        "get_role",
        {
            "Role": {
                "Path": "/",
                "RoleName": "wealist-prod-cfn-role",
                "RoleId": "AROAEXAMPLEEXAMPLE123",
                "Arn": ROLE,
                "CreateDate": "2026-01-01T00:00:00Z",
            }
        },
        {"RoleName": "wealist-prod-cfn-role"},
    )
    assert dep.service_role_arn() == ROLE
    stubs["iam"].assert_no_pending_responses()


def test_a_missing_default_role_is_one_clear_line():
    dep, stubs = _deployment(flow.SERVICE_ROLE_DEFAULT)
    stubs["iam"].add_client_error(
        "get_role",
        "NoSuchEntity",
        "The role with name wealist-prod-cfn-role cannot be found.",
        404,
        expected_params={"RoleName": "wealist-prod-cfn-role"},
    )
    with pytest.raises(CommandError) as err:
        dep.service_role_arn()
    assert err.value.exit_code == EXIT_USAGE
    assert str(err.value).startswith(f"service role {ROLE} does not exist: deploy templates/github-oidc.yaml")
    assert "--role-arn" in str(err.value)


def test_an_explicit_role_is_used_without_looking_it_up():
    dep, stubs = _deployment("arn:aws:iam::123456789012:role/other")
    assert dep.service_role_arn() == "arn:aws:iam::123456789012:role/other"
    stubs["iam"].assert_no_pending_responses()  # and no unexpected call: the stub would have raised


REHEARSAL = target.from_document(local.target_document(), "http://127.0.0.1:5000")


@pytest.mark.parametrize("role_arn,tgt", [("", None), (flow.SERVICE_ROLE_DEFAULT, REHEARSAL)])
def test_no_role_for_empty_flag_or_local_endpoint(role_arn, tgt):
    """The rehearsal declares it runs no IAM roles (runs_under_roles false)."""
    dep, _ = _deployment(role_arn, tgt)
    assert dep.service_role_arn() is None


def test_an_endpoint_that_declares_nothing_is_held_to_the_role():
    """An --endpoint-url that is not the rehearsal (it may be AWS behind a
    proxy or a VPC endpoint) is held to the service role as AWS is; any
    endpoint URL let it off before."""
    dep, stubs = _deployment(flow.SERVICE_ROLE_DEFAULT, target.unknown("http://127.0.0.1:5000"))
    stubs["iam"].add_client_error(
        "get_role",
        "NoSuchEntity",
        "The role with name wealist-prod-cfn-role cannot be found.",
        404,
        expected_params={"RoleName": "wealist-prod-cfn-role"},
    )
    with pytest.raises(CommandError) as err:
        dep.service_role_arn()
    assert str(err.value).startswith(f"service role {ROLE} does not exist")


def test_create_change_set_passes_the_role():
    aws, stubs = stubbed_aws()
    stubs["cloudformation"].add_response(
        "create_change_set",
        {
            "Id": "arn:aws:cloudformation:ap-northeast-2:123456789012:changeSet/x/1",
            "StackId": "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/s/1",
        },
        {
            "StackName": "wealist-prod",
            "ChangeSetName": ANY,
            "ChangeSetType": "UPDATE",
            "Parameters": [],
            "Capabilities": ANY,
            "Tags": [],
            "IncludeNestedStacks": True,
            "Description": ANY,
            "TemplateBody": "{}",
            "RoleARN": ROLE,
            "ClientToken": ANY,
        },
    )
    stubs["cloudformation"].add_response(
        "describe_change_set", {"Status": "CREATE_COMPLETE", "ChangeSetName": "x", "Changes": []}, None
    )
    changeset.create(
        aws,
        stack_name="wealist-prod",
        change_set_type="UPDATE",
        parameters=[],
        tags=[],
        template_body="{}",
        template_url=None,
        commit="abc",
        role_arn=ROLE,
        sleep=lambda s: None,
    )
    stubs["cloudformation"].assert_no_pending_responses()


def test_the_flag_reaches_the_options():
    import argparse

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    # plan too: it passes the role where the stack lacks it (tests/deploy/test_trust.py).
    for command, default in (("deploy", flow.SERVICE_ROLE_DEFAULT), ("plan", flow.SERVICE_ROLE_DEFAULT)):
        args = parser.parse_args(
            [command, "--stack-name", "wealist-prod", "--params", "params/prod.json", "--role-arn", ROLE]
        )
        assert cli._options(args).role_arn == ROLE
        args = parser.parse_args([command, "--stack-name", "wealist-prod", "--params", "params/prod.json"])
        assert cli._options(args).role_arn == default


def _packaging(bucket, role_arn, tgt=None):
    aws, stubs = stubbed_aws()
    if tgt is not None:
        aws._target = tgt
    opts = flow.Options(stack_name="wealist-prod", params="params/prod.json", role_arn=role_arn, bucket=bucket)
    return flow.Deployment(opts, aws=aws), stubs


@pytest.mark.parametrize("tgt", [None, target.unknown("http://localhost:5000")], ids=["aws", "unknown-endpoint"])
@pytest.mark.parametrize("role_arn", [flow.SERVICE_ROLE_DEFAULT, ""])
def test_a_bucket_the_service_role_cannot_read_is_refused_before_any_upload(role_arn, tgt):
    """Stubber (no S3 response queued: any S3 call would fail the test). The
    service role reads nested templates from the artifact bucket only
    (templates/github-oidc.yaml, NestedTemplates), and CloudFormation
    fetches every nested TemplateURL as the stack's role
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html):
    with another --bucket the change set would fail with AccessDenied on a
    TemplateURL, after the uploads. Deploy (the default role) and plan (the
    stack's own role, '') refuse it first, in one line; so does an endpoint
    that does not declare itself the rehearsal (any endpoint URL let it off
    before)."""
    dep, stubs = _packaging("team-templates", role_arn, tgt)
    with pytest.raises(CommandError) as err:
        list(dep.package())
    assert err.value.exit_code == EXIT_USAGE
    assert str(err.value) == (
        "--bucket team-templates: the service role wealist-prod-cfn-role reads nested templates only from the "
        "artifact bucket wealist-cfn-artifacts-123456789012-ap-northeast-2; leave out --bucket, or name a role "
        "that may read team-templates with --role-arn"
    )
    stubs["s3"].assert_no_pending_responses()


def test_the_artifact_bucket_named_explicitly_or_another_role_or_the_local_endpoint_are_accepted():
    """Stubber: the check passes and packaging goes on to HeadBucket (which
    the stub answers with an error, ending the run there)."""
    cases = [
        ("wealist-cfn-artifacts-123456789012-ap-northeast-2", flow.SERVICE_ROLE_DEFAULT, None),
        ("team-templates", "arn:aws:iam::123456789012:role/other", None),
        ("team-templates", flow.SERVICE_ROLE_DEFAULT, REHEARSAL),
    ]
    for bucket, role_arn, endpoint in cases:
        dep, stubs = _packaging(bucket, role_arn, endpoint)
        stubs["s3"].add_client_error("head_bucket", "500", "stop here", 500)
        with pytest.raises(CommandError) as err:
            list(dep.package())
        assert "the service role" not in str(err.value), (bucket, role_arn, endpoint)
        stubs["s3"].assert_no_pending_responses()


def test_a_plan_never_creates_the_artifact_bucket():
    """Stubber, HeadBucket answered 404 as S3 does for a missing bucket
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html);
    no CreateBucket is queued, so one would fail the test. The plan role may
    not create or configure the bucket (templates/github-oidc.yaml): the plan
    says who does, in one line."""
    aws, stubs = stubbed_aws()
    opts = flow.Options(stack_name="wealist-prod", params="params/prod.json", role_arn="", artifact_area="plan")
    dep = flow.Deployment(opts, aws=aws)
    stubs["s3"].add_client_error("head_bucket", "404", "Not Found", 404)
    with pytest.raises(CommandError) as err:
        list(dep.package())
    assert err.value.exit_code == EXIT_USAGE
    assert str(err.value) == (
        "S3 bucket wealist-cfn-artifacts-123456789012-ap-northeast-2 does not exist yet: a "
        "plan never creates it; the first deploy from main (or `python build.py package` by "
        "an administrator) does"
    )
    stubs["s3"].assert_no_pending_responses()


def test_review_flags_a_trust_change_as_one_the_service_role_cannot_make():
    """Stand-in: none; a DescribeChangeSet ``Changes`` entry shaped like the
    API reference (ResourceChange, ResourceChangeDetail, Target). Real AWS:
    the role handler's update calls iam:UpdateAssumeRolePolicy for a changed
    AssumeRolePolicyDocument (the AWS::IAM::Role resource schema's update
    handler permissions), which the service role is never given
    (github_oidc.WITHHELD): the execute would fail and roll back."""
    from wealist_cfn.deploy import review

    def change(name):
        return {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Modify",
                "LogicalResourceId": "Ec2Role",
                "PhysicalResourceId": "wealist-prod-ec2-role",
                "ResourceType": "AWS::IAM::Role",
                "Replacement": "False",
                "Scope": ["Properties"],
                "Details": [
                    {
                        "Target": {"Attribute": "Properties", "Name": name, "RequiresRecreation": "Never"},
                        "Evaluation": "Static",
                        "ChangeSource": "DirectModification",
                    }
                ],
            },
        }

    def callouts(name):
        rv = review.Review("wealist-prod", "UPDATE", rows=[review.row_from_change("IamStack", change(name))])
        review.analyse(rv)
        return [c for c in rv.callouts if c.level == "warning"]

    [warning] = callouts("AssumeRolePolicyDocument")
    assert warning.where == "IamStack/Ec2Role"
    assert "iam:UpdateAssumeRolePolicy" in warning.message and "will fail" in warning.message
    assert "iam:UpdateAssumeRolePolicy" in review.render_text(
        review.Review(
            "wealist-prod",
            "UPDATE",
            rows=[review.row_from_change("IamStack", change("AssumeRolePolicyDocument"))],
            callouts=[warning],
        )
    )
    # A policy change is the service role's to make: no such warning.
    assert callouts("Policies") == []
