"""Security groups: ALB, EC2, RDS and Redis, each open only to the tier in
front of it. No SSH anywhere: instances are reached through Session Manager."""

from __future__ import annotations

from troposphere import Output, Template, ec2

from wealist_cfn.core.parameters import add_parameters
from wealist_cfn.core.settings import BuildSettings

from .common import add_inputs, new_template, tags

# Security groups without an egress rule get AWS's allow-all; RDS and Redis
# never open connections, so they get this single rule instead, which
# matches no traffic.
NO_EGRESS = [
    ec2.SecurityGroupRule(
        IpProtocol="icmp", FromPort=252, ToPort=86, CidrIp="255.255.255.255/32", Description="no outbound traffic"
    )
]


def build(settings: BuildSettings) -> Template:
    t = new_template("Wealist security groups: ALB, EC2, RDS and Redis.")
    p = add_parameters(t, "Project", "Environment", "VpcCidr", "UserServicePort", "BoardServicePort")
    vpc_id = add_inputs(t, "VpcId")["VpcId"]
    vpc_cidr = p["VpcCidr"]

    alb = t.add_resource(
        ec2.SecurityGroup(
            "AlbSecurityGroup",
            GroupDescription="Wealist ALB: HTTP and HTTPS from the internet",
            VpcId=vpc_id.ref(),
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=80,
                    ToPort=80,
                    CidrIp="0.0.0.0/0",
                    Description="HTTP from anywhere (redirected to HTTPS when a certificate is set)",
                ),
                ec2.SecurityGroupRule(
                    IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp="0.0.0.0/0", Description="HTTPS from anywhere"
                ),
            ],
            # The ALB only ever talks to targets inside the VPC.
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=0,
                    ToPort=65535,
                    CidrIp=vpc_cidr.ref(),
                    Description="to targets in the VPC",
                )
            ],
            Tags=tags("alb-sg"),
            Metadata={
                "checkov": {
                    "skip": [
                        {
                            "id": "CKV_AWS_260",
                            "comment": "Port 80 must be reachable from the internet: it serves or redirects the "
                            "public site.",
                        }
                    ]
                }
            },
        )
    )
    ec2_sg = t.add_resource(
        ec2.SecurityGroup(
            "Ec2SecurityGroup",
            GroupDescription="Wealist instances: service ports from the ALB, scrapes from monitoring",
            VpcId=vpc_id.ref(),
            # Explicit egress replaces AWS's allow-all. Everything the instances
            # call outside the VPC is HTTPS: dnf (Amazon Linux 2023's repositories
            # are served over HTTPS from S3), the Compose download from GitHub,
            # ECR, Docker Hub, Parameter Store, S3, EC2's API for Prometheus'
            # discovery. No boot step uses plain HTTP, so port 80 stays closed.
            # DNS, NTP and instance metadata go to link-local addresses that
            # security groups do not filter.
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=443,
                    ToPort=443,
                    CidrIp="0.0.0.0/0",
                    Description="HTTPS to AWS APIs, package repositories, ECR, Docker Hub and GitHub",
                )
            ],
            Tags=tags("ec2-sg"),
        )
    )
    rds = t.add_resource(
        ec2.SecurityGroup(
            "RdsSecurityGroup",
            GroupDescription="Wealist PostgreSQL: 5432 from the instances only",
            VpcId=vpc_id.ref(),
            SecurityGroupEgress=NO_EGRESS,
            Tags=tags("rds-sg"),
        )
    )
    redis = t.add_resource(
        ec2.SecurityGroup(
            "RedisSecurityGroup",
            GroupDescription="Wealist Redis: 6379 from the instances only",
            VpcId=vpc_id.ref(),
            SecurityGroupEgress=NO_EGRESS,
            Tags=tags("redis-sg"),
        )
    )

    from_alb = [
        ("UserService", p["UserServicePort"].ref(), "user-service from the ALB"),
        ("BoardService", p["BoardServicePort"].ref(), "board-service from the ALB"),
        ("Grafana", settings.grafana_port, "Grafana from the ALB"),
        ("Prometheus", settings.prometheus_port, "Prometheus from the ALB"),
    ]
    for key, port, why in from_alb:
        t.add_resource(
            ec2.SecurityGroupIngress(
                f"Ec2{key}FromAlbIngress",
                GroupId=ec2_sg.ref(),
                IpProtocol="tcp",
                FromPort=port,
                ToPort=port,
                SourceSecurityGroupId=alb.ref(),
                Description=why,
            )
        )
    # Prometheus runs on the monitoring instance, in the same group as the
    # backends it scrapes: the services' metrics and node-exporter.
    self_scrapes = [
        ("UserService", p["UserServicePort"].ref(), "user-service metrics scraped by Prometheus"),
        ("BoardService", p["BoardServicePort"].ref(), "board-service metrics scraped by Prometheus"),
        ("NodeExporter", settings.node_exporter_port, "node-exporter scraped by Prometheus"),
    ]
    for key, port, why in self_scrapes:
        t.add_resource(
            ec2.SecurityGroupIngress(
                f"Ec2{key}ScrapeIngress",
                GroupId=ec2_sg.ref(),
                IpProtocol="tcp",
                FromPort=port,
                ToPort=port,
                SourceSecurityGroupId=ec2_sg.ref(),
                Description=why,
            )
        )
    # To the database and the cache groups only (separate resources: the
    # scrape rule names the group itself).
    to_groups = [
        ("Database", rds, settings.postgres_port, "PostgreSQL on the database, the services and db-init"),
        ("Redis", redis, settings.redis_port, "Redis on the cache, the services"),
        *(
            (f"{key}Scrape", ec2_sg, port, f"Prometheus scraping {why.split(' scraped')[0]} in the VPC")
            for key, port, why in self_scrapes
        ),
    ]
    for key, group, port, why in to_groups:
        t.add_resource(
            ec2.SecurityGroupEgress(
                f"Ec2To{key}Egress",
                GroupId=ec2_sg.ref(),
                IpProtocol="tcp",
                FromPort=port,
                ToPort=port,
                DestinationSecurityGroupId=group.ref(),
                Description=why,
            )
        )
    t.add_resource(
        ec2.SecurityGroupIngress(
            "RdsFromEc2Ingress",
            GroupId=rds.ref(),
            IpProtocol="tcp",
            FromPort=settings.postgres_port,
            ToPort=settings.postgres_port,
            SourceSecurityGroupId=ec2_sg.ref(),
            Description="PostgreSQL from the instances",
        )
    )
    t.add_resource(
        ec2.SecurityGroupIngress(
            "RedisFromEc2Ingress",
            GroupId=redis.ref(),
            IpProtocol="tcp",
            FromPort=settings.redis_port,
            ToPort=settings.redis_port,
            SourceSecurityGroupId=ec2_sg.ref(),
            Description="Redis from the instances",
        )
    )

    for sg, key, what in (
        (alb, "Alb", "the load balancer"),
        (ec2_sg, "Ec2", "the instances"),
        (rds, "Rds", "the database"),
        (redis, "Redis", "the cache"),
    ):
        t.add_output(Output(f"{key}SecurityGroupId", Description=f"Security group of {what}.", Value=sg.ref()))
    return t
