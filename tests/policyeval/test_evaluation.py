"""Table tests of how policies combine (wealist_cfn/policyeval/engine.py),
taken from AWS's documented examples; each case names its page. Stand-in:
none; pure evaluation."""

from __future__ import annotations

import pytest

from wealist_cfn.policyeval import (
    ALLOW,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    Principal,
    could_allow,
    evaluate,
    evaluate_statements,
)

EVAL = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html"
DENYALLOW = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html"
)
CROSS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html"
BOUNDARIES = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html"
KEY_POLICIES = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"
KMS_TAGS = "https://docs.aws.amazon.com/kms/latest/developerguide/tag-permissions.html"
S3_GET = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html"
PASSROLE = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_PassedToService"
)
SSM_KMS = "https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html"

ACCOUNT = "123456789012"

# -- "Example identity-based and resource-based policy evaluation" (EVAL) -------------------------
CARLOS = Principal.aws(f"arn:aws:iam::{ACCOUNT}:user/carlossalazar")
CARLOS_POLICY = [
    {
        "Sid": "AllowS3ListRead",
        "Effect": "Allow",
        "Action": [
            "s3:GetBucketLocation",
            "s3:GetAccountPublicAccessBlock",
            "s3:ListAccessPoints",
            "s3:ListAllMyBuckets",
        ],
        "Resource": "arn:aws:s3:::*",
    },
    {
        "Sid": "AllowS3Self",
        "Effect": "Allow",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"],
    },
    {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"},
]
CARLOS_BUCKET = [
    {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/carlossalazar"},
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"],
    }
]


def test_carlos_is_denied_the_logs_bucket_by_his_own_policy():
    """EVAL: "It finds one, because the identity-based policy explicitly
    denies Carlos access to any S3 buckets used for logging"."""
    d = evaluate("s3:PutObject", "arn:aws:s3:::carlossalazar-logs/f", principal=CARLOS, identity=CARLOS_POLICY)
    assert (d.allowed, d.effect, d.statement.sid) == (False, EXPLICIT_DENY, "DenyS3Logs")
    assert "DenyS3Logs" in str(d)


def test_carlos_may_write_his_own_bucket_by_either_policy():
    """EVAL: "Both the identity-based policy and the resource-based policy
    allow the request ... If one of the policy types allows the request and
    the other doesn't, the request is still allowed"."""
    key = "arn:aws:s3:::carlossalazar/f"
    assert evaluate("s3:PutObject", key, principal=CARLOS, identity=CARLOS_POLICY, resource_policy=CARLOS_BUCKET)
    assert evaluate("s3:PutObject", key, principal=CARLOS, identity=CARLOS_POLICY)
    assert evaluate("s3:PutObject", key, principal=CARLOS, identity=CARLOS_POLICY[:1], resource_policy=CARLOS_BUCKET)
    d = evaluate("s3:PutObject", key, principal=CARLOS, identity=CARLOS_POLICY[:1])
    assert (d.allowed, d.effect) == (False, IMPLICIT_DENY)
    # An explicit deny in the resource policy overrides the identity's allow.
    deny = [{**CARLOS_BUCKET[0], "Effect": "Deny", "Sid": "NoWrites"}]
    d = evaluate("s3:PutObject", key, principal=CARLOS, identity=CARLOS_POLICY, resource_policy=deny)
    assert (d.allowed, d.statement.sid) == (False, "NoWrites")


# EVAL, "The difference between explicit and implicit denies".
GET_LIST = [
    {"Sid": "AllowGetList", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
    {"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"},
]


@pytest.mark.parametrize(
    "action, effect",
    [
        ("iam:GetUser", ALLOW),
        ("iam:listroles", ALLOW),  # action names are case-insensitive
        ("iam:CreatePolicy", IMPLICIT_DENY),
        ("iam:GetOrganizationsAccessReport", EXPLICIT_DENY),
        ("iam:GenerateCredentialReport", EXPLICIT_DENY),
    ],
)
def test_explicit_and_implicit_denies(action, effect):
    more = [{"Effect": "Allow", "Action": "iam:GenerateCredentialReport", "Resource": "*"}]
    assert evaluate_statements(GET_LIST + more, action, "*").effect == effect


def test_not_action_and_not_resource():
    """NotAction "matches everything except the specified list of actions";
    NotResource likewise for resources
    (reference_policies_elements_notaction.html, ..._notresource.html)."""
    statements = [
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:PutObject", "NotResource": "arn:aws:s3:::b/plan/*"},
    ]
    assert evaluate_statements(statements, "s3:PutObject", "arn:aws:s3:::b/plan/x")
    assert evaluate_statements(statements, "s3:PutObject", "arn:aws:s3:::b/deploy/x").effect == EXPLICIT_DENY
    assert not evaluate_statements(statements, "IAM:CreateRole", "*")
    # Resources are case-sensitive.
    assert evaluate_statements(statements, "s3:PutObject", "arn:aws:s3:::b/Plan/x").effect == EXPLICIT_DENY


# -- resource-based policies and the principal they name (DENYALLOW) ---------------------------------
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/examplerole"
ROLE = Principal.role(ROLE_ARN, session="examplerolesessionname")
USER = Principal.aws(f"arn:aws:iam::{ACCOUNT}:user/exampleuser")
OBJECT = "arn:aws:s3:::example-bucket/k"
NOTHING = [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]  # a boundary allowing no S3


def _bucket(principal) -> list[dict]:
    return [
        {
            "Sid": "Grant",
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::example-bucket/*",
        }
    ]


@pytest.mark.parametrize(
    "who, named, boundary, allowed",
    [
        # A grant to the role ARN stands on its own without a boundary...
        (ROLE, ROLE_ARN, None, True),
        # ..."Resource-based policies that grant permissions to an IAM role ARN
        # are limited by an implicit deny in a permissions boundary".
        (ROLE, ROLE_ARN, NOTHING, False),
        # "...grant permissions to an IAM role session ARN ... are not limited by
        # an implicit deny in an identity-based policy, a permissions boundary".
        (ROLE, f"arn:aws:sts::{ACCOUNT}:assumed-role/examplerole/examplerolesessionname", NOTHING, True),
        # "...grant permissions to an IAM user ARN ... are not limited by an
        # implicit deny in an identity-based policy or permissions boundary".
        (USER, USER.arn, NOTHING, True),
        # A grant to the account (its root) delegates to the account's IAM
        # policies (Principal element, "AWS account principals"): no identity
        # policy allows it here.
        (ROLE, f"arn:aws:iam::{ACCOUNT}:root", None, False),
        (ROLE, ACCOUNT, None, False),
        # Another role, another session: not this caller.
        (ROLE, f"arn:aws:iam::{ACCOUNT}:role/other", None, False),
        (ROLE, f"arn:aws:sts::{ACCOUNT}:assumed-role/examplerole/another-session", None, False),
    ],
)
def test_what_a_resource_policy_grant_gives_by_itself(who, named, boundary, allowed):
    d = evaluate("s3:GetObject", OBJECT, principal=who, identity=[], boundary=boundary, resource_policy=_bucket(named))
    assert d.allowed is allowed, (DENYALLOW, d.reason)


def test_an_account_grant_counts_with_the_identity_policy_and_a_deny_to_the_account_reaches_everyone():
    identity = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]
    root = f"arn:aws:iam::{ACCOUNT}:root"
    assert evaluate("s3:GetObject", OBJECT, principal=ROLE, identity=identity, resource_policy=_bucket(root))
    deny = [{**_bucket(root)[0], "Effect": "Deny", "Sid": "NoOne"}]
    d = evaluate("s3:GetObject", OBJECT, principal=ROLE, identity=identity, resource_policy=deny)
    assert (d.allowed, d.statement.sid) == (False, "NoOne")


# -- cross-account (CROSS) ---------------------------------------------------------------------------
def test_cross_account_needs_both_sides():
    """CROSS: "the identity-based policy in the trusted account and the
    resource-based policy in the trusting account must both allow"."""
    foreign = Principal.role("arn:aws:iam::111122223333:role/reader", session="s")
    identity = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]
    grant = _bucket("arn:aws:iam::111122223333:root")
    assert evaluate(
        "s3:GetObject", OBJECT, principal=foreign, identity=identity, resource_policy=grant, resource_account=ACCOUNT
    )
    assert not evaluate("s3:GetObject", OBJECT, principal=foreign, identity=identity, resource_account=ACCOUNT)
    assert not evaluate(
        "s3:GetObject", OBJECT, principal=foreign, identity=[], resource_policy=grant, resource_account=ACCOUNT
    )
    # Naming the role directly does not spare it its own account's allow.
    assert not evaluate(
        "s3:GetObject",
        OBJECT,
        principal=foreign,
        identity=[],
        resource_policy=_bucket(foreign.arn),
        resource_account=ACCOUNT,
    )


def test_a_service_principal_is_decided_by_the_resource_policy_alone():
    """The ELB guide's access-log policy grants the delivery service; a
    service has no identity policy of ours (DENYALLOW, Principal element,
    "AWS service principals")."""
    logs = [
        {
            "Effect": "Allow",
            "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::logs/alb/AWSLogs/{ACCOUNT}/*",
        }
    ]
    key = f"arn:aws:s3:::logs/alb/AWSLogs/{ACCOUNT}/x.log.gz"
    svc = Principal.service("logdelivery.elasticloadbalancing.amazonaws.com")
    assert evaluate("s3:PutObject", key, principal=svc, resource_policy=logs, resource_account=ACCOUNT)
    assert not evaluate(
        "s3:PutObject",
        key,
        principal=Principal.service("delivery.logs.amazonaws.com"),
        resource_policy=logs,
        resource_account=ACCOUNT,
    )


# -- permissions boundaries (BOUNDARIES) ---------------------------------------------------------------
SHIRLEY = Principal.aws(f"arn:aws:iam::{ACCOUNT}:user/ShirleyRodriguez")
SHIRLEY_BOUNDARY = [{"Effect": "Allow", "Action": ["s3:*", "cloudwatch:*", "ec2:*"], "Resource": "*"}]


def test_shirley_cannot_create_a_user_outside_her_boundary():
    """BOUNDARIES: "If you attach this policy to the ShirleyRodriguez user,
    and Shirley tries to create a user, the operation fails"."""
    create_user = [{"Effect": "Allow", "Action": "iam:CreateUser", "Resource": "*"}]
    d = evaluate(
        "iam:CreateUser",
        f"arn:aws:iam::{ACCOUNT}:user/new",
        principal=SHIRLEY,
        identity=create_user,
        boundary=SHIRLEY_BOUNDARY,
    )
    assert (d.allowed, d.effect) == (False, IMPLICIT_DENY)
    assert "permissions boundary" in d.reason
    # The boundary grants nothing by itself: S3 needs a permissions policy too.
    assert not evaluate("s3:GetObject", OBJECT, principal=SHIRLEY, identity=create_user, boundary=SHIRLEY_BOUNDARY)
    assert evaluate(
        "s3:GetObject",
        OBJECT,
        principal=SHIRLEY,
        boundary=SHIRLEY_BOUNDARY,
        identity=create_user + [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    )


# BOUNDARIES, "Delegating responsibility to others using permissions
# boundaries": Zhang's boundary DelegatedUserBoundary (as the page gives it,
# accounts included) and his permissions policy DelegatedUserPermissions.
X_BOUNDARY = "arn:aws:iam::111122223333:policy/XCompanyBoundaries"
ZHANG_BOUNDARY = [
    {
        "Sid": "CreateOrChangeOnlyWithBoundary",
        "Effect": "Allow",
        "Action": [
            "iam:CreateUser",
            "iam:DeleteUserPolicy",
            "iam:AttachUserPolicy",
            "iam:DetachUserPolicy",
            "iam:PutUserPermissionsBoundary",
            "iam:PutUserPolicy",
        ],
        "Resource": "*",
        "Condition": {"StringEquals": {"iam:PermissionsBoundary": X_BOUNDARY}},
    },
    {
        "Sid": "CloudWatchAndOtherIAMTasks",
        "Effect": "Allow",
        "Action": [
            "cloudwatch:*",
            "iam:GetUser",
            "iam:ListUsers",
            "iam:DeleteUser",
            "iam:UpdateUser",
            "iam:CreatePolicy",
            "iam:DeletePolicy",
            "iam:CreatePolicyVersion",
            "iam:SetDefaultPolicyVersion",
        ],
        "Resource": "*",
    },
    {
        "Sid": "NoBoundaryPolicyEdit",
        "Effect": "Deny",
        "Action": [
            "iam:CreatePolicyVersion",
            "iam:DeletePolicy",
            "iam:DeletePolicyVersion",
            "iam:SetDefaultPolicyVersion",
        ],
        "Resource": [
            "arn:aws:iam::123456789012:policy/XCompanyBoundaries",
            "arn:aws:iam::123456789012:policy/DelegatedUserBoundary",
        ],
    },
    {"Sid": "NoBoundaryUserDelete", "Effect": "Deny", "Action": "iam:DeleteUserPermissionsBoundary", "Resource": "*"},
]
ZHANG_PERMISSIONS = [{"Sid": "IAM", "Effect": "Allow", "Action": "iam:*", "Resource": "*"}]
ZHANG = Principal.aws(f"arn:aws:iam::{ACCOUNT}:user/Zhang")


@pytest.mark.parametrize(
    "action, resource, context, sid_or_none, allowed",
    [
        # "allows Zhang to create IAM users but only if he uses the
        # XCompanyBoundaries policy to set the permissions boundary".
        ("iam:CreateUser", "arn:aws:iam::123456789012:user/new", {"iam:PermissionsBoundary": X_BOUNDARY}, None, True),
        ("iam:CreateUser", "arn:aws:iam::123456789012:user/new", {}, None, False),
        (
            "iam:CreateUser",
            "arn:aws:iam::123456789012:user/new",
            {"iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess"},
            None,
            False,
        ),
        # "denies Zhang access to update the XCompanyBoundaries policy".
        (
            "iam:CreatePolicyVersion",
            "arn:aws:iam::123456789012:policy/XCompanyBoundaries",
            {},
            "NoBoundaryPolicyEdit",
            False,
        ),
        ("iam:CreatePolicyVersion", "arn:aws:iam::123456789012:policy/team", {}, None, True),
        # "denies Zhang access to delete the permissions boundary for himself or other users".
        (
            "iam:DeleteUserPermissionsBoundary",
            "arn:aws:iam::123456789012:user/Zhang",
            {},
            "NoBoundaryUserDelete",
            False,
        ),
    ],
)
def test_zhang_creates_users_only_with_the_company_boundary(action, resource, context, sid_or_none, allowed):
    d = evaluate(action, resource, context, principal=ZHANG, identity=ZHANG_PERMISSIONS, boundary=ZHANG_BOUNDARY)
    assert d.allowed is allowed, d.reason
    if sid_or_none:
        assert (d.effect, d.statement.sid) == (EXPLICIT_DENY, sid_or_none)


# -- KMS key policies (KEY_POLICIES; "Key policies in AWS KMS") -------------------------------------
KEY = f"arn:aws:kms:ap-northeast-2:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ENABLE_IAM = {
    "Sid": "Enable IAM User Permissions",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
IAM_DECRYPT = [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY}]


def test_iam_policies_work_on_a_key_only_where_the_key_policy_delegates_to_the_account():
    """KEY_POLICIES, "Allows access to the AWS account and enables IAM
    policies": without that statement, IAM policies have no effect on the
    key; the key policy may instead name the role itself."""
    assert evaluate(
        "kms:Decrypt", KEY, principal=ROLE, identity=IAM_DECRYPT, resource_policy=[ENABLE_IAM], key_policy=True
    )
    d = evaluate(
        "kms:Decrypt",
        KEY,
        principal=ROLE,
        identity=IAM_DECRYPT,
        key_policy=True,
        resource_policy=[
            {
                "Sid": "OnlyOther",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    )
    assert (d.allowed, d.effect) == (False, IMPLICIT_DENY)
    assert "key policy" in d.reason
    direct = [{"Effect": "Allow", "Principal": {"AWS": ROLE_ARN}, "Action": "kms:Decrypt", "Resource": "*"}]
    assert evaluate("kms:Decrypt", KEY, principal=ROLE, identity=[], resource_policy=direct, key_policy=True)
    # Delegated, but no IAM policy of the caller allows it.
    assert not evaluate("kms:Decrypt", KEY, principal=ROLE, identity=[], resource_policy=[ENABLE_IAM], key_policy=True)


def test_a_key_policy_grants_a_service_principal_by_itself():
    """KMS key policies name AWS services directly (the key policy's
    "Allowing AWS services to use the key" statements, e.g. CloudWatch for
    encrypted SNS alarm topics), scoped by aws:SourceAccount
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html)."""
    key_policy = [
        ENABLE_IAM,
        {
            "Sid": "CloudWatchAlarms",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        },
    ]
    cw = Principal.service("cloudwatch.amazonaws.com")
    assert evaluate(
        "kms:GenerateDataKey",
        KEY,
        {"aws:SourceAccount": ACCOUNT},
        principal=cw,
        resource_policy=key_policy,
        key_policy=True,
        resource_account=ACCOUNT,
    )
    d = evaluate(
        "kms:GenerateDataKey",
        KEY,
        {"aws:SourceAccount": "111122223333"},
        principal=cw,
        resource_policy=key_policy,
        key_policy=True,
        resource_account=ACCOUNT,
    )
    assert not d and d.effect == IMPLICIT_DENY
    assert not evaluate(
        "kms:GenerateDataKey",
        KEY,
        {"aws:SourceAccount": ACCOUNT},
        principal=Principal.service("sns.amazonaws.com"),
        resource_policy=key_policy,
        key_policy=True,
        resource_account=ACCOUNT,
    )


def test_parameter_store_decryption_is_scoped_by_the_encryption_context():
    """SSM_KMS: Parameter Store encrypts a SecureString with the encryption
    context PARAMETER_ARN = the parameter's ARN; a policy can allow
    decryption of some parameters only through
    kms:EncryptionContext:PARAMETER_ARN."""
    key_policy = [
        {
            **ENABLE_IAM,
            "Action": "kms:Decrypt",
            "Condition": {
                "StringLike": {
                    "kms:EncryptionContext:PARAMETER_ARN": (
                        f"arn:aws:ssm:us-west-2:{ACCOUNT}:parameter/ReadableParameters/*"
                    )
                },
                "StringEquals": {"kms:ViaService": "ssm.us-west-2.amazonaws.com"},
            },
        }
    ]
    via = {"kms:ViaService": "ssm.us-west-2.amazonaws.com"}
    ok = {
        **via,
        "kms:EncryptionContext:PARAMETER_ARN": f"arn:aws:ssm:us-west-2:{ACCOUNT}:parameter/ReadableParameters/a",
    }
    other = {**via, "kms:EncryptionContext:PARAMETER_ARN": f"arn:aws:ssm:us-west-2:{ACCOUNT}:parameter/Secret/a"}
    decide = dict(principal=ROLE, identity=IAM_DECRYPT, resource_policy=key_policy, key_policy=True)
    assert evaluate("kms:Decrypt", KEY, ok, **decide)
    assert not evaluate("kms:Decrypt", KEY, other, **decide)
    d = evaluate("kms:Decrypt", KEY, via, **decide)  # a direct Decrypt names no parameter
    assert d.missing == ("kms:EncryptionContext:PARAMETER_ARN",) and "is missing" in d.reason


def test_tags_on_create_need_tag_resource_on_no_particular_key():
    """KMS_TAGS: "To add tags while creating a KMS key, the principal must
    have permission in an IAM policy that isn't restricted to particular
    KMS keys"; a key not yet created has no aws:ResourceTag, so only
    aws:RequestTag / aws:TagKeys can scope the call."""
    create = {"aws:RequestTag/Project": "Alpha", "aws:TagKeys": ["Project"]}
    by_key = [
        {"Effect": "Allow", "Action": ["kms:CreateKey"], "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:TagResource", "Resource": KEY},
    ]
    by_resource_tag = [
        {
            "Effect": "Allow",
            "Action": ["kms:CreateKey", "kms:TagResource"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/Project": "Alpha"}},
        }
    ]
    by_request_tag = [
        {
            "Effect": "Allow",
            "Action": ["kms:CreateKey", "kms:TagResource"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:RequestTag/Project": "Alpha"},
                "ForAllValues:StringEquals": {"aws:TagKeys": ["Project"]},
            },
        }
    ]
    assert not evaluate_statements(by_key, "kms:TagResource", "*", create)
    d = evaluate_statements(by_resource_tag, "kms:TagResource", "*", create)
    assert not d and d.missing == ("aws:ResourceTag/Project",)
    assert evaluate_statements(by_request_tag, "kms:TagResource", "*", create)
    assert not evaluate_statements(
        by_request_tag, "kms:TagResource", "*", {**create, "aws:TagKeys": ["Project", "Owner"]}
    )


def test_a_get_with_a_version_id_is_a_different_action():
    """S3_GET: "To get a specific version of an object, you must have
    s3:GetObjectVersion"; a policy granting s3:GetObject alone refuses it."""
    policy = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]
    assert evaluate_statements(policy, "s3:GetObject", "arn:aws:s3:::b/t.yaml")
    assert not evaluate_statements(policy, "s3:GetObjectVersion", "arn:aws:s3:::b/t.yaml")


def test_pass_role_only_to_the_named_service():
    """PASSROLE: iam:PassedToService names the service a role is passed to."""
    policy = [
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": f"arn:aws:iam::{ACCOUNT}:role/EC2-roles-*",
            "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
        }
    ]
    role = f"arn:aws:iam::{ACCOUNT}:role/EC2-roles-web"
    assert evaluate_statements(policy, "iam:PassRole", role, {"iam:PassedToService": "ec2.amazonaws.com"})
    assert not evaluate_statements(policy, "iam:PassRole", role, {"iam:PassedToService": "lambda.amazonaws.com"})
    assert not evaluate_statements(
        policy, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin", {"iam:PassedToService": "ec2.amazonaws.com"}
    )


def test_could_allow_counts_a_conditional_allow_and_only_an_unconditional_deny():
    policy = [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
        {
            "Sid": "Maybe",
            "Effect": "Deny",
            "Action": "s3:GetObject",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": "1"}},
        },
        {"Sid": "Never", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
    ]
    assert could_allow(policy, "s3:GetObject", "arn:aws:s3:::b/k")
    d = could_allow(policy, "s3:DeleteObject", "arn:aws:s3:::b/k")
    assert (d.allowed, d.statement.sid) == (False, "Never")
