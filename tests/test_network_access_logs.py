"""VPC flow logs and ALB access logs, as the resolved templates declare them:
who may deliver them, where to, and for how long they are kept.

Pure template evaluation (wealist_cfn/cfn/model.py), with the policies
evaluated by the project's evaluators (tests/helpers/iam_eval.py for the role's
identity policy, wealist_cfn/rehearsal/strict.py for the bucket policy) rather than by
matching strings. No AWS endpoint involved.

What real AWS enforces that these checks stand in for:
* ELB refuses to turn access logs on when the bucket policy does not let its
  region's log delivery principal put the test object under
  ``<prefix>/AWSLogs/<account>/`` (ELB user guide, "Enable access logs for
  your Application Load Balancer", step 4), and when the bucket uses any
  encryption other than SSE-S3 (same page, step 1). moto's ELBv2 accepts
  the attributes whatever the bucket says, so both are asserted here.
* The flow-logs service assumes the role only if the trust policy admits
  ``vpc-flow-logs.amazonaws.com``; the confused-deputy conditions are the VPC
  user guide's ("IAM role for publishing flow logs to CloudWatch Logs").
"""

from __future__ import annotations

import json

import pytest

from helpers.iam_eval import allowed
from wealist_cfn import config
from wealist_cfn.cfn.model import ACCOUNT, resolve
from wealist_cfn.core import regions
from wealist_cfn.core.regions import ELB_LOG_DELIVERY_SERVICE, log_delivery_principal
from wealist_cfn.core.settings import DEFAULT_SETTINGS
from wealist_cfn.rehearsal import strict
from wealist_cfn.stacks import loadbalancer, network
from wealist_cfn.stacks.loadbalancer import ACCESS_LOG_PREFIX

GROUP_ARN = f"arn:aws:logs:ap-northeast-2:{ACCOUNT}:log-group:wealist-prod-NetworkStack-1AB-FlowLogGroup-XYZ:*"
BUCKET = "wealist-prod-loadbalancerstack-1ab-accesslogbucket-xyz"
LOG_KEY = (
    f"{ACCESS_LOG_PREFIX}/AWSLogs/{ACCOUNT}/elasticloadbalancing/ap-northeast-2/2026/11/29/"
    f"{ACCOUNT}_elasticloadbalancing_ap-northeast-2_app.wealist-prod-alb.0123_20261129T0000Z_10.1.0.5_x.log.gz"
)


@pytest.fixture(scope="module")
def prod():
    return config.load("params/prod.json")


def _stacks(prod, region="ap-northeast-2", **values):
    return resolve(prod.with_values(**values).values, region=region)


def _concrete(node, **symbols):
    """The resolved document with the model's symbols (``Stack/Res.Arn``)
    replaced by ARNs of the shape AWS gives them."""
    text = json.dumps(node)
    for symbol, value in symbols.items():
        text = text.replace(symbol, value)
    return json.loads(text)


# -- flow logs -------------------------------------------------------------------------------------


def test_flow_log_records_all_traffic_of_the_vpc_into_its_group(prod):
    net = _stacks(prod)["NetworkStack"]
    flow = net.resources["VpcFlowLog"]["Properties"]
    assert flow["ResourceType"] == "VPC" and flow["ResourceId"] == "NetworkStack/Vpc"
    assert flow["TrafficType"] == "ALL"
    assert flow["MaxAggregationInterval"] == 600  # docs/operations.md: aggregated per 10 minutes
    assert flow["LogDestinationType"] == "cloud-watch-logs"
    assert flow["LogGroupName"] == "NetworkStack/FlowLogGroup"
    assert flow["DeliverLogsPermissionArn"] == "NetworkStack/FlowLogRole.Arn"
    assert net.outputs["FlowLogGroupName"] == "NetworkStack/FlowLogGroup"


@pytest.mark.parametrize("days", ["30", "365", "3653"])
def test_flow_log_group_keeps_records_for_the_parameter_and_outlives_the_stack(prod, days):
    group = _stacks(prod, FlowLogRetentionDays=days)["NetworkStack"].resources["FlowLogGroup"]
    assert group["Properties"]["RetentionInDays"] == days
    assert "LogGroupName" not in group["Properties"]  # CloudFormation names it: no collision when retained
    assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Retain"


def test_flow_log_retention_offers_exactly_what_cloudwatch_logs_accepts():
    """The parameter's allowed values are the LogGroup schema's enum (cfn-lint's copy)."""
    import pathlib

    import cfnlint

    from wealist_cfn.core.parameters import PARAMS_BY_NAME

    schemas = pathlib.Path(cfnlint.__file__).parent / "data" / "schemas"
    index = json.loads((schemas / "providers" / "us-east-1.json").read_text())
    schema = json.loads((schemas / "resources" / f"{index['AWS::Logs::LogGroup']}.json").read_text())
    enum = [str(v) for v in schema["properties"]["RetentionInDays"]["enum"]]
    assert list(PARAMS_BY_NAME["FlowLogRetentionDays"].allowed_values) == enum


def test_flow_log_role_writes_to_its_group_only(prod):
    role = _stacks(prod)["NetworkStack"].resources["FlowLogRole"]["Properties"]
    statements = [
        s
        for p in role["Policies"]
        for s in _concrete(p["PolicyDocument"], **{"NetworkStack/FlowLogGroup.Arn": GROUP_ARN})["Statement"]
    ]
    stream = GROUP_ARN[:-1] + "log-stream:eni-0123456789abcdef0-all"
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        assert allowed(statements, action, stream), action
    assert allowed(statements, "logs:DescribeLogStreams", GROUP_ARN)
    other = f"arn:aws:logs:ap-northeast-2:{ACCOUNT}:log-group:/wealist/prod/backend:log-stream:i-0123/startup"
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        assert not allowed(statements, action, other), action
    # The group exists (the stack makes it): neither making nor listing groups.
    for action in ("logs:CreateLogGroup", "logs:DescribeLogGroups", "logs:DeleteLogGroup", "logs:PutRetentionPolicy"):
        assert not allowed(statements, action, "*") and not allowed(statements, action, GROUP_ARN), action
    assert not any(a in ("*", "logs:*") for s in statements for a in s["Action"])


@pytest.mark.parametrize("region", ["ap-northeast-2", "us-east-1"])
def test_flow_log_role_is_trusted_only_by_the_flow_logs_service_of_this_account(prod, region):
    trust = _stacks(prod, region=region)["NetworkStack"].resources["FlowLogRole"]["Properties"][
        "AssumeRolePolicyDocument"
    ]
    (st,) = trust["Statement"]
    assert st["Effect"] == "Allow" and st["Principal"] == {"Service": network.FLOW_LOGS_SERVICE}
    assert st["Action"] == ["sts:AssumeRole"]
    assert st["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{region}:{ACCOUNT}:vpc-flow-log/*"},
    }


# -- the access-log bucket -------------------------------------------------------------------------


def _bucket(prod, **values):
    return _stacks(prod, **values)["LoadBalancerStack"].resources["AccessLogBucket"]


def test_bucket_is_sse_s3_private_owner_enforced_and_retained(prod):
    bucket = _bucket(prod)
    props = bucket["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    # SSE-S3 only: ELB's log delivery refuses SSE-KMS buckets.
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "BucketName" not in props
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize("days", ["1", "90", "3650"])
def test_access_logs_expire_after_the_parameter(prod, days):
    rules = {
        r["Id"]: r for r in _bucket(prod, AccessLogExpirationDays=days)["Properties"]["LifecycleConfiguration"]["Rules"]
    }
    expire = rules["expire-access-logs"]
    assert expire["Status"] == "Enabled" and "Prefix" not in expire and "TagFilters" not in expire
    assert expire["ExpirationInDays"] == days
    assert expire["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    # Versioned: an expired or deleted log leaves a noncurrent version, which
    # goes after NONCURRENT_DAYS, and then its delete marker.
    assert _bucket(prod)["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert expire["NoncurrentVersionExpiration"] == {"NoncurrentDays": loadbalancer.NONCURRENT_DAYS}
    assert rules["remove-expired-delete-markers"]["ExpiredObjectDeleteMarker"] is True


def _verdict(policy, principal, action, key, tls=True):
    return strict.evaluate_bucket_policy(
        policy,
        action,
        f"arn:aws:s3:::{BUCKET}/{key}",
        {"aws:SecureTransport": "true" if tls else "false"},
        principal=principal,
    )


def _template_policy(prod, region="ap-northeast-2"):
    lb = _stacks(prod, region=region)["LoadBalancerStack"]
    return _concrete(
        lb.resources["AccessLogBucketPolicy"]["Properties"]["PolicyDocument"],
        **{"LoadBalancerStack/AccessLogBucket.Arn": f"arn:aws:s3:::{BUCKET}"},
    )


@pytest.mark.parametrize(
    "region, kind, principal",
    [
        ("ap-northeast-2", "AWS", "arn:aws:iam::600734575887:root"),
        ("us-east-1", "AWS", "arn:aws:iam::127311923021:root"),
        ("eu-central-2", "Service", ELB_LOG_DELIVERY_SERVICE),
    ],
)
def test_bucket_policy_admits_the_regions_log_delivery_under_the_prefix_only(prod, region, kind, principal):
    policy = _template_policy(prod, region)
    elb = {kind: principal}
    key = LOG_KEY.replace("ap-northeast-2", region)
    assert _verdict(policy, elb, "s3:PutObject", key) == strict.ALLOW
    # The test object ELB writes when access logs are turned on.
    assert _verdict(policy, elb, "s3:PutObject", f"alb/AWSLogs/{ACCOUNT}/ELBAccessLogTestFile") == strict.ALLOW
    # Not elsewhere in the bucket, not for another account, not reading or deleting.
    for other in (f"AWSLogs/{ACCOUNT}/x.log.gz", "alb/AWSLogs/111122223333/x.log.gz", "alb/x.log.gz"):
        assert _verdict(policy, elb, "s3:PutObject", other) == strict.NEUTRAL, other
    for action in ("s3:GetObject", "s3:DeleteObject", "s3:PutObjectAcl"):
        assert _verdict(policy, elb, action, key) == strict.NEUTRAL, action
    # Nobody else is granted anything: the other kind, another account, everyone.
    other_kind = {"Service": ELB_LOG_DELIVERY_SERVICE} if kind == "AWS" else {"AWS": "arn:aws:iam::600734575887:root"}
    for stranger in ({"AWS": "arn:aws:iam::111122223333:root"}, {"Service": "delivery.logs.amazonaws.com"}, other_kind):
        assert _verdict(policy, stranger, "s3:PutObject", key) == strict.NEUTRAL, stranger


@pytest.mark.parametrize("action", ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:ListBucket"])
def test_bucket_policy_denies_every_request_without_tls(prod, action):
    policy = _template_policy(prod)
    elb = {"AWS": "arn:aws:iam::600734575887:root"}
    # Even the log delivery, even on its own prefix.
    assert _verdict(policy, elb, action, LOG_KEY, tls=False) == strict.DENY
    assert (
        strict.evaluate_bucket_policy(policy, action, f"arn:aws:s3:::{BUCKET}", {"aws:SecureTransport": "false"})
        == strict.DENY
    )


@pytest.mark.parametrize("region", ["ap-northeast-2", "us-east-1", "eu-central-2"])
def test_elb_would_turn_access_logs_on_into_the_template_bucket(prod, region):
    """The rule ELB applies when the attribute is set (strict.py), on the
    bucket and policy the templates make, in regions of both principal kinds."""
    lb = _stacks(prod, region=region)["LoadBalancerStack"]
    props = lb.resources["AccessLogBucket"]["Properties"]
    sse = [
        r["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
        for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    ]
    assert (
        strict.access_log_bucket_problem(
            BUCKET, region, _template_policy(prod, region), sse, ACCESS_LOG_PREFIX, ACCOUNT, region
        )
        is None
    )


def test_the_access_log_rule_refuses_what_elb_refuses(prod):
    """No stand-in: the rule itself, against the ELB guide's requirements."""
    policy = _template_policy(prod)
    args = dict(
        bucket=BUCKET,
        bucket_region="ap-northeast-2",
        prefix=ACCESS_LOG_PREFIX,
        account=ACCOUNT,
        region="ap-northeast-2",
    )
    assert strict.access_log_bucket_problem(policy=policy, sse_algorithms=["AES256"], **args) is None
    denied = "Access Denied for bucket: " + BUCKET
    assert strict.access_log_bucket_problem(policy=None, sse_algorithms=[], **args).startswith(denied)
    only_tls = {"Statement": policy["Statement"][:1]}
    assert strict.access_log_bucket_problem(policy=only_tls, sse_algorithms=[], **args).startswith(denied)
    # The other region's ELB account is not this region's.
    assert strict.access_log_bucket_problem(
        policy=_template_policy(prod, "us-east-1"), sse_algorithms=[], **args
    ).startswith(denied)
    assert "SSE-S3" in strict.access_log_bucket_problem(policy=policy, sse_algorithms=["aws:kms"], **args)
    assert "share a region" in strict.access_log_bucket_problem(
        policy=policy, sse_algorithms=[], **{**args, "bucket_region": "us-east-1"}
    )
    assert "AWSLogs" in strict.access_log_bucket_problem(
        policy=policy, sse_algorithms=[], **{**args, "prefix": "x/AWSLogs"}
    )


@pytest.mark.moto
def test_strict_layer_refuses_access_logs_moto_would_accept(prod):
    """moto (in process), with and without the strict layer: moto turns
    access logs on into a bucket without any policy; with the layer
    installed that is refused as ELB refuses it, and the template's policy
    is accepted."""
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    region = "ap-northeast-2"
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=region)
        vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24", AvailabilityZone=f"{region}{z}")["Subnet"][
                "SubnetId"
            ]
            for i, z in enumerate("ac")
        ]
        elbv2 = boto3.client("elbv2", region_name=region)
        arn = elbv2.create_load_balancer(Name="alb", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
        s3 = boto3.client("s3", region_name=region)
        for name in (BUCKET, "no-policy-bucket"):
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(_template_policy(prod)))

        def turn_on(bucket):
            return elbv2.modify_load_balancer_attributes(
                LoadBalancerArn=arn,
                Attributes=[
                    {"Key": "access_logs.s3.enabled", "Value": "true"},
                    {"Key": "access_logs.s3.bucket", "Value": bucket},
                    {"Key": "access_logs.s3.prefix", "Value": ACCESS_LOG_PREFIX},
                ],
            )

        turn_on("no-policy-bucket")  # moto alone: accepted
        with strict.install():
            with pytest.raises(ClientError) as err:
                turn_on("no-policy-bucket")
            assert err.value.response["Error"]["Code"] == "InvalidConfigurationRequest"
            assert "Access Denied for bucket: no-policy-bucket" in err.value.response["Error"]["Message"]
            turn_on(BUCKET)


def test_load_balancer_writes_its_access_logs_to_the_bucket_once_the_policy_exists(prod):
    lb = _stacks(prod)["LoadBalancerStack"]
    alb = lb.resources["LoadBalancer"]
    attrs = {a["Key"]: a["Value"] for a in alb["Properties"]["LoadBalancerAttributes"]}
    assert attrs["access_logs.s3.enabled"] == "true"
    assert attrs["access_logs.s3.bucket"] == "LoadBalancerStack/AccessLogBucket"
    assert attrs["access_logs.s3.prefix"] == ACCESS_LOG_PREFIX and "AWSLogs" not in ACCESS_LOG_PREFIX
    # ELB writes a test object when the attribute is set: the policy must be there first.
    assert "AccessLogBucketPolicy" in alb["DependsOn"]
    assert lb.resources["AccessLogBucketPolicy"]["Properties"]["Bucket"] == "LoadBalancerStack/AccessLogBucket"
    assert lb.outputs["AccessLogBucketName"] == "LoadBalancerStack/AccessLogBucket"
    skips = {s["id"] for s in alb.get("Metadata", {}).get("checkov", {}).get("skip", [])}
    assert "CKV_AWS_91" not in skips


# -- the region map --------------------------------------------------------------------------------


def test_map_gives_each_region_its_principal_kind():
    """The ELB user guide's values: Seoul and N. Virginia opened before
    August 2022 (their ELB accounts), Zurich after (the service)."""
    assert log_delivery_principal("ap-northeast-2") == regions.LogDeliveryPrincipal(
        "AWS", "arn:aws:iam::600734575887:root"
    )
    assert log_delivery_principal("us-east-1") == regions.LogDeliveryPrincipal("AWS", "arn:aws:iam::127311923021:root")
    assert log_delivery_principal("us-gov-west-1").value == "arn:aws-us-gov:iam::048591011584:root"
    assert log_delivery_principal("eu-central-2") == regions.LogDeliveryPrincipal("Service", ELB_LOG_DELIVERY_SERVICE)
    with pytest.raises(regions.UnknownRegion) as err:
        log_delivery_principal("ap-southeast-7")
    assert "ap-southeast-7" in str(err.value) and "\n" not in str(err.value)


def test_template_mapping_is_the_library_map():
    """The mapping the template carries and the map the commands check are
    one and the same, region by region."""
    mapping = loadbalancer.build(DEFAULT_SETTINGS).to_dict()["Mappings"][loadbalancer.ELB_LOG_DELIVERY_MAP]
    assert set(mapping) == set(regions.known_regions())
    for region, row in mapping.items():
        p = log_delivery_principal(region)
        assert row == {"Kind": p.kind, "Principal": p.value}, region
    assert not set(regions.ELB_LOG_DELIVERY_ACCOUNTS) & set(regions.ELB_LOG_DELIVERY_SERVICE_REGIONS)
    assert all(len(a) == 12 and a.isdigit() for a in regions.ELB_LOG_DELIVERY_ACCOUNTS.values())
