"""Cache: an ElastiCache Redis replication group in the private subnets,
encrypted at rest and in transit, AUTH token from Parameter Store, a second
node with automatic failover in multi-AZ mode; its endpoint is published to
Parameter Store for the instances."""

from __future__ import annotations

from troposphere import And, Equals, If, Output, Ref, Sub, Template, elasticache

from wealist_cfn.core.parameters import add_parameters
from wealist_cfn.core.settings import BuildSettings

from .common import add_inputs, add_multi_az_condition, name, new_template, publish_endpoint, ssm_path, tags


def build(settings: BuildSettings) -> Template:
    t = new_template("Wealist cache: ElastiCache Redis.")
    p = add_parameters(
        t, "Project", "Environment", "EnableMultiAZ", "CacheFailover", "CacheNodeType", "CacheSnapshotRetentionDays"
    )
    inputs = add_inputs(t, "PrivateSubnetIds", "RedisSecurityGroupId")
    subnets, sg = inputs["PrivateSubnetIds"], inputs["RedisSecurityGroupId"]
    is_multi_az = add_multi_az_condition(t)
    # Failover needs a replica that is already there: ElastiCache refuses
    # NumCacheClusters 1 -> 2 together with AutomaticFailoverEnabled and
    # MultiAZEnabled in one CloudFormation update ("Replication group must
    # have at least one read replica to enable autofailover",
    # aws-cloudformation/cloudformation-coverage-roadmap#383), and the
    # mirror on the way back. CacheFailover=off holds them off for the
    # intermediate deploy (cfn/updaterules.py refuses the one-step switch
    # and names both steps).
    failover = t.add_condition(
        "CacheFailoverOn", And(Equals(Ref("EnableMultiAZ"), "true"), Equals(p["CacheFailover"].ref(), "auto"))
    )

    subnet_group = t.add_resource(
        elasticache.SubnetGroup(
            "CacheSubnetGroup",
            Description=Sub("Wealist ${Environment} cache: private subnets"),
            SubnetIds=subnets.ref(),
            Tags=tags("cache-subnets"),
        )
    )
    group = t.add_resource(
        elasticache.ReplicationGroup(
            "Redis",
            ReplicationGroupId=name("redis"),
            ReplicationGroupDescription=Sub("Wealist ${Environment} Redis"),
            Engine="redis",
            EngineVersion=settings.redis_engine_version,
            CacheNodeType=p["CacheNodeType"].ref(),
            # One node in cost mode; a replica in another AZ that takes over on
            # failure in multi-AZ mode.
            NumCacheClusters=If(is_multi_az, 2, 1),
            AutomaticFailoverEnabled=If(failover, True, False),
            MultiAZEnabled=If(failover, True, False),
            CacheSubnetGroupName=subnet_group.ref(),
            SecurityGroupIds=[sg.ref()],
            Port=settings.redis_port,
            AtRestEncryptionEnabled=True,
            TransitEncryptionEnabled=True,
            AuthToken=Sub("{{resolve:ssm-secure:%s}}" % ssm_path("redis/auth_token")),
            SnapshotRetentionLimit=p["CacheSnapshotRetentionDays"].ref(),
            SnapshotWindow="17:00-18:00",  # 02:00-03:00 in Seoul, before the database backup
            PreferredMaintenanceWindow="sun:20:00-sun:21:00",
            AutoMinorVersionUpgrade=True,
            Tags=tags("redis"),
            DeletionPolicy="Snapshot",
            UpdateReplacePolicy="Snapshot",
        )
    )
    publish_endpoint(
        t,
        "Redis",
        "Redis primary",
        "redis/host",
        "redis/port",
        group.get_att("PrimaryEndPoint.Address"),
        group.get_att("PrimaryEndPoint.Port"),
    )
    t.add_output(
        Output(
            "RedisReplicationGroupId",
            Description="Replication group ID; its nodes are <ID>-001, -002 in CloudWatch.",
            Value=group.ref(),
        )
    )
    return t
