"""No log group the stack produces is left without a retention.

Pure template evaluation (wealist_cfn.cfn.model), both modes resolved as
tests/test_templates.py does; no AWS endpoint. Three rules, each a function
returning the problems it finds, each proven able to fail below:

(a) every AWS::Logs::LogGroup has RetentionInDays: a Ref to LogRetentionDays
    or FlowLogRetentionDays, or a literal CloudWatch Logs accepts;
(b) every log group a resource causes AWS to write to is an
    AWS::Logs::LogGroup of the set (so it has (a)'s retention) and, where
    the service would otherwise make it itself, exists before the resource;
(c) no resource type that makes its own log group is present without a rule
    in (b), and every type in the set has been judged one way or the other.

What the real services do, which no stand-in here can show: RDS creates
``/aws/rds/instance/<id>/<log type>`` (``/aws/rds/cluster/<id>/<log type>``
for a cluster) when it exports to a group that does not exist, with no
retention (RDS User Guide, "Publishing PostgreSQL logs to Amazon CloudWatch
Logs",
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.Concepts.PostgreSQL.html);
Lambda writes to ``/aws/lambda/<function name>`` unless LoggingConfig names
a group (Lambda Developer Guide, "Working with Lambda function logs"); VPC
flow logs to CloudWatch Logs name their destination group (LogGroupName or
LogDestination; EC2 API reference, CreateFlowLogs) and the delivery role
may create it; Step Functions and CodeBuild log to the group their logging
configuration names, CodeBuild to ``/aws/codebuild/<project>`` by default;
EKS control-plane logs go to ``/aws/eks/<cluster>/cluster``.
"""

from __future__ import annotations

import copy

import pytest

from wealist_cfn import config
from wealist_cfn.cfn.model import NESTED, all_resources, resolve, resolve_set
from wealist_cfn.core.parameters import PARAMS_BY_NAME, RETENTION_DAYS
from wealist_cfn.core.settings import DEFAULT_SETTINGS
from wealist_cfn.stacks import database, root

LOG_GROUP = "AWS::Logs::LogGroup"
RETENTION_PARAMETERS = ("LogRetentionDays", "FlowLogRetentionDays")
MODES = {"single": "false", "multi": "true"}


@pytest.fixture(scope="module")
def prod():
    return config.load("params/prod.json")


@pytest.fixture(scope="module", params=list(MODES))
def stacks(request, prod):
    return resolve(prod.with_values(EnableMultiAZ=MODES[request.param]).values, region=prod.region)


def _resolve_built(prod, built: dict[str, dict], mode: str = "single"):
    return resolve_set(built, prod.with_values(EnableMultiAZ=MODES[mode]).values, region=prod.region)


def _built() -> dict[str, dict]:
    return {name: t.to_dict() for name, t in root.build_all(DEFAULT_SETTINGS).items()}


# -- (a) retention -----------------------------------------------------------------------------


def retention_problems(stacks) -> list[str]:
    problems = []
    for path, stack in stacks.items():
        for lid, res in stack.of_type(LOG_GROUP).items():
            declared = stack.template["Resources"][lid].get("Properties", {}).get("RetentionInDays")
            resolved = res["Properties"].get("RetentionInDays")
            if declared is None:
                problems.append(f"{path}/{lid}: no RetentionInDays (its events would never expire)")
            elif isinstance(declared, dict):
                if declared != {"Ref": declared.get("Ref")} or declared["Ref"] not in RETENTION_PARAMETERS:
                    problems.append(
                        f"{path}/{lid}: RetentionInDays is {declared}, not a Ref to one of "
                        f"{', '.join(RETENTION_PARAMETERS)}"
                    )
                elif str(resolved) not in RETENTION_DAYS:
                    problems.append(f"{path}/{lid}: RetentionInDays resolves to {resolved}")
            elif str(declared) not in RETENTION_DAYS:
                problems.append(f"{path}/{lid}: RetentionInDays {declared} is not a value CloudWatch Logs accepts")
    return problems


def test_every_log_group_has_a_retention(stacks):
    assert [s for s in all_resources(stacks).values() if s["Type"] == LOG_GROUP], "no log group in the set"
    assert retention_problems(stacks) == []


def test_retention_parameters_allow_only_cloudwatch_values():
    """The parameters' AllowedValues are CloudWatch Logs' list (the
    AWS::Logs::LogGroup schema cfn-lint ships: 1 ... 3653, 22 values)."""
    from wealist_cfn.stacks.iamdata import resource_schema

    schema = resource_schema(LOG_GROUP)
    allowed = [str(v) for v in schema["properties"]["RetentionInDays"]["enum"]]
    assert list(RETENTION_DAYS) == allowed
    for name in RETENTION_PARAMETERS:
        if name in PARAMS_BY_NAME:
            assert PARAMS_BY_NAME[name].allowed_values == RETENTION_DAYS


def test_a_log_group_without_retention_is_caught(prod, monkeypatch):
    """(a) can fail: the database stack built with log groups that lack
    RetentionInDays."""
    from troposphere import Sub, logs

    def without_retention(t, retention):
        return [
            t.add_resource(
                logs.LogGroup(
                    database.log_group_id(e), LogGroupName=Sub(database.log_group_name(e)), DeletionPolicy="Delete"
                )
            )
            for e in database.LOG_EXPORTS
        ]

    monkeypatch.setattr(database, "_add_log_groups", without_retention)
    problems = retention_problems(_resolve_built(prod, _built()))
    assert "DatabaseStack/DatabasePostgresqlLogGroup: no RetentionInDays (its events would never expire)" in problems


def test_a_retention_from_another_parameter_or_an_odd_literal_is_caught(prod):
    built = _built()
    groups = built["database.yaml"]["Resources"]
    groups["DatabasePostgresqlLogGroup"]["Properties"]["RetentionInDays"] = {"Ref": "DbBackupRetentionDays"}
    groups["DatabaseUpgradeLogGroup"]["Properties"]["RetentionInDays"] = 10
    problems = retention_problems(_resolve_built(prod, built))
    assert any("DatabasePostgresqlLogGroup: RetentionInDays is {'Ref': 'DbBackupRetentionDays'}" in p for p in problems)
    assert any("DatabaseUpgradeLogGroup: RetentionInDays 10 is not a value" in p for p in problems)


# -- (b) every log group a resource causes is in the set ---------------------------------------


def _groups(stacks) -> dict[str, tuple[str, str]]:
    """What identifies each log group of the set (its LogGroupName, and the
    ``Stack/LogicalId`` and ``.Arn`` symbols Ref and GetAtt resolve to) ->
    (stack path, logical ID)."""
    out = {}
    for path, stack in stacks.items():
        for lid, res in stack.of_type(LOG_GROUP).items():
            for key in (res["Properties"].get("LogGroupName"), f"{path}/{lid}", f"{path}/{lid}.Arn"):
                if isinstance(key, str):
                    out[key] = (path, lid)
    return out


def _arn_name(value) -> str:
    """A log group ARN's name (arn:aws:logs:<region>:<account>:log-group:<name>[:*])."""
    if isinstance(value, str) and value.startswith("arn:") and ":log-group:" in value:
        name = value.split(":log-group:", 1)[1]
        return name[:-2] if name.endswith(":*") else name
    return value


def _rds(kind: str):
    ident_key = "DBInstanceIdentifier" if kind == "instance" else "DBClusterIdentifier"

    def caused(props):
        # The service makes a missing group itself: it must exist first.
        return [
            (f"/aws/rds/{kind}/{props.get(ident_key)}/{e}", True) for e in props.get("EnableCloudwatchLogsExports", [])
        ]

    return caused


def _flow_log(props):
    if props.get("LogDestinationType", "cloud-watch-logs") != "cloud-watch-logs":
        return []
    return [(_arn_name(props.get("LogGroupName") or props.get("LogDestination")), False)]


def _lambda(props):
    group = props.get("LoggingConfig", {}).get("LogGroup")
    return [(_arn_name(group) if group else f"/aws/lambda/{props.get('FunctionName')}", True)]


def _state_machine(props):
    conf = props.get("LoggingConfiguration", {})
    if conf.get("Level", "OFF") == "OFF":
        return []
    return [
        (_arn_name(d.get("CloudWatchLogsLogGroup", {}).get("LogGroupArn")), False) for d in conf.get("Destinations", [])
    ]


def _codebuild(props):
    cw = props.get("LogsConfig", {}).get("CloudWatchLogs", {"Status": "ENABLED"})
    if cw.get("Status") == "DISABLED":
        return []
    return [(cw.get("GroupName") or f"/aws/codebuild/{props.get('Name')}", True)]


def _eks(props):
    enabled = [
        t
        for s in props.get("Logging", {}).get("ClusterLogging", {}).get("EnabledTypes", [])
        for t in [s.get("Type")]
        if t
    ]
    return [(f"/aws/eks/{props.get('Name')}/cluster", True)] if enabled else []


# (c) Types that make or write to a log group of their own, with the rule
# naming it: (group, made by the service when missing). A type here without
# a rule fails until one is written.
CAUSES_LOG_GROUPS = {
    "AWS::RDS::DBInstance": _rds("instance"),
    "AWS::RDS::DBCluster": _rds("cluster"),
    "AWS::EC2::FlowLog": _flow_log,
    "AWS::Lambda::Function": _lambda,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::CodeBuild::Project": _codebuild,
    "AWS::EKS::Cluster": _eks,
    # Each makes groups of its own when its logging is on; no template has
    # one, and a rule is to be written with the first.
    "AWS::ApiGateway::Stage": None,  # API-Gateway-Execution-Logs_<api id>/<stage>
    "AWS::AppSync::GraphQLApi": None,  # /aws/appsync/apis/<api id>
    "AWS::ECS::TaskDefinition": None,  # awslogs driver with awslogs-create-group
    "AWS::ECS::Cluster": None,  # /aws/ecs/containerinsights/<cluster>/performance
    "AWS::Glue::Job": None,  # /aws-glue/jobs/...
    "AWS::DMS::ReplicationInstance": None,  # dms-tasks-<instance>
    "AWS::MWAA::Environment": None,  # airflow-<environment>-*
    "AWS::Serverless::Function": None,  # SAM: a Lambda function
}
# Types judged not to cause a log group (a log group itself included: it is
# the thing the rules look for). A type in neither table fails: someone must
# decide which it is.
NO_LOG_GROUP = frozenset(
    {
        NESTED,
        LOG_GROUP,
        "AWS::AutoScaling::AutoScalingGroup",
        "AWS::AutoScaling::ScalingPolicy",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::EC2::EIP",
        "AWS::EC2::InternetGateway",
        "AWS::EC2::LaunchTemplate",
        "AWS::EC2::NatGateway",
        "AWS::EC2::Route",
        "AWS::EC2::RouteTable",
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::SecurityGroupEgress",
        "AWS::EC2::SecurityGroupIngress",
        "AWS::EC2::Subnet",
        "AWS::EC2::SubnetRouteTableAssociation",
        "AWS::EC2::VPC",
        "AWS::EC2::VPCGatewayAttachment",
        "AWS::ECR::Repository",
        # Redis logs only to a destination its LogDeliveryConfigurations name
        # (none here), and it does not make the group.
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::ElastiCache::SubnetGroup",
        "AWS::ElasticLoadBalancingV2::Listener",
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        # ALB access logs go to S3, not CloudWatch Logs.
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        # Roles and policies allow writing; the instance roles' grants are
        # limited to the stack's groups (tests/ops/test_instance_roles.py).
        "AWS::IAM::InstanceProfile",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::KMS::Alias",
        "AWS::KMS::Key",
        "AWS::RDS::DBSubnetGroup",
        "AWS::S3::Bucket",
        "AWS::S3::BucketPolicy",
        "AWS::SNS::Subscription",
        "AWS::SNS::Topic",
        "AWS::SNS::TopicPolicy",
        "AWS::SSM::Parameter",
    }
)


def missing_log_groups(stacks) -> list[str]:
    groups = _groups(stacks)
    problems = []
    for path, stack in stacks.items():
        for lid, res in stack.resources.items():
            rule = CAUSES_LOG_GROUPS.get(res["Type"])
            if rule is None:
                continue
            for name, service_makes_it in rule(res["Properties"]):
                found = groups.get(name)
                if found is None:
                    problems.append(
                        f"{path}/{lid} ({res['Type']}) writes to {name}, which is no {LOG_GROUP} of the set"
                    )
                elif service_makes_it and (found[0] != path or found[1] not in _depends_on(res)):
                    problems.append(
                        f"{path}/{lid} does not DependsOn {found[1]}: the service may make "
                        f"{name} first, without a retention"
                    )
    return problems


def _depends_on(res) -> list[str]:
    d = res.get("DependsOn", [])
    return [d] if isinstance(d, str) else list(d)


def _of_type(stacks, type_):
    return [r for r in all_resources(stacks).values() if r["Type"] == type_]


# The kinds with a rule that the templates hold today. The other rules wait
# for their kind's first resource (the next test makes it join this check);
# the Lambda rule is shown working on a made-up function below.
KINDS_IN_THE_TEMPLATES = {"AWS::RDS::DBInstance", "AWS::EC2::FlowLog"}


@pytest.mark.parametrize("kind", sorted(KINDS_IN_THE_TEMPLATES))
def test_every_log_group_a_resource_causes_is_in_the_set(prod, kind):
    """Per kind the templates hold, both modes: each group it writes to is in
    the set (and made first where the service would make it)."""
    modes = {m: resolve(prod.with_values(EnableMultiAZ=v).values, region=prod.region) for m, v in MODES.items()}
    for mode, stacks in modes.items():
        assert _of_type(stacks, kind), f"{mode}: no {kind} any more; update KINDS_IN_THE_TEMPLATES"
        only = {p: copy.copy(s) for p, s in stacks.items()}
        for s in only.values():
            s.resources = {k: v for k, v in s.resources.items() if v["Type"] in (kind, LOG_GROUP)}
        assert missing_log_groups(only) == [], mode


def test_the_kinds_with_a_rule_in_the_templates_are_the_ones_checked_above(prod):
    """A kind with a rule that appears in the templates joins the check above
    (never silently unchecked)."""
    for value in MODES.values():
        stacks = resolve(prod.with_values(EnableMultiAZ=value).values, region=prod.region)
        present = {r["Type"] for r in all_resources(stacks).values()}
        assert {k for k, rule in CAUSES_LOG_GROUPS.items() if rule} & present == KINDS_IN_THE_TEMPLATES


def test_the_database_exports_each_have_their_group(stacks):
    """The kind this part of the stack adds, by name: both exports, made
    before the instance."""
    [db] = _of_type(stacks, "AWS::RDS::DBInstance")
    names = {f"/aws/rds/instance/wealist-prod-postgres/{e}" for e in ("postgresql", "upgrade")}
    assert set(db["Properties"]["EnableCloudwatchLogsExports"]) == {"postgresql", "upgrade"}
    assert names <= set(_groups(stacks))
    assert set(_depends_on(db)) >= {"DatabasePostgresqlLogGroup", "DatabaseUpgradeLogGroup"}


def test_an_export_without_its_group_is_caught(prod):
    """(b) can fail: an export added to the instance by hand, with no group."""
    built = _built()
    built["database.yaml"]["Resources"]["Database"]["Properties"]["EnableCloudwatchLogsExports"].append(
        "iam-db-auth-error"
    )
    problems = missing_log_groups(_resolve_built(prod, built))
    assert problems == [
        "DatabaseStack/Database (AWS::RDS::DBInstance) writes to "
        "/aws/rds/instance/wealist-prod-postgres/iam-db-auth-error, which is no "
        "AWS::Logs::LogGroup of the set"
    ]


def test_a_group_rds_could_make_first_is_caught(prod):
    """(b) can fail: the instance no longer waits for its groups."""
    built = _built()
    del built["database.yaml"]["Resources"]["Database"]["DependsOn"]
    problems = missing_log_groups(_resolve_built(prod, built))
    assert len(problems) == 2 and all("does not DependsOn" in p for p in problems)


def test_a_flow_log_to_a_group_outside_the_set_is_caught(prod):
    """(b) can fail for a kind the templates may not hold yet: a flow log
    whose LogGroupName is no log group of the set, and one that points at a
    group of the set by ARN (LogDestination), which passes."""
    built = _built()
    res = built["network.yaml"]["Resources"]
    res["TestFlowLog"] = {
        "Type": "AWS::EC2::FlowLog",
        "Properties": {
            "ResourceId": {"Ref": "Vpc"} if "Vpc" in res else "vpc-1",
            "ResourceType": "VPC",
            "TrafficType": "ALL",
            "LogGroupName": "/made/by/hand",
        },
    }
    res["TestGroup"] = {"Type": LOG_GROUP, "Properties": {"RetentionInDays": 30}}
    res["TestFlowLog2"] = {
        "Type": "AWS::EC2::FlowLog",
        "Properties": {
            "ResourceId": "vpc-1",
            "ResourceType": "VPC",
            "TrafficType": "ALL",
            "LogDestinationType": "cloud-watch-logs",
            "LogDestination": {"Fn::GetAtt": ["TestGroup", "Arn"]},
        },
    }
    problems = missing_log_groups(_resolve_built(prod, built))
    assert problems == [
        "NetworkStack/TestFlowLog (AWS::EC2::FlowLog) writes to /made/by/hand, which is no "
        "AWS::Logs::LogGroup of the set"
    ]


# -- (c) no type that makes its own log group goes unaccounted for -----------------------------


def unaccounted_types(stacks) -> list[str]:
    problems = []
    for path, stack in stacks.items():
        for lid, res in stack.resources.items():
            t = res["Type"]
            if t in CAUSES_LOG_GROUPS and CAUSES_LOG_GROUPS[t] is None:
                problems.append(f"{path}/{lid}: {t} makes log groups of its own and has no rule here yet")
            elif t not in CAUSES_LOG_GROUPS and t not in NO_LOG_GROUP:
                problems.append(
                    f"{path}/{lid}: {t} is in neither CAUSES_LOG_GROUPS nor NO_LOG_GROUP: decide "
                    "whether it makes a log group"
                )
    return problems


def test_no_resource_type_goes_unjudged(stacks):
    assert unaccounted_types(stacks) == []


def test_the_two_tables_do_not_overlap():
    assert not set(CAUSES_LOG_GROUPS) & NO_LOG_GROUP


def test_a_lambda_without_a_rule_or_a_new_type_is_caught(prod):
    """(c) can fail: a function (its group /aws/lambda/<name> is missing:
    (b) says so), a SAM function (no rule yet) and a type nobody judged."""
    built = _built()
    res = built["database.yaml"]["Resources"]
    res["Fn"] = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "FunctionName": "wealist-rotate",
            "Role": "r",
            "Code": {"ZipFile": "x"},
            "Runtime": "python3.12",
            "Handler": "index.h",
        },
    }
    res["Sam"] = {"Type": "AWS::Serverless::Function", "Properties": {}}
    res["Pipe"] = {"Type": "AWS::Pipes::Pipe", "Properties": {}}
    stacks = _resolve_built(prod, built)
    assert unaccounted_types(stacks) == [
        "DatabaseStack/Sam: AWS::Serverless::Function makes log groups of its own and has no rule here yet",
        "DatabaseStack/Pipe: AWS::Pipes::Pipe is in neither CAUSES_LOG_GROUPS nor NO_LOG_GROUP: decide whether "
        "it makes a log group",
    ]
    assert (
        "DatabaseStack/Fn (AWS::Lambda::Function) writes to /aws/lambda/wealist-rotate, which is no "
        "AWS::Logs::LogGroup of the set" in missing_log_groups(stacks)
    )
