"""Network: the VPC, three public and three private subnets, the internet
gateway, the NAT gateways (one shared in cost mode, one per AZ in
multi-AZ mode), and the VPC's flow logs in CloudWatch Logs with the role
that delivers them.

Each private subnet has a route table of its own in both modes; the switch
only changes which NAT gateway its default route points at, which is an
in-place update of the route and never touches a subnet.
"""

from __future__ import annotations

import awacs.logs
import awacs.sts
from awacs.aws import Allow, ArnLike, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import Cidr, If, Join, Output, Select, Sub, Template, ec2, iam, logs

from wealist_cfn.core.parameters import add_parameters
from wealist_cfn.core.settings import BuildSettings

from .common import LOG_GROUP_KMS_SKIP, add_multi_az_condition, name, new_template, tags
from .iam import boundary_arn

FLOW_LOGS_SERVICE = "vpc-flow-logs.amazonaws.com"
# CloudWatch Logs encrypts every group at rest with a service key; a
# customer key would add a key policy that every log-producing stack
# depends on.


def build(settings: BuildSettings) -> Template:
    t = new_template("Wealist network: VPC, public and private subnets in each AZ, internet and NAT gateways.")
    params = add_parameters(
        t,
        "Project",
        "Environment",
        "EnableMultiAZ",
        "VpcCidr",
        "SubnetBits",
        "AvailabilityZones",
        "FlowLogRetentionDays",
    )
    is_multi_az = add_multi_az_condition(t)

    vpc = t.add_resource(
        ec2.VPC(
            "Vpc",
            CidrBlock=params["VpcCidr"].ref(),
            EnableDnsHostnames=True,
            EnableDnsSupport=True,
            Tags=tags("vpc"),
        )
    )
    igw = t.add_resource(ec2.InternetGateway("InternetGateway", Tags=tags("igw")))
    attachment = t.add_resource(
        ec2.VPCGatewayAttachment(
            "InternetGatewayAttachment",
            VpcId=vpc.ref(),
            InternetGatewayId=igw.ref(),
        )
    )

    n = settings.az_count
    cidrs = Cidr(params["VpcCidr"].ref(), 2 * n, params["SubnetBits"].ref())
    public, private = _add_subnets(t, settings, vpc, params["AvailabilityZones"], cidrs)
    _add_public_routing(t, vpc, igw, attachment, public)
    nats = _add_nat_gateways(t, settings, public, attachment, is_multi_az)
    _add_private_routing(t, settings, vpc, private, nats, is_multi_az)
    _add_outputs(t, vpc, public, private)
    _add_flow_logs(t, vpc, params["FlowLogRetentionDays"])
    # The gateways that exist in this mode, for the alarms that watch them.
    t.add_output(
        Output(
            "NatGatewayIds",
            Description="NAT gateway IDs that exist in this mode, comma-separated.",
            Value=Join(",", If(is_multi_az, [n.ref() for n in nats], [nats[0].ref()])),
        )
    )
    return t


def _add_subnets(t, settings, vpc, azs, cidrs):
    public, private = [], []
    for i in range(settings.az_count):
        az = Select(i, azs.ref())
        public.append(
            t.add_resource(
                ec2.Subnet(
                    f"PublicSubnet{i + 1}",
                    VpcId=vpc.ref(),
                    AvailabilityZone=az,
                    CidrBlock=Select(i, cidrs),
                    # Only the load balancer and NAT gateways live here; both get their
                    # addresses explicitly, so nothing is given a public IP by default.
                    MapPublicIpOnLaunch=False,
                    Tags=tags(f"public-{i + 1}", Tier="public"),
                )
            )
        )
        private.append(
            t.add_resource(
                ec2.Subnet(
                    f"PrivateSubnet{i + 1}",
                    VpcId=vpc.ref(),
                    AvailabilityZone=az,
                    CidrBlock=Select(settings.az_count + i, cidrs),
                    MapPublicIpOnLaunch=False,
                    Tags=tags(f"private-{i + 1}", Tier="private"),
                )
            )
        )
    return public, private


def _add_public_routing(t, vpc, igw, attachment, public):
    table = t.add_resource(ec2.RouteTable("PublicRouteTable", VpcId=vpc.ref(), Tags=tags("public-rt")))
    t.add_resource(
        ec2.Route(
            "PublicDefaultRoute",
            RouteTableId=table.ref(),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=igw.ref(),
            DependsOn=attachment.title,
        )
    )
    for i, subnet in enumerate(public, start=1):
        t.add_resource(
            ec2.SubnetRouteTableAssociation(
                f"PublicSubnet{i}RouteTableAssociation",
                SubnetId=subnet.ref(),
                RouteTableId=table.ref(),
            )
        )


def _add_nat_gateways(t, settings, public, attachment, is_multi_az):
    """NAT gateway 1 always; 2..n only in multi-AZ mode."""
    nats = []
    for i in range(1, settings.az_count + 1):
        condition = None if i == 1 else is_multi_az
        extra = {"Condition": condition} if condition else {}
        eip = t.add_resource(
            ec2.EIP(
                f"NatGateway{i}Eip",
                Domain="vpc",
                DependsOn=attachment.title,
                Tags=tags(f"nat-{i}-eip"),
                **extra,
            )
        )
        nats.append(
            t.add_resource(
                ec2.NatGateway(
                    f"NatGateway{i}",
                    AllocationId=eip.get_att("AllocationId"),
                    SubnetId=public[i - 1].ref(),
                    Tags=tags(f"nat-{i}"),
                    **extra,
                )
            )
        )
    return nats


def _add_private_routing(t, settings, vpc, private, nats, is_multi_az):
    for i, subnet in enumerate(private, start=1):
        table = t.add_resource(
            ec2.RouteTable(
                f"PrivateRouteTable{i}",
                VpcId=vpc.ref(),
                Tags=tags(f"private-rt-{i}"),
            )
        )
        # In cost mode every private subnet leaves through NAT gateway 1; in
        # multi-AZ mode each through the gateway in its own AZ, so losing an
        # AZ does not cut the others off.
        nat = nats[0].ref() if i == 1 else If(is_multi_az, nats[i - 1].ref(), nats[0].ref())
        t.add_resource(
            ec2.Route(
                f"PrivateDefaultRoute{i}",
                RouteTableId=table.ref(),
                DestinationCidrBlock="0.0.0.0/0",
                NatGatewayId=nat,
            )
        )
        t.add_resource(
            ec2.SubnetRouteTableAssociation(
                f"PrivateSubnet{i}RouteTableAssociation",
                SubnetId=subnet.ref(),
                RouteTableId=table.ref(),
            )
        )


def _add_outputs(t, vpc, public, private):
    t.add_output(Output("VpcId", Description="ID of the VPC.", Value=vpc.ref()))
    t.add_output(Output("VpcCidr", Description="CIDR block of the VPC.", Value=vpc.get_att("CidrBlock")))
    t.add_output(
        Output(
            "PublicSubnetIds",
            Description="Public subnet IDs, comma-separated, in AZ order.",
            Value=Join(",", [s.ref() for s in public]),
        )
    )
    t.add_output(
        Output(
            "PrivateSubnetIds",
            Description="Private subnet IDs, comma-separated, in AZ order.",
            Value=Join(",", [s.ref() for s in private]),
        )
    )


def _add_flow_logs(t, vpc, retention):
    """Every accepted and rejected flow of the VPC to a log group the stack
    owns, delivered by a role that can write to that group only."""
    group = t.add_resource(
        logs.LogGroup(
            "FlowLogGroup",
            RetentionInDays=retention.ref(),
            Tags=tags("flow-logs"),
            # Audit records outlive the stack. Unnamed (CloudFormation names it),
            # so a retained group never collides with a re-created stack's.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            Metadata={"checkov": {"skip": [LOG_GROUP_KMS_SKIP]}},
        )
    )
    role = t.add_resource(
        iam.Role(
            "FlowLogRole",
            RoleName=name("flow-logs-role"),
            Description=Sub("Wealist ${Environment} VPC flow logs: delivery to their own log group only"),
            AssumeRolePolicyDocument=flow_log_trust(),
            # The service role may create roles only with it (stacks/iam.py).
            PermissionsBoundary=boundary_arn(),
            Policies=[
                iam.Policy(PolicyName="deliver-flow-logs", PolicyDocument=flow_log_delivery(group.get_att("Arn")))
            ],
            Tags=tags("flow-logs-role"),
        )
    )
    t.add_resource(
        ec2.FlowLog(
            "VpcFlowLog",
            ResourceType="VPC",
            ResourceId=vpc.ref(),
            TrafficType="ALL",
            # Ten-minute records (the default, written out): one-minute records
            # would multiply the ingested volume, and its cost, for long flows.
            MaxAggregationInterval=600,
            LogDestinationType="cloud-watch-logs",
            LogGroupName=group.ref(),
            DeliverLogsPermissionArn=role.get_att("Arn"),
            Tags=tags("flow-log"),
        )
    )
    t.add_output(
        Output("FlowLogGroupName", Description="CloudWatch Logs group holding the VPC flow logs.", Value=group.ref())
    )


def flow_log_trust() -> PolicyDocument:
    """Only the flow-logs service may take the role, and only for a flow log
    of this account in this region: the confused-deputy conditions the VPC
    user guide recommends ("IAM role for publishing flow logs to CloudWatch
    Logs", https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html).
    The flow log's ID is not known before the role exists, so its ARN is
    matched up to the ID, as the guide allows."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Service", FLOW_LOGS_SERVICE),
                Action=[awacs.sts.AssumeRole],
                Condition=Condition(
                    [
                        StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}")),
                        ArnLike(
                            "aws:SourceArn",
                            Sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:vpc-flow-log/*"),
                        ),
                    ]
                ),
            )
        ],
    )


def flow_log_delivery(group_arn) -> PolicyDocument:
    """What the flow-logs service calls to deliver into ``group_arn`` (the
    group's ``Arn`` attribute, which ends in ``:*`` and so covers its
    streams). The user guide's example also lists CreateLogGroup and
    DescribeLogGroups on "*": the group is made by this stack, so neither is
    granted, and nothing reaches another group."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="DeliverToFlowLogGroup",
                Effect=Allow,
                Action=[
                    awacs.logs.CreateLogStream,  # one stream per network interface
                    awacs.logs.PutLogEvents,  # the flow records themselves
                    awacs.logs.DescribeLogStreams,  # finds a stream before it writes to it
                ],
                Resource=[group_arn],
            )
        ],
    )
