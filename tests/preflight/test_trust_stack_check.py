"""Preflight's checks of the trust stack (templates/github-oidc.yaml): its
parameters are the params file's, and the permissions boundary the stacks'
roles name exists.

Stand-ins: botocore's Stubber for CloudFormation DescribeStacks, shaped like
the API reference (``Stacks[].Parameters[]``: ParameterKey, ParameterValue;
a missing stack answers ValidationError "Stack with id NAME does not
exist"); moto's server for IAM CreatePolicy / GetPolicy, which it
implements as AWS does (GetPolicy of a missing policy: NoSuchEntity, IAM
API reference, GetPolicy, Errors).

What the real services enforce that these stand-ins do not: that the
caller may make the calls (the deploy and plan roles hold
cloudformation:DescribeStacks on stack/<root>-github/* and iam:GetPolicy on
the boundary: tests/ops/test_role_calls.py); that CloudFormation refuses
CreateRole / PutRolePermissionsBoundary naming a boundary policy that does
not exist (NoSuchEntity, IAM API reference, PutRolePermissionsBoundary).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from botocore.stub import Stubber

import wealist_cfn.cli  # noqa: F401 - declares the local endpoint's unanswered calls to preflight
from wealist_cfn import config
from wealist_cfn.core.settings import PARAMS_DIR
from wealist_cfn.preflight import capability, checks

TRUST = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/{}-github/1"


def _trust_stack(name: str, parameters: dict[str, str]) -> dict:
    return {
        "Stacks": [
            {
                "StackName": f"{name}-github",
                "StackId": TRUST.format(name),
                "StackStatus": "UPDATE_COMPLETE",
                "CreationTime": dt.datetime(2026, 1, 1),
                "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            }
        ]
    }


@pytest.fixture
def dev(ctx):
    cfg = config.load(PARAMS_DIR / "dev.json")
    return dataclasses.replace(ctx, config=cfg, stack_name="wealist-dev", params_arg="params/dev.json")


def _run(ctx, response):
    cfn = ctx.aws.client("cloudformation")
    with Stubber(cfn) as stub:
        if isinstance(response, dict):
            stub.add_response("describe_stacks", response, {"StackName": f"{ctx.stack_name}-github"})
        else:
            stub.add_client_error(
                "describe_stacks",
                "ValidationError",
                response,
                400,
                expected_params={"StackName": f"{ctx.stack_name}-github"},
            )
        return checks.check_trust_stack(ctx)


@pytest.mark.stubbed
def test_a_trust_stack_naming_the_old_global_bucket_is_refused(dev):
    """A trust stack deployed with the fixed name the templates once
    defaulted to (wealist-deploy-scripts, a global S3 name) while the
    params file leaves DeployBucketName empty: the boundary names another
    bucket than the instances fetch from. The finding names both; the fix
    sets the parameter back to empty (the account-unique name)."""
    r = _run(
        dev,
        _trust_stack(
            "wealist-dev",
            {
                "GitHubRepository": "octo/wealist-cfn",
                "Project": "wealist",
                "Environment": "dev",
                "StackName": "wealist-dev",
                "DeployBucketName": "wealist-deploy-scripts",
                "EcrRepositoryPrefix": "dev/",
            },
        ),
    )
    assert r.status == checks.FAIL
    assert "DeployBucketName='wealist-deploy-scripts'" in r.finding
    assert "'wealist-dev-deploy-123456789012-ap-northeast-2'" in r.finding
    assert "\n" not in r.finding
    assert "--stack-name wealist-dev-github" in r.fix and 'DeployBucketName=""' in r.fix


@pytest.mark.stubbed
def test_a_second_environment_that_overrode_only_its_names_gets_its_own_bucket(dev):
    """The override the docs once gave a second environment (Project,
    Environment, StackName) used to leave prod's fixed bucket name in dev's
    boundary. With the empty default both templates compute the bucket from
    their own Project and Environment, so only EcrRepositoryPrefix differs."""
    r = _run(
        dev,
        _trust_stack(
            "wealist-dev",
            {
                "GitHubRepository": "octo/wealist-cfn",
                "Project": "wealist",
                "Environment": "dev",
                "StackName": "wealist-dev",
            },
        ),
    )
    assert r.status == checks.FAIL and "EcrRepositoryPrefix=''" in r.finding


@pytest.mark.stubbed
def test_an_explicit_name_equal_to_the_account_unique_one_passes(dev):
    right = {
        "Project": "wealist",
        "Environment": "dev",
        "StackName": "wealist-dev",
        "EcrRepositoryPrefix": "dev/",
        "DeployBucketName": "wealist-dev-deploy-123456789012-ap-northeast-2",
    }
    assert _run(dev, _trust_stack("wealist-dev", right)).status == checks.OK


@pytest.mark.stubbed
def test_each_parameter_the_boundary_names_is_compared(dev):
    right = {
        "Project": "wealist",
        "Environment": "dev",
        "StackName": "wealist-dev",
        "DeployBucketName": "",
        "EcrRepositoryPrefix": "dev/",
    }
    assert _run(dev, _trust_stack("wealist-dev", right)).status == checks.OK
    for key, wrong in (
        ("EcrRepositoryPrefix", ""),
        ("StackName", "wealist-prod"),
        ("Environment", "prod"),
        ("DeployBucketName", "wealist-dev-deploy-scripts"),
    ):
        r = _run(dev, _trust_stack("wealist-dev", {**right, key: wrong}))
        assert r.status == checks.FAIL and f"{key}={wrong!r}" in r.finding, key


@pytest.mark.stubbed
def test_prod_with_the_templates_defaults_passes(ctx):
    """DescribeStacks may leave out a parameter: the template's default is
    what the stack holds then."""
    assert _run(ctx, _trust_stack("wealist-prod", {"GitHubRepository": "octo/wealist-cfn"})).status == checks.OK


@pytest.mark.stubbed
def test_a_missing_trust_stack_fails_with_the_command_that_deploys_it(ctx):
    r = _run(ctx, "Stack with id wealist-prod-github does not exist")
    assert r.status == checks.FAIL and "wealist-prod-github does not exist" in r.finding
    assert r.fix.startswith(
        "aws cloudformation deploy --template-file templates/github-oidc.yaml --stack-name wealist-prod-github"
    )


@pytest.mark.moto
def test_the_boundary_must_exist_before_the_deploy(ctx):
    """moto IAM: a missing boundary fails with one line and the command that
    deploys the trust stack; once the policy exists the check passes."""
    r = checks.check_role_boundary(ctx)
    assert r.status == checks.FAIL and "policy/wealist-prod-role-boundary does not exist" in r.finding
    assert "\n" not in r.finding and "--stack-name wealist-prod-github" in r.fix
    ctx.aws.client("iam").create_policy(
        PolicyName="wealist-prod-role-boundary",
        PolicyDocument=(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*"}]}'
        ),
    )
    assert checks.check_role_boundary(ctx).status == checks.OK


@pytest.mark.moto
def test_an_endpoint_without_roles_uses_no_trust_stack_and_an_unknown_one_is_held_to_it(ctx):
    """moto's server. The rehearsal declares it runs no IAM roles, so its
    deploy gets no service role (deploy/flow.py service_role_arn) and
    neither check demands anything; an endpoint that declares nothing is
    held to the role as AWS is (it was let off before), and nothing is
    bootstrapped here, so both checks fail (not blocking there)."""
    from wealist_cfn.aws import target
    from wealist_cfn.rehearsal import compat as local

    rehearsal = capability.for_target(target.from_document(local.target_document(), "http://localhost:1"))
    unknown = capability.for_target(target.unknown("http://localhost:1"))
    for check in (checks.check_trust_stack, checks.check_role_boundary):
        assert check(dataclasses.replace(ctx, capability=rehearsal)).status == checks.OK, check.__name__
        assert check(dataclasses.replace(ctx, capability=unknown)).status == checks.FAIL, check.__name__


def test_the_trust_stack_name_is_the_one_the_roles_are_scoped_to():
    from wealist_cfn.stacks import github_oidc

    assert github_oidc.TRUST_STACK == "${StackName}" + checks.TRUST_STACK_SUFFIX
