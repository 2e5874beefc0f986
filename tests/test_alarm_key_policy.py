"""The alarm topic's key (wealist_cfn/stacks/alarms.py ``_add_topic``): who
may use and administer it, as data, straight from the builder resolved for
one account (tests/helpers/policy_data.py). No stand-in and no endpoint; one build
of alarms.yaml per test, for the mutation run of ``_add_topic``.

Rules relied on: a KMS key policy is the only policy that controls a key,
and without a statement for the account nobody could change it again (KMS
developer guide, "Default key policy"); CloudWatch needs kms:Decrypt and
kms:GenerateDataKey* on the key of an encrypted topic it publishes to (SNS
developer guide, "Enable compatibility between event sources from AWS
services and encrypted topics"); aws:SourceAccount on a service principal
is the confused-deputy guard (IAM User Guide, "The confused deputy
problem"); ForAllValues:StringEquals on aws:TagKeys admits only requests
whose every tag key is listed (IAM User Guide, "Multivalued context keys").
"""

from __future__ import annotations

import json

from helpers.policy_data import ACCOUNT, grants, plain, resolve
from wealist_cfn.cfn import templates
from wealist_cfn.core.settings import DEFAULT_SETTINGS, TEMPLATES_DIR
from wealist_cfn.stacks import alarms

ROOT = json.dumps({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
SERVICE_ROLE = json.dumps({"AWS": f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-cfn-role"})
CLOUDWATCH = json.dumps({"Service": "cloudwatch.amazonaws.com"})


def built() -> dict:
    return plain(alarms.build(DEFAULT_SETTINGS))


def key_grants(d) -> set[tuple]:
    return grants(d["Resources"]["AlarmTopicKey"]["Properties"]["KeyPolicy"])


def test_only_cloudwatch_of_this_account_uses_the_key_besides_its_administrators():
    gs = key_grants(built())
    users = {(g[1], g[2], g[4]) for g in gs if g[2] in ("kms:Decrypt", "kms:GenerateDataKey*", "kms:Encrypt")}
    this_account = json.dumps({"StringEquals": {"aws:SourceAccount": ACCOUNT}})
    assert users == {(CLOUDWATCH, "kms:Decrypt", this_account), (CLOUDWATCH, "kms:GenerateDataKey*", this_account)}
    assert {g[1] for g in gs} == {ROOT, SERVICE_ROLE, CLOUDWATCH}
    assert all(g[0] == "Allow" and g[3] == "*" for g in gs)


def test_the_account_administers_the_key_and_the_service_role_its_handler_actions():
    gs = key_grants(built())
    assert {g[2] for g in gs if g[1] == ROOT} == {"kms:*"}
    role = {g[2]: g[4] for g in gs if g[1] == SERVICE_ROLE}
    assert set(role) == set(alarms.KEY_HANDLER_ACTIONS)
    # tagging only with the project's tag keys; every other handler action unconditioned
    tags = json.dumps({"ForAllValues:StringEquals": {"aws:TagKeys": list(alarms.PROJECT_TAG_KEYS)}})
    assert {a: c for a, c in role.items() if c} == {
        a: tags for a in ("kms:TagResource", "kms:UntagResource") if a in role
    }
    assert "kms:TagResource" in role and "kms:Decrypt" not in role and "kms:GenerateDataKey*" not in role


def test_the_topic_is_encrypted_with_that_key_which_rotates_and_is_tagged_for_its_purpose():
    d = built()["Resources"]
    key = d["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    assert {"Key": alarms.KEY_PURPOSE_TAG[0], "Value": alarms.KEY_PURPOSE_TAG[1]} in key["Tags"]
    assert d["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    assert resolve(d["AlarmTopic"]["Properties"]["TopicName"]) == "wealist-prod-alarms"
    sub = d["AlarmEmailSubscription"]
    assert sub["Condition"] == alarms.HAS_ALARM_EMAIL
    assert sub["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }


def test_the_committed_template_is_what_the_builder_makes():
    """templates/alarms.yaml is what a deploy uploads and what reviewers
    read, as ``build.py --check`` requires."""
    assert built() == templates.load((TEMPLATES_DIR / "alarms.yaml").read_text())
