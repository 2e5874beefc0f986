"""bootstrap and a deploy bucket name that is, or is not, this account's.

What S3 enforces (S3 API reference): bucket names are shared by every
account; CreateBucket of a name another account holds fails with
``BucketAlreadyExists`` ("The requested bucket name is not available. The
bucket namespace is shared by all users of the system"), of a name this
account holds with ``BucketAlreadyOwnedByYou`` (every region but us-east-1);
HeadBucket with ``ExpectedBucketOwner`` fails with 403 when "the account ID
that you provide does not match the actual owner of the bucket".

moto 5.2 (checked here, tests below): one server keeps one namespace for all
its accounts (an account is chosen per request by the ``x-moto-account-id``
header) and answers CreateBucket with BucketAlreadyExists across accounts and
BucketAlreadyOwnedByYou within one; it does not check ExpectedBucketOwner
(HeadBucket of another account's bucket answers 200). The 403 that real S3
gives first is therefore played with botocore's Stubber.
"""

from __future__ import annotations

import boto3
import botocore.exceptions
import pytest
from botocore.stub import Stubber

from wealist_cfn.aws import Aws
from wealist_cfn.ops import bootstrap

OTHER = "111122223333"
MOTO_DEFAULT = "123456789012"


def _as_account(aws: Aws, account: str) -> Aws:
    """Every request of this ``Aws`` made as ``account`` on moto's server."""
    aws.session.events.register(
        "before-sign", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account)
    )
    return aws


def _s3(target, account=None):
    c = boto3.client(
        "s3",
        region_name=target.region,
        endpoint_url=target.endpoint_url,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    if account:
        c.meta.events.register(
            "before-sign", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account)
        )
    return c


@pytest.mark.moto
def test_moto_keeps_one_bucket_namespace_for_all_its_accounts(target):
    """moto: what the tests below rely on, checked, not assumed."""
    _s3(target, OTHER).create_bucket(
        Bucket="wealist-deploy-scripts", CreateBucketConfiguration={"LocationConstraint": target.region}
    )
    with pytest.raises(botocore.exceptions.ClientError) as err:
        _s3(target).create_bucket(
            Bucket="wealist-deploy-scripts", CreateBucketConfiguration={"LocationConstraint": target.region}
        )
    assert err.value.response["Error"]["Code"] == "BucketAlreadyExists"


@pytest.mark.moto
def test_two_accounts_bootstrap_the_same_params_file_each_into_its_own_bucket(
    prod_cfg, moto_endpoint, local_s3_over_http
):
    """moto, two accounts on one server (one namespace): with the fixed
    name the original used, on AWS the second account could not have it; the
    account-unique name gives each its own bucket with its own files."""
    first = _as_account(Aws(region=prod_cfg.region, endpoint_url=moto_endpoint), OTHER)
    second = Aws(region=prod_cfg.region, endpoint_url=moto_endpoint)
    bootstrap.run(prod_cfg, first)
    bootstrap.run(prod_cfg, second)
    assert (first.account, second.account) == (OTHER, MOTO_DEFAULT)
    for account in (OTHER, MOTO_DEFAULT):
        bucket = f"wealist-prod-deploy-{account}-ap-northeast-2"
        body = _s3(first, account).get_object(Bucket=bucket, Key=bootstrap.STARTUP_SCRIPT_KEY)["Body"].read()
        assert body == bootstrap.STARTUP_SCRIPT.read_bytes(), account


def _no_calls(client) -> Stubber:
    """A Stubber with nothing queued: any call on the client fails the test."""
    return Stubber(client)


@pytest.mark.stubbed
def test_a_name_another_account_holds_stops_bootstrap_before_anything_is_written(prod_cfg, target):
    """Stubber for S3 (HeadBucket answers 403, as S3 does for a bucket of
    another account with ExpectedBucketOwner, and this account's ListBuckets
    does not list it); Parameter Store is stubbed
    with nothing queued, so a single write would fail the test. The line
    says the name is global, taken, and which name to use instead."""
    cfg = prod_cfg.with_values(DeployBucketName="wealist-deploy-scripts")
    target.account = MOTO_DEFAULT
    target.check_credentials = lambda: MOTO_DEFAULT
    s3, ssm = target.client("s3"), target.client("ssm")
    with Stubber(s3) as stub, _no_calls(ssm):
        stub.add_client_error(
            "head_bucket",
            service_error_code="403",
            http_status_code=403,
            expected_params={"Bucket": "wealist-deploy-scripts", "ExpectedBucketOwner": MOTO_DEFAULT},
        )
        # This account's buckets: not that one.
        stub.add_response(
            "list_buckets",
            {"Buckets": [{"Name": "wealist-deploy-scripts-old"}], "Owner": {"ID": "abc"}},
            {"Prefix": "wealist-deploy-scripts"},
        )
        with pytest.raises(bootstrap.BootstrapError) as err:
            bootstrap.run(cfg, target)
        stub.assert_no_pending_responses()
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith("deploy bucket wealist-deploy-scripts: HeadBucket answered 403")
    assert "names are global" in line
    assert f"leave DeployBucketName empty in {cfg.path}" in line
    assert f"wealist-prod-deploy-{MOTO_DEFAULT}-ap-northeast-2" in line


@pytest.mark.stubbed
def test_a_name_taken_between_the_check_and_the_create_is_named(prod_cfg, target):
    """Stubber for S3: HeadBucket 404, then CreateBucket answers
    BucketAlreadyExists with the shape and message of the S3 API reference
    (another account created the name in between). Parameter Store is moto's."""
    target.check_credentials()
    bucket = prod_cfg.deploy_bucket_name(target.account)
    s3 = target.client("s3")
    with Stubber(s3) as stub:
        stub.add_client_error("head_bucket", service_error_code="404", http_status_code=404)
        stub.add_client_error(
            "create_bucket",
            service_error_code="BucketAlreadyExists",
            http_status_code=409,
            service_message="The requested bucket name is not available. The bucket namespace "
            "is shared by all users of the system. Please select a different "
            "name and try again.",
        )
        with pytest.raises(bootstrap.BootstrapError) as err:
            bootstrap.run(prod_cfg, target)
    line = str(err.value)
    assert line.startswith(f"deploy bucket {bucket}: CreateBucket answered BucketAlreadyExists")
    # The name was already the account-unique one: the way out is a name of one's own.
    assert f"set DeployBucketName in {prod_cfg.path} to a name of your own" in line


@pytest.mark.stubbed
def test_a_bucket_the_caller_may_not_create_stops_bootstrap_before_any_parameter_is_written(prod_cfg, target):
    """Stubber for S3: HeadBucket 404, then CreateBucket answers AccessDenied
    (403), as S3 does for a caller without s3:CreateBucket on the name or
    under an SCP that denies it (S3 API reference, Error responses,
    AccessDenied; IAM User Guide, policy evaluation logic). Parameter Store
    is stubbed with nothing queued: the bucket comes before the parameters,
    so not one secret is written (or even listed) by a run that cannot make
    the bucket the instances read their files from."""
    target.account = MOTO_DEFAULT
    target.check_credentials = lambda: MOTO_DEFAULT
    bucket = prod_cfg.deploy_bucket_name(MOTO_DEFAULT)
    s3, ssm = target.client("s3"), target.client("ssm")
    with Stubber(s3) as stub, _no_calls(ssm):
        stub.add_client_error("head_bucket", service_error_code="404", http_status_code=404)
        stub.add_client_error(
            "create_bucket",
            service_error_code="AccessDenied",
            http_status_code=403,
            service_message="Access Denied",
            expected_params={
                "Bucket": bucket,
                "ObjectOwnership": "BucketOwnerEnforced",
                "CreateBucketConfiguration": {"LocationConstraint": prod_cfg.region},
            },
        )
        with pytest.raises(bootstrap.BootstrapError) as err:
            bootstrap.run(prod_cfg, target)
        stub.assert_no_pending_responses()
    assert str(err.value).startswith("CreateBucket: AccessDenied")


def _forbidden_head(stub, bucket):
    stub.add_client_error(
        "head_bucket",
        service_error_code="403",
        http_status_code=403,
        expected_params={"Bucket": bucket, "ExpectedBucketOwner": MOTO_DEFAULT},
    )


@pytest.mark.stubbed
def test_a_403_on_this_accounts_own_bucket_names_the_missing_permission(prod_cfg, target):
    """Stubber for S3: HeadBucket answers 403, as S3 does for this account's
    bucket when the caller lacks s3:ListBucket or an SCP denies it, and
    ListBuckets (which lists only the caller's account's buckets: S3 API
    reference, ListBuckets) lists the name. The line says the bucket is
    ours and names the action; nothing is written (Parameter Store stubbed
    with nothing queued)."""
    target.account = MOTO_DEFAULT
    target.check_credentials = lambda: MOTO_DEFAULT
    bucket = prod_cfg.deploy_bucket_name(MOTO_DEFAULT)
    s3, ssm = target.client("s3"), target.client("ssm")
    with Stubber(s3) as stub, _no_calls(ssm):
        _forbidden_head(stub, bucket)
        stub.add_response("list_buckets", {"Buckets": [{"Name": bucket}], "Owner": {"ID": "abc"}}, {"Prefix": bucket})
        with pytest.raises(bootstrap.BootstrapError) as err:
            bootstrap.run(prod_cfg, target)
        stub.assert_no_pending_responses()
    line = str(err.value)
    assert line.startswith(f"deploy bucket {bucket}: the bucket is this account's ({MOTO_DEFAULT})")
    assert f"s3:ListBucket on arn:aws:s3:::{bucket}" in line
    assert "global" not in line and "another account" not in line


@pytest.mark.stubbed
def test_a_403_where_listing_is_refused_too_says_it_cannot_tell(prod_cfg, target):
    """Stubber for S3: HeadBucket 403, then ListBuckets AccessDenied (no
    s3:ListAllMyBuckets): the line names both actions instead of guessing."""
    target.account = MOTO_DEFAULT
    target.check_credentials = lambda: MOTO_DEFAULT
    bucket = prod_cfg.deploy_bucket_name(MOTO_DEFAULT)
    s3, ssm = target.client("s3"), target.client("ssm")
    with Stubber(s3) as stub, _no_calls(ssm):
        _forbidden_head(stub, bucket)
        stub.add_client_error("list_buckets", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(bootstrap.BootstrapError) as err:
            bootstrap.run(prod_cfg, target)
    line = str(err.value)
    assert "cannot be told" in line and "s3:ListBucket" in line and "s3:ListAllMyBuckets" in line
