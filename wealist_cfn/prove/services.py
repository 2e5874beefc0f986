"""Experiments on what other services do under the project's templates:
RDS's default parameters, the Auto Scaling group metric an alarm watches,
a tagged KMS key under the service role, ElastiCache member names and its
failover switch, ALB access-log delivery, the IMDS hop limit.

Those that run instances, nodes or a load balancer are priced from the
project's price table (charges in the table's units); the rest cost API
calls only.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, timedelta, timezone

import botocore.exceptions
from troposphere import GetAZs, Output, Parameter, Select, Sub, Template, ec2
from troposphere import elasticloadbalancingv2 as elb

from ..stacks.alarms import KEY_PURPOSE_TAG
from ..stacks.loadbalancer import ACCESS_LOG_PREFIX, _add_access_log_bucket
from .model import Bounds, Charge, Experiment, Reliance, Unpriced, Verdict, fails, holds, inconclusive
from .observe import call, physical_id, resources

# -- rds-pg17-force-ssl -------------------------------------------------------------------------

FAMILY = "postgres17"


def _noop(ctx) -> None:
    """Nothing to deploy: the answer is readable as it is."""


def _ssl_observe(ctx) -> dict:
    """DescribeEngineDefaultParameters pages until rds.force_ssl (bounded:
    the family has a few hundred parameters, 100 a page)."""
    rds = ctx.aws.client("rds")
    marker, pages = None, []
    for _ in range(20):
        kw = {"DBParameterGroupFamily": FAMILY, "MaxRecords": 100}
        if marker:
            kw["Marker"] = marker
        page = call(rds.describe_engine_default_parameters, **kw)
        pages.append(page)
        defaults = page.get("EngineDefaults", {})
        if any(p.get("ParameterName") == "rds.force_ssl" for p in defaults.get("Parameters", [])):
            break
        marker = defaults.get("Marker")
        if not marker:
            break
    return {"DescribeEngineDefaultParameters": pages}


def _ssl_verdict(r: dict) -> Verdict:
    found = [
        p
        for page in r.get("DescribeEngineDefaultParameters", [])
        for p in page.get("EngineDefaults", {}).get("Parameters", [])
        if p.get("ParameterName") == "rds.force_ssl"
    ]
    errors = [page["Error"] for page in r.get("DescribeEngineDefaultParameters", []) if "Error" in page]
    if not found:
        return inconclusive(f"rds.force_ssl is not among the {FAMILY} defaults read", errors=errors)
    value = found[0].get("ParameterValue")
    if value == "1":
        return holds(f"the {FAMILY} default parameter group sets rds.force_ssl = 1", parameter=found[0])
    return fails(
        f"the {FAMILY} default is rds.force_ssl = {value!r}: connections without TLS are accepted", parameter=found[0]
    )


RDS_FORCE_SSL = Experiment(
    id="rds-pg17-force-ssl",
    bounds=Bounds(change_sets=0, executes=0, wait_minutes=0, stacks=0),
    assumption="RDS for PostgreSQL 17's default parameter group forces TLS (rds.force_ssl = 1).",
    relies=(
        Reliance("wealist_cfn/stacks/database.py", "build"),
        Reliance("instance-files/config/render.py", "service_envs"),
    ),
    templates={},
    act=_noop,
    observe=_ssl_observe,
    verdict=_ssl_verdict,
    minutes=0.2,
    minutes_basis="a few read-only API calls, no stack",
    issue="Database: PostgreSQL 17's default parameter group does not force TLS; set rds.force_ssl in a "
    "parameter group of the stack's own",
    source="RDS API reference, DescribeEngineDefaultParameters; RDS user guide, PostgreSQL.Concepts.General.SSL",
    docs=("issue 28: PostgreSQL 17 TLS",),
)

# -- shared network pieces (YAML) ---------------------------------------------------------------

AMI = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def _vpc(cidr: str = "10.99.0.0/16", *, public: bool = False, subnets: int = 1) -> str:
    """A VPC with ``subnets`` subnets in distinct zones; with ``public``, an
    internet gateway and a default route (for instances that pull images)."""
    text = f"""\
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: {cidr}
      EnableDnsSupport: true
      EnableDnsHostnames: true
"""
    for i in range(subnets):
        text += f"""\
  Subnet{i}:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      AvailabilityZone: !Select [{i}, !GetAZs ""]
      CidrBlock: !Select [{i}, !Cidr [!GetAtt Vpc.CidrBlock, 4, 8]]
      MapPublicIpOnLaunch: {"true" if public else "false"}
"""
    if public:
        text += """\
  Gateway:
    Type: AWS::EC2::InternetGateway
  Attachment:
    Type: AWS::EC2::VPCGatewayAttachment
    Properties:
      VpcId: !Ref Vpc
      InternetGatewayId: !Ref Gateway
  Routes:
    Type: AWS::EC2::RouteTable
    Properties:
      VpcId: !Ref Vpc
  DefaultRoute:
    Type: AWS::EC2::Route
    DependsOn: Attachment
    Properties:
      RouteTableId: !Ref Routes
      DestinationCidrBlock: 0.0.0.0/0
      GatewayId: !Ref Gateway
  Subnet0Routes:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties:
      SubnetId: !Ref Subnet0
      RouteTableId: !Ref Routes
"""
    return text


# -- monitoring-alarm-metric --------------------------------------------------------------------

GROUP_TEMPLATE = f"""\
AWSTemplateFormatVersion: "2010-09-09"
Description: Proof kit - one t3.micro in an Auto Scaling group collecting group metrics, as the monitoring group does
Parameters:
  ImageId:
    Type: AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>
    Default: {AMI}
Resources:
{_vpc()}  Template:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateData:
        ImageId: !Ref ImageId
        InstanceType: t3.micro
        MetadataOptions:
          HttpTokens: required
          HttpPutResponseHopLimit: 1
  Group:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      MinSize: "1"
      MaxSize: "1"
      DesiredCapacity: "1"
      VPCZoneIdentifier:
        - !Ref Subnet0
      LaunchTemplate:
        LaunchTemplateId: !Ref Template
        Version: !GetAtt Template.LatestVersionNumber
      MetricsCollection:
        - Granularity: 1Minute
Outputs:
  GroupName:
    Value: !Ref Group
"""

METRIC = ("AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName")


def _metric_observe(ctx) -> dict:
    cw = ctx.aws.client("cloudwatch")
    group = ctx.output("GroupName")
    namespace, metric, dim = METRIC

    def read() -> dict:
        end = datetime.now(timezone.utc)
        return call(
            cw.get_metric_statistics,
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[{"Name": dim, "Value": group}],
            StartTime=end - timedelta(minutes=20),
            EndTime=end,
            Period=60,
            Statistics=["Minimum"],
        )

    # Group metrics are sent every minute once collection is on; give them
    # ten minutes to show.
    stats = ctx.wait_for(read, lambda a: bool(a.get("Datapoints")), timeout=600, interval=30)
    return {
        "GetMetricStatistics": stats,
        "ListMetrics": call(cw.list_metrics, Namespace=namespace, MetricName=metric),
        "group": group,
    }


def _metric_verdict(r: dict) -> Verdict:
    points = r.get("GetMetricStatistics", {}).get("Datapoints", [])
    if points:
        return holds(f"{METRIC[1]} is published with the {METRIC[2]} dimension the alarm uses", datapoints=points[:3])
    group = r.get("group", "")
    others = [
        m.get("Dimensions")
        for m in r.get("ListMetrics", {}).get("Metrics", [])
        if any(d.get("Value") == group for d in m.get("Dimensions", []))
    ]
    if others:
        return fails(f"{METRIC[1]} of the group is published under other dimensions", dimensions=others)
    return inconclusive(f"no {METRIC[1]} datapoint for the group within the wait", group=group)


MONITORING_METRIC = Experiment(
    id="monitoring-alarm-metric",
    bounds=Bounds(change_sets=1, executes=1, wait_minutes=10, stacks=1),
    assumption="GroupInServiceInstances is published for a group collecting metrics at 1Minute, under the "
    "AutoScalingGroupName dimension the monitoring-instance alarm names.",
    relies=(
        Reliance("wealist_cfn/stacks/alarms.py", "_add_instance_alarms"),
        Reliance("wealist_cfn/stacks/alarms.py", "PUBLISHED_METRICS"),
    ),
    templates={"root.yaml": GROUP_TEMPLATE},
    act=lambda ctx: ctx.deploy(),
    observe=_metric_observe,
    verdict=_metric_verdict,
    # Linux instances and EBS volumes are billed per second, 60 seconds at
    # least (EC2 per-second billing announcement, 2017-10-02; re:Post
    # knowledge center ec2-instance-hour-billing): minutes as fractions.
    charges=(
        Charge("ec2:t3.micro", 0.4, "one t3.micro instance, about 25 minutes"),
        Charge("ebs:gp3", 8 * 0.4 / 730, "its 8 GB gp3 root volume for 25 minutes (GB-months)"),
    ),
    minutes=25,
    minutes_basis="create (an instance in service in about 3 minutes), up to 10 minutes for the metric, deletion",
    issue="Alarms: the monitoring-instance alarm watches a metric that is not published as named",
    source="https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-metrics.html",
    docs=("issue 28: monitoring alarm metric",),
)

# -- kms-key-tags-service-role ------------------------------------------------------------------

KEY_TEMPLATE = f"""\
AWSTemplateFormatVersion: "2010-09-09"
Description: Proof kit - a KMS key tagged as the alarm key is, created under the service role
Parameters:
  Project:
    Type: String
  Environment:
    Type: String
Resources:
  Key:
    Type: AWS::KMS::Key
    DeletionPolicy: Delete
    UpdateReplacePolicy: Delete
    Properties:
      Description: Proof kit - deleted with its stack (7-day window)
      EnableKeyRotation: true
      PendingWindowInDays: 7
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Sid: AccountDelegatesToIam
            Effect: Allow
            Principal:
              AWS: !Sub "arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:root"
            Action: "kms:*"
            Resource: "*"
      Tags:
        - Key: {KEY_PURPOSE_TAG[0]}
          Value: {KEY_PURPOSE_TAG[1]}
        - Key: Project
          Value: !Ref Project
        - Key: Environment
          Value: !Ref Environment
"""


def _note_keys(ctx) -> None:
    """Every key the stack made, from its events (a create that rolled back
    made one too): the stack's deletion does not remove it, the
    AWS::KMS::Key delete handler calls ScheduleKeyDeletion (resource schema
    aws-kms-key.json, handlers.delete; PendingWindowInDays 7 here), so the
    key stays PendingDeletion for 7 days after a clean-up that succeeded."""
    region = ctx.aws.region
    keys = {
        e.physical_id
        for step in ctx.steps
        for e in step.events
        if e.logical_id == "Key" and e.resource_type == "AWS::KMS::Key" and e.physical_id
    }
    for key in sorted(keys):
        ctx.deleted_later(
            f"KMS key {key}: PendingDeletion for 7 days once its stack is deleted (ScheduleKeyDeletion); "
            f"AWS deletes it then",
            f"aws kms describe-key --key-id {key} --region {region} --query KeyMetadata.[KeyState,DeletionDate]; "
            f"to keep it instead: aws kms cancel-key-deletion --key-id {key} --region {region}",
        )


def _key_act(ctx) -> None:
    try:
        ctx.deploy(None, {"Project": ctx.project, "Environment": ctx.environment})
    finally:
        _note_keys(ctx)


def _key_observe(ctx) -> dict:
    listing = resources(ctx.aws.cfn, ctx.stacks[ctx.stack])
    key = physical_id(listing, "Key")
    return {
        "ListStackResources": listing,
        "ListResourceTags": call(ctx.aws.client("kms").list_resource_tags, KeyId=key) if key else {},
    }


def _key_verdict(r: dict) -> Verdict:
    step = next((v for k, v in r.items() if k.startswith("step 1")), {})
    tags = {t["TagKey"]: t["TagValue"] for t in r.get("ListResourceTags", {}).get("Tags", [])}
    if step.get("StackStatus") == "CREATE_COMPLETE" and tags.get(KEY_PURPOSE_TAG[0]) == KEY_PURPOSE_TAG[1]:
        return holds("the service role created the tagged key", step=step, tags=tags)
    cause = (step.get("FirstCause") or {}).get("ResourceStatusReason", "")
    if step.get("StackStatus", "").startswith("ROLLBACK") and re.search(r"AccessDenied|not authorized", cause):
        return fails("the service role may not create the tagged key", step=step)
    return inconclusive("the create did not end as either", step=step, tags=tags)


KMS_KEY_TAGS = Experiment(
    id="kms-key-tags-service-role",
    bounds=Bounds(change_sets=1, executes=1, wait_minutes=0, stacks=1),
    assumption="The service role can create a KMS key carrying the alarm key's purpose tag and the project's "
    "tags (CreateKey with tags, under its aws:RequestTag / aws:TagKeys conditions).",
    relies=(Reliance("wealist_cfn/stacks/github_oidc.py", "_service_role_statements"),),
    templates={"root.yaml": KEY_TEMPLATE},
    act=_key_act,
    observe=_key_observe,
    verdict=_key_verdict,
    # $1 a key-month "prorated hourly" (aws.amazon.com/kms/pricing): a key
    # of a few minutes is counted as one hour of a 730-hour month.
    charges=(
        Charge(
            "kms:key",
            1 / 730,
            "one key for about 6 minutes before its deletion is scheduled (key-months, prorated hourly: one hour)",
        ),
    ),
    unpriced=(
        Unpriced(
            "the key's 7-day deletion window",
            "AWS's KMS pricing page, as read here, does not say whether a key pending deletion is billed",
        ),
    ),
    minutes=6,
    minutes_basis="one create and one deletion of a key",
    issue="Service role: CreateKey with the project's tags is refused (TagStackKeysOnCreate / CreateStackKeys)",
    service_role=True,
    source="KMS developer guide, 'Controlling access to tags' and 'ABAC for AWS KMS'",
    docs=("issue 28: KMS key with tags",),
)


def _extra_tag_act(ctx) -> None:
    # A stack tag key outside PROJECT_TAG_KEYS: CloudFormation passes stack
    # tags to the key's CreateKey, which the role's aws:TagKeys refuses.
    try:
        ctx.deploy(None, {"Project": ctx.project, "Environment": ctx.environment}, extra_tags={"CostCenter": "proof"})
    finally:
        _note_keys(ctx)


def _extra_tag_verdict(r: dict) -> Verdict:
    step = next((v for k, v in r.items() if k.startswith("step 1")), {})
    cause = (step.get("FirstCause") or {}).get("ResourceStatusReason", "")
    if (
        step.get("StackStatus", "").startswith("ROLLBACK")
        and re.search(r"AccessDenied|not authorized", cause)
        and "TagResource" in cause
    ):
        return holds("CreateKey with a tag key outside the project's was refused (kms:TagResource)", step=step)
    if step.get("StackStatus") == "CREATE_COMPLETE":
        return fails(
            "the service role created a key carrying a tag key outside the project's: aws:TagKeys "
            "does not limit what it may tag",
            step=step,
        )
    return inconclusive("the create did not end as either", step=step)


EXTRA_TAG_REFUSED = Experiment(
    id="extra-stack-tag-refused",
    bounds=Bounds(change_sets=1, executes=1, wait_minutes=0, stacks=1),
    assumption="A stack tag key outside the project's (Project, Environment, ManagedBy, Name, KeyPurpose) makes "
    "the service role's CreateKey of the alarm key fail on kms:TagResource.",
    relies=(
        Reliance("wealist_cfn/stacks/github_oidc.py", "_service_role_statements"),
        Reliance("wealist_cfn/stacks/alarms.py", "PROJECT_TAG_KEYS"),
    ),
    templates={"root.yaml": KEY_TEMPLATE},
    act=_extra_tag_act,
    observe=lambda ctx: {},
    verdict=_extra_tag_verdict,
    charges=(
        Charge(
            "kms:key",
            1 / 730,
            "a key for a few minutes, made only if the assumption fails (key-months, prorated hourly: one hour)",
        ),
    ),
    minutes=4,
    minutes_basis="one create refused and rolled back, and the deletion",
    issue="Service role: a key with a foreign tag key is created (TagStackKeysOnCreate's aws:TagKeys is not enforced)",
    service_role=True,
    source="KMS developer guide, 'Controlling access to tags' (aws:TagKeys on CreateKey)",
    docs=("former check 11",),
)

# -- ElastiCache: member IDs and the failover switch --------------------------------------------

CACHE_TEMPLATE = f"""\
AWSTemplateFormatVersion: "2010-09-09"
Description: Proof kit - a Redis replication group of cache.t3.micro nodes
Parameters:
  GroupId:
    Type: String
    AllowedPattern: "[a-z][a-z0-9-]{{0,39}}"
  Nodes:
    Type: Number
    AllowedValues: [1, 2]
  Failover:
    Type: String
    AllowedValues: ["true", "false"]
Resources:
{_vpc(subnets=2)}  Subnets:
    Type: AWS::ElastiCache::SubnetGroup
    Properties:
      Description: Proof kit subnets
      SubnetIds:
        - !Ref Subnet0
        - !Ref Subnet1
  Group:
    Type: AWS::ElastiCache::ReplicationGroup
    DeletionPolicy: Delete
    UpdateReplacePolicy: Delete
    Properties:
      ReplicationGroupId: !Ref GroupId
      ReplicationGroupDescription: Proof kit
      Engine: redis
      CacheNodeType: cache.t3.micro
      NumCacheClusters: !Ref Nodes
      AutomaticFailoverEnabled: !Ref Failover
      MultiAZEnabled: !Ref Failover
      CacheSubnetGroupName: !Ref Subnets
      AtRestEncryptionEnabled: true
      TransitEncryptionEnabled: true
"""


def _group_id(ctx) -> str:
    # ReplicationGroupId: at most 40 characters, lower case, a letter first.
    return f"wp-{ctx.run_id}-{ctx.experiment.id[:12]}".rstrip("-")[:40]


def _members_act(ctx) -> None:
    ctx.deploy(None, {"GroupId": _group_id(ctx), "Nodes": "2", "Failover": "false"})


def _members_observe(ctx) -> dict:
    return {
        "DescribeReplicationGroups": call(
            ctx.aws.client("elasticache").describe_replication_groups, ReplicationGroupId=_group_id(ctx)
        ),
        "group": _group_id(ctx),
    }


def _members_verdict(r: dict) -> Verdict:
    groups = r.get("DescribeReplicationGroups", {}).get("ReplicationGroups", [])
    if not groups:
        return inconclusive("the replication group could not be read", answer=r.get("DescribeReplicationGroups"))
    members = sorted(groups[0].get("MemberClusters", []))
    want = [f"{r['group']}-001", f"{r['group']}-002"]
    if members == want:
        return holds(f"the members are {', '.join(members)}", members=members)
    return fails(f"the members are {', '.join(members) or 'none'}, not {', '.join(want)}", members=members)


REDIS_MEMBER_IDS = Experiment(
    id="redis-member-ids",
    bounds=Bounds(change_sets=1, executes=1, wait_minutes=0, stacks=1),
    assumption="The members of a two-node Redis replication group are named <group>-001 and <group>-002.",
    relies=(
        Reliance("wealist_cfn/stacks/alarms.py", "_add_cache_alarms"),
        Reliance("wealist_cfn/stacks/alarms.py", "REDIS_MEMBERS"),
    ),
    templates={"root.yaml": CACHE_TEMPLATE},
    act=_members_act,
    observe=_members_observe,
    verdict=_members_verdict,
    # Node-based ElastiCache is "charged hourly per node"
    # (aws.amazon.com/elasticache/pricing); the cost and usage report's
    # NodeUsage bills each partial node-hour as a full hour: per node, the
    # minutes rounded up to whole hours.
    charges=(
        Charge(
            "elasticache:cache.t3.micro",
            2 * 1,
            "two cache.t3.micro nodes for about 30 minutes, each partial node-hour billed as a full hour (node-hours)",
        ),
    ),
    minutes=30,
    minutes_basis="a replication group is created in about 10-15 minutes and deleted in 5-10",
    issue="Alarms: Redis members are not named -001/-002; the Redis alarms watch no node",
    source="ElastiCache user guide, Replication.CreatingReplGroup (member clusters); CacheMetrics.html",
    docs=("issue 28: Redis member IDs",),
)


FAILOVER_STEPS = (
    "the create with one node",
    "the one-step switch (a replica and failover together)",
    "the replica alone",
    "failover alone",
)
# ElastiCache's refusal of failover without a replica, as CloudFormation
# reports it (cloudformation-coverage-roadmap #383; ModifyReplicationGroup:
# AutomaticFailoverEnabled needs a read replica).
FAILOVER_REFUSAL = re.compile(r"must have at least one read replica to enable auto(matic )?failover", re.I)


def _failover_act(ctx) -> None:
    gid = _group_id(ctx)
    # Create; one step (a replica and failover together, what updaterules
    # refuses); then two steps (the replica, then failover).
    for nodes, failover in (("1", "false"), ("2", "true"), ("2", "false"), ("2", "true")):
        step = ctx.deploy(None, {"GroupId": gid, "Nodes": nodes, "Failover": failover})
        if step.final.status.endswith("ROLLBACK_FAILED") or step.final.status == "ROLLBACK_COMPLETE":
            return  # nothing more can run on this stack; the verdict names the step


def _failover_observe(ctx) -> dict:
    return {
        "DescribeReplicationGroups": call(
            ctx.aws.client("elasticache").describe_replication_groups, ReplicationGroupId=_group_id(ctx)
        )
    }


def _failover_verdict(r: dict) -> Verdict:
    steps = [v for k, v in sorted(r.items()) if k.startswith("step ")]
    status = [s.get("StackStatus") or "" for s in steps]
    for i, st in enumerate(status):
        if st.endswith("ROLLBACK_FAILED"):
            return inconclusive(
                f"step {i + 1}, {FAILOVER_STEPS[i]}, ended {st}: the stack is stuck and the rest did not run",
                steps=steps,
            )
    if status and status[0] != "CREATE_COMPLETE":
        return inconclusive(f"the group could not be created ({status[0]})", steps=steps)
    if len(steps) < 4:
        return inconclusive(f"only {len(steps)} of the 4 operations ran", steps=steps)
    groups = r.get("DescribeReplicationGroups", {}).get("ReplicationGroups", [{}])
    final = {k: groups[0].get(k) for k in ("AutomaticFailover", "MultiAZ", "MemberClusters")} if groups else {}
    if status[1] == "UPDATE_COMPLETE":
        return fails("the one-step switch succeeded: the refusal in updaterules is needless", steps=steps, group=final)
    if status[1] != "UPDATE_ROLLBACK_COMPLETE":
        return inconclusive(f"step 2, {FAILOVER_STEPS[1]}, ended {status[1]}", steps=steps)
    cause = (steps[1].get("FirstCause") or {}).get("ResourceStatusReason") or ""
    if not FAILOVER_REFUSAL.search(cause):
        return inconclusive(
            "the one-step switch rolled back, but not with ElastiCache's refusal of failover "
            f"without a replica: {cause or 'no cause recorded'}",
            steps=steps,
        )
    for i in (2, 3):
        if status[i] != "UPDATE_COMPLETE":
            return fails(
                f"step {i + 1}, {FAILOVER_STEPS[i]}, ended {status[i]}: the two-step switch did not complete",
                steps=steps,
                group=final,
            )
    return holds(
        "the one-step switch was refused for want of a replica and rolled back; the two steps both completed",
        steps=steps,
        group=final,
    )


ELASTICACHE_TWO_STEP = Experiment(
    id="elasticache-failover-two-step",
    bounds=Bounds(change_sets=4, executes=4, wait_minutes=0, stacks=1),
    assumption="ElastiCache refuses adding a replica and turning on automatic failover in one update, and "
    "accepts the replica first and failover second.",
    relies=(
        Reliance("wealist_cfn/cfn/updaterules.py", "violations"),
        Reliance("wealist_cfn/deploy/sequence.py", "refuse_one_step"),
    ),
    templates={"root.yaml": CACHE_TEMPLATE},
    act=_failover_act,
    observe=_failover_observe,
    verdict=_failover_verdict,
    # The first node runs about 90 minutes, the replica about 70: two
    # node-hours each, partial node-hours billed as full ones (see
    # redis-member-ids).
    charges=(
        Charge(
            "elasticache:cache.t3.micro",
            2 + 2,
            "one node for about 90 minutes and a replica for about "
            "70, each partial node-hour billed as a full hour "
            "(node-hours)",
        ),
    ),
    minutes=90,
    minutes_basis="a create (10-15 min), a failed update and its rollback (10-20 min), two updates "
    "(10-20 min each), the deletion (5-10 min)",
    issue="Mode switch: ElastiCache's failover switch does not behave as updaterules/sequence assume",
    source="ElastiCache API reference, ModifyReplicationGroup (AutomaticFailoverEnabled needs a replica); "
    "cloudformation-coverage-roadmap #383",
    docs=("issue 28: ElastiCache failover steps",),
)

# -- alb-access-log-test-object -----------------------------------------------------------------


def _alb_template() -> str:
    """The project's own access-log bucket and policy
    (stacks/loadbalancer.py), an internal ALB logging to it in two zones."""
    t = Template(Description="Proof kit - the project's access-log bucket and an internal ALB logging to it")
    for name, default in (("Project", "wealist"), ("Environment", "proof")):
        t.add_parameter(Parameter(name, Type="String", Default=default))
    expiration = t.add_parameter(Parameter("AccessLogExpirationDays", Type="Number", Default=1))
    bucket, bucket_policy = _add_access_log_bucket(t, expiration)
    vpc = t.add_resource(ec2.VPC("Vpc", CidrBlock="10.98.0.0/16"))
    subnets = [
        t.add_resource(
            ec2.Subnet(
                f"Subnet{i}", VpcId=vpc.ref(), AvailabilityZone=Select(i, GetAZs("")), CidrBlock=f"10.98.{i}.0/24"
            )
        )
        for i in range(2)
    ]
    group = t.add_resource(
        ec2.SecurityGroup("AlbSecurityGroup", GroupDescription="Proof kit: no ingress", VpcId=vpc.ref())
    )
    t.add_resource(
        elb.LoadBalancer(
            "LoadBalancer",
            DependsOn=[bucket_policy.title],
            Scheme="internal",
            Type="application",
            Subnets=[s.ref() for s in subnets],
            SecurityGroups=[group.ref()],
            LoadBalancerAttributes=[
                elb.LoadBalancerAttributes(Key="access_logs.s3.enabled", Value="true"),
                elb.LoadBalancerAttributes(Key="access_logs.s3.bucket", Value=bucket.ref()),
                elb.LoadBalancerAttributes(Key="access_logs.s3.prefix", Value=ACCESS_LOG_PREFIX),
                elb.LoadBalancerAttributes(Key="routing.http.drop_invalid_header_fields.enabled", Value="true"),
            ],
        )
    )
    t.add_output(Output("BucketName", Value=bucket.ref()))
    t.add_output(Output("TestObjectPrefix", Value=Sub(f"{ACCESS_LOG_PREFIX}/AWSLogs/${{AWS::AccountId}}/")))
    return t.to_yaml()


def _empty_bucket(s3, bucket: str) -> None:
    """Every object version and delete marker, then the bucket (bounded:
    the test object and a few log files). A bucket already gone (a rollback
    deleted it) is nothing to do."""
    try:
        s3.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
            return
        raise
    for _ in range(20):
        page = s3.list_object_versions(Bucket=bucket)
        items = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if not items:
            break
        s3.delete_objects(Bucket=bucket, Delete={"Objects": items[:1000]})
    s3.delete_bucket(Bucket=bucket)


def _empty_bucket_command(bucket: str) -> str:
    versions = "{Objects: Versions[].{Key: Key, VersionId: VersionId}}"
    markers = "{Objects: DeleteMarkers[].{Key: Key, VersionId: VersionId}}"
    return (
        f'aws s3api delete-objects --bucket {bucket} --delete "$(aws s3api list-object-versions --bucket {bucket} '
        f"--query '{versions}' --output json)\"; aws s3api delete-objects --bucket {bucket} --delete \"$(aws s3api "
        f"list-object-versions --bucket {bucket} --query '{markers}' --output json)\"; "
        f"aws s3api delete-bucket --bucket {bucket}"
    )


def _note_buckets(ctx) -> None:
    """The access-log bucket is Retain (the project's own): neither the
    stack's deletion nor, without RetainExceptOnCreate, a failed create's
    rollback removes it. Its name, from the operation's events (a create
    that failed made it too) or, when the watch ended early, from the
    stack's resources, is removed after the stack is deleted."""
    buckets = {
        e.physical_id for step in ctx.steps for e in step.events if e.logical_id == "AccessLogBucket" and e.physical_id
    }
    if not buckets and ctx.stack in ctx.stacks:
        buckets.add(physical_id(resources(ctx.aws.cfn, ctx.stacks[ctx.stack]), "AccessLogBucket"))
    for bucket in sorted(b for b in buckets if b):
        ctx.after_delete(
            f"access-log bucket {bucket} (Retain) and its objects, unless already gone",
            lambda b=bucket: _empty_bucket(ctx.aws.s3, b),
            _empty_bucket_command(bucket),
        )


def _alb_act(ctx) -> None:
    try:
        # As the project's first deploy does (deploy/flow.py): a failed
        # create then rolls back its Retain bucket too (ExecuteChangeSet
        # RetainExceptOnCreate).
        ctx.deploy(None, {"Project": ctx.project, "Environment": ctx.environment}, retain_except_on_create=True)
    finally:
        _note_buckets(ctx)


def _alb_observe(ctx) -> dict:
    step = next(v for k, v in ctx.recorded.items() if k.startswith("step 1"))
    if step.get("StackStatus") != "CREATE_COMPLETE":
        return {}
    bucket, prefix = ctx.output("BucketName"), ctx.output("TestObjectPrefix")
    return {"ListObjectsV2": call(ctx.aws.s3.list_objects_v2, Bucket=bucket, Prefix=prefix)}


def _alb_verdict(r: dict) -> Verdict:
    step = next((v for k, v in r.items() if k.startswith("step 1")), {})
    objects = [o.get("Key", "") for o in r.get("ListObjectsV2", {}).get("Contents", [])]
    if any(k.endswith("ELBAccessLogTestFile") for k in objects):
        return holds("ELB wrote its test object under the bucket policy's prefix", objects=objects)
    cause = (step.get("FirstCause") or {}).get("ResourceStatusReason", "")
    if "access denied" in cause.lower() or "permissions to write" in cause.lower():
        return fails("enabling access logs was refused: the bucket policy does not admit ELB's delivery", step=step)
    return inconclusive("no test object and no access-denied cause", step=step, objects=objects)


ALB_ACCESS_LOGS = Experiment(
    id="alb-access-log-test-object",
    bounds=Bounds(change_sets=1, executes=1, wait_minutes=0, stacks=1),
    assumption="With the project's access-log bucket policy, enabling ALB access logs succeeds and ELB writes "
    "its ELBAccessLogTestFile under <prefix>/AWSLogs/<account>/.",
    relies=(
        Reliance("wealist_cfn/stacks/loadbalancer.py", "access_log_bucket_policy"),
        Reliance("wealist_cfn/core/regions.py", "log_delivery_principal"),
    ),
    templates={"root.yaml": _alb_template()},
    act=_alb_act,
    observe=_alb_observe,
    verdict=_alb_verdict,
    # ELB bills "each hour or partial hour" a load balancer runs
    # (aws.amazon.com/elasticloadbalancing/pricing): 15 minutes is one
    # load balancer-hour, two if they straddle the turn of an hour.
    charges=(
        Charge(
            "alb:hour",
            1.0,
            "one load balancer for about 15 minutes, billed as a full hour "
            "(each hour or partial hour; load balancer-hours)",
        ),
    ),
    minutes=15,
    minutes_basis="an ALB is active in about 3-5 minutes; deletion a few minutes",
    issue="Load balancer: ELB cannot write access logs under the bucket policy",
    source="https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html",
    docs=("issue 28: ALB access-log test object",),
)

# -- imds-hop-limit -----------------------------------------------------------------------------

MARKER = re.compile(r"PROOF-IMDS hop=(\d) host=(yes|no) container=(yes|no|broken)")
_USER_DATA = r"""#!/bin/bash
# Proof kit: can a bridge-network container get an IMDSv2 token at this hop limit?
ask='curl -sf -m 5 -X PUT http://169.254.169.254/latest/api/token'
ask="$ask -H X-aws-ec2-metadata-token-ttl-seconds:60"
host=$(sh -c "$ask" >/dev/null && echo yes || echo no)
dnf install -y docker >/dev/null 2>&1; systemctl start docker
image=public.ecr.aws/amazonlinux/amazonlinux:2023
for _ in 1 2 3; do docker pull -q $image >/dev/null 2>&1 && break; sleep 10; done
# broken: the container could not ask at all (no image; docker run exits
# 125-127: no daemon, no command; no curl in the image), so a "no" from it
# would mean nothing.
inner="command -v curl >/dev/null || exit 127; $ask >/dev/null && echo yes || echo no"
if docker image inspect $image >/dev/null 2>&1; then
  container=$(docker run --rm --network bridge $image sh -c "$inner")
  case $? in 125|126|127) container=broken;; esac
else
  container=broken
fi
echo "PROOF-IMDS hop=${Hop} host=$host container=${container:-broken}" > /dev/console
"""


def _imds_template() -> str:
    instances = ""
    for hop in (1, 2):
        data = "\n".join("              " + line for line in _USER_DATA.replace("${Hop}", str(hop)).splitlines())
        instances += f"""\
  Hop{hop}Template:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateData:
        MetadataOptions:
          HttpTokens: required
          HttpEndpoint: enabled
          HttpPutResponseHopLimit: {hop}
  Hop{hop}Instance:
    Type: AWS::EC2::Instance
    DependsOn: DefaultRoute
    Properties:
      ImageId: !Ref ImageId
      InstanceType: t3.micro
      SubnetId: !Ref Subnet0
      LaunchTemplate:
        LaunchTemplateId: !Ref Hop{hop}Template
        Version: !GetAtt Hop{hop}Template.LatestVersionNumber
      UserData:
        Fn::Base64: |
{data}
"""
    return f"""\
AWSTemplateFormatVersion: "2010-09-09"
Description: Proof kit - two instances, IMDS hop limit 1 and 2, each asking IMDS from a bridge-network container
Parameters:
  ImageId:
    Type: AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>
    Default: {AMI}
Resources:
{_vpc("10.97.0.0/16", public=True)}{instances}Outputs:
  Hop1InstanceId:
    Value: !Ref Hop1Instance
  Hop2InstanceId:
    Value: !Ref Hop2Instance
"""


def console_text(answer: dict) -> str:
    """GetConsoleOutput's Output: base64 in the API reference; boto3
    decodes it on the way in (botocore handlers, decode_console_output)."""
    text = answer.get("Output") or ""
    try:
        return base64.b64decode(text, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return text


def _imds_observe(ctx) -> dict:
    ec2c = ctx.aws.client("ec2")
    out = {}
    for hop in (1, 2):
        instance = ctx.output(f"Hop{hop}InstanceId")
        out[f"GetConsoleOutput hop {hop}"] = ctx.wait_for(
            lambda i=instance: call(ec2c.get_console_output, InstanceId=i, Latest=True),
            lambda a: bool(MARKER.search(console_text(a))),
            timeout=900,
            interval=30,
        )
    return out


def _imds_verdict(r: dict) -> Verdict:
    seen = {}
    for hop in (1, 2):
        m = MARKER.search(console_text(r.get(f"GetConsoleOutput hop {hop}", {})))
        if m:
            seen[hop] = {"host": m.group(2), "container": m.group(3), "line": m.group(0)}
    if len(seen) < 2:
        return inconclusive(f"the marker line was read from {len(seen)} of 2 instances", seen=seen)
    broken = [hop for hop in (1, 2) if seen[hop]["container"] == "broken"]
    if broken:
        return inconclusive(
            f"the container could not be run on hop limit {broken} (docker, the image or curl "
            f"missing): no answer about IMDS",
            seen=seen,
        )
    if seen[1]["host"] != "yes" or seen[2]["host"] != "yes":
        return inconclusive("IMDS did not answer the host itself on both", seen=seen)
    if seen[1]["container"] == "no" and seen[2]["container"] == "yes":
        return holds("hop limit 1: the container got no token; hop limit 2: it did", seen=seen)
    return fails("hop limit 1 admits the container, or 2 does not", seen=seen)


IMDS_HOP_LIMIT = Experiment(
    id="imds-hop-limit",
    bounds=Bounds(change_sets=1, executes=1, wait_minutes=30, stacks=1),
    assumption="IMDS hop limit 1 keeps a bridge-network container from getting an IMDSv2 token (so the "
    "instance's credentials), and hop limit 2 lets it.",
    relies=(
        Reliance("wealist_cfn/stacks/compute.py", "_add_launch_template"),
        Reliance("wealist_cfn/stacks/compute.py", "build"),
    ),
    templates={"root.yaml": _imds_template()},
    act=lambda ctx: ctx.deploy(),
    observe=_imds_observe,
    verdict=_imds_verdict,
    charges=(
        Charge("ec2:t3.micro", 2 * 0.4, "two t3.micro instances for about 25 minutes (instance-hours)"),
        Charge("ebs:gp3", 2 * 8 * 0.4 / 730, "their 8 GB gp3 root volumes (GB-months)"),
        Charge("eip:hour", 2 * 0.4, "their public IPv4 addresses (address-hours)"),
    ),
    minutes=25,
    minutes_basis="create, boot, docker install and an image pull (5-10 min), deletion",
    issue="Compute: the IMDS hop limit does not separate containers from the instance's credentials as assumed",
    source="EC2 user guide, 'Configure the instance metadata options' (HttpPutResponseHopLimit; containers need 2)",
    docs=("issue 28: IMDS hop limit",),
)

EXPERIMENTS = (
    RDS_FORCE_SSL,
    MONITORING_METRIC,
    KMS_KEY_TAGS,
    EXTRA_TAG_REFUSED,
    REDIS_MEMBER_IDS,
    ELASTICACHE_TWO_STEP,
    ALB_ACCESS_LOGS,
    IMDS_HOP_LIMIT,
)
