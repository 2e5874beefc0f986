"""Each preflight check, passing and failing.

Stand-ins, per test (docstrings say which):

* moto's server for SSM, S3, EC2 (zones, instance type offerings,
  addresses, NAT gateways), ECR, Service Quotas (VPC codes only; EC2 codes
  answer NoSuchResourceException, which exercises the documented-default
  fallback).
* botocore's Stubber, with responses shaped like the API reference, where
  moto does not produce the behaviour: ACM DescribeCertificate (status and
  expiry are set by the test), RDS DescribeOrderableDBInstanceOptions (moto
  returns nothing for postgres), ElastiCache DescribeCacheEngineVersions and
  DescribeReservedCacheNodesOfferings (not implemented by moto),
  CloudFormation DescribeStacks / ListStackResources for stuck states.

What AWS enforces that moto does not, and where this code honours it:
GetParameters accepts at most 10 names per call (API reference,
GetParameters, "Names": "Maximum number of 10 items") -- enforced by
``test_parameters_are_read_in_batches_of_ten`` with a strict fake.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from botocore.stub import Stubber

from wealist_cfn.aws import Aws
from wealist_cfn.deploy import stackstate
from wealist_cfn.ops import bootstrap
from wealist_cfn.preflight import checks

UTC = dt.timezone.utc
CERT = "arn:aws:acm:ap-northeast-2:123456789012:certificate/12345678-1234-1234-1234-123456789012"


def _seed_parameters(ctx, *, skip=(), wrong_type=()):
    """What bootstrap makes: every parameter of its table, with its type."""
    ssm = ctx.aws.client("ssm")
    prefix = bootstrap.parameter_prefix(ctx.config)
    for p in bootstrap.PARAMETERS:
        if p.name in skip:
            continue
        secure = p.kind == bootstrap.SECRET
        if p.name in wrong_type:
            secure = not secure
        value = p.value(ctx.config) if p.value and p.kind != bootstrap.SECRET else "x"
        ssm.put_parameter(Name=f"{prefix}/{p.name}", Value=value, Type="SecureString" if secure else "String")


def _bucket(ctx, *, region="ap-northeast-2", files=True):
    # S3 refuses a create whose location differs from the endpoint's region.
    s3 = Aws(region, endpoint_url=ctx.aws.endpoint_url, local_credentials=True).client("s3")
    kw = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=ctx.config.deploy_bucket_name(ctx.aws.account), **kw)
    if files:
        for key, path in bootstrap.local_files(ctx.files_dir).items():
            s3.put_object(Bucket=ctx.config.deploy_bucket_name(ctx.aws.account), Key=key, Body=path.read_bytes())


# -- Parameter Store ---------------------------------------------------------------------------


@pytest.mark.moto
def test_ssm_references_found_in_the_resolved_templates(ctx):
    """moto: the references are read from the templates (four today: the
    database's name, user and password, the Redis AUTH token), and all
    present with the right type pass."""
    refs = {(kind, name) for kind, name, _ in checks.dynamic_references(ctx.resolved)}
    assert ("ssm-secure", "/wealist/prod/redis/auth_token") in refs
    assert ("ssm", "/wealist/prod/db/postgres_superuser") in refs
    assert ("ssm-secure", "/wealist/prod/db/postgres_superuser_password") in refs
    _seed_parameters(ctx)
    r = checks.check_ssm_references(ctx)
    assert r.status == checks.OK, r


@pytest.mark.moto
def test_ssm_reference_missing_or_of_the_wrong_type_fails(ctx):
    """moto: a missing reference and a String where ssm-secure needs a
    SecureString both fail, named, with bootstrap as the fix."""
    _seed_parameters(ctx, skip=("db/postgres_db",), wrong_type=("redis/auth_token",))
    r = checks.check_ssm_references(ctx)
    assert r.status == checks.FAIL
    text = "\n".join(r.details)
    assert "/wealist/prod/db/postgres_db: missing" in text
    assert "/wealist/prod/redis/auth_token: is a String" in text and "SecureString" in text
    assert r.fix == "python build.py bootstrap --params params/prod.json"


@pytest.mark.moto
def test_boot_parameters_missing_or_wrong_type_fail(ctx):
    """moto: every value of bootstrap's table must exist, secrets as SecureString."""
    _seed_parameters(ctx)
    assert checks.check_boot_parameters(ctx).status == checks.OK
    ctx.aws.client("ssm").delete_parameter(Name="/wealist/prod/db/user_db_name")
    ctx.aws.client("ssm").put_parameter(
        Name="/wealist/prod/monitoring/grafana_admin_password", Value="x", Type="String", Overwrite=True
    )
    r = checks.check_boot_parameters(ctx)
    assert r.status == checks.FAIL
    assert "/wealist/prod/db/user_db_name: missing" in r.details
    assert any("grafana_admin_password: is a String, instances expect a SecureString" in d for d in r.details)


def test_parameters_are_looked_up_in_batches_of_fifty_without_reading_a_value():
    """Strict fake: DescribeParameters refuses a Name filter of more than 50
    values, as AWS does (API reference, DescribeParameters,
    ParameterStringFilter Values: maximum 50 items); the check never calls an
    operation that returns a value (GetParameter*), so a role denied the
    secrets can run it."""

    class StrictPaginator:
        calls = 0

        def paginate(self, ParameterFilters):  # noqa: N803 - boto3's names
            [f] = ParameterFilters
            assert (f["Key"], f["Option"]) == ("Name", "Equals")
            assert len(f["Values"]) <= 50, "ValidationException: at most 50 values"
            StrictPaginator.calls += 1
            yield {"Parameters": [{"Name": n, "Type": "String"} for n in f["Values"] if not n.endswith("/7")]}

    class StrictSsm:
        def get_paginator(self, name):
            assert name == "describe_parameters", f"{name} would read values"
            return StrictPaginator()

        def __getattr__(self, name):
            raise AssertionError(f"ssm.{name} called")

    found, missing = checks._get_parameters(StrictSsm(), [f"/p/{i}" for i in range(123)])
    assert len(found) == 122 and missing == ["/p/7"] and StrictPaginator.calls == 3


def test_plain_values_are_read_in_batches_of_ten():
    """Strict fake: GetParameters refuses more than 10 names, as AWS does
    (API reference, GetParameters, Names: maximum 10 items); only the image
    check reads values, and only plain ones."""

    class StrictSsm:
        calls = 0

        def get_parameters(self, Names, WithDecryption):  # noqa: N803 - boto3's names
            assert len(Names) <= 10 and WithDecryption is False
            StrictSsm.calls += 1
            return {"Parameters": [{"Name": n, "Type": "String", "Value": "v"} for n in Names]}

    found = checks._get_values(StrictSsm(), [f"/p/{i}" for i in range(23)])
    assert len(found) == 23 and StrictSsm.calls == 3


# -- Deploy bucket -----------------------------------------------------------------------------


@pytest.mark.moto
def test_deploy_bucket_missing_fails(ctx):
    """moto: no bucket."""
    r = checks.check_deploy_bucket(ctx)
    assert r.status == checks.FAIL and "does not exist" in r.finding and "bootstrap" in r.fix


@pytest.mark.moto
def test_deploy_bucket_in_another_region_fails(ctx):
    """moto: GetBucketLocation answers the bucket's region (none for us-east-1)."""
    _bucket(ctx, region="us-east-1")
    r = checks.check_deploy_bucket(ctx)
    assert r.status == checks.FAIL and "is in us-east-1" in r.finding


@pytest.mark.moto
def test_deploy_bucket_names_stale_and_missing_files(ctx):
    """moto: one object with other bytes (stale), one absent (missing); both named."""
    _bucket(ctx)
    assert checks.check_deploy_bucket(ctx).status == checks.OK
    s3 = ctx.aws.client("s3")
    s3.put_object(Bucket=ctx.config.deploy_bucket_name(ctx.aws.account), Key="config/a.txt", Body=b"old alpha\n")
    s3.delete_object(Bucket=ctx.config.deploy_bucket_name(ctx.aws.account), Key="config/b.txt")
    r = checks.check_deploy_bucket(ctx)
    assert r.status == checks.FAIL
    bucket = "s3://wealist-prod-deploy-123456789012-ap-northeast-2"  # the account-unique name
    assert any(d.startswith(f"{bucket}/config/a.txt: stale") for d in r.details)
    assert f"{bucket}/config/b.txt: missing" in r.details
    assert "1 stale" in r.finding


@pytest.mark.stubbed
def test_deploy_bucket_of_another_account_fails(ctx):
    """Stubber: HeadBucket with ExpectedBucketOwner answers 403 when the
    bucket belongs to another account (S3 API reference, HeadBucket: "If the
    bucket does not exist or you do not have permission to access it, the
    HEAD request returns a generic 400 Bad Request, 403 Forbidden or 404 Not
    Found"); moto does not check ExpectedBucketOwner."""
    s3 = ctx.aws.client("s3")
    with Stubber(s3) as stub:
        stub.add_client_error("head_bucket", service_error_code="403", http_status_code=403)
        r = checks.check_deploy_bucket(ctx)
    assert r.status == checks.FAIL and "not owned by this account" in r.finding


# -- Certificate -------------------------------------------------------------------------------


def _cert(status="ISSUED", days=200, type_="AMAZON_ISSUED"):
    return {
        "Certificate": {
            "CertificateArn": CERT,
            "DomainName": "wealist.example",
            "Type": type_,
            "SubjectAlternativeNames": ["wealist.example", "api.wealist.example"],
            "Status": status,
            "NotAfter": dt.datetime.now(UTC) + dt.timedelta(days=days),
        }
    }


@pytest.mark.stubbed
@pytest.mark.parametrize(
    "status,days,ok,words",
    [
        ("ISSUED", 200, True, "api.wealist.example"),
        ("PENDING_VALIDATION", 200, False, "PENDING_VALIDATION, not ISSUED"),
        ("ISSUED", 10, False, "expires in 10 days"),
    ],
)
def test_certificate_status_and_expiry(ctx, status, days, ok, words):
    """Stubber, DescribeCertificate shaped like the ACM API reference
    (Certificate.Status, NotAfter, DomainName, SubjectAlternativeNames)."""
    ctx.config = ctx.config.with_values(CertificateArn=CERT)
    acm = ctx.aws.client("acm")
    with Stubber(acm) as stub:
        stub.add_response("describe_certificate", _cert(status, days), {"CertificateArn": CERT})
        r = checks.check_certificate(ctx)
    assert (r.status == checks.OK) is ok, r
    assert words in r.finding
    if not ok:
        assert r.fix.startswith("complete its DNS validation") or "RenewalSummary" in r.fix


def test_certificate_in_another_region_fails_without_a_call(ctx):
    """No stand-in: the ARN's region is compared before any call (an ALB
    takes a certificate of its own region only). The parameter file check
    refuses this too; preflight repeats it for configs built otherwise."""
    other = CERT.replace("ap-northeast-2", "us-east-1")
    ctx.config = dataclasses.replace(ctx.config, values={**ctx.config.values, "CertificateArn": other})
    r = checks.check_certificate(ctx)
    assert r.status == checks.FAIL and "us-east-1" in r.finding and "acm request-certificate" in r.fix


def test_no_certificate_is_fine(ctx):
    """No stand-in: HTTP only is a choice the parameter file makes."""
    assert checks.check_certificate(ctx).status == checks.OK


# -- Zones, instance types, database, cache, AMI -----------------------------------------------


@pytest.mark.moto
def test_zones_and_instance_types_pass_on_moto(ctx):
    """moto: ap-northeast-2a/c/d exist and offer t3.medium and t3.small."""
    assert checks.check_zones(ctx).status == checks.OK
    r = checks.check_instance_types(ctx)
    assert r.status == checks.OK and "t3.medium" in r.finding


@pytest.mark.moto
def test_unknown_zone_fails(ctx):
    """moto: DescribeAvailabilityZones filtered by name leaves out a zone the region lacks."""
    ctx.config = ctx.config.with_values(AvailabilityZones="ap-northeast-2a,ap-northeast-2c,ap-northeast-2z")
    r = checks.check_zones(ctx)
    assert r.status == checks.FAIL and "ap-northeast-2z: not a zone of ap-northeast-2" in r.details


@pytest.mark.moto
def test_instance_type_not_offered_fails(ctx):
    """moto: DescribeInstanceTypeOfferings lists no offering of an unknown type."""
    lt = ctx.resolved["ComputeStack"].resources["BackendLaunchTemplate"]
    lt["Properties"]["LaunchTemplateData"]["InstanceType"] = "zz9.huge"
    r = checks.check_instance_types(ctx)
    assert r.status == checks.FAIL
    assert "zz9.huge is not offered in ap-northeast-2a" in r.details and len(r.details) == 3


def _orderable(
    zones=("ap-northeast-2a", "ap-northeast-2c", "ap-northeast-2d"), multi=True, storage="gp3", version="17.6"
):
    return {
        "OrderableDBInstanceOptions": [
            {
                "Engine": "postgres",
                "EngineVersion": version,
                "DBInstanceClass": "db.t3.micro",
                "StorageType": storage,
                "AvailabilityZones": [{"Name": z} for z in zones],
                "MultiAZCapable": multi,
            }
        ]
    }


# The templates name the major version only (settings.py): no EngineVersion
# filter, the offerings of that major are kept (an offering lists its full
# version: DescribeOrderableDBInstanceOptions, OrderableDBInstanceOption).
_ORDER_PARAMS = {"Engine": "postgres", "DBInstanceClass": "db.t3.micro", "Vpc": True}


@pytest.mark.stubbed
@pytest.mark.parametrize(
    "response,multi_az,ok,words",
    [
        (_orderable(), False, True, "orderable in"),
        ({"OrderableDBInstanceOptions": []}, False, False, "cannot be ordered in ap-northeast-2"),
        (_orderable(zones=("ap-northeast-2a",)), False, False, "cannot be ordered in ap-northeast-2c, ap-northeast-2d"),
        (_orderable(storage="gp2"), False, False, "cannot be ordered"),
        (_orderable(multi=False), True, False, "cannot run Multi-AZ"),
        # Only another major's offerings: nothing of 17 can be ordered.
        (_orderable(version="16.4"), False, False, "cannot be ordered in ap-northeast-2"),
    ],
)
def test_database_orderable(ctx, response, multi_az, ok, words):
    """Stubber, DescribeOrderableDBInstanceOptions shaped like the RDS API
    reference (OrderableDBInstanceOption: StorageType, AvailabilityZones,
    MultiAZCapable); moto answers nothing for postgres."""
    ctx.resolved["DatabaseStack"].resources["Database"]["Properties"]["MultiAZ"] = multi_az
    with Stubber(ctx.aws.client("rds")) as stub:
        stub.add_response("describe_orderable_db_instance_options", response, _ORDER_PARAMS)
        r = checks.check_database(ctx)
    assert (r.status == checks.OK) is ok, r
    assert words in r.finding
    if not ok:
        assert "describe-orderable-db-instance-options" in r.fix


@pytest.mark.stubbed
@pytest.mark.parametrize(
    "versions,offers,ok,words",
    [
        (True, True, True, "offered in ap-northeast-2"),
        (False, True, False, "redis 7.1 is not offered"),
        (True, False, False, "cache.t3.micro is not offered"),
    ],
)
def test_cache_offered(ctx, versions, offers, ok, words):
    """Stubber, DescribeCacheEngineVersions and
    DescribeReservedCacheNodesOfferings shaped like the ElastiCache API
    reference; moto implements neither."""
    ec = ctx.aws.client("elasticache")
    with Stubber(ec) as stub:
        stub.add_response(
            "describe_cache_engine_versions",
            {
                "CacheEngineVersions": [
                    {"Engine": "redis", "EngineVersion": "7.1", "CacheParameterGroupFamily": "redis7"}
                ]
                if versions
                else []
            },
            {"Engine": "redis", "EngineVersion": "7.1"},
        )
        if versions:
            stub.add_response(
                "describe_reserved_cache_nodes_offerings",
                {
                    "ReservedCacheNodesOfferings": [
                        {
                            "ReservedCacheNodesOfferingId": "o-1",
                            "CacheNodeType": "cache.t3.micro",
                            "Duration": 31536000,
                            "ProductDescription": "redis",
                            "OfferingType": "No Upfront",
                        }
                    ]
                    if offers
                    else []
                },
                {"CacheNodeType": "cache.t3.micro", "MaxRecords": 20},
            )
        r = checks.check_cache(ctx)
    assert (r.status == checks.OK) is ok, r
    assert words in r.finding


@pytest.mark.moto
def test_ami_parameter_resolves_and_a_wrong_path_fails(ctx):
    """moto: it serves the public Amazon Linux parameters; a path it lacks
    is ParameterNotFound, as in AWS. The release tags are no SSM-typed
    template parameters any more (deploy reads them to derive
    BackendHealthCheckType, ops/releasestate.py): missing, they do not fail
    this check."""
    r = checks.check_ami(ctx)
    assert r.status == checks.OK and "= ami-" in r.finding
    assert "image_tag" not in r.finding
    ctx.resolved["ComputeStack"].params["ImageId"] = "/aws/service/ami-amazon-linux-latest/no-such-image"
    r = checks.check_ami(ctx)
    assert r.status == checks.FAIL and "no-such-image: not found" in r.details[0]


# -- Quotas ------------------------------------------------------------------------------------


@pytest.mark.moto
def test_quotas_with_room_pass_and_name_their_source(ctx):
    """moto: Service Quotas knows the VPC codes, not EC2's; the EIP quota
    falls back to the documented default of 5."""
    r = checks.check_quotas(ctx)
    assert r.status == checks.OK
    assert any(d.startswith("Elastic IPs: 0 used + 1 needed of 5 (documented default") for d in r.details)
    assert any(d.startswith("NAT gateways in ap-northeast-2a") for d in r.details)


@pytest.mark.moto
def test_quotas_full_fail_with_the_increase_command(ctx):
    """moto: five Elastic IPs and five NAT gateways in the first zone leave
    no room for the stack's own (the documented defaults are 5 and 5)."""
    ec2 = ctx.aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="ap-northeast-2a")
    for _ in range(5):
        alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
        ec2.create_nat_gateway(SubnetId=subnet["Subnet"]["SubnetId"], AllocationId=alloc)
    r = checks.check_quotas(ctx)
    assert r.status == checks.FAIL
    assert any(d.startswith("Elastic IPs: 5 used + 1 needed of 5") for d in r.details)
    assert any(d.startswith("NAT gateways in ap-northeast-2a: 5 used + 1 needed of 5") for d in r.details)
    assert "request-service-quota-increase" in r.fix and "L-0263D0A3" in r.fix and "L-FE5A380F" in r.fix


# -- Images ------------------------------------------------------------------------------------


def _release(ctx, tag, push=True):
    _seed_parameters(ctx)
    ssm, ecr = ctx.aws.client("ssm"), ctx.aws.client("ecr")
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1,
                "digest": "sha256:" + "0" * 64,
            },
            "layers": [],
        }
    )
    for svc in ("user-service", "board-service"):
        var = svc.replace("-", "_")
        ssm.put_parameter(Name=f"/wealist/prod/deploy/{var}_image_tag", Value=tag, Type="String", Overwrite=True)
        ecr.create_repository(repositoryName=svc)
        if push:
            ecr.put_image(repositoryName=svc, imageManifest=manifest, imageTag=tag)


@pytest.mark.moto
def test_released_images_present_pass(ctx):
    """moto: ECR DescribeImages finds the tag the parameter names."""
    _release(ctx, "v1.2.3")
    r = checks.check_images(ctx)
    assert r.status == checks.OK and "user-service:v1.2.3" in r.finding


@pytest.mark.moto
def test_missing_image_fails_on_update_and_warns_on_first_deploy(ctx):
    """moto: a tag that was never pushed fails an update (instances would
    start without the service) and only warns before the first deploy."""
    _release(ctx, "v9", push=False)
    ctx.state = stackstate.StackState("wealist-prod", None)
    assert checks.check_images(ctx).status == checks.WARN
    ctx.state = stackstate.StackState("wealist-prod", "UPDATE_COMPLETE", "arn:stack")
    r = checks.check_images(ctx)
    assert r.status == checks.FAIL and any(d.startswith("user-service:v9") for d in r.details)


@pytest.mark.moto
def test_unreleased_services_warn(ctx):
    """moto: bootstrap's 'unreleased' placeholder is a warning, not a failure."""
    _seed_parameters(ctx)
    r = checks.check_images(ctx)
    assert r.status == checks.WARN and "unreleased" in " ".join(r.details)


# -- Stack state -------------------------------------------------------------------------------


def _stack(status, reason=""):
    return {
        "Stacks": [
            {
                "StackName": "wealist-prod",
                "StackStatus": status,
                "StackStatusReason": reason,
                "StackId": "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/wealist-prod/1",
                "CreationTime": dt.datetime(2026, 1, 1, tzinfo=UTC),
            }
        ]
    }


@pytest.mark.stubbed
def test_update_rollback_failed_fails_with_continue_update_rollback(ctx):
    """Stubber, DescribeStacks and ListStackResources shaped like the
    CloudFormation API reference: the deploy command's own state logic
    (stackstate.check_deployable) names the blocking resource and the fix."""
    cfn = ctx.aws.client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_FAILED"), {"StackName": "wealist-prod"})
        stub.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    {
                        "LogicalResourceId": "Database",
                        "ResourceType": "AWS::RDS::DBInstance",
                        "ResourceStatus": "UPDATE_FAILED",
                        "ResourceStatusReason": "modified outside CloudFormation",
                        "LastUpdatedTimestamp": dt.datetime(2026, 1, 1, tzinfo=UTC),
                    }
                ]
            },
            None,
        )
        r = checks.check_stack_state(ctx)
    assert r.status == checks.FAIL and "UPDATE_ROLLBACK_FAILED" in r.finding
    assert "continue-update-rollback --stack-name wealist-prod" in r.fix
    assert any("blocking: Database" in d for d in r.details)


@pytest.mark.stubbed
def test_a_rollback_refused_the_boundary_removal_says_to_skip_the_roles(ctx):
    """Stubber, DescribeStacks and ListStackResources shaped like the
    CloudFormation API reference. Real AWS: rolling back to templates whose
    roles carried no PermissionsBoundary calls
    iam:DeleteRolePermissionsBoundary, which the service role is denied
    (explicit Deny: an AccessDenied the rollback cannot get past), so the
    stack ends UPDATE_ROLLBACK_FAILED; ContinueUpdateRollback skips
    nested resources named ``NestedStackLogicalId.ResourceLogicalId``
    (API reference, ContinueUpdateRollback, ResourcesToSkip). Nothing is
    to be fixed: the hint says so and names all three roles to skip."""
    cfn = ctx.aws.client("cloudformation")
    when = dt.datetime(2026, 1, 1, tzinfo=UTC)
    nested = {"IamStack": ["Ec2Role", "MonitoringRole"], "NetworkStack": ["FlowLogRole"]}
    arn = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/wealist-prod-{}-1AB/1"
    denied = (
        "User: arn:aws:sts::123456789012:assumed-role/wealist-prod-cfn-role/x is not authorized to perform: "
        "iam:DeleteRolePermissionsBoundary on resource: role {} with an explicit deny"
    )
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_FAILED"), {"StackName": "wealist-prod"})
        stub.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    {
                        "LogicalResourceId": child,
                        "ResourceType": "AWS::CloudFormation::Stack",
                        "PhysicalResourceId": arn.format(child),
                        "ResourceStatus": "UPDATE_COMPLETE",
                        "LastUpdatedTimestamp": when,
                    }
                    for child in nested
                ]
            },
            None,
        )
        for child, roles in nested.items():
            stub.add_response(
                "list_stack_resources",
                {
                    "StackResourceSummaries": [
                        {
                            "LogicalResourceId": role,
                            "ResourceType": "AWS::IAM::Role",
                            "ResourceStatus": "UPDATE_FAILED",
                            "ResourceStatusReason": denied.format(role),
                            "LastUpdatedTimestamp": when,
                        }
                        for role in roles
                    ]
                },
                {"StackName": arn.format(child)},
            )
        r = checks.check_stack_state(ctx)
    assert r.status == checks.FAIL
    assert (
        "continue-update-rollback --stack-name wealist-prod --resources-to-skip "
        "IamStack.Ec2Role IamStack.MonitoringRole NetworkStack.FlowLogRole"
    ) in r.fix
    said = " ".join(r.details)
    assert "keep their boundary" in said and "fix the cause" not in said


@pytest.mark.stubbed
@pytest.mark.parametrize(
    "status,replace,expected,words",
    [
        ("ROLLBACK_COMPLETE", False, checks.FAIL, "cannot be updated"),
        ("ROLLBACK_COMPLETE", True, checks.WARN, "--replace-failed"),
        ("UPDATE_IN_PROGRESS", False, checks.WARN, "waits for it to settle"),
        ("UPDATE_COMPLETE", False, checks.OK, "an update can start"),
    ],
)
def test_stack_states(ctx, status, replace, expected, words):
    """Stubber, DescribeStacks shaped like the CloudFormation API reference."""
    ctx.replace_failed = replace
    with Stubber(ctx.aws.client("cloudformation")) as stub:
        stub.add_response("describe_stacks", _stack(status), {"StackName": "wealist-prod"})
        r = checks.check_stack_state(ctx)
    assert r.status == expected and words in r.finding


# -- The runner --------------------------------------------------------------------------------


@pytest.mark.moto
def test_run_reports_every_check_in_order_and_turns_errors_into_failures(ctx):
    """moto: a fresh endpoint with nothing bootstrapped: the run names each
    check once, in order; calls moto does not implement end as a failed
    check with the reason, not a traceback."""
    report = checks.run(ctx)
    assert [r.name for r in report.results] == [name for name, _ in checks.CHECKS]
    failed = {r.name for r in report.failed}
    assert {"ssm-references", "boot-parameters", "deploy-bucket"} <= failed
    cache = next(r for r in report.results if r.name == "cache")
    assert cache.status == checks.FAIL and cache.finding.startswith("could not check")
    assert not report.ok and report.to_dict()["ok"] is False


@pytest.mark.moto
def test_deploy_bucket_behind_a_tls_only_policy_on_http_says_why(ctx):
    """moto: its S3 reads every request as insecure (FIELD-NOTES), so the
    TLS-only policy bootstrap sets denies the object reads over http://; the
    check says so instead of a bare 403."""
    _bucket(ctx)
    bucket = ctx.config.deploy_bucket_name(ctx.aws.account)
    ctx.aws.client("s3").put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [f"arn:aws:s3:::{bucket}/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        ),
    )
    r = checks.check_deploy_bucket(ctx)
    assert r.status == checks.FAIL and "TLS-only policy" in r.finding


@pytest.mark.moto
def test_quotas_on_an_update_count_only_what_the_change_adds(ctx):
    """moto: a single-AZ stack switched to multi-AZ needs two more EIPs and
    one NAT gateway in each of the two other zones, not the whole set again
    (its current values as moto reports them, the zone list included)."""
    multi = ctx.config.with_values(EnableMultiAZ="true")
    ctx.config, ctx.resolved = multi, checks.resolve_templates(multi)
    current = dict(
        multi.values,
        EnableMultiAZ="false",
        AvailabilityZones="['ap-northeast-2a', 'ap-northeast-2c', 'ap-northeast-2d']",
    )
    ctx.state = stackstate.StackState("wealist-prod", "UPDATE_COMPLETE", "arn:stack", parameters=current)
    r = checks.check_quotas(ctx)
    assert r.status == checks.OK
    assert any(d.startswith("Elastic IPs: 0 used + 2 needed") for d in r.details)
    assert any(d.startswith("NAT gateways in ap-northeast-2a: 0 used + 0 needed") for d in r.details)
    assert any(d.startswith("NAT gateways in ap-northeast-2c: 0 used + 1 needed") for d in r.details)
    assert any(d.startswith("VPCs: 1 used + 0 needed") for d in r.details)  # moto's default VPC
