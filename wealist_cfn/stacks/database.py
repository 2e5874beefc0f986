"""Database: RDS PostgreSQL in the private subnets, credentials from
Parameter Store, a standby in multi-AZ mode, snapshots kept on delete or
replacement; its endpoint is published to Parameter Store for the instances.
The log groups its CloudWatch Logs exports write to are made here too, with
a retention, before the instance exists."""

from __future__ import annotations

from troposphere import If, Output, Sub, Template, logs, rds

from wealist_cfn.core.parameters import add_parameters
from wealist_cfn.core.settings import BuildSettings

from .common import (
    LOG_GROUP_KMS_SKIP,
    add_inputs,
    add_multi_az_condition,
    name,
    new_template,
    publish_endpoint,
    ssm_path,
    tags,
)

# The instance's identifier (``<project>-<environment>-postgres``) and the
# logs it exports: the export list and the log groups are both derived from
# these, so an export cannot be added without its group.
DB_NAME_SUFFIX = "postgres"
LOG_EXPORTS = ("postgresql", "upgrade")


def log_group_name(export: str) -> str:
    """The log group RDS writes an export to, for use inside Sub. RDS names it
    ``/aws/rds/instance/<DBInstanceIdentifier>/<log type>`` (RDS User Guide,
    "Publishing PostgreSQL logs to Amazon CloudWatch Logs": "the PostgreSQL
    log data is stored within the log group
    /aws/rds/instance/my_instance/postgresql",
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.Concepts.PostgreSQL.html).
    RDS stores the identifier in lower case; Project and Environment are
    lower case by their AllowedPattern, so the name here is the one RDS uses."""
    if export not in LOG_EXPORTS:
        raise ValueError(f"{export}: not one of the database's log exports {LOG_EXPORTS}")
    identifier = name(DB_NAME_SUFFIX).to_dict()["Fn::Sub"]  # the instance's own naming rule
    return f"/aws/rds/instance/{identifier}/{export}"


def log_group_id(export: str) -> str:
    return f"Database{export.title()}LogGroup"


def build(settings: BuildSettings) -> Template:
    t = new_template("Wealist database: RDS PostgreSQL.")
    p = add_parameters(
        t,
        "Project",
        "Environment",
        "EnableMultiAZ",
        "DbInstanceClass",
        "DbAllocatedStorage",
        "DbBackupRetentionDays",
        "DeletionProtection",
        "LogRetentionDays",
    )
    inputs = add_inputs(t, "PrivateSubnetIds", "RdsSecurityGroupId")
    subnets, sg = inputs["PrivateSubnetIds"], inputs["RdsSecurityGroupId"]
    is_multi_az = add_multi_az_condition(t)

    subnet_group = t.add_resource(
        rds.DBSubnetGroup(
            "DbSubnetGroup",
            DBSubnetGroupDescription=Sub("Wealist ${Environment} database: private subnets"),
            SubnetIds=subnets.ref(),
            Tags=tags("db-subnets"),
        )
    )
    log_groups = _add_log_groups(t, p["LogRetentionDays"])
    db = t.add_resource(
        rds.DBInstance(
            "Database",
            # RDS creates a missing export log group itself, without a retention
            # (its logs then never expire); the instance waits for ours.
            DependsOn=[g.title for g in log_groups],
            DBInstanceIdentifier=name(DB_NAME_SUFFIX),
            Engine="postgres",
            EngineVersion=settings.postgres_engine_version,
            DBInstanceClass=p["DbInstanceClass"].ref(),
            AllocatedStorage=p["DbAllocatedStorage"].ref(),
            StorageType="gp3",
            StorageEncrypted=True,
            PubliclyAccessible=False,
            MultiAZ=If(is_multi_az, True, False),
            DBSubnetGroupName=subnet_group.ref(),
            VPCSecurityGroups=[sg.ref()],
            Port=str(settings.postgres_port),
            # Dynamic references: CloudFormation reads the values from Parameter
            # Store at deploy time, so neither the template nor the stack's
            # parameters ever hold them. Changing the user name or database name
            # in Parameter Store afterwards would replace the instance; the
            # bootstrap never overwrites them and the deploy review refuses a
            # replacement.
            MasterUsername=Sub("{{resolve:ssm:%s}}" % ssm_path("db/postgres_superuser")),
            MasterUserPassword=Sub("{{resolve:ssm-secure:%s}}" % ssm_path("db/postgres_superuser_password")),
            DBName=Sub("{{resolve:ssm:%s}}" % ssm_path("db/postgres_db")),
            BackupRetentionPeriod=p["DbBackupRetentionDays"].ref(),
            # UTC. Backup 03:00-03:30 in Seoul, after the Redis snapshot window;
            # maintenance Monday 04:00-05:00 in Seoul. Half an hour apart, so a
            # backup that runs a little long does not meet the maintenance window.
            PreferredBackupWindow="18:00-18:30",
            PreferredMaintenanceWindow="sun:19:00-sun:20:00",
            CopyTagsToSnapshot=True,
            DeletionProtection=p["DeletionProtection"].ref(),
            AutoMinorVersionUpgrade=True,
            EnableIAMDatabaseAuthentication=True,
            EnableCloudwatchLogsExports=list(LOG_EXPORTS),
            Tags=tags("postgres"),
            DeletionPolicy="Snapshot",
            UpdateReplacePolicy="Snapshot",
            Metadata={
                "checkov": {
                    "skip": [
                        {
                            "id": "CKV_AWS_157",
                            "comment": "Multi-AZ is the EnableMultiAZ switch: off in cost mode by design.",
                        },
                        {
                            "id": "CKV_AWS_118",
                            "comment": "Enhanced monitoring is a paid extra the SPEC does not include; "
                            "CloudWatch basic metrics and exported logs cover db.t3.micro.",
                        },
                        {"id": "CKV_AWS_353", "comment": "Performance Insights is not offered on db.t3.micro."},
                        {"id": "CKV_AWS_354", "comment": "Performance Insights is not offered on db.t3.micro."},
                    ]
                },
                # W3691 lists the bare majors ("17") as deprecated: a false
                # positive of the kind cfn-lint fixed for E3691 (issue #3849, PR
                # #3850). RDS user guide, PostgreSQL versions: "If a major version
                # is specified but a minor version is not, Amazon RDS defaults to
                # a recent release of the major version you have specified."
                "cfn-lint": {"config": {"ignore_checks": ["W3691"]}},
            },
        )
    )
    publish_endpoint(
        t,
        "Database",
        "PostgreSQL",
        "db/postgres_host",
        "db/postgres_port",
        db.get_att("Endpoint.Address"),
        db.get_att("Endpoint.Port"),
    )
    t.add_output(
        Output("DatabaseInstanceId", Description="RDS instance identifier, for CloudWatch metrics.", Value=db.ref())
    )
    return t


def _add_log_groups(t: Template, retention) -> list[logs.LogGroup]:
    # Delete policy: the database's logs are for diagnosis, kept for
    # LogRetentionDays while the stack lives; nothing the service reads.
    # A named group outliving its stack would make a re-created stack fail
    # with "already exists".
    return [
        t.add_resource(
            logs.LogGroup(
                log_group_id(export),
                LogGroupName=Sub(log_group_name(export)),
                RetentionInDays=retention.ref(),
                Tags=tags(),
                DeletionPolicy="Delete",
                UpdateReplacePolicy="Delete",
                Metadata={"checkov": {"skip": [LOG_GROUP_KMS_SKIP]}},
            )
        )
        for export in LOG_EXPORTS
    ]
