"""Compute: launch templates and Auto Scaling groups for the backend
(user-service and board-service, scaled on CPU) and the monitoring instance
(Prometheus and Grafana, exactly one, replaced when its instance fails).
Each group runs with its own instance profile (see iam.py) and writes its
boot log and containers' logs to its own CloudWatch Logs group,
``/<project>/<environment>/backend`` or ``.../monitoring``, one stream per
instance and source (``<instance-id>/startup``, ``<instance-id>/<container>``)."""

from __future__ import annotations

from pathlib import Path

from troposphere import Base64, Output, Parameter, Sub, Template, autoscaling, ec2, logs

from wealist_cfn.core.parameters import add_parameters
from wealist_cfn.core.settings import BuildSettings

from .common import BACKEND_GROUP, LOG_GROUP_KMS_SKIP, MONITORING_GROUP, add_inputs, asg_tags, name, new_template, tags

USERDATA_FILE = Path(__file__).resolve().parent.parent / "boot" / "userdata.sh"
BACKEND_GRACE_SECONDS = 600


def build(settings: BuildSettings) -> Template:
    t = new_template("Wealist compute: launch templates and Auto Scaling groups for backend and monitoring.")
    p = add_parameters(
        t,
        "Project",
        "Environment",
        "DeployBucketName",
        "BackendInstanceType",
        "BackendMinSize",
        "BackendMaxSize",
        "BackendTargetCpu",
        "BackendHealthCheckType",
        "MonitoringInstanceType",
        "UserServicePort",
        "BoardServicePort",
        "LogRetentionDays",
    )
    image = t.add_parameter(
        Parameter(
            "ImageId",
            Type="AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
            Default=settings.ami_parameter,
            Description="Amazon Linux 2023 AMI, resolved from AWS's public parameter at each deploy.",
        )
    )
    inputs = add_inputs(
        t,
        "PrivateSubnetIds",
        "Ec2SecurityGroupId",
        "Ec2InstanceProfileArn",
        "MonitoringInstanceProfileArn",
        "BackendTargetGroupArns",
        "MonitoringTargetGroupArns",
    )
    subnets, sg = inputs["PrivateSubnetIds"], inputs["Ec2SecurityGroupId"]
    backend_tgs, monitoring_tgs = inputs["BackendTargetGroupArns"], inputs["MonitoringTargetGroupArns"]

    backend_logs = _add_log_group(t, "Backend", "backend", p["LogRetentionDays"])
    monitoring_logs = _add_log_group(t, "Monitoring", "monitoring", p["LogRetentionDays"])

    userdata = USERDATA_FILE.read_text(encoding="utf-8")
    # IMDS hop limit: 1 keeps every container away from the instance's
    # credentials (a container's request takes one more hop). The backend's
    # containers need none: the host fetches everything before they start,
    # and the log shippers run on the host too (dockerd's awslogs driver and
    # the CloudWatch agent are host processes: one hop).
    backend_lt = _add_launch_template(
        t,
        "Backend",
        "backend",
        p["BackendInstanceType"],
        image,
        sg,
        inputs["Ec2InstanceProfileArn"],
        userdata,
        hop_limit=1,
    )
    # Prometheus, in a container, discovers the backend through EC2's API
    # (ec2_sd_configs) with the instance's credentials: 2 hops. The
    # monitoring role holds no database or Redis secret.
    monitoring_lt = _add_launch_template(
        t,
        "Monitoring",
        "monitoring",
        p["MonitoringInstanceType"],
        image,
        sg,
        inputs["MonitoringInstanceProfileArn"],
        userdata,
        hop_limit=2,
    )

    backend = t.add_resource(
        autoscaling.AutoScalingGroup(
            "BackendAutoScalingGroup",
            AutoScalingGroupName=name(BACKEND_GROUP),
            LaunchTemplate=autoscaling.LaunchTemplateSpecification(
                LaunchTemplateId=backend_lt.ref(), Version=backend_lt.get_att("LatestVersionNumber")
            ),
            MinSize=p["BackendMinSize"].ref(),
            MaxSize=p["BackendMaxSize"].ref(),
            # No DesiredCapacity: the scaling policy owns it, and a deploy must
            # not reset a scaled-out group back to the minimum.
            VPCZoneIdentifier=subnets.ref(),
            TargetGroupARNs=backend_tgs.ref(),
            # ELB health only once every service is released. Auto Scaling
            # replaces an instance that ANY attached target group reports
            # unhealthy once the grace period is over ("Health checks for
            # instances in an Auto Scaling group", and "Attach an Elastic Load
            # Balancing load balancer to your Auto Scaling group": "can replace a
            # running instance if any of the ... load balancers you attach ...
            # report it as unhealthy"; docs.aws.amazon.com/autoscaling/ec2/
            # userguide/health-checks-overview.html). Before a service's first
            # release nothing listens on its port, so with ELB checks every
            # instance would be replaced after each grace period, and a release
            # of one service alone would boot instances that fail the other
            # group: its refresh could never finish. With EC2 checks until then
            # the ALB still routes only to healthy targets; the instance is
            # replaced only when EC2 finds it broken. The value is a root
            # parameter that deploy and plan derive from the release tags and
            # target health (ops/releasestate.py), so CloudFormation's recorded
            # value and the group always agree (no out-of-band switch that the
            # next rollback would undo or drift detection would report).
            # Chosen over attaching a target group per released service: the
            # attachments, and so the ALB's registrations, never change; one
            # property flips, once.
            HealthCheckType=p["BackendHealthCheckType"].ref(),
            # Longer than the slowest bounded boot, with headroom: a cold boot is
            # about 4 minutes, one that meets a database failover at most about
            # 8 (the db-init retries); basis and figures in docs/operations.md,
            # "How long a boot takes". An instance still booting when the grace
            # period ends is replaced as unhealthy (Auto Scaling user guide,
            # "Set the health check grace period for an Auto Scaling group").
            HealthCheckGracePeriod=BACKEND_GRACE_SECONDS,
            DefaultInstanceWarmup=180,
            MetricsCollection=[autoscaling.MetricsCollection(Granularity="1Minute")],
            Tags=asg_tags("backend", Role="backend"),
        )
    )
    t.add_resource(
        autoscaling.ScalingPolicy(
            "BackendCpuScalingPolicy",
            AutoScalingGroupName=backend.ref(),
            PolicyType="TargetTrackingScaling",
            TargetTrackingConfiguration=autoscaling.TargetTrackingConfiguration(
                PredefinedMetricSpecification=autoscaling.PredefinedMetricSpecification(
                    PredefinedMetricType="ASGAverageCPUUtilization"
                ),
                TargetValue=p["BackendTargetCpu"].ref(),
            ),
        )
    )
    monitoring = t.add_resource(
        autoscaling.AutoScalingGroup(
            "MonitoringAutoScalingGroup",
            AutoScalingGroupName=name(MONITORING_GROUP),
            LaunchTemplate=autoscaling.LaunchTemplateSpecification(
                LaunchTemplateId=monitoring_lt.ref(), Version=monitoring_lt.get_att("LatestVersionNumber")
            ),
            # Exactly one: a group of one is how EC2 replaces a failed instance
            # by itself (self-healing) in any of the three AZs.
            MinSize="1",
            MaxSize="1",
            VPCZoneIdentifier=subnets.ref(),
            TargetGroupARNs=monitoring_tgs.ref(),
            # EC2 checks only: a failing Grafana or Prometheus check must not
            # replace the instance (and lose the metrics history); a dead
            # instance still is replaced.
            HealthCheckType="EC2",
            HealthCheckGracePeriod=600,
            # GroupInServiceInstances for the monitoring alarm (alarms.py): Auto
            # Scaling publishes group metrics only with collection enabled
            # ("Amazon CloudWatch metrics for Amazon EC2 Auto Scaling", user guide).
            MetricsCollection=[
                autoscaling.MetricsCollection(Granularity="1Minute", Metrics=["GroupInServiceInstances"])
            ],
            Tags=asg_tags("monitoring", Role="monitoring"),
        )
    )

    for key, what, group in (("Backend", "backend", backend_logs), ("Monitoring", "monitoring", monitoring_logs)):
        t.add_output(
            Output(
                f"{key}LogGroupName",
                Description=f"CloudWatch Logs group of the {what} instances' boot and container logs.",
                Value=group.ref(),
            )
        )
    t.add_output(Output("BackendAsgName", Description="Name of the backend Auto Scaling group.", Value=backend.ref()))
    t.add_output(
        Output("MonitoringAsgName", Description="Name of the monitoring Auto Scaling group.", Value=monitoring.ref())
    )
    return t


def _add_log_group(t, key, role, retention):
    # Named, so the instances can write to it by a name they derive from
    # their own prefix; created here with its retention because neither the
    # awslogs driver nor the agent may create it (awslogs-create-group false,
    # no logs:CreateLogGroup): a group they made would keep logs forever.
    # Delete: the logs are kept for LogRetentionDays, not past the stack.
    return t.add_resource(
        logs.LogGroup(
            f"{key}LogGroup",
            LogGroupName=Sub(f"/${{Project}}/${{Environment}}/{role}"),
            RetentionInDays=retention.ref(),
            Tags=tags(f"{role}-logs"),
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
            Metadata={"checkov": {"skip": [LOG_GROUP_KMS_SKIP]}},
        )
    )


def _add_launch_template(t, key, role, instance_type, image, sg, profile, userdata, hop_limit):
    return t.add_resource(
        ec2.LaunchTemplate(
            f"{key}LaunchTemplate",
            LaunchTemplateName=name(f"{role}-lt"),
            LaunchTemplateData=ec2.LaunchTemplateData(
                ImageId=image.ref(),
                InstanceType=instance_type.ref(),
                IamInstanceProfile=ec2.IamInstanceProfile(Arn=profile.ref()),
                NetworkInterfaces=[
                    ec2.NetworkInterfaces(DeviceIndex=0, AssociatePublicIpAddress=False, Groups=[sg.ref()])
                ],
                MetadataOptions=ec2.MetadataOptions(
                    HttpTokens="required", HttpEndpoint="enabled", HttpPutResponseHopLimit=hop_limit
                ),
                BlockDeviceMappings=[
                    ec2.LaunchTemplateBlockDeviceMapping(
                        DeviceName="/dev/xvda",
                        Ebs=ec2.EBSBlockDevice(
                            VolumeType="gp3", VolumeSize=30, Encrypted=True, DeleteOnTermination=True
                        ),
                    )
                ],
                Monitoring=ec2.Monitoring(Enabled=True),
                UserData=Base64(Sub(userdata, Role=role)),
                TagSpecifications=[
                    ec2.TagSpecifications(ResourceType="instance", Tags=tags(role, Role=role)),
                    ec2.TagSpecifications(ResourceType="volume", Tags=tags(role, Role=role)),
                ],
            ),
            TagSpecifications=[ec2.TagSpecifications(ResourceType="launch-template", Tags=tags(f"{role}-lt"))],
        )
    )
