"""The GitHub OIDC roles template: trust limited to one repository and
context, and no permission broader than its comment says. That it is
cfn-lint clean is tested with every committed template
(tests/test_build.py: templates/github-oidc.yaml is this build, and is linted
there)."""

from __future__ import annotations

import json

import pytest

from wealist_cfn.core.settings import DEFAULT_SETTINGS
from wealist_cfn.stacks import github_oidc


@pytest.fixture(scope="module")
def template():
    return json.loads(github_oidc.build(DEFAULT_SETTINGS).to_json())


def _statements(template, role, policy=None):
    out = []
    for p in template["Resources"][role]["Properties"]["Policies"]:
        if policy is None or p["PolicyName"] == policy:
            out += p["PolicyDocument"]["Statement"]
    return out


def test_deploy_role_trusts_only_main_of_the_repository_environment(template):
    """The subject carries the ref (GitHub's subject customisation with
    repo, context and ref), so a workflow_dispatch from another branch, in
    the same environment, gets a subject this role refuses."""
    [trust] = template["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == ["sts:AssumeRoleWithWebIdentity"]
    assert trust["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": {
                "Fn::Sub": "repo:${GitHubRepository}:environment:${GitHubEnvironment}:ref:refs/heads/main"
            },
        }
    }


def test_plan_role_reviews_and_can_never_execute(template):
    plan = template["Resources"]["PlanRole"]
    [trust] = plan["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["StringEquals"] == {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
    # Only the PR number is a wildcard; the drift check runs on main.
    assert trust["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"] == [
        {"Fn::Sub": "repo:${GitHubRepository}:pull_request:ref:refs/pull/*/merge"},
        {"Fn::Sub": "repo:${GitHubRepository}:ref:refs/heads/main:ref:refs/heads/main"},
    ]
    statements = _statements(template, "PlanRole")
    allowed = {a for s in statements if s["Effect"] == "Allow" for a in s["Action"]}
    assert "cloudformation:CreateChangeSet" in allowed
    assert not allowed & {"cloudformation:ExecuteChangeSet", "cloudformation:UpdateStack", "kms:Decrypt"}
    [deny] = [s for s in statements if s["Sid"] == "NoChangesFromPullRequests"]
    assert "cloudformation:ExecuteChangeSet" in deny["Action"] and deny["Resource"] == ["*"]


def test_every_statement_is_named_and_no_write_is_unbounded(template):
    for role in ("DeployRole", "PlanRole"):
        for s in _statements(template, role):
            assert s.get("Sid"), s
            actions = s["Action"]
            assert "*" not in actions
            if s["Effect"] == "Allow" and s["Resource"] == ["*"]:
                read_only = all(a.split(":")[1].startswith(("Describe", "Get", "List", "Validate")) for a in actions)
                assert read_only or "Condition" in s or actions == ["ecr:GetAuthorizationToken"], s["Sid"]


def test_pass_role_only_the_service_role_to_cloudformation(template):
    [passrole] = [s for s in _statements(template, "DeployRole") if "iam:PassRole" in s["Action"]]
    assert passrole["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${Project}-${Environment}-cfn-role"}
    ]
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
    # A plan uses the stack's own role; a pull request passes none.
    assert not any("iam:PassRole" in s["Action"] for s in _statements(template, "PlanRole") if s["Effect"] == "Allow")


def test_release_may_set_only_the_deploy_parameters(template):
    [stmt] = [s for s in _statements(template, "DeployRole", "release") if "ssm:PutParameter" in s["Action"]]
    assert stmt["Resource"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:"
            "parameter/${Project}/${Environment}/deploy/*"
        }
    ]


def test_an_existing_provider_can_be_reused(template):
    assert template["Resources"]["GitHubOidcProvider"]["Condition"] == "CreateProvider"
    assert "ExistingProviderGiven" in template["Rules"]


def test_images_may_be_pushed_only_to_the_services_repositories():
    """The repositories come from the settings' services: a service added
    there may be pushed to, and nothing else may."""
    from wealist_cfn.core.settings import BuildSettings, Service

    settings = BuildSettings(services=(*DEFAULT_SETTINGS.services, Service(key="Chat", name="chat-service")))
    template = json.loads(github_oidc.build(settings).to_json())
    [push] = [s for s in _statements(template, "DeployRole", "release") if s["Sid"] == "PushServiceImages"]
    expected = [
        {
            "Fn::Sub": "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/"
            f"${{EcrRepositoryPrefix}}{name}"
        }
        for name in ("user-service", "board-service", "chat-service")
    ]
    assert push["Resource"] == expected


def test_project_and_environment_have_the_root_templates_constraints(template):
    """The trust stack builds role, policy and bucket names from Project and
    Environment as the root stack does: CloudFormation refuses there what it
    refuses at the root (MaxLength, AllowedPattern), so the two cannot name
    different things or a name too long for S3."""
    from wealist_cfn.stacks import root

    root_params = root.build_all(DEFAULT_SETTINGS)["root.yaml"].to_dict()["Parameters"]
    oidc_params = template["Parameters"]
    for key in ("Project", "Environment"):
        for field in ("AllowedPattern", "MaxLength"):
            assert oidc_params[key].get(field) == root_params[key][field], (key, field)
