"""What must never be possible, decided by the product's IAM evaluator
(wealist_cfn/policyeval ``evaluate``: identity policies, the permissions
boundary and the key policy together, explicit deny first) over the
committed templates, resolved as tests/ops/test_iam_policies.py resolves
them (github-oidc.yaml in both of its modes, the root set for
params/prod.json with EnableMultiAZ false and true):

* a pull request's plan role reads no secret: neither the parameter
  (ssm:GetParameter(s), ...ByPath, ...History) nor its value through KMS
  with SSM's encryption context; it writes nothing outside ``plan/`` in the
  artifact bucket, executes nothing, changes nothing in IAM;
* an instance role reads no secret of the other group;
* the service role mints no administrator: no role without the boundary, no
  user or group with policies, no managed policy attached or rewritten, no
  inline policy on a role outside the stacks', no admin role passed.

Each secret check asks both policies that guard a secret on their own, so
weakening either one fails a test: the identity side (with a key policy
that delegates everything to the account, KMS's default) and the key side
(with an identity policy that allows everything).

Stand-in: none runs. Real AWS rules relied on, with their pages:
* Parameter Store encrypts a SecureString with the encryption context
  PARAMETER_ARN = the parameter's ARN, and decrypts through KMS as the
  caller (kms:ViaService ssm.<region>.amazonaws.com): KMS developer guide,
  "How AWS Systems Manager Parameter Store uses AWS KMS",
  https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html
* IAM policies have effect on a KMS key only where its key policy allows
  the account: https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
* GetParametersByPath is authorised on the path's ARN and returns every
  parameter below it (SSM user guide, "Working with parameter hierarchies").
* CreateRole, PutRolePolicy, PutRolePermissionsBoundary and
  AttachRolePolicy carry iam:PermissionsBoundary (the target role's
  boundary); AttachRolePolicy carries iam:PolicyARN
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html,
  https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html).
"""

from __future__ import annotations

import pytest

from helpers.iam_policies import (
    ACCOUNT,
    KEY_ARN,
    OIDC_MODES,
    REGION,
    _committed,
    _concrete,
    _key_policy,
    _managed,
    _oidc_stack,
    _roles,
)
from wealist_cfn import config
from wealist_cfn.cfn import model as cfnmodel
from wealist_cfn.ops.bootstrap import SECRET_NAMES
from wealist_cfn.policyeval import ALLOW, Principal, could_allow, evaluate
from wealist_cfn.stacks import iamdata

from .tools import ROOT

ROLE = f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/wealist-prod-role-boundary"
ARTIFACTS = f"arn:aws:s3:::wealist-cfn-artifacts-{ACCOUNT}-{REGION}"
STACK = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/"
PARAM = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/wealist/prod/"
VIA_SSM = {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"}
EVERYTHING = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
# KMS's default key policy: the account, and so its IAM policies, decide.
DEFAULT_KEY_POLICY = [
    {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
]


def _secret_context(name: str) -> dict:
    return {**VIA_SSM, "kms:EncryptionContext:PARAMETER_ARN": PARAM + name}


@pytest.fixture(scope="module", params=sorted(OIDC_MODES))
def trust(request):
    """The trust stack (github-oidc.yaml) in one of its documented modes."""
    stack = _oidc_stack(OIDC_MODES[request.param])
    return {
        "roles": {arn.removeprefix(ROLE): r["statements"] for arn, r in _roles(stack).items()},
        "boundary": _managed(stack)[BOUNDARY]["document"],
        "key": _key_policy(stack),
        "mode": request.param,
    }


@pytest.fixture(scope="module")
def plan():
    stack = _oidc_stack(OIDC_MODES["own provider, plan role"])
    return {"statements": _roles(stack)[ROLE + "github-plan"]["statements"], "key": _key_policy(stack)}


PLAN = Principal.role(ROLE + "github-plan", session="GitHubActions")


# -- the pull-request plan role ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SECRET_NAMES))
def test_plan_role_reads_no_secret_parameter_nor_its_value(plan, name):
    for action in ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParameterHistory"):
        d = evaluate(action, PARAM + name, principal=PLAN, identity=plan["statements"])
        assert not d, d.reason
    # No path above the secret either: ByPath returns everything below.
    parts = name.split("/")
    for depth in range(len(parts)):
        path = "/".join(parts[:depth])
        d = evaluate("ssm:GetParametersByPath", (PARAM + path).rstrip("/"), principal=PLAN, identity=plan["statements"])
        assert not d, (path, d.reason)
    # The value, decrypted through SSM with the parameter's context: each of
    # the two policies refuses on its own.
    ctx = _secret_context(name)
    assert not evaluate(
        "kms:Decrypt",
        KEY_ARN,
        ctx,
        principal=PLAN,
        identity=plan["statements"],
        resource_policy=plan["key"],
        key_policy=True,
    )
    d = evaluate(
        "kms:Decrypt",
        KEY_ARN,
        ctx,
        principal=PLAN,
        identity=plan["statements"],
        resource_policy=DEFAULT_KEY_POLICY,
        key_policy=True,
    )
    assert not d, f"the plan role's own policies let it decrypt {name}: {d.reason}"
    d = evaluate(
        "kms:Decrypt", KEY_ARN, ctx, principal=PLAN, identity=EVERYTHING, resource_policy=plan["key"], key_policy=True
    )
    assert not d, f"the secrets key lets the plan role decrypt {name}: {d.reason}"


WRITES = (
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutObjectAcl",
    "s3:PutObjectTagging",
    "s3:RestoreObject",
    "s3:AbortMultipartUpload",
    "s3:ReplicateObject",
    "s3:PutObjectRetention",
)


@pytest.mark.parametrize(
    "key",
    [
        "deploy/wealist-prod/network.yaml",
        "root.yaml",
        "planx/a.yaml",
        "Plan/a.yaml",
        "ci/wealist-prod/cache.tar",
        "deploy/wealist-dev/x.yaml",
    ],
)
def test_plan_role_writes_nothing_outside_plan(plan, key):
    for action in WRITES:
        d = could_allow(plan["statements"], action, f"{ARTIFACTS}/{key}")
        assert not d, (action, key, d.reason)
    # The neighbour that must stay possible, or the check proves nothing.
    assert (
        evaluate(
            "s3:PutObject", f"{ARTIFACTS}/plan/wealist-prod/x.yaml", principal=PLAN, identity=plan["statements"]
        ).effect
        == ALLOW
    )


@pytest.mark.parametrize(
    "stack",
    [
        "wealist-prod/0a1b2c3d-1111-2222-3333-444455556666",
        "wealist-prod-NetworkStack-1ABCDEF/0a1b2c3d-1111-2222-3333-444455556666",
        "wealist-prod-github/0a1b2c3d-1111-2222-3333-444455556666",
    ],
)
def test_plan_role_executes_and_changes_no_stack(plan, stack):
    for action in (
        "cloudformation:ExecuteChangeSet",
        "cloudformation:UpdateStack",
        "cloudformation:CreateStack",
        "cloudformation:DeleteStack",
        "cloudformation:RollbackStack",
        "cloudformation:SetStackPolicy",
        "cloudformation:ContinueUpdateRollback",
        "cloudformation:CancelUpdateStack",
        "cloudformation:UpdateTerminationProtection",
        "cloudformation:ImportStacksToStackSet",
    ):
        d = could_allow(plan["statements"], action, STACK + stack)
        assert not d, (action, d.reason)
    # Executing by the change set's own ARN, the other form IAM may check.
    change_set = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/pr-7/0a1b2c3d-1111-2222-3333-44445555"
    assert not could_allow(plan["statements"], "cloudformation:ExecuteChangeSet", change_set)


def _iam_changes() -> list[str]:
    """Every IAM action but the reads (IAM's action table, as cfn-lint ships it)."""
    reads = ("get", "list", "simulate", "generate")
    return sorted(f"iam:{a}" for a in iamdata.iam_actions("iam") if not a.startswith(reads))


def test_plan_role_changes_nothing_in_iam(plan):
    changes = _iam_changes()
    assert {
        "iam:createrole",
        "iam:passrole",
        "iam:putrolepolicy",
        "iam:createpolicyversion",
        "iam:createaccesskey",
        "iam:updateassumerolepolicy",
    } <= set(changes)
    for resource in (
        "*",
        ROLE + "ec2-role",
        ROLE + "github-plan",
        BOUNDARY,
        f"arn:aws:iam::{ACCOUNT}:user/x",
        f"arn:aws:iam::{ACCOUNT}:policy/any",
    ):
        for action in changes:
            d = could_allow(plan["statements"], action, resource)
            assert not d, (action, resource, d.reason)


# -- instance roles: the other group's secrets ---------------------------------------------------

GROUPS = {"Ec2Role": "ec2-role", "MonitoringRole": "monitoring-role"}


def _owner(name: str) -> str:
    return "MonitoringRole" if name.startswith("monitoring/") else "Ec2Role"


@pytest.fixture(scope="module", params=["false", "true"], ids=["single-AZ", "multi-AZ"])
def instance_roles(request):
    cfg = config.load(ROOT / "params" / "prod.json")
    values = cfg.with_values(EnableMultiAZ=request.param).values
    stacks = cfnmodel.resolve_set(_committed(), values, region=cfg.region)
    out = {}
    for rid in GROUPS:
        props = _concrete(stacks["IamStack"].resources[rid]["Properties"], stacks)
        assert props["PermissionsBoundary"] == BOUNDARY
        out[rid] = [s for p in props["Policies"] for s in p["PolicyDocument"]["Statement"]]
    return out


@pytest.mark.parametrize("rid", sorted(GROUPS))
def test_an_instance_role_reads_no_secret_of_the_other_group(instance_roles, trust, rid):
    who = Principal.role(ROLE + GROUPS[rid], session="i-0123456789abcdef0")
    mine = [n for n in SECRET_NAMES if _owner(n) == rid]
    others = [n for n in SECRET_NAMES if _owner(n) != rid]
    assert mine and others
    decide = dict(principal=who, identity=instance_roles[rid], boundary=trust["boundary"])
    for name in others:
        for action in ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParameterHistory"):
            d = evaluate(action, PARAM + name, **decide)
            assert not d, (rid, action, name, d.reason)
        group = name.split("/")[0]
        for path in ("", group, name):
            d = evaluate("ssm:GetParametersByPath", (PARAM + path).rstrip("/"), **decide)
            assert not d, (rid, path, d.reason)
        d = evaluate(
            "kms:Decrypt", KEY_ARN, _secret_context(name), **decide, resource_policy=trust["key"], key_policy=True
        )
        assert not d, (rid, name, d.reason)
        # The key policy alone refuses it, whatever the role's own policies say.
        d = evaluate(
            "kms:Decrypt",
            KEY_ARN,
            _secret_context(name),
            principal=who,
            identity=EVERYTHING,
            resource_policy=trust["key"],
            key_policy=True,
        )
        assert not d, f"the secrets key lets {GROUPS[rid]} decrypt {name}: {d.reason}"
    # Its own secrets stay readable through the same machinery.
    for name in mine:
        path = name.rsplit("/", 1)[0]
        assert evaluate("ssm:GetParametersByPath", PARAM + path, **decide), (rid, path)
        d = evaluate(
            "kms:Decrypt", KEY_ARN, _secret_context(name), **decide, resource_policy=trust["key"], key_policy=True
        )
        assert d, (rid, name, d.reason)


# -- the service role mints no administrator -------------------------------------------------------

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
SERVICE = Principal.role(ROLE + "cfn-role", session="AWSCloudFormation")
FOREIGN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"


def test_the_service_role_creates_no_role_without_the_boundary(trust):
    service = trust["roles"]["cfn-role"]
    for role in ("ec2-role", "monitoring-role", "flow-logs-role"):
        for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary", "iam:AttachRolePolicy"):
            for ctx in ({}, {"iam:PermissionsBoundary": ADMIN}, {"iam:PermissionsBoundary": f"{BOUNDARY}-2"}):
                d = evaluate(action, ROLE + role, {**ctx, "iam:PolicyARN": ADMIN}, principal=SERVICE, identity=service)
                assert not d, (trust["mode"], action, role, ctx, d.reason)
        # With the boundary in place, still no managed policy: AdministratorAccess
        # above all.
        d = evaluate(
            "iam:AttachRolePolicy",
            ROLE + role,
            {"iam:PermissionsBoundary": BOUNDARY, "iam:PolicyARN": ADMIN},
            principal=SERVICE,
            identity=service,
        )
        assert not d, (trust["mode"], role, d.reason)
    # Nor an inline policy, a boundary or a trust on a role outside the stacks'.
    for action in (
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:PutRolePermissionsBoundary",
        "iam:UpdateAssumeRolePolicy",
        "iam:AttachRolePolicy",
    ):
        for role in (FOREIGN_ROLE, ROLE + "admin"):
            d = evaluate(action, role, {"iam:PermissionsBoundary": BOUNDARY}, principal=SERVICE, identity=service)
            assert not d, (trust["mode"], action, role, d.reason)


def test_the_service_role_has_no_other_way_to_an_administrator(trust):
    """Users, groups, managed policies, and passing an existing role: each
    would give an administrator without touching a bounded role."""
    service = trust["roles"]["cfn-role"]
    paths = [
        (a, f"arn:aws:iam::{ACCOUNT}:user/x")
        for a in (
            "iam:CreateUser",
            "iam:PutUserPolicy",
            "iam:AttachUserPolicy",
            "iam:CreateAccessKey",
            "iam:CreateLoginProfile",
            "iam:AddUserToGroup",
            "iam:PutUserPermissionsBoundary",
        )
    ]
    paths += [
        (a, f"arn:aws:iam::{ACCOUNT}:group/admins")
        for a in ("iam:CreateGroup", "iam:PutGroupPolicy", "iam:AttachGroupPolicy")
    ]
    paths += [
        (a, f"arn:aws:iam::{ACCOUNT}:policy/{p}")
        for p in ("wealist-prod-cfn-role-1", "any", "wealist-prod-role-boundary")
        for a in ("iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion")
    ]
    paths += [
        ("iam:PassRole", FOREIGN_ROLE),
        ("iam:PassRole", ROLE + "github-deploy"),
        ("iam:AddRoleToInstanceProfile", f"arn:aws:iam::{ACCOUNT}:instance-profile/admin"),
        ("sts:AssumeRole", FOREIGN_ROLE),
    ]
    for action, resource in paths:
        d = could_allow(service, action, resource)
        assert not d, (trust["mode"], action, resource, d.reason)


def test_a_role_the_service_role_makes_stays_inside_the_boundary(trust):
    """An inline ``*:*`` policy on a bounded role, which PutRolePolicy cannot
    see the content of, gives that role no administration: the boundary
    caps it, and the secrets key still names each role's own secrets."""
    boundary = trust["boundary"]
    made = Principal.role(ROLE + "ec2-role", session="i-0123456789abcdef0")
    for action, resource in (
        ("iam:CreateRole", ROLE + "x"),
        ("iam:PutRolePolicy", ROLE + "ec2-role"),
        ("iam:AttachRolePolicy", ROLE + "ec2-role"),
        ("iam:CreateUser", "*"),
        ("iam:PassRole", ROLE + "cfn-role"),
        ("sts:AssumeRole", ROLE + "github-deploy"),
        ("kms:CreateGrant", KEY_ARN),
        ("kms:PutKeyPolicy", KEY_ARN),
        ("cloudformation:ExecuteChangeSet", STACK + "wealist-prod/x"),
        ("s3:PutObject", "arn:aws:s3:::wealist-deploy-scripts/boot/startup.sh"),
    ):
        d = evaluate(action, resource, principal=made, identity=EVERYTHING, boundary=boundary)
        assert not d, (trust["mode"], action, resource, d.reason)
    d = evaluate(
        "kms:Decrypt",
        KEY_ARN,
        _secret_context("monitoring/grafana_admin_password"),
        principal=made,
        identity=EVERYTHING,
        boundary=boundary,
        resource_policy=trust["key"],
        key_policy=True,
    )
    assert not d, d.reason
