"""Network: the VPC, three public and three private subnets, the internet
gateway and the NAT gateways (one shared in cost mode, one per AZ in
multi-AZ mode).

Each private subnet has a route table of its own in both modes; the switch
only changes which NAT gateway its default route points at, which is an
in-place update of the route and never touches a subnet.
"""

from __future__ import annotations

from troposphere import Cidr, If, Join, Output, Select, Template, ec2

from ..parameters import add_parameters
from ..settings import BuildSettings
from .common import add_multi_az_condition, new_template, tags


def build(settings: BuildSettings) -> Template:
    t = new_template("Wealist network: VPC, public and private subnets in each AZ, internet and NAT gateways.")
    params = add_parameters(t, "Project", "Environment", "EnableMultiAZ", "VpcCidr", "SubnetBits",
                            "AvailabilityZones")
    is_multi_az = add_multi_az_condition(t)

    vpc = t.add_resource(ec2.VPC(
        "Vpc", CidrBlock=params["VpcCidr"].ref(), EnableDnsHostnames=True, EnableDnsSupport=True,
        Tags=tags("vpc"),
    ))
    igw = t.add_resource(ec2.InternetGateway("InternetGateway", Tags=tags("igw")))
    attachment = t.add_resource(ec2.VPCGatewayAttachment(
        "InternetGatewayAttachment", VpcId=vpc.ref(), InternetGatewayId=igw.ref(),
    ))

    n = settings.az_count
    cidrs = Cidr(params["VpcCidr"].ref(), 2 * n, params["SubnetBits"].ref())
    public, private = _add_subnets(t, settings, vpc, params["AvailabilityZones"], cidrs)
    _add_public_routing(t, vpc, igw, attachment, public)
    nats = _add_nat_gateways(t, settings, public, attachment, is_multi_az)
    _add_private_routing(t, settings, vpc, private, nats, is_multi_az)
    _add_outputs(t, vpc, public, private)
    # The gateways that exist in this mode, for the alarms that watch them.
    t.add_output(Output("NatGatewayIds", Description="NAT gateway IDs that exist in this mode, comma-separated.",
                        Value=Join(",", If(is_multi_az, [n.ref() for n in nats], [nats[0].ref()]))))
    return t


def _add_subnets(t, settings, vpc, azs, cidrs):
    public, private = [], []
    for i in range(settings.az_count):
        az = Select(i, azs.ref())
        public.append(t.add_resource(ec2.Subnet(
            f"PublicSubnet{i + 1}", VpcId=vpc.ref(), AvailabilityZone=az, CidrBlock=Select(i, cidrs),
            # Only the load balancer and NAT gateways live here; both get their
            # addresses explicitly, so nothing is given a public IP by default.
            MapPublicIpOnLaunch=False,
            Tags=tags(f"public-{i + 1}", Tier="public"),
        )))
        private.append(t.add_resource(ec2.Subnet(
            f"PrivateSubnet{i + 1}", VpcId=vpc.ref(), AvailabilityZone=az,
            CidrBlock=Select(settings.az_count + i, cidrs), MapPublicIpOnLaunch=False,
            Tags=tags(f"private-{i + 1}", Tier="private"),
        )))
    return public, private


def _add_public_routing(t, vpc, igw, attachment, public):
    table = t.add_resource(ec2.RouteTable("PublicRouteTable", VpcId=vpc.ref(), Tags=tags("public-rt")))
    t.add_resource(ec2.Route(
        "PublicDefaultRoute", RouteTableId=table.ref(), DestinationCidrBlock="0.0.0.0/0",
        GatewayId=igw.ref(), DependsOn=attachment.title,
    ))
    for i, subnet in enumerate(public, start=1):
        t.add_resource(ec2.SubnetRouteTableAssociation(
            f"PublicSubnet{i}RouteTableAssociation", SubnetId=subnet.ref(), RouteTableId=table.ref(),
        ))


def _add_nat_gateways(t, settings, public, attachment, is_multi_az):
    """NAT gateway 1 always; 2..n only in multi-AZ mode."""
    nats = []
    for i in range(1, settings.az_count + 1):
        condition = None if i == 1 else is_multi_az
        extra = {"Condition": condition} if condition else {}
        eip = t.add_resource(ec2.EIP(
            f"NatGateway{i}Eip", Domain="vpc", DependsOn=attachment.title, Tags=tags(f"nat-{i}-eip"), **extra,
        ))
        nats.append(t.add_resource(ec2.NatGateway(
            f"NatGateway{i}", AllocationId=eip.get_att("AllocationId"), SubnetId=public[i - 1].ref(),
            Tags=tags(f"nat-{i}"), **extra,
        )))
    return nats


def _add_private_routing(t, settings, vpc, private, nats, is_multi_az):
    for i, subnet in enumerate(private, start=1):
        table = t.add_resource(ec2.RouteTable(
            f"PrivateRouteTable{i}", VpcId=vpc.ref(), Tags=tags(f"private-rt-{i}"),
        ))
        # In cost mode every private subnet leaves through NAT gateway 1; in
        # multi-AZ mode each through the gateway in its own AZ, so losing an
        # AZ does not cut the others off.
        nat = nats[0].ref() if i == 1 else If(is_multi_az, nats[i - 1].ref(), nats[0].ref())
        t.add_resource(ec2.Route(
            f"PrivateDefaultRoute{i}", RouteTableId=table.ref(), DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat,
        ))
        t.add_resource(ec2.SubnetRouteTableAssociation(
            f"PrivateSubnet{i}RouteTableAssociation", SubnetId=subnet.ref(), RouteTableId=table.ref(),
        ))


def _add_outputs(t, vpc, public, private):
    t.add_output(Output("VpcId", Description="ID of the VPC.", Value=vpc.ref()))
    t.add_output(Output("VpcCidr", Description="CIDR block of the VPC.", Value=vpc.get_att("CidrBlock")))
    t.add_output(Output("PublicSubnetIds", Description="Public subnet IDs, comma-separated, in AZ order.",
                        Value=Join(",", [s.ref() for s in public])))
    t.add_output(Output("PrivateSubnetIds", Description="Private subnet IDs, comma-separated, in AZ order.",
                        Value=Join(",", [s.ref() for s in private])))
