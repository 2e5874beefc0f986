"""The CloudFormation service role and KMS keys: it creates and administers
the alarm topic's key, and no other key of the account.

Evaluated with the product's evaluator (wealist_cfn.policyeval) over the
committed templates (no endpoint: moto evaluates no IAM or key policy).
What KMS enforces, and the evaluator models:

* An IAM policy counts for a key only where the key's policy delegates to
  the account; a key policy statement that names the role grants by itself
  (KMS developer guide, "Key policies in AWS KMS",
  https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html).
* Tags given to CreateKey are authorised as kms:TagResource "in an IAM
  policy that isn't restricted to particular KMS keys": the key does not
  exist yet ("Controlling access to tags",
  https://docs.aws.amazon.com/kms/latest/developerguide/tag-permissions.html).
* "It might take up to five minutes for tag and alias changes to affect KMS
  key authorization" ("ABAC for AWS KMS",
  https://docs.aws.amazon.com/kms/latest/developerguide/abac.html): the
  handler's EnableKeyRotation right after CreateKey must not depend on the
  key's tags, so it is asked here with no aws:ResourceTag in the request.
"""

from __future__ import annotations

import pytest

from helpers.iam_policies import ACCOUNT, OIDC_MODES, REGION, _concrete, _oidc_stack, _roles, _root_set
from wealist_cfn import policyeval
from wealist_cfn.stacks.alarms import KEY_PURPOSE_TAG

SERVICE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-cfn-role"
ALARM_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1111aaaa-2222-4333-8444-555566667777"
OTHER_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/9999bbbb-2222-4333-8444-555566667777"
# The default key policy: the account administers the key through IAM
# (KMS developer guide, "Default key policy").
DEFAULT_KEY_POLICY = [
    {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
]
PURPOSE = dict([KEY_PURPOSE_TAG])
STACK_TAGS = {"Project": "wealist", "Environment": "prod", "ManagedBy": "wealist-cfn"}


@pytest.fixture(scope="module")
def service_role():
    return _roles(_oidc_stack(OIDC_MODES["own provider, plan role"]))[SERVICE_ROLE]["statements"]


@pytest.fixture(scope="module")
def alarm_key_policy():
    stacks = _root_set("prod")
    [key] = [res for stack in stacks.values() for res in stack.of_type("AWS::KMS::Key").values()]
    return _concrete(key["Properties"]["KeyPolicy"], stacks)["Statement"]


def _decide(statements, action, resource, context, key_policy):
    return policyeval.evaluate(
        action,
        resource,
        {"aws:RequestedRegion": REGION, **context},
        principal=policyeval.Principal.aws(SERVICE_ROLE),
        identity=statements,
        resource_policy=key_policy,
        key_policy=True,
    )


def _create_context(tags: dict) -> dict:
    return {**{f"aws:RequestTag/{k}": v for k, v in tags.items()}, "aws:TagKeys": sorted(tags)}


def _on_key(tags: dict) -> dict:
    return {f"aws:ResourceTag/{k}": v for k, v in tags.items()}


def test_the_service_role_creates_the_tagged_alarm_key(service_role):
    """CreateKey and its tags: IAM only, on "*" (the key does not exist)."""
    create = _create_context({**STACK_TAGS, "Name": "wealist-prod-alarm-topic-key", **PURPOSE})
    for action in ("kms:CreateKey", "kms:TagResource"):
        assert policyeval.evaluate_statements(
            service_role, action, "*", {"aws:RequestedRegion": REGION, **create}
        ).allowed, action


def test_the_service_role_administers_the_alarm_key_before_its_tags_count(service_role, alarm_key_policy):
    """EnableKeyRotation and the rest of the handler's calls right after
    CreateKey, with no tag yet in effect for authorisation: the alarm key's
    own policy names the service role."""
    for action in (
        "kms:EnableKeyRotation",
        "kms:DescribeKey",
        "kms:PutKeyPolicy",
        "kms:GetKeyPolicy",
        "kms:GetKeyRotationStatus",
        "kms:ListResourceTags",
        "kms:ScheduleKeyDeletion",
        "kms:TagResource",
        "kms:UntagResource",
    ):
        decision = _decide(service_role, action, ALARM_KEY, {}, alarm_key_policy)
        assert decision.allowed, (action, decision.reason)


@pytest.mark.parametrize(
    "tags",
    [
        {**STACK_TAGS, "Environment": "dev"},
        {**STACK_TAGS, "Environment": "dev", **PURPOSE},
        {"Project": "payments", "Name": "payments-key"},
    ],
    ids=["another-environments-key", "another-environments-alarm-key", "another-projects-key"],
)
def test_the_service_role_cannot_tag_an_existing_key_of_the_account(service_role, tags):
    """An existing key with the default key policy (which lets IAM policies
    decide): the service role may not put the alarm key's purpose tag (or any
    project tag) on it.

    What IAM cannot tell apart: a key being created has no tags, and neither
    has an existing key that carries none of the project's tag keys; the
    tag-on-create grant must be on "*", so the service role could still add
    the project's tags to such a key. That gives it nothing: the test below
    shows no tag makes a key the service role's."""
    context = {**_create_context({**STACK_TAGS, **PURPOSE}), **_on_key(tags)}
    decision = _decide(service_role, "kms:TagResource", OTHER_KEY, context, DEFAULT_KEY_POLICY)
    assert not decision.allowed, decision.reason


@pytest.mark.parametrize(
    "action",
    [
        "kms:PutKeyPolicy",
        "kms:EnableKeyRotation",
        "kms:ScheduleKeyDeletion",
        "kms:DisableKey",
        "kms:UntagResource",
        "kms:UpdateKeyDescription",
    ],
)
def test_a_key_carrying_the_purpose_tag_gives_the_service_role_nothing(service_role, action):
    """Administration is no longer granted by tag: another key of the account
    that carries the alarm key's purpose tag (however it got it) is not the
    service role's to administer."""
    decision = _decide(service_role, action, OTHER_KEY, _on_key({**STACK_TAGS, **PURPOSE}), DEFAULT_KEY_POLICY)
    assert not decision.allowed, decision.reason


def test_the_secrets_key_names_everyone_and_narrows_by_principal_arn():
    """The secrets key's deny of the service role is written as the IAM User
    Guide recommends instead of NotPrincipal: ``Principal: "*"`` with an
    ``aws:PrincipalArn`` condition ("AWS JSON policy elements: NotPrincipal";
    "aws:PrincipalArn"). It still refuses the service role and no one else."""
    from helpers.iam_policies import _key_policy

    policy = _key_policy(_oidc_stack(OIDC_MODES["own provider, plan role"]))
    [deny] = [s for s in policy if s.get("Sid") == "ServiceRoleNeverAdministers"]
    assert deny["Principal"] == "*"
    assert deny["Condition"] == {"ArnEquals": {"aws:PrincipalArn": SERVICE_ROLE}}
    admin = policyeval.Principal.aws(f"arn:aws:iam::{ACCOUNT}:role/admin")
    for who, allowed in ((policyeval.Principal.aws(SERVICE_ROLE), False), (admin, True)):
        decision = policyeval.evaluate(
            "kms:PutKeyPolicy",
            f"arn:aws:kms:{REGION}:{ACCOUNT}:key/secrets",
            {"aws:RequestedRegion": REGION},
            principal=who,
            identity=[{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}],
            resource_policy=policy,
            key_policy=True,
        )
        assert decision.allowed is allowed, (who.arn, decision.reason)
