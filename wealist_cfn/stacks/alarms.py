"""Alarms: a KMS-encrypted SNS topic (mailed to AlarmEmail when one is set)
and the CloudWatch alarms that page on it: the load balancer and its target
groups, the database, the Redis group (the worst of its nodes), every NAT gateway
of the mode, and the backend's and the monitoring group's in-service counts;
and a CloudWatch dashboard ``<project>-<environment>`` with one graph per
alarm, built from the same alarm list, so the two cannot drift apart.

Thresholds and evaluation periods are build-time settings
(:class:`~wealist_cfn.core.settings.AlarmSettings`); each alarm says in its
description what to check first (docs/operations.md says more).
"""

from __future__ import annotations

import json

from troposphere import Equals, If, Not, Output, Ref, Select, Sub, Template, cloudwatch, kms, sns

from wealist_cfn.core.parameters import add_parameters
from wealist_cfn.core.settings import AlarmRule, BuildSettings
from wealist_cfn.stacks import iamdata

from .common import SERVICE_ROLE_NAME, add_inputs, add_multi_az_condition, name, new_template, tags

HAS_ALARM_EMAIL = "HasAlarmEmail"
# The tag that marks the topic's key: the key is created with it
# (github_oidc.py lets the service role create keys only with it). It grants
# nothing: the service role administers this key because the key's own
# policy names it (_add_topic), never by tag.
KEY_PURPOSE_TAG = ("KeyPurpose", "alarm-notifications")
# The tag keys the project puts on what it makes: the stack's tags
# (deploy/flow.py) and the resources' own (stacks/common.py tags(), and the
# alarm key's purpose tag).
PROJECT_TAG_KEYS = ("Project", "Environment", "ManagedBy", "Name", KEY_PURPOSE_TAG[0])
_TAGGING = ("kms:TagResource", "kms:UntagResource")
# What CloudFormation's key handler calls on an existing key (the resource
# schema's handlers, less CreateKey and ListKeys, which act on no key).
KEY_HANDLER_ACTIONS = sorted(
    a for a in iamdata.handler_permissions("AWS::KMS::Key") if a not in ("kms:CreateKey", "kms:ListKeys")
)

GREATER = "GreaterThanThreshold"
LESS = "LessThanThreshold"

# TreatMissingData, chosen per alarm:
# - BREACHING where the service publishes every period for as long as the
#   thing exists: a gap means it is gone or stopped, which must page too.
# - NOT_BREACHING where no data is the quiet, healthy case: no requests
#   means no 5xx and no latency, no traffic means no NAT errors, and the
#   count metrics (5xx, evictions) are only published when non-zero.
BREACHING = "breaching"
NOT_BREACHING = "notBreaching"

# The metrics the alarms use, with how each is published and where AWS says
# so: (namespace, metric, dimension names) -> (publication, source). The
# census test (tests/test_alarm_census.py) checks every alarm against this
# table, and its TreatMissingData against the publication: "every period"
# may be breaching, anything else may not. A new metric is one row.
ALB_METRICS = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html"
)
RDS_METRICS = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html"
CACHE_METRICS = (
    "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.html (host-level and "
    "engine metrics, 'measured and published for each Cache node in 60-second intervals', "
    "dimension CacheClusterId; CacheMetrics.HostLevel.html, CacheMetrics.Redis.html)"
)
NAT_METRICS = "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway-cloudwatch.html"
ASG_METRICS = (
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-metrics.html (group "
    "metrics, sent every minute once metrics collection is enabled on the group: "
    "MetricsCollection / EnableMetricsCollection, Granularity 1Minute)"
)
EVERY_PERIOD, WHEN_NONZERO, WITH_TRAFFIC, PER_NODE = (
    "every period",
    "only when non-zero",
    "only with traffic",
    "per node, while that node exists",
)
PUBLISHED_METRICS = {
    ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", ("LoadBalancer",)): (WHEN_NONZERO, ALB_METRICS),
    ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", ("LoadBalancer",)): (WHEN_NONZERO, ALB_METRICS),
    ("AWS/ApplicationELB", "RequestCount", ("LoadBalancer",)): (WITH_TRAFFIC, ALB_METRICS),
    ("AWS/ApplicationELB", "TargetResponseTime", ("LoadBalancer",)): (WITH_TRAFFIC, ALB_METRICS),
    # "Reported if health checks are enabled", per target group and load balancer.
    ("AWS/ApplicationELB", "UnHealthyHostCount", ("LoadBalancer", "TargetGroup")): (EVERY_PERIOD, ALB_METRICS),
    ("AWS/RDS", "CPUUtilization", ("DBInstanceIdentifier",)): (EVERY_PERIOD, RDS_METRICS),
    ("AWS/RDS", "FreeStorageSpace", ("DBInstanceIdentifier",)): (EVERY_PERIOD, RDS_METRICS),
    ("AWS/RDS", "FreeableMemory", ("DBInstanceIdentifier",)): (EVERY_PERIOD, RDS_METRICS),
    ("AWS/RDS", "DatabaseConnections", ("DBInstanceIdentifier",)): (EVERY_PERIOD, RDS_METRICS),
    ("AWS/ElastiCache", "EngineCPUUtilization", ("CacheClusterId",)): (PER_NODE, CACHE_METRICS),
    ("AWS/ElastiCache", "DatabaseMemoryUsagePercentage", ("CacheClusterId",)): (PER_NODE, CACHE_METRICS),
    ("AWS/ElastiCache", "Evictions", ("CacheClusterId",)): (PER_NODE, CACHE_METRICS),
    ("AWS/NATGateway", "ErrorPortAllocation", ("NatGatewayId",)): (WITH_TRAFFIC, NAT_METRICS),
    ("AWS/NATGateway", "PacketsDropCount", ("NatGatewayId",)): (WITH_TRAFFIC, NAT_METRICS),
    ("AWS/AutoScaling", "GroupInServiceInstances", ("AutoScalingGroupName",)): (EVERY_PERIOD, ASG_METRICS),
}
# Members of a replication group are named <group>-001, -002, ... After a
# failover and a scale-down the survivor may be -002, and the name a replica
# added later gets is not documented: the Redis alarms take the largest
# value over every name the group can have had (MAX over the series; a
# node that does not exist adds no series: CloudWatch metric math, MAX).
REDIS_MEMBERS = 3


def build(settings: BuildSettings) -> Template:
    t = new_template("Wealist alarms: the alarm topic and the CloudWatch alarms that page on it.")
    p = add_parameters(
        t, "Project", "Environment", "EnableMultiAZ", "AlarmEmail", "DbAllocatedStorage", "BackendMinSize"
    )
    inputs = add_inputs(
        t,
        "NatGatewayIds",
        "LoadBalancerFullName",
        "UserServiceTargetGroupFullName",
        "BoardServiceTargetGroupFullName",
        "GrafanaTargetGroupFullName",
        "PrometheusTargetGroupFullName",
        "DatabaseInstanceId",
        "RedisReplicationGroupId",
        "BackendAsgName",
        "MonitoringAsgName",
    )
    is_multi_az = add_multi_az_condition(t)
    t.add_condition(HAS_ALARM_EMAIL, Not(Equals(p["AlarmEmail"].ref(), "")))

    topic = _add_topic(t, p)
    a = _Alarms(t, topic, settings.alarms)
    _add_load_balancer_alarms(a, inputs)
    _add_database_alarms(a, inputs, p)
    _add_cache_alarms(a, settings, inputs, is_multi_az)
    _add_nat_alarms(a, settings, inputs, is_multi_az)
    _add_instance_alarms(a, inputs, p)
    _add_dashboard(t, a.added, is_multi_az)

    t.add_output(
        Output("AlarmTopicArn", Description="SNS topic every alarm notifies; subscribe pagers here.", Value=topic.ref())
    )
    return t


def _add_topic(t: Template, p) -> sns.Topic:
    key = t.add_resource(
        kms.Key(
            "AlarmTopicKey",
            Description=Sub("Wealist ${Environment} alarm topic"),
            EnableKeyRotation=True,
            KeyPolicy={
                "Version": "2012-10-17",
                "Statement": [
                    # The account administers the key through IAM, as with any key
                    # (without this statement nobody could ever change it again).
                    {
                        "Sid": "AccountAdministers",
                        "Effect": "Allow",
                        "Principal": {"AWS": Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
                        "Action": "kms:*",
                        "Resource": "*",
                    },
                    # The service role (made in the trust stack, so it exists when
                    # KMS checks this principal) administers the key by name: a
                    # grant that applies from CreateKey on, where one by tag could
                    # take up to five minutes to count (KMS developer guide, "ABAC
                    # for AWS KMS") and would reach any key given the tag.
                    {
                        "Sid": "ServiceRoleAdministers",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{SERVICE_ROLE_NAME}")
                        },
                        "Action": [a for a in KEY_HANDLER_ACTIONS if a not in _TAGGING],
                        "Resource": "*",
                    },
                    # Its retagging on an update: the project's tag keys only.
                    {
                        "Sid": "ServiceRoleRetags",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{SERVICE_ROLE_NAME}")
                        },
                        "Action": [a for a in KEY_HANDLER_ACTIONS if a in _TAGGING],
                        "Resource": "*",
                        "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": list(PROJECT_TAG_KEYS)}},
                    },
                    # CloudWatch encrypts the notifications it publishes to the
                    # topic; the AWS managed SNS key does not allow this, hence a
                    # key of our own. Only for alarms of this account (the
                    # confused-deputy condition the IAM User Guide recommends on
                    # service principals, "The confused deputy problem"): CloudWatch
                    # acting for another account's alarm cannot use this key. No
                    # aws:SourceArn: neither the SNS guide's key policy for AWS
                    # event sources nor the CloudWatch guide says CloudWatch's KMS
                    # calls carry it, and a condition on a key the request lacks
                    # would silently drop every notification.
                    {
                        "Sid": "CloudWatchPublishes",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")}},
                    },
                ],
            },
            Tags=tags("alarm-topic-key", **dict([KEY_PURPOSE_TAG])),
        )
    )
    topic = t.add_resource(
        sns.Topic(
            "AlarmTopic",
            TopicName=name("alarms"),
            DisplayName=Sub("Wealist ${Environment} alarms"),
            KmsMasterKeyId=key.ref(),
            Tags=tags("alarms"),
        )
    )
    t.add_resource(
        sns.SubscriptionResource(
            "AlarmEmailSubscription",
            Condition=HAS_ALARM_EMAIL,
            TopicArn=topic.ref(),
            Protocol="email",
            Endpoint=p["AlarmEmail"].ref(),
        )
    )
    return topic


class _Alarms:
    """Adds alarms that notify the topic on alarm and on recovery."""

    def __init__(self, t: Template, topic: sns.Topic, rules):
        self.t, self.topic, self.rules = t, topic, rules
        self.added: list[cloudwatch.Alarm] = []  # in order: the dashboard shows them so

    def add(
        self,
        title: str,
        suffix: str,
        description,
        rule: AlarmRule,
        comparison: str,
        missing: str,
        *,
        threshold=None,
        condition: str | None = None,
        **metric,
    ) -> cloudwatch.Alarm:
        extra = {"Condition": condition} if condition else {}
        alarm = self.t.add_resource(
            cloudwatch.Alarm(
                title,
                AlarmName=name(f"alarm-{suffix}"),
                AlarmDescription=description,
                ComparisonOperator=comparison,
                Threshold=rule.threshold if threshold is None else threshold,
                EvaluationPeriods=rule.periods,
                DatapointsToAlarm=rule.periods,
                TreatMissingData=missing,
                AlarmActions=[self.topic.ref()],
                OKActions=[self.topic.ref()],
                Tags=tags(),
                **_period(metric, rule),
                **extra,
            )
        )
        self.added.append(alarm)
        return alarm


def _period(metric: dict, rule: AlarmRule) -> dict:
    if "Metrics" in metric:
        return metric
    return {**metric, "Period": rule.period}


def _dims(**dims) -> list[cloudwatch.MetricDimension]:
    return [cloudwatch.MetricDimension(Name=k, Value=v) for k, v in dims.items()]


def _query(qid: str, namespace: str, metric: str, dims: list, stat: str, period: int) -> cloudwatch.MetricDataQuery:
    return cloudwatch.MetricDataQuery(
        Id=qid,
        ReturnData=False,
        MetricStat=cloudwatch.MetricStat(
            Metric=cloudwatch.Metric(Namespace=namespace, MetricName=metric, Dimensions=dims), Period=period, Stat=stat
        ),
    )


def _add_load_balancer_alarms(a: _Alarms, inputs) -> None:
    r = a.rules
    lb = _dims(LoadBalancer=inputs["LoadBalancerFullName"].ref())
    for title, suffix, metric, who, what_to_do in (
        (
            "LoadBalancerErrorRateAlarm",
            "alb-5xx",
            "HTTPCode_ELB_5XX_Count",
            "the load balancer itself",
            "502/503/504 from the ALB mean no healthy target or targets that close connections: check the "
            "UnHealthyHostCount alarms and the backend Auto Scaling group's activity.",
        ),
        (
            "TargetErrorRateAlarm",
            "target-5xx",
            "HTTPCode_Target_5XX_Count",
            "user-service and board-service",
            "The services answer errors: check their container logs on a backend instance (Session Manager, "
            "docker logs) and the database and Redis alarms.",
        ),
    ):
        rule = r.alb_5xx_percent if suffix == "alb-5xx" else r.target_5xx_percent
        a.add(
            title,
            suffix,
            f"More than {rule.threshold:g} % of requests answered 5xx by {who} for "
            f"{rule.periods} minutes. {what_to_do}",
            rule,
            GREATER,
            NOT_BREACHING,
            Metrics=[
                _query("errors", "AWS/ApplicationELB", metric, lb, "Sum", rule.period),
                _query("requests", "AWS/ApplicationELB", "RequestCount", lb, "Sum", rule.period),
                # The 5xx counts are only published when non-zero: FILL
                # turns their absence into 0 % instead of no data.
                cloudwatch.MetricDataQuery(
                    Id="rate", Expression="100 * FILL(errors, 0) / requests", Label="5xx % of requests", ReturnData=True
                ),
            ],
        )
    rule = r.unhealthy_hosts
    for key, what in (
        ("UserService", "user-service"),
        ("BoardService", "board-service"),
        ("Grafana", "Grafana"),
        ("Prometheus", "Prometheus"),
    ):
        a.add(
            f"{key}UnhealthyHostsAlarm",
            f"{what.lower()}-unhealthy",
            f"A {what} target has failed its health check for {rule.periods} minutes. Check the target "
            f"group's health reason in the console, then the container's logs on that instance.",
            rule,
            GREATER,
            BREACHING,  # published every minute while the group is attached: a gap is an outage
            Namespace="AWS/ApplicationELB",
            MetricName="UnHealthyHostCount",
            Statistic="Maximum",
            Dimensions=_dims(
                LoadBalancer=inputs["LoadBalancerFullName"].ref(), TargetGroup=inputs[f"{key}TargetGroupFullName"].ref()
            ),
        )
    rule = r.target_p99_seconds
    a.add(
        "TargetResponseTimeAlarm",
        "alb-p99",
        f"The slowest 1 % of responses took longer than {rule.threshold:g} s for {rule.periods} minutes. "
        "Check the database CPU and connections alarms, then the services' latency in Grafana.",
        rule,
        GREATER,
        NOT_BREACHING,  # no requests, no latency
        Namespace="AWS/ApplicationELB",
        MetricName="TargetResponseTime",
        ExtendedStatistic="p99",
        Dimensions=lb,
    )


def _add_database_alarms(a: _Alarms, inputs, p) -> None:
    r = a.rules
    db = _dims(DBInstanceIdentifier=inputs["DatabaseInstanceId"].ref())
    rds_ns = {"Namespace": "AWS/RDS", "Dimensions": db}
    # RDS publishes every metric every minute while the instance runs: a
    # gap means it is stopped or unreachable, which pages.
    a.add(
        "DatabaseCpuAlarm",
        "db-cpu",
        f"Database CPU above {r.rds_cpu_percent.threshold:g} % for {r.rds_cpu_percent.periods * 5} minutes. "
        "Check pg_stat_activity for long-running queries, then consider a larger DbInstanceClass.",
        r.rds_cpu_percent,
        GREATER,
        BREACHING,
        MetricName="CPUUtilization",
        Statistic="Average",
        **rds_ns,
    )
    rule = r.rds_free_storage_percent
    a.add(
        "DatabaseFreeStorageAlarm",
        "db-storage",
        f"Less than {rule.threshold:g} % of the database's allocated storage is free. Raise DbAllocatedStorage "
        "(an in-place change) before it fills; check what grows (table sizes, logs).",
        rule,
        LESS,
        BREACHING,
        Metrics=[
            _query("free", "AWS/RDS", "FreeStorageSpace", db, "Minimum", rule.period),
            cloudwatch.MetricDataQuery(
                Id="freepercent",
                Label="free storage % of allocated",
                ReturnData=True,
                Expression=Sub("100 * free / (${DbAllocatedStorage} * 1073741824)"),
            ),
        ],
    )
    rule = r.rds_freeable_memory_bytes
    a.add(
        "DatabaseMemoryAlarm",
        "db-memory",
        f"Database freeable memory below {rule.threshold / 1048576:g} MiB for {rule.periods * 5} minutes; it "
        "will swap. Check the connection count and work_mem-heavy queries, then a larger DbInstanceClass.",
        rule,
        LESS,
        BREACHING,
        MetricName="FreeableMemory",
        Statistic="Average",
        **rds_ns,
    )
    rule = r.rds_connections
    a.add(
        "DatabaseConnectionsAlarm",
        "db-connections",
        f"More than {rule.threshold:g} database connections for {rule.periods * 5} minutes, near "
        "max_connections. Check the services' connection pools and how many backend instances run.",
        rule,
        GREATER,
        BREACHING,
        MetricName="DatabaseConnections",
        Statistic="Maximum",
        **rds_ns,
    )


def _add_cache_alarms(a: _Alarms, settings: BuildSettings, inputs, is_multi_az: str) -> None:
    """One alarm per metric for the whole replication group, in both modes:
    the largest value over its members (see REDIS_MEMBERS), so a failover
    or a scale-down that leaves -002 as the only node is still watched, and
    a member that is gone is simply absent."""
    r = a.rules
    for key, suffix, metric, stat, rule, comparison, what in (
        (
            "Cpu",
            "cpu",
            "EngineCPUUtilization",
            "Average",
            r.redis_engine_cpu_percent,
            GREATER,
            f"engine CPU above {r.redis_engine_cpu_percent.threshold:g} % on a node. Redis runs on one thread: "
            "check SLOWLOG for slow commands, then a larger CacheNodeType.",
        ),
        (
            "Memory",
            "memory",
            "DatabaseMemoryUsagePercentage",
            "Maximum",
            r.redis_memory_percent,
            GREATER,
            f"more than {r.redis_memory_percent.threshold:g} % of a node's memory used; evictions follow. Check "
            "which keys grow and their TTLs, then a larger CacheNodeType.",
        ),
        (
            "Evictions",
            "evictions",
            "Evictions",
            "Sum",
            r.redis_evictions,
            GREATER,
            "a node evicted keys: memory is full and data the services expect is gone. Check the memory alarm "
            "and key TTLs.",
        ),
    ):
        queries = [
            _query(
                f"node{i}",
                "AWS/ElastiCache",
                metric,
                _dims(CacheClusterId=Sub(f"${{RedisReplicationGroupId}}-{i:03d}")),
                stat,
                rule.period,
            )
            for i in range(1, REDIS_MEMBERS + 1)
        ]
        queries.append(
            cloudwatch.MetricDataQuery(
                Id="worst",
                Expression=f"MAX([{', '.join(q.Id for q in queries)}])",
                Label=f"{metric}, largest over the nodes",
                ReturnData=True,
            )
        )
        a.add(
            f"Redis{key}Alarm",
            f"redis-{suffix}",
            f"Redis: {what}",
            rule,
            comparison,
            # Per node while it exists: a member that is gone (failover
            # and scale-down, a mode switch) must not page. Redis being
            # down altogether shows in the services' 5xx and unhealthy
            # targets, which page.
            NOT_BREACHING,
            Metrics=queries,
        )


def _add_nat_alarms(a: _Alarms, settings: BuildSettings, inputs, is_multi_az: str) -> None:
    """One pair per NAT gateway that exists: gateway 1 always, the others in
    multi-AZ mode, as in network.py."""
    r = a.rules
    for i in range(1, settings.az_count + 1):
        cond = None if i == 1 else is_multi_az
        dims = {
            "Namespace": "AWS/NATGateway",
            "Dimensions": _dims(NatGatewayId=Select(i - 1, inputs["NatGatewayIds"].ref())),
        }
        # No traffic, no data: quiet is healthy for both.
        a.add(
            f"NatGateway{i}PortAllocationAlarm",
            f"nat-{i}-ports",
            f"NAT gateway {i} could not allocate a source port: too many concurrent connections to one "
            "destination. Check which instance opens them (VPC flow logs, the services' HTTP clients).",
            r.nat_port_allocation_errors,
            GREATER,
            NOT_BREACHING,
            condition=cond,
            MetricName="ErrorPortAllocation",
            Statistic="Sum",
            **dims,
        )
        a.add(
            f"NatGateway{i}PacketsDroppedAlarm",
            f"nat-{i}-drops",
            f"NAT gateway {i} dropped more than {r.nat_packets_dropped.threshold:g} packets per 5 minutes. "
            "Check the AWS Health Dashboard for the zone, then the gateway's traffic.",
            r.nat_packets_dropped,
            GREATER,
            NOT_BREACHING,
            condition=cond,
            MetricName="PacketsDropCount",
            Statistic="Sum",
            **dims,
        )


def _add_instance_alarms(a: _Alarms, inputs, p) -> None:
    r = a.rules
    periods = r.backend_in_service_periods
    a.add(
        "BackendInServiceAlarm",
        "backend-in-service",
        f"Fewer backend instances in service than BackendMinSize for {periods} minutes. Check the Auto "
        "Scaling group's activity history for failed launches and the targets' health.",
        AlarmRule(0.0, periods),
        LESS,
        BREACHING,  # group metrics are collected every minute (compute.py)
        threshold=p["BackendMinSize"].ref(),
        Namespace="AWS/AutoScaling",
        MetricName="GroupInServiceInstances",
        Statistic="Minimum",
        Dimensions=_dims(AutoScalingGroupName=inputs["BackendAsgName"].ref()),
    )
    rule = r.monitoring_in_service
    a.add(
        "MonitoringInServiceAlarm",
        "monitoring-in-service",
        f"No monitoring instance (Prometheus, Grafana) in service for {rule.periods} minutes. The Auto "
        "Scaling group replaces a failed instance by itself; if the alarm stays, check the group's activity "
        "history for failed launches and the instance's boot log.",
        # Group metrics are sent every minute once collection is on
        # (compute.py turns it on for this group): a gap means the group or
        # its metrics collection is gone, which must page. A rollout keeps
        # the old instance in service until the new one is (rollout.py).
        rule,
        LESS,
        BREACHING,
        threshold=1,
        Namespace="AWS/AutoScaling",
        MetricName="GroupInServiceInstances",
        Statistic="Minimum",
        Dimensions=_dims(AutoScalingGroupName=inputs["MonitoringAsgName"].ref()),
    )


# Dashboard grid (CloudWatch dashboard body: 24 columns).
_WIDGET_WIDTH, _WIDGET_HEIGHT, _COLUMNS = 8, 6, 3


def _dashboard_body(alarms: list[cloudwatch.Alarm]) -> Sub:
    """One metric widget per alarm. A widget whose ``annotations.alarms``
    names an alarm draws that alarm's own metric (or metric-math
    expression) with its threshold line, so the graph is always what the
    alarm evaluates (CloudWatch API reference, "Dashboard Body Structure
    and Syntax", metric widget ``annotations``: one alarm per widget, and
    no ``metrics`` array beside it;
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html)."""
    widgets = []
    for i, alarm in enumerate(alarms):
        row, col = divmod(i, _COLUMNS)
        widgets.append(
            {
                "type": "metric",
                "x": col * _WIDGET_WIDTH,
                "y": row * _WIDGET_HEIGHT,
                "width": _WIDGET_WIDTH,
                "height": _WIDGET_HEIGHT,
                # Titled with the alarm's name, as its notifications are.
                "properties": {
                    "title": alarm.AlarmName.data["Fn::Sub"],
                    "region": "${AWS::Region}",
                    "view": "timeSeries",
                    "stacked": False,
                    "annotations": {"alarms": [f"${{{alarm.title}.Arn}}"]},
                },
            }
        )
    # The body is JSON text, one widget a line so that a change set's diff
    # reads; Fn::Sub fills in the names, the region and each alarm's ARN
    # (JSON itself never contains "${").
    return Sub('{"widgets": [\n' + ",\n".join(json.dumps(w) for w in widgets) + "\n]}\n")


def _add_dashboard(t: Template, alarms: list[cloudwatch.Alarm], is_multi_az: str) -> None:
    """Both modes' bodies from the one alarm list: the alarms that exist only
    in multi-AZ mode (their Condition) are left out of the single-AZ body,
    since a widget naming an alarm that does not exist would show nothing."""
    everywhere = [a for a in alarms if getattr(a, "Condition", None) is None]
    multi_only = {getattr(a, "Condition", None) for a in alarms} - {None}
    if multi_only - {is_multi_az}:
        raise ValueError(f"alarm conditions the dashboard cannot place: {sorted(multi_only - {is_multi_az})}")
    t.add_resource(
        cloudwatch.Dashboard(
            "AlarmsDashboard",
            DashboardName=Sub("${Project}-${Environment}"),
            DashboardBody=If(is_multi_az, _dashboard_body(alarms), _dashboard_body(everywhere)),
            Tags=tags(),
        )
    )
