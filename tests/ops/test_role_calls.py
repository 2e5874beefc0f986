"""The calls each role really makes, with the request context IAM sees,
evaluated (tests/helpers/iam_eval.py ``decide``: conditions included, explicit
Deny wins) against the policies of the committed templates, resolved for
params/prod.json and github-oidc.yaml's defaults. Each allowed call has its
denied neighbour beside it.

Stand-in: none runs; the templates are resolved by wealist_cfn.cfn.model and
the evaluator follows the IAM User Guide's evaluation and condition rules
(cited in iam_eval.py). Real AWS rules these tests rely on, with where they
are written:

* CloudFormation authorises CreateChangeSet and DeleteChangeSet against the
  stack (resource type ``stack``), not the change set's ARN (Service
  Authorization Reference, AWS CloudFormation; cfn-lint ships that table in
  ``data/AdditionalSpecs/Policies.json``).
* A GET with ``versionId`` is authorised as ``s3:GetObjectVersion`` (S3 API
  reference, GetObject, "Permissions"); a HEAD of a bucket as ``s3:ListBucket``.
* Tags passed in CreateKey need ``kms:TagResource`` in an IAM policy not
  restricted to particular keys; the request carries ``aws:RequestTag/*`` and
  ``aws:TagKeys``, never ``aws:ResourceTag`` (KMS developer guide,
  "Controlling access to tags"). The KMS key handler passes the stack's
  and the resource's tags in CreateKey (aws-cloudformation-resource-providers-kms,
  key/CreateHandler.java, ``request.getDesiredResourceTags()``).
* CreateRole, PutRolePolicy, PutRolePermissionsBoundary and AttachRolePolicy
  carry ``iam:PermissionsBoundary``; AttachRolePolicy carries
  ``iam:PolicyARN`` (IAM User Guide, "Permissions boundaries for IAM
  entities", and the Service Authorization Reference for IAM). A role's
  permissions are what both its policies and its boundary allow.
"""

from __future__ import annotations

import json
import types

import pytest

from helpers.iam_eval import decide, decide_bounded
from helpers.iam_policies import ACCOUNT, KEY_ARN, REGION, _concrete, _key_policy, _managed, _roles, _root_set
from wealist_cfn import config
from wealist_cfn.deploy import flow
from wealist_cfn.stacks import github_oidc
from wealist_cfn.stacks.alarms import KEY_PURPOSE_TAG

from .tools import ROOT

ROLE = f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/wealist-prod-role-boundary"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
ARTIFACTS = f"arn:aws:s3:::wealist-cfn-artifacts-{ACCOUNT}-{REGION}"
DEPLOY_BUCKET = f"arn:aws:s3:::wealist-prod-deploy-{ACCOUNT}-{REGION}"  # DeployBucketName empty
STACK = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/"
ALARM_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1111aaaa-2222-4333-8444-555566667777"


@pytest.fixture(scope="module")
def roles(oidc):
    return {arn.removeprefix(ROLE): r["statements"] for arn, r in _roles(oidc).items()}


@pytest.fixture(scope="module")
def oidc():
    from helpers.iam_policies import OIDC_MODES, _oidc_stack

    return _oidc_stack(OIDC_MODES["own provider, plan role"])


@pytest.fixture(scope="module")
def prod():
    return _root_set("prod")


@pytest.fixture(scope="module")
def boundary(oidc):
    return _managed(oidc)[BOUNDARY]["document"]["Statement"]


# -- the plan role (issue 20 item 2, issue 21's first denial) --------------------------------------


def test_plan_role_reads_the_bucket_configuration_and_never_changes_it(roles):
    plan, deploy = roles["github-plan"], roles["github-deploy"]
    for action in ("s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning"):
        assert decide(plan, action, ARTIFACTS), action
    # Suspended versioning would unpin the deploy's TemplateURLs; a foreign
    # default key would deny service.
    for action in (
        "s3:PutBucketVersioning",
        "s3:PutEncryptionConfiguration",
        "s3:PutBucketPublicAccessBlock",
        "s3:CreateBucket",
        "s3:PutBucketPolicy",
        "s3:DeleteBucket",
    ):
        assert not decide(plan, action, ARTIFACTS), action
        # ensure_bucket's first create runs on main, under the deploy role.
        if action in (
            "s3:PutBucketVersioning",
            "s3:PutEncryptionConfiguration",
            "s3:PutBucketPublicAccessBlock",
            "s3:CreateBucket",
        ):
            assert decide(deploy, action, ARTIFACTS), action
    # A deploy stopped after CreateBucket left it bare: the next deploy reads
    # each setting before putting it back (deploy/package.py _repair).
    for action in (
        "s3:GetBucketPublicAccessBlock",
        "s3:GetEncryptionConfiguration",
        "s3:GetBucketVersioning",
        "s3:GetLifecycleConfiguration",
    ):
        assert decide(deploy, action, ARTIFACTS), action


def test_plan_role_deletes_change_sets_of_the_projects_stacks_only(roles):
    plan = roles["github-plan"]
    for stack in (
        "wealist-prod/0a1b2c3d-1111-2222-3333-444455556666",
        "wealist-prod-NetworkStack-1ABCDEF/0a1b2c3d-1111-2222-3333-444455556666",
    ):
        assert decide(plan, "cloudformation:DeleteChangeSet", STACK + stack), stack
        assert decide(plan, "cloudformation:CreateChangeSet", STACK + stack), stack
    for other in (
        STACK + "payments/0a1b2c3d-1111-2222-3333-444455556666",
        STACK + "wealist-dev/0a1b2c3d-1111-2222-3333-444455556666",
        f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/release-7/0a1b2c3d-1111-2222-3333-44445555",
    ):
        assert not decide(plan, "cloudformation:DeleteChangeSet", other), other


def test_plan_role_reuses_the_deployed_templates_and_writes_only_under_plan(roles):
    """``plan`` reads each template a deploy stored under
    deploy/<project>-<env>/ (deploy/package.py ``reuse_prefix``); without
    the read it got 403 on every pull request once a deploy existed."""
    plan = roles["github-plan"]
    key = f"{ARTIFACTS}/deploy/wealist-prod/network.{'ab' * 32}.yaml"
    for action in ("s3:GetObject", "s3:GetObjectVersion"):
        assert decide(plan, action, key), action
        assert not decide(plan, action, f"{ARTIFACTS}/deploy/wealist-dev/network.{'ab' * 32}.yaml"), action
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"):
        assert not decide(plan, action, key), action
    assert decide(plan, "s3:PutObject", f"{ARTIFACTS}/plan/wealist-prod/network.{'cd' * 32}.yaml")


# -- the service role fetches pinned nested templates ------------------------------------------------


def test_service_role_fetches_pinned_nested_templates_from_the_artifact_bucket(roles):
    """CloudFormation GETs each nested TemplateURL, ``?versionId=`` included,
    as the stack's role: s3:GetObjectVersion on deploy/ and plan/ (a plan's
    change set is computed with the same role)."""
    service = roles["cfn-role"]
    for area in ("deploy", "plan"):
        key = f"{ARTIFACTS}/{area}/wealist-prod/database.{'ef' * 32}.yaml"
        assert decide(service, "s3:GetObjectVersion", key), area
        assert decide(service, "s3:GetObject", key), area
    assert not decide(service, "s3:GetObjectVersion", "arn:aws:s3:::team-templates/deploy/wealist-prod/x.yaml")
    assert not decide(service, "s3:PutObject", f"{ARTIFACTS}/deploy/wealist-prod/x.yaml")


def test_service_role_reads_no_other_object_of_the_artifact_or_deploy_bucket(roles):
    """The docs say it reads nested templates only under deploy/ and plan/;
    a grant on the whole artifact bucket (and the deploy bucket) for the
    replication group's never-used snapshot seeding said otherwise."""
    service = roles["cfn-role"]
    for key in (
        f"{ARTIFACTS}/ci/wealist-prod/cache.tar",
        f"{ARTIFACTS}/deploy/wealist-dev/network.yaml",
        f"{DEPLOY_BUCKET}/boot/startup.sh",
    ):
        assert not decide(service, "s3:GetObject", key), key


# -- the trust stack is out of the workflows' reach --------------------------------------------------

TRUST_STACK = STACK + "wealist-prod-github/0a1b2c3d-1111-2222-3333-444455556666"


@pytest.mark.parametrize("role", ["github-plan", "github-deploy"])
def test_no_workflow_role_changes_the_trust_stack(roles, role):
    """docs/operations.md names the trust stack <root>-github, which matches
    the nested stacks' scope stack/<root>-*/*: without the explicit Deny a
    pull request could make a change set of github-oidc.yaml itself."""
    policy = roles[role]
    for action in (
        "cloudformation:CreateChangeSet",
        "cloudformation:DeleteChangeSet",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:ContinueUpdateRollback",
        "cloudformation:SetStackPolicy",
        "cloudformation:UpdateTerminationProtection",
    ):
        assert not decide(policy, action, TRUST_STACK), action
    # A nested stack of the root, which shares the prefix, stays reviewable.
    nested = STACK + "wealist-prod-NetworkStack-1ABCDEF/0a1b2c3d-1111-2222-3333-444455556666"
    assert decide(policy, "cloudformation:CreateChangeSet", nested)
    # Preflight reads the trust stack's parameters and finds the boundary.
    assert decide(policy, "cloudformation:DescribeStacks", TRUST_STACK)
    assert decide(policy, "iam:GetPolicy", BOUNDARY)
    assert not decide(policy, "iam:GetPolicy", f"arn:aws:iam::{ACCOUNT}:policy/other")


# -- the alarm key, created under the service role ---------------------------------------------------


def _create_key_context(prod) -> dict:
    """What IAM sees on the KMS key handler's CreateKey: the stack's tags
    (deploy/flow.py) and the key's own, as aws:RequestTag/* and aws:TagKeys."""
    cfg = config.load(ROOT / "params" / "prod.json")
    stack_tags = flow.Deployment._tags(types.SimpleNamespace(config=cfg))
    key_tags = _concrete(prod["AlarmsStack"].resources["AlarmTopicKey"]["Properties"]["Tags"], prod)
    tags = {t["Key"]: t["Value"] for t in stack_tags + key_tags}
    return {
        **{f"aws:RequestTag/{k}": v for k, v in tags.items()},
        "aws:TagKeys": sorted(tags),
        "aws:RequestedRegion": REGION,
    }


def test_service_role_creates_the_alarm_key_with_its_tags(roles, prod):
    service = roles["cfn-role"]
    ctx = _create_key_context(prod)
    assert ctx["aws:RequestTag/KeyPurpose"] == KEY_PURPOSE_TAG[1]
    # Tag-on-create is authorised as kms:TagResource, on no particular key.
    for action in ("kms:CreateKey", "kms:TagResource"):
        assert decide(service, action, "*", ctx), action
    # Without the purpose tag, or with a tag key the project does not use: refused.
    no_purpose = {k: v for k, v in ctx.items() if k != "aws:RequestTag/KeyPurpose"}
    no_purpose["aws:TagKeys"] = [k for k in ctx["aws:TagKeys"] if k != "KeyPurpose"]
    assert not decide(service, "kms:CreateKey", "*", no_purpose)
    assert not decide(service, "kms:TagResource", "*", no_purpose)
    foreign = {**ctx, "aws:RequestTag/Owner": "someone", "aws:TagKeys": [*ctx["aws:TagKeys"], "Owner"]}
    assert not decide(service, "kms:TagResource", "*", foreign)


def test_service_role_administers_and_retags_only_the_alarm_key(roles, prod, oidc):
    """The alarm key's own policy names the service role; the secrets key's
    refuses it. Decided over the role's policies and each key's policy (the
    product evaluator's key-policy rule: KMS developer guide, "Key policies
    in AWS KMS"), with no resource tag in the request: tags may take five
    minutes to count for authorisation (KMS developer guide, "ABAC for AWS
    KMS")."""
    from wealist_cfn import policyeval

    service = roles["cfn-role"]
    who = policyeval.Principal.aws(f"{ROLE}cfn-role")
    [alarm_key] = [res for st in prod.values() for res in st.of_type("AWS::KMS::Key").values()]
    alarm_policy = _concrete(alarm_key["Properties"]["KeyPolicy"], prod)["Statement"]
    secrets_policy = _key_policy(oidc)

    def may(action, key, policy, context=None):
        return policyeval.evaluate(
            action,
            key,
            {"aws:RequestedRegion": REGION, **(context or {})},
            principal=who,
            identity=service,
            resource_policy=policy,
            key_policy=True,
        ).allowed

    for action in (
        "kms:PutKeyPolicy",
        "kms:ScheduleKeyDeletion",
        "kms:EnableKeyRotation",
        "kms:DescribeKey",
        "kms:TagResource",
        "kms:UntagResource",
    ):
        assert may(action, ALARM_KEY, alarm_policy), action
        assert not may(action, KEY_ARN, secrets_policy), action
    # Retagging the alarm key: the project's tag keys only.
    assert may(
        "kms:TagResource",
        ALARM_KEY,
        alarm_policy,
        {"aws:RequestTag/Name": "wealist-prod-alarm-topic-key", "aws:TagKeys": ["Name"]},
    )
    assert not may("kms:TagResource", ALARM_KEY, alarm_policy, {"aws:RequestTag/Owner": "x", "aws:TagKeys": ["Owner"]})
    assert not may("kms:UntagResource", ALARM_KEY, alarm_policy, {"aws:TagKeys": ["Owner"]})
    # The secrets key carrying the purpose tag would change nothing.
    tagged = {f"aws:ResourceTag/{KEY_PURPOSE_TAG[0]}": KEY_PURPOSE_TAG[1]}
    assert not may("kms:PutKeyPolicy", KEY_ARN, secrets_policy, tagged)


def test_the_secrets_key_refuses_the_service_role_everything_but_its_secrets(oidc):
    """The on-create tagging statement holds on "*"; the secrets key's own
    policy denies the service role any tag, policy, grant or deletion, so
    no tag makes it administer that key. Its decryption of the template
    secrets through SSM stays."""
    policy = _key_policy(oidc)
    service = {"aws:PrincipalArn": f"{ROLE}cfn-role"}
    for action in (
        "kms:TagResource",
        "kms:UntagResource",
        "kms:PutKeyPolicy",
        "kms:CreateGrant",
        "kms:ScheduleKeyDeletion",
        "kms:DisableKey",
    ):
        assert not decide(policy, action, KEY_ARN, service), action
        # An administrator still may (KeyAdministration).
        assert decide(policy, action, KEY_ARN, {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/admin"}) == (
            action != "kms:CreateGrant"
        ), action
    assert decide(
        policy,
        "kms:Decrypt",
        KEY_ARN,
        {
            **service,
            "kms:ViaService": f"ssm.{REGION}.amazonaws.com",
            "kms:EncryptionContext:PARAMETER_ARN": (
                f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/wealist/prod/db/postgres_superuser_password"
            ),
        },
    )


# -- the service role cannot mint an administrator -------------------------------------------------


def test_every_role_the_stacks_make_carries_the_boundary(prod):
    made = {rid: res["Properties"] for stack in prod.values() for rid, res in stack.of_type("AWS::IAM::Role").items()}
    assert set(made) == {"Ec2Role", "MonitoringRole", "FlowLogRole"}
    assert {rid: p.get("PermissionsBoundary") for rid, p in made.items()} == dict.fromkeys(made, BOUNDARY)


def test_a_role_without_the_boundary_is_an_error_at_build_time(monkeypatch):
    """The service role may create roles only with the boundary, so a
    template role without it would fail in CloudFormation; the build says
    so first."""
    from troposphere import NoValue

    from wealist_cfn.core.settings import DEFAULT_SETTINGS
    from wealist_cfn.stacks import iam

    monkeypatch.setattr(iam, "boundary_arn", lambda: NoValue)
    with pytest.raises(ValueError, match="PermissionsBoundary must be"):
        github_oidc.NestedSet(DEFAULT_SETTINGS)


def test_service_role_creates_and_changes_roles_only_with_the_boundary(roles):
    service = roles["cfn-role"]
    bounded = {"iam:PermissionsBoundary": BOUNDARY}
    for role in ("ec2-role", "monitoring-role", "flow-logs-role"):
        arn = ROLE + role
        for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary"):
            assert decide(service, action, arn, bounded), (action, role)
            assert not decide(service, action, arn, {}), (action, role)  # without a boundary
            assert not decide(service, action, arn, {"iam:PermissionsBoundary": ADMIN}), (action, role)
        assert not decide(service, "iam:DeleteRolePermissionsBoundary", arn, bounded), role
        # A trust change stays an administrator's, boundary or not (WITHHELD).
        assert not decide(service, "iam:UpdateAssumeRolePolicy", arn, bounded), role
        # Taking permissions away needs no boundary.
        for action in ("iam:DeleteRolePolicy", "iam:DeleteRole", "iam:TagRole"):
            assert decide(service, action, arn, {}), (action, role)
    # A new role, with the boundary or not, is none of the stacks'.
    assert not decide(service, "iam:CreateRole", ROLE + "admin", bounded)


def test_no_administrator_can_be_created_or_attached(roles, boundary):
    """Neither path to an admin: AttachRolePolicy of AdministratorAccess
    (iam:PolicyARN: no template attaches a managed policy, so none may be),
    nor an inline ``*:*`` policy, which the boundary caps."""
    service = roles["cfn-role"]
    for policy in (ADMIN, f"arn:aws:iam::{ACCOUNT}:policy/wealist-prod-cfn-role-1", BOUNDARY):
        assert not decide(
            service,
            "iam:AttachRolePolicy",
            ROLE + "ec2-role",
            {"iam:PermissionsBoundary": BOUNDARY, "iam:PolicyARN": policy},
        ), policy
    # The boundary policy itself is beyond the service role.
    for action in ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy"):
        assert not decide(service, action, BOUNDARY), action
    everything = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    for action, resource in (
        ("iam:CreateRole", ROLE + "x"),
        ("iam:AttachRolePolicy", ROLE + "ec2-role"),
        ("iam:PassRole", ROLE + "cfn-role"),
        ("sts:AssumeRole", ROLE + "github-deploy"),
        ("ssm:PutParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/wealist/prod/deploy/x"),
        ("s3:PutObject", f"{DEPLOY_BUCKET}/boot/startup.sh"),
        ("kms:CreateGrant", KEY_ARN),
        ("ec2:RunInstances", "*"),
        ("cloudformation:ExecuteChangeSet", STACK + "wealist-prod/x"),
        ("ssm:GetParametersByPath", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/wealist/dev"),
    ):
        assert not decide_bounded(everything, boundary, action, resource), action


def _satisfying(condition: dict) -> dict:
    """A request context that meets a statement's (positive) condition."""
    ctx = {}
    for block in condition.values():
        for key, wanted in block.items():
            ctx[key] = (wanted if isinstance(wanted, str) else wanted[0]).replace("*", "x")
    return ctx


def documented_trust_stack_overrides(stack_name: str) -> dict[str, str]:
    """The ``--parameter-overrides`` docs/operations.md tells an operator to
    give when deploying the trust stack ``stack_name`` (the rest keep the
    template's defaults, as ``aws cloudformation deploy`` does on a create)."""
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8").replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        words = line.split()
        if (
            "templates/github-oidc.yaml" not in words
            or "--parameter-overrides" not in words
            or words[words.index("--stack-name") + 1] != stack_name
        ):
            continue
        rest = words[words.index("--parameter-overrides") + 1 :]
        pairs = rest[: next((i for i, w in enumerate(rest) if w.startswith("--")), len(rest))]
        found.append(dict(w.split("=", 1) for w in pairs))
    assert found, f"docs/operations.md gives no command deploying {stack_name}"
    return found[0]


@pytest.mark.parametrize("env", ["prod", "dev"])
def test_the_boundary_allows_everything_the_roles_own_policies_grant(env):
    """Every call a role of the stacks is given stays possible under the
    boundary, with github-oidc.yaml deployed for the environment as
    docs/operations.md says (its overrides, the template's defaults for the
    rest), never with values taken from the params file: the instances boot
    and the flow log delivers; and the service role of that environment may
    create exactly those roles. A dev trust stack given only Project,
    Environment and StackName named prod's bucket and repositories."""
    from helpers.iam_policies import _oidc_stack

    cfg = config.load(ROOT / "params" / f"{env}.json")
    oidc = _oidc_stack(documented_trust_stack_overrides(f"{cfg.name_prefix}-github"))
    arn = f"arn:aws:iam::{ACCOUNT}:policy/{cfg.name_prefix}-role-boundary"
    boundary = _managed(oidc)[arn]["document"]["Statement"]
    [service] = [r["statements"] for a, r in _roles(oidc).items() if a.endswith(f"{cfg.name_prefix}-cfn-role")]
    stacks = _root_set(env)
    checked = 0
    for stack in ("IamStack", "NetworkStack"):
        for rid, res in stacks[stack].of_type("AWS::IAM::Role").items():
            props = _concrete(res["Properties"], stacks)
            # _concrete names an unnamed log group after the prod stack;
            # CloudFormation names it after the environment's.
            props = json.loads(json.dumps(props).replace("log-group:wealist-prod-", f"log-group:{cfg.name_prefix}-"))
            assert props["PermissionsBoundary"] == arn, rid
            role_arn = f"arn:aws:iam::{ACCOUNT}:role/{props['RoleName']}"
            assert decide(service, "iam:CreateRole", role_arn, {"iam:PermissionsBoundary": arn}), rid
            for st in (s for p in props["Policies"] for s in p["PolicyDocument"]["Statement"]):
                for action in st["Action"]:
                    for resource in st["Resource"]:
                        ctx = _satisfying(st.get("Condition", {}))
                        assert decide(boundary, action, resource, ctx), (rid, st.get("Sid"), action, resource)
                        checked += 1
    assert checked > 30


def test_the_flow_log_role_is_passed_by_its_arn_only(roles):
    """PassRole has no iam:PassedToService here: the VPC user guide names no
    service that CreateFlowLogs checks PassRole for (see github_oidc.py); the
    ARN scope stands, and the role's boundary caps what it can do."""
    service = roles["cfn-role"]
    assert decide(
        service, "iam:PassRole", ROLE + "flow-logs-role", {"iam:PassedToService": "vpc-flow-logs.amazonaws.com"}
    )
    assert not decide(
        service, "iam:PassRole", ROLE + "github-deploy", {"iam:PassedToService": "vpc-flow-logs.amazonaws.com"}
    )
    assert not decide(service, "iam:PassRole", ROLE + "ec2-role", {"iam:PassedToService": "lambda.amazonaws.com"})


# -- the alarm key's service statement ---------------------------------------------------------------


def test_cloudwatch_uses_the_alarm_key_only_for_this_accounts_alarms(prod):
    policy = _concrete(prod["AlarmsStack"].resources["AlarmTopicKey"]["Properties"]["KeyPolicy"], prod)
    [cw] = [s for s in policy["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert decide([cw], action, ALARM_KEY, {"aws:SourceAccount": ACCOUNT}), action
        assert not decide([cw], action, ALARM_KEY, {"aws:SourceAccount": "210987654321"}), action
        assert not decide([cw], action, ALARM_KEY, {}), action


def test_change_sets_are_read_and_executed_on_the_projects_stacks_only(roles):
    """CloudFormation checks change-set calls against the stack; a grant on
    changeSet/*/* named every change set of the account and is gone."""
    deploy = roles["github-deploy"]
    ours = STACK + "wealist-prod/0a1b2c3d-1111-2222-3333-444455556666"
    foreign = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/release-7/0a1b2c3d-1111-2222-3333-44445555"
    for action in (
        "cloudformation:ExecuteChangeSet",
        "cloudformation:DescribeChangeSet",
        "cloudformation:DeleteChangeSet",
    ):
        assert decide(deploy, action, ours), action
        assert not decide(deploy, action, foreign), action
        assert not decide(deploy, action, STACK + "payments/0a1b2c3d-1111-2222-3333-444455556666"), action


# -- the release path: every call ops/ makes, under the role that runs it (issue 22) -----------------
# The release job and deploy run as github-deploy; plan as github-plan. Each
# call is recorded as botocore makes it (event before-parameter-build) while
# the release scenarios of release_scenarios.py and release_target_scenarios.py run
# on Stubbed clients, then evaluated against the committed template's
# policies. The resource IAM checks is the call's ARN where the action has
# a resource type, "*" where it has none (cfn-lint's copy of the Service
# Authorization Reference, wealist_cfn/stacks/iamdata.json).

GROUP_ARN = (
    f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:0a1b2c3d-1111-2222-3333-444455556666:"
    "autoScalingGroupName/"
)


def _recording(service: str, calls: list):
    import boto3

    client = boto3.client(service, region_name=REGION)
    prefix = client.meta.service_model.signing_name

    def record(params, model, **_):
        calls.append((f"{prefix}:{model.name}", dict(params)))

    client.meta.events.register("before-parameter-build", record)
    return client


def _resources(action: str, params: dict) -> list[str]:
    from wealist_cfn.stacks import iamdata

    if not iamdata._derived_resource_types(action):
        return ["*"]
    if action.startswith("ssm:"):
        names = params.get("Names") or [params["Name"]]
        return [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{n}" for n in names]
    if action.startswith("autoscaling:"):
        return [GROUP_ARN + params["AutoScalingGroupName"]]
    raise AssertionError(f"{action}: no ARN rule for this test")


def _release_calls(capsys, monkeypatch) -> list[tuple[str, dict]]:
    """Run the release scenarios with recording clients: a release on EC2
    checks through the CLI (target groups, target health, the release
    state), one rolled back after unhealthy targets, and one timed out and
    cancelled."""
    from botocore.stub import Stubber

    from . import release_scenarios, release_target_scenarios

    calls: list = []
    targets = release_target_scenarios
    for scenario in (
        targets.cli_release_on_ec2_checks_waits_a_boot_and_checks_the_released_service_only,
        targets.on_ec2_checks_a_release_whose_targets_stay_unhealthy_is_rolled_back,
    ):
        ssm, asg, elb = _recording("ssm", calls), _recording("autoscaling", calls), _recording("elbv2", calls)
        with Stubber(ssm) as s, Stubber(asg) as a, Stubber(elb) as e:
            args = (ssm, s, asg, a, elb, e)
            if "cli" in scenario.__name__:
                scenario(args, capsys, monkeypatch)
            else:
                scenario(args)
    ssm, asg = _recording("ssm", calls), _recording("autoscaling", calls)
    with Stubber(ssm) as s, Stubber(asg) as a:
        release_scenarios.a_timeout_cancels_the_refresh_restores_and_rolls_back((ssm, s, asg, a))
    return calls


def test_the_deploy_role_may_make_every_call_of_a_release(roles, capsys, monkeypatch):
    """Before, the release ended with UpdateAutoScalingGroup, which the
    deploy role may not call: AccessDenied after a successful rollout. Now
    no call changes the group, and each one the release makes is allowed;
    the group of another environment is not."""
    deploy = roles["github-deploy"]
    calls = _release_calls(capsys, monkeypatch)
    made = {action for action, _ in calls}
    assert {
        "autoscaling:StartInstanceRefresh",
        "autoscaling:CancelInstanceRefresh",
        "ssm:PutParameter",
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:DescribeTargetGroups",
        "ssm:GetParameters",
    } <= made
    assert "autoscaling:UpdateAutoScalingGroup" not in made
    context = {"aws:RequestedRegion": REGION}
    for action, params in calls:
        for resource in _resources(action, params):
            assert decide(deploy, action, resource, context), (action, resource)
    assert not decide(deploy, "autoscaling:StartInstanceRefresh", GROUP_ARN + "wealist-dev-backend-asg", context)
    assert not decide(deploy, "autoscaling:UpdateAutoScalingGroup", GROUP_ARN + "wealist-prod-backend-asg", context)


def test_plan_and_deploy_may_read_what_derives_the_health_check_type(roles):
    """deploy and plan derive BackendHealthCheckType (ops/releasestate.py
    derive): the release tags, the group, its target groups' health."""
    from botocore.stub import Stubber

    from .release_target_scenarios import released_but_unhealthy_keeps_ec2_and_says_why

    calls: list = []
    ssm, asg, elb = _recording("ssm", calls), _recording("autoscaling", calls), _recording("elbv2", calls)
    with Stubber(ssm) as s, Stubber(asg) as a, Stubber(elb) as e:
        released_but_unhealthy_keeps_ec2_and_says_why((ssm, s, asg, a, elb, e))
    assert {a for a, _ in calls} == {
        "ssm:GetParameters",
        "autoscaling:DescribeAutoScalingGroups",
        "elasticloadbalancing:DescribeTargetHealth",
    }
    context = {"aws:RequestedRegion": REGION}
    for role in ("github-plan", "github-deploy"):
        for action, params in calls:
            for resource in _resources(action, params):
                assert decide(roles[role], action, resource, context), (role, action, resource)
    # Only the tags: no other value under the environment's prefix.
    assert not decide(
        roles["github-plan"],
        "ssm:GetParameters",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/wealist/prod/db/user_db_password",
        context,
    )


# -- preflight's redis-members check ------------------------------------------------------------------


@pytest.mark.parametrize("role", ["github-plan", "github-deploy"])
def test_preflight_reads_the_environments_replication_group_only(roles, role):
    """preflight's redis-members check calls DescribeReplicationGroups with
    the group's ID, authorised against the replicationgroup resource
    (Service Authorization Reference, Amazon ElastiCache)."""
    group = f"arn:aws:elasticache:{REGION}:{ACCOUNT}:replicationgroup:"
    assert decide(roles[role], "elasticache:DescribeReplicationGroups", group + "wealist-prod-redis")
    for other in ("wealist-dev-redis", "payments-redis"):
        assert not decide(roles[role], "elasticache:DescribeReplicationGroups", group + other), other


def test_the_trust_model_names_the_instances_one_write_outside_logs(boundary):
    """The boundary, and with it each instance role, allows one write beyond
    the logs: SetInstanceHealth on the environment's own groups, which
    replaces an instance (Auto Scaling API reference, SetInstanceHealth). IAM
    scopes it to the group only (Service Authorization Reference, EC2 Auto
    Scaling: no condition key names the instance), so any instance of a group
    can have its siblings replaced; docs/operations.md's trust-model rows say
    so for the boundary and both instance roles."""
    group = f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:{'0' * 8}:autoScalingGroupName/wealist-prod-"
    assert decide(boundary, "autoscaling:SetInstanceHealth", group + "backend-asg")
    assert decide(boundary, "autoscaling:SetInstanceHealth", group + "monitoring-asg")
    assert not decide(
        boundary, "autoscaling:SetInstanceHealth", group.replace("wealist-prod-", "wealist-dev-") + "backend-asg"
    )
    rows = {
        line.split("|")[1].strip(): line
        for line in (ROOT / "docs" / "operations.md").read_text().splitlines()
        if line.startswith("| `<project>-<env>-")
    }
    for name in (
        "`<project>-<env>-role-boundary` (managed policy)",
        "`<project>-<env>-ec2-role`",
        "`<project>-<env>-monitoring-role`",
    ):
        assert "SetInstanceHealth" in rows[name] and "Unhealthy" in rows[name], name
    assert "no writes outside logs" not in github_oidc._role_boundary.__doc__
