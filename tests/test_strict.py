"""The strict layer over moto (wealist_cfn.rehearsal.strict): each rule real AWS
enforces and moto does not is enforced on moto's server, with the API
reference it comes from. Stand-in: moto's server (tests/conftest.py) with the
layer installed; the rule functions themselves need no stand-in."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from wealist_cfn.core import rules
from wealist_cfn.rehearsal import strict

pytestmark = pytest.mark.moto

REGION = "ap-northeast-2"


@pytest.fixture
def strict_endpoint(moto_endpoint):
    with strict.install():
        yield moto_endpoint


def _ssm(endpoint):
    return boto3.client("ssm", region_name=REGION, endpoint_url=endpoint)


@pytest.mark.parametrize(
    "kwargs,rule",
    [
        # PutParameter Value: "You can't include values wrapped in double brackets {{}}".
        ({"Name": "/p/e/x", "Value": "docker ps --format '{{.Names}}'"}, "may not contain {{ }}"),
        # PutParameter: Standard 4 KB, Advanced 8 KB.
        ({"Name": "/p/e/x", "Value": "a" * 4097}, "Standard tier's 4096"),
        ({"Name": "/p/e/x", "Value": "a" * 8193, "Tier": "Advanced"}, "Advanced tier's 8192"),
        # PutParameter Name: characters, prefixes, depth.
        ({"Name": "/p/e/with space", "Value": "v"}, "only a-z A-Z 0-9"),
        ({"Name": "/ssm-things/x", "Value": "v"}, "may not begin with aws or ssm"),
        ({"Name": "/" + "/".join("abcdefghijklmnop"), "Value": "v"}, "at most 15 hierarchy levels"),
        # The project's rule: a secret only as SecureString.
        ({"Name": "/p/e/db/user_db_password", "Value": "v"}, "SecureString"),
    ],
)
def test_parameter_store_refuses_what_aws_refuses(strict_endpoint, kwargs, rule):
    """moto + strict layer: each PutParameter AWS refuses fails here too, and nothing is stored."""
    ssm = _ssm(strict_endpoint)
    with pytest.raises(ClientError) as info:
        ssm.put_parameter(Type="String", **kwargs)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert rule in info.value.response["Error"]["Message"]
    assert ssm.describe_parameters()["Parameters"] == []


def test_moto_alone_accepts_them(moto_endpoint):
    """moto without the layer stores a `{{ }}` value: the layer is what checks it."""
    ssm = _ssm(moto_endpoint)
    ssm.put_parameter(Name="/p/e/x", Value="{{.Names}}", Type="String")
    assert ssm.get_parameter(Name="/p/e/x")["Parameter"]["Value"] == "{{.Names}}"


def test_values_within_the_rules_are_stored(strict_endpoint):
    ssm = _ssm(strict_endpoint)
    ssm.put_parameter(Name="/p/e/x", Value="a" * 4096, Type="String")
    ssm.put_parameter(Name="/p/e/big", Value="a" * 8192, Type="String", Tier="Advanced")
    ssm.put_parameter(Name="/p/e/db/pw_password", Value="s3cret", Type="SecureString")
    assert len(ssm.describe_parameters()["Parameters"]) == 3


def _tls_only_bucket(endpoint):
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
    s3.create_bucket(Bucket="tls-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="tls-bucket", Key="k", Body=b"v")
    s3.put_bucket_policy(
        Bucket="tls-bucket",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": ["arn:aws:s3:::tls-bucket", "arn:aws:s3:::tls-bucket/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        ),
    )
    return s3


@pytest.mark.parametrize("secure,allowed", [(True, True), (False, False)])
def test_a_tls_only_bucket_serves_tls_and_refuses_plain_http(moto_endpoint, secure, allowed):
    """moto + strict layer: the standard TLS-only Deny (IAM policy evaluation
    logic; aws:SecureTransport) denies a request without TLS and does not
    apply to one with it."""
    with strict.install(secure_transport=secure):
        s3 = _tls_only_bucket(moto_endpoint)
        if allowed:
            assert s3.get_object(Bucket="tls-bucket", Key="k")["Body"].read() == b"v"
        else:
            with pytest.raises(ClientError):
                s3.get_object(Bucket="tls-bucket", Key="k")


def test_moto_alone_denies_the_tls_only_bucket_even_for_tls(moto_endpoint):
    """Why the layer exists: moto evaluates aws:SecureTransport as false."""
    s3 = _tls_only_bucket(moto_endpoint)
    with pytest.raises(ClientError):
        s3.get_object(Bucket="tls-bucket", Key="k")


def test_policy_evaluation_rules():
    """An explicit Deny wins; a condition that does not match leaves the
    statement out; unknown operators are refused, not guessed."""
    allow = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::b/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    policy = {"Statement": [allow, deny]}
    assert (
        strict.evaluate_bucket_policy(policy, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": "true"})
        == strict.ALLOW
    )
    assert (
        strict.evaluate_bucket_policy(policy, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": "false"})
        == strict.DENY
    )
    assert (
        strict.evaluate_bucket_policy(policy, "s3:PutObject", "arn:aws:s3:::other/k", {"aws:SecureTransport": "true"})
        == strict.NEUTRAL
    )
    with pytest.raises(strict.UnsupportedPolicy):
        strict.evaluate_bucket_policy(
            {"Statement": [dict(allow, Condition={"IpAddress": {}})]}, "s3:GetObject", "arn:aws:s3:::b/k", {}
        )


@pytest.mark.parametrize(
    "check,value,ok",
    [
        (rules.rds_master_password_problem, "Abcdefgh12", True),
        (rules.rds_master_password_problem, "short1", False),
        (rules.rds_master_password_problem, "has@sign1234", False),
        (rules.rds_master_password_problem, "has space 1234", False),
        (rules.rds_master_username_problem, "wealist_admin", True),
        (rules.rds_master_username_problem, "1admin", False),
        (rules.rds_master_username_problem, "postgres", False),
        (rules.elasticache_auth_token_problem, "A" * 15, False),
        (rules.elasticache_auth_token_problem, "Abc123!&#$^<>-xyz", True),
        (rules.elasticache_auth_token_problem, "has/slash-1234567", False),
    ],
)
def test_rules_of_the_services_that_read_parameters(check, value, ok):
    """CreateDBInstance MasterUserPassword / MasterUsername and
    CreateReplicationGroup AuthToken, as their API references state them."""
    assert (check(value) is None) == ok


def test_rds_refuses_a_master_password_aws_refuses(strict_endpoint):
    """moto + strict layer: moto alone takes any password of 8+ characters."""
    rds = boto3.client("rds", region_name=REGION, endpoint_url=strict_endpoint)
    with pytest.raises(ClientError) as info:
        rds.create_db_instance(
            DBInstanceIdentifier="db1",
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            MasterUsername="wealist_admin",
            MasterUserPassword="pass/word@1234",
            AllocatedStorage=20,
        )
    assert "MasterUserPassword" in info.value.response["Error"]["Message"]
    rds.create_db_instance(
        DBInstanceIdentifier="db2",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MasterUsername="wealist_admin",
        MasterUserPassword="Passw0rdOk",
        AllocatedStorage=20,
    )


def test_rds_resolves_a_dynamic_reference_before_the_check(strict_endpoint):
    """moto passes `{{resolve:ssm-secure:...}}` to RDS unresolved; the layer
    resolves it as CloudFormation does, checks the value, and refuses a
    reference to a missing parameter."""
    ssm, rds = _ssm(strict_endpoint), boto3.client("rds", region_name=REGION, endpoint_url=strict_endpoint)
    ssm.put_parameter(Name="/p/e/db/master_password", Value="with@sign1234", Type="SecureString")
    kw = dict(Engine="postgres", DBInstanceClass="db.t3.micro", MasterUsername="admin1", AllocatedStorage=20)
    for ref, message in (
        ("{{resolve:ssm-secure:/p/e/db/master_password}}", "MasterUserPassword"),
        ("{{resolve:ssm-secure:/p/e/db/missing}}", "not found"),
    ):
        with pytest.raises(ClientError) as info:
            rds.create_db_instance(DBInstanceIdentifier="db1", MasterUserPassword=ref, **kw)
        assert message in info.value.response["Error"]["Message"]
