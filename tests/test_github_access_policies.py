"""Who may do what with the GitHub roles, the service role and the secrets
key (wealist_cfn/stacks/github_oidc.py), as data, straight from the builder
resolved for one account (tests/helpers/policy_data.py). The key policy's tests call
``_key_policy`` directly (milliseconds); the others build the template, a
fifth of a second each, in the test itself: mutmut runs per mutant only the
tests that reached the mutated function, and a build shared by a fixture
would be seen as reached by the first test alone. No stand-in and no endpoint: what is checked is the policy text
IAM and KMS would be given.

Rules relied on:
- A KMS key policy is the only policy that controls a key: "No AWS
  principal has any permissions to a KMS key unless that permission is
  explicitly allowed in the key policy" (KMS developer guide, "Key policies
  in AWS KMS"); an explicit Deny wins over any Allow (IAM User Guide,
  "Policy evaluation logic").
- Parameter Store names the parameter in the encryption context of a
  SecureString (``PARAMETER_ARN``), so a Decrypt can be limited to
  parameters by name (Systems Manager user guide, "How AWS Systems Manager
  Parameter Store uses AWS KMS"); kms:ViaService limits it to requests made
  through SSM.
- GitHub's OIDC token carries ``sub`` = ``repo:OWNER/REPO:environment:NAME``
  for a job with an environment and ``repo:OWNER/REPO:pull_request`` for a
  pull request; the ref context may be added by the repository's subject
  customisation (GitHub docs, "About security hardening with OpenID
  Connect"); ``aud`` is ``sts.amazonaws.com`` for AWS.
- iam:PassedToService limits which service a role may be passed to (IAM
  User Guide, "Granting a user permissions to pass a role").
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from helpers import policy_data
from helpers.policy_data import ACCOUNT, REGION, grants, plain, resolve
from wealist_cfn.cfn import templates
from wealist_cfn.core.paramstore import SECRET_NAMES
from wealist_cfn.core.settings import DEFAULT_SETTINGS, TEMPLATES_DIR
from wealist_cfn.stacks import github_oidc

OIDC = "token.actions.githubusercontent.com"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-"
PARAM = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/wealist/prod/"
VIA_SSM = f"ssm.{REGION}.amazonaws.com"
STACKS = [
    f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod/*",
    f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod-*/*",
]
VALUES = {"StackName": "wealist-prod", "GitHubRepository": "octo/wealist", "GitHubEnvironment": "production"}
ARTIFACTS = f"arn:aws:s3:::wealist-cfn-artifacts-{ACCOUNT}-{REGION}"


def build() -> dict:
    return plain(github_oidc.build(DEFAULT_SETTINGS))


@lru_cache(maxsize=1)
def nested() -> github_oidc.NestedSet:
    """What the nested set holds (its secrets, roles, types): an input of
    the policy functions, not one of them."""
    return github_oidc.NestedSet(DEFAULT_SETTINGS)


def res(built, name) -> dict:
    return built["Resources"][name]["Properties"]


def role_grants(built, role) -> set[tuple]:
    from helpers.policy_data import VALUES as BASE

    return {g for p in res(built, role)["Policies"] for g in grants(p["PolicyDocument"], {**BASE, **VALUES})}


def key_statements() -> list[dict]:
    """The key policy's statements, the conditional one (named people)
    taken as present."""
    out = []
    for s in plain(github_oidc._key_policy(nested()))["Statement"]:
        if "Fn::If" in s:
            cond_name, s, absent = s["Fn::If"]
            assert cond_name == "HasSecretReaders" and absent == {"Ref": "AWS::NoValue"}
        out.append(resolve(s))
    return out


def _list(v):
    return v if isinstance(v, list) else [v]


def decrypters() -> dict[str, tuple]:
    """``{principal ARN pattern: (parameters it may decrypt or None for
    any, through which service)}`` from every Allow of kms:Decrypt."""
    out = {}
    for s in key_statements():
        if s["Effect"] != "Allow" or not {"kms:Decrypt", "kms:*", "*"} & set(_list(s["Action"])):
            continue
        c = s.get("Condition", {})
        who = (
            c.get("ArnEquals", {}).get("aws:PrincipalArn")
            or c.get("ArnLike", {}).get("aws:PrincipalArn")
            or json.dumps(s["Principal"])
        )
        eq = c.get("StringEquals", {})
        names = eq.get("kms:EncryptionContext:PARAMETER_ARN")
        out[who] = (sorted(_list(names)) if names is not None else None, eq.get("kms:ViaService"))
    return out


def secure_references() -> list[str]:
    """The secrets the committed templates resolve at deploy time."""
    text = "".join(f.read_text() for f in sorted(TEMPLATES_DIR.glob("*.yaml")))
    return sorted(set(re.findall(r"resolve:ssm-secure:/\$\{Project\}/\$\{Environment\}/([^}:]+)", text)))


def test_each_role_decrypts_only_its_own_secrets_through_ssm():
    monitoring = [n for n in SECRET_NAMES if n.startswith("monitoring/")]
    backend = [n for n in SECRET_NAMES if n not in monitoring]
    assert monitoring and len(backend) >= 2 and secure_references()
    assert decrypters() == {
        ROLE + "cfn-role": (sorted(PARAM + n for n in secure_references()), VIA_SSM),
        ROLE + "ec2-role": (sorted(PARAM + n for n in backend), VIA_SSM),
        ROLE + "monitoring-role": (sorted(PARAM + n for n in monitoring), VIA_SSM),
        # named people, when the stack is given any: through SSM, any secret
        "ref:SecretReaderArns": (None, VIA_SSM),
    }


def test_every_allow_of_the_key_names_the_account_and_none_hands_out_decryption():
    for s in key_statements():
        if s["Effect"] == "Allow":
            assert s["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, s["Sid"]
            assert not {"kms:CreateGrant", "kms:*", "*", "kms:ReEncrypt*", "kms:ReEncryptFrom"} & set(
                _list(s["Action"])
            ), s["Sid"]
    admin = next(s for s in key_statements() if s["Sid"] == "KeyAdministration")
    assert "kms:Decrypt" not in admin["Action"] and "kms:ScheduleKeyDeletion" in admin["Action"]
    encrypt = next(s for s in key_statements() if s["Sid"] == "EncryptThroughSsm")
    assert encrypt["Condition"] == {"StringEquals": {"kms:ViaService": VIA_SSM}}
    assert set(encrypt["Action"]) == {"kms:Encrypt", "kms:GenerateDataKey*"}


def test_the_service_role_may_never_administer_the_key_or_grant_it():
    deny = [s for s in key_statements() if s["Effect"] == "Deny"]
    assert len(deny) == 1
    (d,) = deny
    assert d["Principal"] == "*" and d["Condition"] == {"ArnEquals": {"aws:PrincipalArn": ROLE + "cfn-role"}}
    assert {
        "kms:CreateGrant",
        "kms:Put*",
        "kms:ScheduleKeyDeletion",
        "kms:Disable*",
        "kms:Update*",
        "kms:TagResource",
        "kms:UntagResource",
        "kms:CreateAlias",
        "kms:DeleteAlias",
    } <= set(d["Action"])
    built = build()
    key = built["Resources"]["SecretsKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    assert resolve(res(built, "SecretsKeyAlias")) == {
        "AliasName": "alias/wealist-prod-secrets",
        "TargetKeyId": "ref:SecretsKey",
    }


def trust(built, role) -> dict:
    (s,) = res(built, role)["AssumeRolePolicyDocument"]["Statement"]
    return resolve(s, {**policy_data.VALUES, **VALUES})


def test_the_deploy_role_is_assumed_only_by_mains_jobs_in_the_environment():
    built = build()
    s = trust(built, "DeployRole")
    assert s["Effect"] == "Allow" and s["Action"] == ["sts:AssumeRoleWithWebIdentity"]
    assert s["Principal"] == {
        "Federated": {"Fn::If": ["CreateProvider", "ref:GitHubOidcProvider", "ref:ExistingOidcProviderArn"]}
    }
    # exact match (no wildcard), audience and subject in one operator
    assert s["Condition"] == {
        "StringEquals": {
            f"{OIDC}:aud": "sts.amazonaws.com",
            f"{OIDC}:sub": "repo:octo/wealist:environment:production:ref:refs/heads/main",
        }
    }


def test_the_plan_role_is_assumed_only_by_pull_requests_and_mains_scheduled_checks():
    built = build()
    s = trust(built, "PlanRole")
    assert s["Action"] == ["sts:AssumeRoleWithWebIdentity"] and s["Effect"] == "Allow"
    assert s["Condition"] == {
        "StringEquals": {f"{OIDC}:aud": "sts.amazonaws.com"},
        "StringLike": {
            f"{OIDC}:sub": [
                "repo:octo/wealist:pull_request:ref:refs/pull/*/merge",
                "repo:octo/wealist:ref:refs/heads/main:ref:refs/heads/main",
            ]
        },
    }
    assert built["Resources"]["PlanRole"]["Condition"] == "CreatePlan"


def test_only_cloudformation_of_this_account_assumes_the_service_role():
    built = build()
    s = trust(built, "CloudFormationServiceRole")
    assert s == {
        "Effect": "Allow",
        "Principal": {"Service": "cloudformation.amazonaws.com"},
        "Action": ["sts:AssumeRole"],
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }


def allowed(gs, action) -> set[str]:
    return {g[3] for g in gs if g[0] == "Allow" and g[2] == action}


def denied(gs, action) -> set[str]:
    return {g[3] for g in gs if g[0] == "Deny" and g[2] == action}


def test_the_deploy_role_executes_on_the_projects_stacks_but_never_deletes_the_root():
    built = build()
    gs = role_grants(built, "DeployRole")
    for action in (
        "cloudformation:ExecuteChangeSet",
        "cloudformation:CreateChangeSet",
        "cloudformation:DeleteChangeSet",
        "cloudformation:SetStackPolicy",
        "cloudformation:UpdateTerminationProtection",
    ):
        assert allowed(gs, action) == set(STACKS), action
    trust_stack = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod-github/*"
    assert denied(gs, "cloudformation:DeleteStack") == {STACKS[0], trust_stack}
    assert not allowed(gs, "cloudformation:DeleteStack")
    for action in (
        "cloudformation:ExecuteChangeSet",
        "cloudformation:CreateChangeSet",
        "cloudformation:DeleteStack",
        "cloudformation:UpdateStack",
        "cloudformation:RollbackStack",
    ):
        assert trust_stack in denied(gs, action), action


def test_the_deploy_role_passes_only_the_service_role_and_only_to_cloudformation():
    built = build()
    gs = role_grants(built, "DeployRole")
    passes = [g for g in gs if g[2] == "iam:PassRole"]
    assert passes == [
        (
            "Allow",
            "",
            "iam:PassRole",
            ROLE + "cfn-role",
            json.dumps({"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}),
        )
    ]


def test_a_pull_request_may_review_but_never_change_a_stack_or_read_a_secret():
    built = build()
    gs = role_grants(built, "PlanRole")
    for action in (
        "cloudformation:ExecuteChangeSet",
        "cloudformation:UpdateStack",
        "cloudformation:CreateStack",
        "cloudformation:DeleteStack",
        "cloudformation:SetStackPolicy",
        "cloudformation:UpdateTerminationProtection",
        "cloudformation:ContinueUpdateRollback",
        "cloudformation:CancelUpdateStack",
    ):
        assert not allowed(gs, action) and "*" in denied(gs, action), action
    assert allowed(gs, "cloudformation:CreateChangeSet") == set(STACKS)
    assert not [g for g in gs if g[2] == "iam:PassRole"]
    assert denied(gs, "kms:Decrypt") == {"*"} and denied(gs, "kms:ReEncrypt*") == {"*"}
    assert denied(gs, "ssm:GetParameter*") == {PARAM + n for n in SECRET_NAMES}
    # writes only under plan/, and never to the bucket's settings
    assert allowed(gs, "s3:PutObject") == {f"{ARTIFACTS}/plan/*"}
    assert denied(gs, "s3:PutObject") == {f"not:{ARTIFACTS}/plan/*"}
    for action in ("s3:PutBucketVersioning", "s3:PutBucketPolicy", "s3:DeleteBucket", "s3:CreateBucket"):
        assert denied(gs, action) == {"*"}, action
    # the parameters it reads are none of the secrets
    reads = allowed(gs, "ssm:GetParameter") | allowed(gs, "ssm:GetParameters")
    assert reads and not reads & {PARAM + n for n in SECRET_NAMES}


def test_the_committed_template_is_what_the_builder_makes():
    """templates/github-oidc.yaml is what an administrator deploys and what
    reviewers read: the builder must make exactly it, as ``build.py
    --check`` requires."""
    assert build() == templates.load((TEMPLATES_DIR / "github-oidc.yaml").read_text())


def test_a_trust_keeps_its_operator_whatever_the_number_of_subjects():
    # One operator per key in a Condition block: a pattern stays StringLike
    # even alone, and several exact subjects stay a list (IAM User Guide,
    # "IAM JSON policy elements: Condition operators").
    from awacs.aws import StringEquals, StringLike
    from troposphere import Ref, Sub

    def condition(match, subjects):
        (s,) = plain(github_oidc._trust(Ref("Provider"), match, [Sub(x) for x in subjects]))["Statement"]
        return s["Condition"]

    aud = {f"{OIDC}:aud": "sts.amazonaws.com"}
    assert condition(StringLike, ["repo:o/r:pull_request*"]) == {
        "StringEquals": aud,
        "StringLike": {f"{OIDC}:sub": [{"Fn::Sub": "repo:o/r:pull_request*"}]},
    }
    # several exact subjects: the audience is still required (a second
    # StringEquals block would replace the first and drop it)
    assert condition(StringEquals, ["repo:o/r:a", "repo:o/r:b"]) == {
        "StringEquals": {**aud, f"{OIDC}:sub": [{"Fn::Sub": "repo:o/r:a"}, {"Fn::Sub": "repo:o/r:b"}]}
    }
    assert condition(StringEquals, ["repo:o/r:a"]) == {
        "StringEquals": {**aud, f"{OIDC}:sub": {"Fn::Sub": "repo:o/r:a"}}
    }
