"""IAM: one role and instance profile per instance group, each holding only
what its group's startup script and containers use.

* Backend (``<project>-<env>-ec2-role``, the SPEC's name): its parameter
  paths (database, Redis, release, app settings; never Grafana's password),
  the bucket's ``boot/`` and ``config/`` files, the two service repositories,
  and writing to its own log group (``/<project>/<env>/backend``).
* Monitoring (``<project>-<env>-monitoring-role``): Grafana's password only
  (never a database or Redis secret), the bucket's ``boot/`` and
  ``monitoring/`` files and ``config/render.py``, EC2 describe calls for Prometheus's discovery,
  CloudWatch metric reads for Grafana's CloudWatch data source, and writing to its own log group
  (``/<project>/<env>/monitoring``).

Parameter Store grants ``GetParametersByPath`` on a path to everything below
it, whatever IAM says about the names below (SSM user guide, "Working with
parameter hierarchies"), so each role gets the sub-paths its group reads, and
the startup script reads those sub-paths, never the environment's root.

Every role the stacks make (these two and the flow-log role) carries the
permissions boundary ``<project>-<env>-role-boundary``: a managed policy that
templates/github-oidc.yaml creates, so it exists before any stack of this set
and the CloudFormation service role, which may create and change roles only
with it, can never edit it. Whatever a role's own policies say, it can do no
more than the boundary allows (IAM User Guide, "Permissions boundaries for
IAM entities").
"""

from __future__ import annotations

import awacs.autoscaling
import awacs.cloudwatch
import awacs.ec2
import awacs.ec2messages
import awacs.ecr
import awacs.kms
import awacs.logs
import awacs.s3
import awacs.ssm
import awacs.ssmmessages
import awacs.sts
import awacs.tag
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals, StringLike
from troposphere import Output, Sub, Template, iam

from wealist_cfn.core.parameters import add_parameters
from wealist_cfn.core.settings import BuildSettings

from .common import BACKEND_GROUP, MONITORING_GROUP, SSM_PREFIX, add_inputs, name, new_template, tags

# The Parameter Store sub-paths and deploy-bucket prefixes each group reads
# (wealist_cfn/boot/startup.sh reads exactly these).
BACKEND_PARAMETER_PATHS = ("db", "redis", "deploy", "app")
MONITORING_PARAMETER_PATHS = ("monitoring",)
BACKEND_BUCKET_PREFIXES = ("boot", "config")
MONITORING_BUCKET_PREFIXES = ("boot", "monitoring")
# Single objects outside a group's prefixes: the monitoring instance renders
# its files with the backend's render.py (no secret in it).
MONITORING_BUCKET_OBJECTS = ("config/render.py",)
# The CloudWatch Logs group each group writes to (compute.py creates them).
BACKEND_LOG_GROUP = "backend"
MONITORING_LOG_GROUP = "monitoring"
# The boundary's name, for use inside Sub (github_oidc.py creates it; roles
# name it by ARN, which needs no parameter or output between the stacks).
ROLE_BOUNDARY = "${Project}-${Environment}-role-boundary"
SESSION_MANAGER_SKIP = {
    "checkov": {
        "skip": [
            {
                "id": "CKV_AWS_111",
                "comment": "The Session Manager agent's calls (ssmmessages, ec2messages, "
                "ssm:UpdateInstanceInformation) "
                "support no resource-level scope; every other write is scoped.",
            }
        ]
    }
}


def build(settings: BuildSettings) -> Template:
    t = new_template("Wealist IAM: the backend and monitoring instance roles and instance profiles.")
    add_parameters(t, "Project", "Environment", "DeployBucketName")
    repos = add_inputs(t, "RepositoryArns")["RepositoryArns"]

    backend = _add_role(
        t,
        "Ec2",
        "ec2-role",
        Sub("Wealist ${Environment} backend instances: their parameters, files and images only"),
        [
            iam.Policy(PolicyName="parameters", PolicyDocument=_parameters_policy(BACKEND_PARAMETER_PATHS)),
            iam.Policy(PolicyName="deploy-bucket", PolicyDocument=_bucket_policy(BACKEND_BUCKET_PREFIXES)),
            iam.Policy(PolicyName="images", PolicyDocument=_images_policy(repos.ref())),
            iam.Policy(PolicyName="logs", PolicyDocument=_logs_policy(BACKEND_LOG_GROUP)),
            iam.Policy(PolicyName="session-manager", PolicyDocument=_session_manager_policy()),
            iam.Policy(PolicyName="boot-health", PolicyDocument=_boot_health_policy(BACKEND_GROUP)),
        ],
    )
    monitoring = _add_role(
        t,
        "Monitoring",
        "monitoring-role",
        Sub("Wealist ${Environment} monitoring instance: Grafana's password, its files, EC2 discovery"),
        [
            iam.Policy(PolicyName="parameters", PolicyDocument=_parameters_policy(MONITORING_PARAMETER_PATHS)),
            iam.Policy(
                PolicyName="deploy-bucket",
                PolicyDocument=_bucket_policy(MONITORING_BUCKET_PREFIXES, MONITORING_BUCKET_OBJECTS),
            ),
            iam.Policy(PolicyName="service-discovery", PolicyDocument=_discovery_policy()),
            iam.Policy(PolicyName="logs", PolicyDocument=_logs_policy(MONITORING_LOG_GROUP)),
            iam.Policy(PolicyName="session-manager", PolicyDocument=_session_manager_policy()),
            iam.Policy(PolicyName="grafana-cloudwatch", PolicyDocument=_grafana_cloudwatch_policy()),
            iam.Policy(PolicyName="boot-health", PolicyDocument=_boot_health_policy(MONITORING_GROUP)),
        ],
    )

    for key, what, (role, profile) in (("Ec2", "backend", backend), ("Monitoring", "monitoring", monitoring)):
        t.add_output(Output(f"{key}RoleName", Description=f"Name of the {what} instances' IAM role.", Value=role.ref()))
        t.add_output(
            Output(f"{key}RoleArn", Description=f"ARN of the {what} instances' IAM role.", Value=role.get_att("Arn"))
        )
        t.add_output(
            Output(
                f"{key}InstanceProfileArn",
                Description=f"ARN of the {what} instance profile.",
                Value=profile.get_att("Arn"),
            )
        )
    return t


def boundary_arn() -> Sub:
    """The permissions boundary every role of the stacks carries."""
    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy/{ROLE_BOUNDARY}")


def _add_role(t: Template, key: str, suffix: str, description, policies: list) -> tuple:
    role = t.add_resource(
        iam.Role(
            f"{key}Role",
            RoleName=name(suffix),
            Description=description,
            PermissionsBoundary=boundary_arn(),
            AssumeRolePolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(
                        Effect=Allow,
                        Principal=Principal("Service", "ec2.amazonaws.com"),
                        Action=[awacs.sts.AssumeRole],
                    )
                ],
            ),
            Policies=policies,
            Tags=tags(suffix),
            Metadata=SESSION_MANAGER_SKIP,
        )
    )
    # Named as the role, so an instance's profile says which group it serves.
    profile = t.add_resource(
        iam.InstanceProfile(
            f"{key}InstanceProfile",
            InstanceProfileName=name(suffix),
            Roles=[role.ref()],
        )
    )
    return role, profile


def _doc(*statements: Statement) -> PolicyDocument:
    return PolicyDocument(Version="2012-10-17", Statement=list(statements))


def _parameter_arn(path: str) -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{SSM_PREFIX}/{path}")


def _parameters_policy(paths: tuple[str, ...]) -> PolicyDocument:
    return _doc(
        # The startup script reads each of its group's sub-paths with
        # get-parameters-by-path (the path itself and what is below it).
        Statement(
            Sid="ReadGroupParameters",
            Effect=Allow,
            Action=[awacs.ssm.GetParametersByPath],
            Resource=[arn for path in paths for arn in (_parameter_arn(path), _parameter_arn(f"{path}/*"))],
        ),
        # SecureString values are encrypted with a KMS key; decrypting is
        # allowed only when the request comes through Parameter Store.
        Statement(
            Sid="DecryptSecureStringsViaSsm",
            Effect=Allow,
            Action=[awacs.kms.Decrypt],
            Resource=[Sub("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*")],
            Condition=Condition(StringEquals("kms:ViaService", Sub("ssm.${AWS::Region}.amazonaws.com"))),
        ),
    )


def _bucket_policy(prefixes: tuple[str, ...], objects: tuple[str, ...] = ()) -> PolicyDocument:
    return _doc(
        # UserData downloads boot/startup.sh; the startup script its group's
        # files (and single objects by name, which needs no listing).
        Statement(
            Sid="ReadDeployFiles",
            Effect=Allow,
            Action=[awacs.s3.GetObject],
            Resource=[Sub(f"arn:${{AWS::Partition}}:s3:::${{DeployBucketName}}/{p}/*") for p in prefixes]
            + [Sub(f"arn:${{AWS::Partition}}:s3:::${{DeployBucketName}}/{o}") for o in objects],
        ),
        # `aws s3 cp --recursive` lists the prefix it downloads.
        Statement(
            Sid="ListDeployFiles",
            Effect=Allow,
            Action=[awacs.s3.ListBucket],
            Resource=[Sub("arn:${AWS::Partition}:s3:::${DeployBucketName}")],
            Condition=Condition(StringLike("s3:prefix", [f"{p}/*" for p in prefixes])),
        ),
    )


def _images_policy(repository_arns) -> PolicyDocument:
    return _doc(
        # `docker login` to ECR; the token call has no resource-level scope.
        Statement(Sid="EcrLogin", Effect=Allow, Action=[awacs.ecr.GetAuthorizationToken], Resource=["*"]),
        # `docker compose pull` of the two service images, nothing else.
        Statement(
            Sid="PullServiceImages",
            Effect=Allow,
            Action=[awacs.ecr.BatchCheckLayerAvailability, awacs.ecr.BatchGetImage, awacs.ecr.GetDownloadUrlForLayer],
            Resource=repository_arns,
        ),
    )


def log_group_name(group: str) -> str:
    """The log group's name, for use inside Sub (compute.py names it so)."""
    return f"{SSM_PREFIX}/{group}"


def _logs_policy(group: str) -> PolicyDocument:
    # The boot log (the CloudWatch agent) and the containers' output (dockerd's
    # awslogs driver) go to the group's own log group, one stream per instance
    # and source. Both create their stream, then put events: CreateLogStream
    # and PutLogEvents are all they call on a group that exists (moby
    # daemon/logger/awslogs/cloudwatchlogs.go; the agent's
    # plugins/outputs/cloudwatchlogs/internal/pusher/target.go calls
    # DescribeLogGroups/PutRetentionPolicy only for a retention_in_days it is
    # not given). No CreateLogGroup: the stack creates the group with its
    # retention, and a group the instance made would keep logs forever. Both
    # actions act on log streams, whose ARN is the group's followed by
    # ":log-stream:<name>" (Service Authorization Reference, CloudWatch Logs).
    return _doc(
        Statement(
            Sid="WriteOwnLogGroup",
            Effect=Allow,
            Action=[awacs.logs.CreateLogStream, awacs.logs.PutLogEvents],
            Resource=[
                Sub(
                    f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:"
                    f"{log_group_name(group)}:log-stream:*"
                )
            ],
        )
    )


def group_arn(group: str) -> Sub:
    """An Auto Scaling group's ARN by name: the group's ID in the ARN is a
    UUID no template knows, hence the wildcard before the name."""
    return Sub(
        "arn:${AWS::Partition}:autoscaling:${AWS::Region}:${AWS::AccountId}:autoScalingGroup:*:"
        f"autoScalingGroupName/${{Project}}-${{Environment}}-{group}"
    )


def _boot_health_policy(group: str) -> PolicyDocument:
    # A boot that gives up (startup.sh `give_up`) marks its instance
    # Unhealthy so that Auto Scaling replaces it; under EC2 health checks it
    # would otherwise stay InService, serving nothing, for good.
    # SetInstanceHealth supports the autoScalingGroup resource type with
    # the condition keys autoscaling:ResourceTag/${TagKey} and
    # aws:ResourceTag/${TagKey}, and no key naming the instance (Service
    # Authorization Reference, "Actions, resources, and condition keys for
    # Amazon EC2 Auto Scaling"; cfn-lint's Policies.json has the same row).
    # The tightest scope AWS allows is therefore the group itself, by its
    # fixed name: an instance can mark itself or a sibling of its own group,
    # never an instance of another group or environment.
    return _doc(
        Statement(
            Sid="ReportOwnBootFailure",
            Effect=Allow,
            Action=[awacs.autoscaling.SetInstanceHealth],
            Resource=[group_arn(group)],
        )
    )


def _discovery_policy() -> PolicyDocument:
    # Prometheus finds the backend instances with ec2_sd_configs; Describe
    # calls have no resource-level scope.
    return _doc(
        Statement(
            Sid="PrometheusEc2Discovery",
            Effect=Allow,
            Action=[awacs.ec2.DescribeInstances, awacs.ec2.DescribeAvailabilityZones],
            Resource=["*"],
        )
    )


def _grafana_cloudwatch_policy() -> PolicyDocument:
    # Grafana's CloudWatch data source reads metrics with the instance's
    # role (instance-files/monitoring/grafana/provisioning/datasources/
    # cloudwatch.yml): the calls of Grafana's "Metrics-only permissions"
    # example (Grafana docs, AWS CloudWatch data source, Configure) that the
    # dashboards use. Left out, as nothing uses them: the alarm reads
    # (DescribeAlarms*, for alarm annotations; the alarms have their own
    # CloudWatch dashboard), GetInsightRuleReport (no Contributor Insights
    # rules), pi:GetResourceMetrics (Performance Insights is off),
    # ec2:DescribeTags/DescribeRegions (no EC2-attribute variables;
    # DescribeInstances is granted for discovery above), and every logs read
    # (no log panels).
    return _doc(
        Statement(
            Sid="GrafanaReadsMetrics",
            Effect=Allow,
            Action=[
                awacs.cloudwatch.GetMetricData,  # every panel's query and its metric math
                awacs.cloudwatch.ListMetrics,  # the query editor's namespace, metric and dimension lists
            ],
            Resource=["*"],
        ),  # metric reads have no resource-level scope
        # The dashboards find the load balancer and target groups by their
        # Name tag ("Resource ARNs" variables, the Resource Groups Tagging
        # API); GetResources has no resource-level scope.
        Statement(Sid="GrafanaFindsResourcesByTag", Effect=Allow, Action=[awacs.tag.GetResources], Resource=["*"]),
    )


def _session_manager_policy() -> PolicyDocument:
    # Session Manager replaces SSH. These are the calls the agent makes for
    # sessions, taken from AmazonSSMManagedInstanceCore; the managed policy
    # itself is not attached because it also grants ssm:GetParameter(s) on
    # "*", which would let an instance read every environment's secrets.
    return _doc(
        Statement(
            Sid="SessionManagerAgent",
            Effect=Allow,
            Action=[
                awacs.ssm.UpdateInstanceInformation,
                awacs.ssmmessages.CreateControlChannel,
                awacs.ssmmessages.CreateDataChannel,
                awacs.ssmmessages.OpenControlChannel,
                awacs.ssmmessages.OpenDataChannel,
                awacs.ec2messages.AcknowledgeMessage,
                awacs.ec2messages.DeleteMessage,
                awacs.ec2messages.FailMessage,
                awacs.ec2messages.GetEndpoint,
                awacs.ec2messages.GetMessages,
                awacs.ec2messages.SendReply,
            ],
            Resource=["*"],
        )
    )
