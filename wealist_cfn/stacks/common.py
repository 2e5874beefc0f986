"""Pieces every nested stack uses: tags, derived names, the multi-AZ condition."""

from __future__ import annotations

from troposphere import Equals, Output, Parameter, Ref, Sub, Tags, Template, autoscaling, ssm

IS_MULTI_AZ = "IsMultiAZ"

# The checkov exception every log group carries, with its reason.
LOG_GROUP_KMS_SKIP = {
    "id": "CKV_AWS_158",
    "comment": "CloudWatch Logs encrypts at rest with a service key; a customer key adds a key policy "
    "dependency for every log-producing stack.",
}


def new_template(description: str) -> Template:
    t = Template(Description=description)
    t.set_version("2010-09-09")
    return t


# The CloudFormation service role (github_oidc.py makes it in the trust
# stack, before any stack of the set): the alarm key's policy names it.
SERVICE_ROLE_NAME = "${Project}-${Environment}-cfn-role"

# The Auto Scaling groups' name suffixes (compute.py names them; iam.py lets
# each group's instances report their own health to their own group).
BACKEND_GROUP, MONITORING_GROUP = "backend-asg", "monitoring-asg"


def name(suffix: str) -> Sub:
    """``<project>-<environment>-<suffix>``, the one naming rule for resources
    that carry a name."""
    return Sub(f"${{Project}}-${{Environment}}-{suffix}")


def tags(name_suffix: str | None = None, **extra) -> Tags:
    """Project and Environment on everything taggable, plus a Name when given."""
    t = {"Project": Ref("Project"), "Environment": Ref("Environment")}
    if name_suffix:
        t["Name"] = name(name_suffix)
    t.update(extra)
    return Tags(**t)


def asg_tags(name_suffix: str, **extra) -> autoscaling.Tags:
    """ASG tags propagate to the instances they launch."""
    t = {"Project": Ref("Project"), "Environment": Ref("Environment"), "Name": name(name_suffix)}
    t.update(extra)
    return autoscaling.Tags(**t)


def add_multi_az_condition(template: Template) -> str:
    return template.add_condition(IS_MULTI_AZ, Equals(Ref("EnableMultiAZ"), "true"))


SSM_PREFIX = "/${Project}/${Environment}"


def ssm_path(suffix: str) -> str:
    """Parameter Store name under the environment's prefix, for use inside Sub."""
    return f"{SSM_PREFIX}/{suffix}"


# Parameters a child takes from another child's outputs, through the root:
# declared once so every child that takes one agrees on its type.
WIRED_INPUTS = {
    "VpcId": ("AWS::EC2::VPC::Id", "The VPC, from the network stack."),
    "PublicSubnetIds": ("List<AWS::EC2::Subnet::Id>", "Public subnets, from the network stack."),
    "PrivateSubnetIds": ("List<AWS::EC2::Subnet::Id>", "Private subnets, from the network stack."),
    "AlbSecurityGroupId": ("AWS::EC2::SecurityGroup::Id", "Security group of the ALB, from the security stack."),
    "Ec2SecurityGroupId": ("AWS::EC2::SecurityGroup::Id", "Security group of the instances, from the security stack."),
    "RdsSecurityGroupId": ("AWS::EC2::SecurityGroup::Id", "Security group of the database, from the security stack."),
    "RedisSecurityGroupId": ("AWS::EC2::SecurityGroup::Id", "Security group of the cache, from the security stack."),
    "RepositoryArns": ("CommaDelimitedList", "ARNs of the ECR repositories the instances pull from."),
    "Ec2InstanceProfileArn": ("String", "Backend instance profile, from the IAM stack."),
    "MonitoringInstanceProfileArn": ("String", "Monitoring instance profile, from the IAM stack."),
    "BackendTargetGroupArns": ("CommaDelimitedList", "Target groups of user-service and board-service."),
    "MonitoringTargetGroupArns": ("CommaDelimitedList", "Target groups of Grafana and Prometheus."),
    "NatGatewayIds": ("CommaDelimitedList", "NAT gateways of this mode, from the network stack."),
    "LoadBalancerFullName": ("String", "ALB name for CloudWatch metrics, from the load balancer stack."),
    "UserServiceTargetGroupFullName": ("String", "user-service target group name for CloudWatch metrics."),
    "BoardServiceTargetGroupFullName": ("String", "board-service target group name for CloudWatch metrics."),
    "GrafanaTargetGroupFullName": ("String", "Grafana target group name for CloudWatch metrics."),
    "PrometheusTargetGroupFullName": ("String", "Prometheus target group name for CloudWatch metrics."),
    "DatabaseInstanceId": ("String", "RDS instance identifier, from the database stack."),
    "RedisReplicationGroupId": ("String", "Redis replication group ID, from the cache stack."),
    "BackendAsgName": ("String", "Backend Auto Scaling group, from the compute stack."),
    "MonitoringAsgName": ("String", "Monitoring Auto Scaling group, from the compute stack."),
}


def add_inputs(template: Template, *names: str) -> dict[str, Parameter]:
    """Declare parameters wired from other children's outputs; return them by name."""
    return {
        n: template.add_parameter(Parameter(n, Type=WIRED_INPUTS[n][0], Description=WIRED_INPUTS[n][1])) for n in names
    }


def publish_endpoint(t: Template, key: str, what: str, host_path: str, port_path: str, address, port) -> None:
    """Write an endpoint to Parameter Store, where the instances' startup
    script finds it with the rest of the environment, and output it."""
    param_tags = {"Project": Ref("Project"), "Environment": Ref("Environment")}
    host = t.add_resource(
        ssm.Parameter(
            f"{key}HostParameter",
            Name=Sub(ssm_path(host_path)),
            Type="String",
            Value=address,
            Description=f"{what} endpoint, written by its stack",
            Tags=param_tags,
        )
    )
    t.add_resource(
        ssm.Parameter(
            f"{key}PortParameter",
            Name=Sub(ssm_path(port_path)),
            Type="String",
            Value=port,
            Description=f"{what} port, written by its stack",
            Tags=param_tags,
        )
    )
    t.add_output(Output(f"{key}Endpoint", Description=f"{what} endpoint address.", Value=address))
    t.add_output(Output(f"{key}Port", Description=f"{what} port.", Value=port))
    t.add_output(
        Output(f"{key}HostParameterName", Description="Parameter Store name holding the endpoint.", Value=host.ref())
    )
