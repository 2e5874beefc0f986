"""The nested set, resolved for each mode, against the SPEC's resource table.

Pure template evaluation (tests/cfnmodel.py): no AWS endpoint involved.
"""

from __future__ import annotations

import ipaddress
import json
import re

import pytest

from wealist_cfn import config
from wealist_cfn.cfn.model import all_resources, count_by_type, resolve
from wealist_cfn.core.settings import DEFAULT_SETTINGS
from wealist_cfn.stacks import compute, root, synth

CERT = "arn:aws:acm:ap-northeast-2:123456789012:certificate/12345678-1234-1234-1234-123456789012"


@pytest.fixture(scope="module")
def prod():
    return config.load("params/prod.json")


def _stacks(cfg, **overrides):
    return resolve(cfg.with_values(**overrides).values, region=cfg.region)


@pytest.fixture(scope="module")
def single(prod):
    return _stacks(prod, EnableMultiAZ="false")


@pytest.fixture(scope="module")
def multi(prod):
    return _stacks(prod, EnableMultiAZ="true")


def _one(stacks, type_):
    found = [(k, v["Properties"]) for k, v in all_resources(stacks).items() if v["Type"] == type_]
    assert len(found) == 1, f"expected one {type_}, found {[k for k, _ in found]}"
    return found[0][1]


# --- the SPEC table, row by row, in cost mode -------------------------------------------------


def test_network_rows(single, prod):
    counts = count_by_type(single)
    assert counts["AWS::EC2::VPC"] == 1
    assert _one(single, "AWS::EC2::VPC")["CidrBlock"] == "10.1.0.0/16"
    assert counts["AWS::EC2::Subnet"] == 6
    assert counts["AWS::EC2::InternetGateway"] == 1
    assert counts["AWS::EC2::NatGateway"] == 1

    net = single["NetworkStack"]
    azs = prod.availability_zones
    public = [net.resources[f"PublicSubnet{i}"]["Properties"] for i in (1, 2, 3)]
    private = [net.resources[f"PrivateSubnet{i}"]["Properties"] for i in (1, 2, 3)]
    assert [s["AvailabilityZone"] for s in public] == azs
    assert [s["AvailabilityZone"] for s in private] == azs
    blocks = [ipaddress.IPv4Network(s["CidrBlock"]) for s in public + private]
    vpc = ipaddress.IPv4Network("10.1.0.0/16")
    assert all(b.subnet_of(vpc) for b in blocks)
    assert all(not a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])
    # The one NAT gateway sits in the first AZ's public subnet and every
    # private subnet routes through it.
    assert net.resources["NatGateway1"]["Properties"]["SubnetId"] == "NetworkStack/PublicSubnet1"
    routes = [net.resources[f"PrivateDefaultRoute{i}"]["Properties"] for i in (1, 2, 3)]
    assert {r["NatGatewayId"] for r in routes} == {"NetworkStack/NatGateway1"}
    public_route = net.resources["PublicDefaultRoute"]["Properties"]
    assert public_route["GatewayId"] == "NetworkStack/InternetGateway"


def test_compute_rows(single):
    comp = single["ComputeStack"]
    backend = comp.resources["BackendAutoScalingGroup"]["Properties"]
    monitoring = comp.resources["MonitoringAutoScalingGroup"]["Properties"]
    assert backend["AutoScalingGroupName"] == "wealist-prod-backend-asg"
    assert (backend["MinSize"], backend["MaxSize"]) == ("2", "6")
    assert (monitoring["MinSize"], monitoring["MaxSize"]) == ("1", "1")
    lts = {k: v["Properties"]["LaunchTemplateData"] for k, v in comp.of_type("AWS::EC2::LaunchTemplate").items()}
    assert lts["BackendLaunchTemplate"]["InstanceType"] == "t3.medium"
    assert lts["MonitoringLaunchTemplate"]["InstanceType"] == "t3.small"
    assert backend["LaunchTemplate"]["LaunchTemplateId"] == "ComputeStack/BackendLaunchTemplate"
    assert monitoring["LaunchTemplate"]["LaunchTemplateId"] == "ComputeStack/MonitoringLaunchTemplate"
    assert count_by_type(single)["AWS::AutoScaling::AutoScalingGroup"] == 2
    policy = _one(single, "AWS::AutoScaling::ScalingPolicy")
    assert policy["AutoScalingGroupName"] == "ComputeStack/BackendAutoScalingGroup"
    assert policy["PolicyType"] == "TargetTrackingScaling"
    roles = {k: v["Properties"]["RoleName"] for k, v in single["IamStack"].of_type("AWS::IAM::Role").items()}
    assert roles == {"Ec2Role": "wealist-prod-ec2-role", "MonitoringRole": "wealist-prod-monitoring-role"}


def test_instances_are_private_hardened_and_self_healing(single):
    comp = single["ComputeStack"]
    private = "NetworkStack/PrivateSubnet1,NetworkStack/PrivateSubnet2,NetworkStack/PrivateSubnet3".split(",")
    for asg in comp.of_type("AWS::AutoScaling::AutoScalingGroup").values():
        assert asg["Properties"]["VPCZoneIdentifier"] == private
    # The backend is replaced when its targets fail once every service is
    # released (before that, EC2 checks: tests/local/test_release_health.py);
    # the monitoring instance only when the instance itself does (a target
    # check must not cost the metrics history).
    raw = json.loads(compute.build(DEFAULT_SETTINGS).to_json())["Resources"]["BackendAutoScalingGroup"]
    assert raw["Properties"]["HealthCheckType"] == {"Ref": "BackendHealthCheckType"}
    assert comp.resources["MonitoringAutoScalingGroup"]["Properties"]["HealthCheckType"] == "EC2"
    profiles = {
        "BackendLaunchTemplate": "IamStack/Ec2InstanceProfile.Arn",
        "MonitoringLaunchTemplate": "IamStack/MonitoringInstanceProfile.Arn",
    }
    # Hop limit 1: no backend container reaches the instance's credentials;
    # Prometheus's EC2 discovery needs them from its container (2).
    hops = {"BackendLaunchTemplate": 1, "MonitoringLaunchTemplate": 2}
    for key, lt in comp.of_type("AWS::EC2::LaunchTemplate").items():
        data = lt["Properties"]["LaunchTemplateData"]
        assert data["IamInstanceProfile"]["Arn"] == profiles[key]
        assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == hops[key]
        assert data["MetadataOptions"]["HttpTokens"] == "required"
        assert data["NetworkInterfaces"][0]["AssociatePublicIpAddress"] is False
        assert data["NetworkInterfaces"][0]["Groups"] == ["SecurityStack/Ec2SecurityGroup"]
        ebs = data["BlockDeviceMappings"][0]["Ebs"]
        assert (ebs["VolumeType"], ebs["Encrypted"]) == ("gp3", True)
    # AWS's public parameter for the latest Amazon Linux 2023 AMI, x86_64 to
    # match the t3 instance types (documented in "Query for the latest Amazon
    # Linux AMI IDs using Systems Manager Parameter Store").
    assert comp.params["ImageId"] == "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    assert comp.template["Parameters"]["ImageId"]["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    # Backend instances serve user and board; monitoring serves Grafana and Prometheus.
    backend = comp.resources["BackendAutoScalingGroup"]["Properties"]["TargetGroupARNs"]
    monitoring = comp.resources["MonitoringAutoScalingGroup"]["Properties"]["TargetGroupARNs"]
    assert backend == ["LoadBalancerStack/UserServiceTargetGroup", "LoadBalancerStack/BoardServiceTargetGroup"]
    assert monitoring == ["LoadBalancerStack/GrafanaTargetGroup", "LoadBalancerStack/PrometheusTargetGroup"]


def test_database_row(single):
    db = _one(single, "AWS::RDS::DBInstance")
    assert (db["Engine"], db["DBInstanceClass"], db["AllocatedStorage"]) == ("postgres", "db.t3.micro", "20")
    assert db["MultiAZ"] is False
    assert db["StorageEncrypted"] is True and db["StorageType"] == "gp3"
    assert db["PubliclyAccessible"] is False
    assert db["DeletionProtection"] == "true"
    assert int(db["BackupRetentionPeriod"]) >= 1
    assert db["MasterUsername"] == "{{resolve:ssm:/wealist/prod/db/postgres_superuser}}"
    assert db["MasterUserPassword"] == "{{resolve:ssm-secure:/wealist/prod/db/postgres_superuser_password}}"
    group = single["DatabaseStack"].resources["DbSubnetGroup"]["Properties"]
    assert group["SubnetIds"] == [f"NetworkStack/PrivateSubnet{i}" for i in (1, 2, 3)]
    raw = single["DatabaseStack"].template["Resources"]["Database"]
    assert raw["DeletionPolicy"] == raw["UpdateReplacePolicy"] == "Snapshot"
    # Its exports' log groups, with the names RDS uses, made before it.
    groups = single["DatabaseStack"].of_type("AWS::Logs::LogGroup")
    assert {g["Properties"]["LogGroupName"]: g["Properties"]["RetentionInDays"] for g in groups.values()} == {
        "/aws/rds/instance/wealist-prod-postgres/postgresql": "90",
        "/aws/rds/instance/wealist-prod-postgres/upgrade": "90",
    }
    assert sorted(raw["DependsOn"]) == sorted(groups) == ["DatabasePostgresqlLogGroup", "DatabaseUpgradeLogGroup"]
    assert {g["DeletionPolicy"] for g in groups.values()} == {"Delete"}


def test_cache_row(single):
    redis = _one(single, "AWS::ElastiCache::ReplicationGroup")
    assert redis["CacheNodeType"] == "cache.t3.micro"
    assert redis["NumCacheClusters"] == 1
    assert redis["AutomaticFailoverEnabled"] is False
    assert redis["AtRestEncryptionEnabled"] is True and redis["TransitEncryptionEnabled"] is True
    assert redis["AuthToken"].startswith("{{resolve:ssm-secure:/wealist/prod/")
    assert int(redis["SnapshotRetentionLimit"]) >= 1
    group = single["CacheStack"].resources["CacheSubnetGroup"]["Properties"]
    assert group["SubnetIds"] == [f"NetworkStack/PrivateSubnet{i}" for i in (1, 2, 3)]


def test_load_balancer_rows(single, prod):
    counts = count_by_type(single)
    assert counts["AWS::ElasticLoadBalancingV2::LoadBalancer"] == 1
    assert counts["AWS::ElasticLoadBalancingV2::TargetGroup"] == 4
    alb = _one(single, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert alb["Scheme"] == "internet-facing"
    assert alb["Subnets"] == [f"NetworkStack/PublicSubnet{i}" for i in (1, 2, 3)]
    attrs = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attrs["routing.http.drop_invalid_header_fields.enabled"] == "true"

    lb = single["LoadBalancerStack"]
    ports = {k: v["Properties"]["Port"] for k, v in lb.of_type("AWS::ElasticLoadBalancingV2::TargetGroup").items()}
    assert ports == {
        "UserServiceTargetGroup": "8081",
        "BoardServiceTargetGroup": "8000",
        "GrafanaTargetGroup": 3000,
        "PrometheusTargetGroup": 9090,
    }  # the SPEC's ports

    # Without a certificate: HTTP only, serving the rules.
    listeners = lb.of_type("AWS::ElasticLoadBalancingV2::Listener")
    assert [v["Properties"]["Port"] for v in listeners.values()] == [80]
    rules = lb.of_type("AWS::ElasticLoadBalancingV2::ListenerRule")
    assert {r["Properties"]["ListenerArn"] for r in rules.values()} == {"LoadBalancerStack/HttpListener"}
    targets = {r["Properties"]["Actions"][0]["TargetGroupArn"] for r in rules.values()}
    assert targets == {f"LoadBalancerStack/{k}" for k in ports}


def test_https_listener_when_certificate_is_set(prod):
    stacks = _stacks(prod, CertificateArn=CERT)
    lb = stacks["LoadBalancerStack"]
    listeners = {
        v["Properties"]["Port"]: v["Properties"] for v in lb.of_type("AWS::ElasticLoadBalancingV2::Listener").values()
    }
    assert set(listeners) == {80, 443}  # the SPEC's two listeners
    assert listeners[80]["DefaultActions"][0]["Type"] == "redirect"
    assert listeners[80]["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    assert listeners[443]["Certificates"] == [{"CertificateArn": CERT}]
    assert "TLS13" in listeners[443]["SslPolicy"]
    rules = lb.of_type("AWS::ElasticLoadBalancingV2::ListenerRule")
    assert {r["Properties"]["ListenerArn"] for r in rules.values()} == {"LoadBalancerStack/HttpsListener"}
    assert stacks["Root"].outputs["ServiceUrl"].startswith("https://")


def test_security_group_rows(single):
    assert count_by_type(single)["AWS::EC2::SecurityGroup"] == 4
    sec = single["SecurityStack"]
    alb_in = sec.resources["AlbSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert sorted((r["FromPort"], r["CidrIp"]) for r in alb_in) == [(80, "0.0.0.0/0"), (443, "0.0.0.0/0")]
    sources = {}
    for rule in sec.of_type("AWS::EC2::SecurityGroupIngress").values():
        p = rule["Properties"]
        assert "CidrIp" not in p, "instances, database and cache take traffic from groups only"
        sources.setdefault(p["GroupId"], set()).add((int(p["FromPort"]), p["SourceSecurityGroupId"]))
    ec2_sg, alb_sg = "SecurityStack/Ec2SecurityGroup", "SecurityStack/AlbSecurityGroup"
    assert sources["SecurityStack/RdsSecurityGroup"] == {(5432, ec2_sg)}
    assert sources["SecurityStack/RedisSecurityGroup"] == {(6379, ec2_sg)}
    assert {src for _, src in sources[ec2_sg]} == {alb_sg, ec2_sg}
    assert {port for port, src in sources[ec2_sg] if src == alb_sg} == {8081, 8000, 3000, 9090}


def test_no_ssh_anywhere(single):
    for res in all_resources(single).values():
        rules = []
        if res["Type"] == "AWS::EC2::SecurityGroup":
            rules = res["Properties"].get("SecurityGroupIngress", [])
        elif res["Type"] == "AWS::EC2::SecurityGroupIngress":
            rules = [res["Properties"]]
        for r in rules:
            assert not int(r["FromPort"]) <= 22 <= int(r["ToPort"]), res


def test_registry_rows(single):
    repos = {
        v["Properties"]["RepositoryName"]: v
        for v in all_resources(single).values()
        if v["Type"] == "AWS::ECR::Repository"
    }
    assert set(repos) == {"board-service", "user-service"}
    for repo in repos.values():
        assert repo["Properties"]["ImageScanningConfiguration"]["ScanOnPush"] is True
        assert json.loads(repo["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
        assert (repo["DeletionPolicy"], repo["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")


# --- the switch -------------------------------------------------------------------------------


def _flatten(value, prefix=""):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else k))
        return out
    return {prefix: json.dumps(value, sort_keys=True)}


def test_switch_flips_exactly_what_it_should(single, multi):
    a, b = all_resources(single), all_resources(multi)
    # The extra NAT gateways and the alarms that watch them (the Redis
    # alarms watch every member in both modes).
    assert set(b) - set(a) == {
        "NetworkStack/NatGateway2",
        "NetworkStack/NatGateway3",
        "NetworkStack/NatGateway2Eip",
        "NetworkStack/NatGateway3Eip",
        *(f"AlarmsStack/NatGateway{i}{kind}Alarm" for i in (2, 3) for kind in ("PortAllocation", "PacketsDropped")),
    }
    assert set(a) - set(b) == set()
    changed = set()
    for key in a:
        fa, fb = _flatten(a[key]["Properties"]), _flatten(b[key]["Properties"])
        changed |= {f"{key}:{p}" for p in set(fa) | set(fb) if fa.get(p) != fb.get(p)}
    assert changed == {
        "DatabaseStack/Database:MultiAZ",
        "CacheStack/Redis:NumCacheClusters",
        "CacheStack/Redis:AutomaticFailoverEnabled",
        "CacheStack/Redis:MultiAZEnabled",
        "NetworkStack/PrivateDefaultRoute2:NatGatewayId",
        "NetworkStack/PrivateDefaultRoute3:NatGatewayId",
        # The alarms dashboard graphs the alarms of the mode.
        "AlarmsStack/AlarmsDashboard:DashboardBody",
    }


def test_multi_az_mode(multi):
    db = _one(multi, "AWS::RDS::DBInstance")
    assert db["MultiAZ"] is True
    redis = _one(multi, "AWS::ElastiCache::ReplicationGroup")
    assert redis["NumCacheClusters"] == 2
    assert redis["AutomaticFailoverEnabled"] is True and redis["MultiAZEnabled"] is True
    net = multi["NetworkStack"]
    assert count_by_type(multi)["AWS::EC2::NatGateway"] == 3
    for i in (1, 2, 3):
        nat = net.resources[f"NatGateway{i}"]["Properties"]
        assert nat["SubnetId"] == f"NetworkStack/PublicSubnet{i}"
        # Each private subnet leaves through the NAT gateway of its own AZ,
        # over a route table of its own.
        route = net.resources[f"PrivateDefaultRoute{i}"]["Properties"]
        assert route["NatGatewayId"] == f"NetworkStack/NatGateway{i}"
        assoc = net.resources[f"PrivateSubnet{i}RouteTableAssociation"]["Properties"]
        assert assoc["RouteTableId"] == route["RouteTableId"] == f"NetworkStack/PrivateRouteTable{i}"
        assert (
            net.resources[f"PublicSubnet{i}"]["Properties"]["AvailabilityZone"]
            == net.resources[f"PrivateSubnet{i}"]["Properties"]["AvailabilityZone"]
        )


def test_switch_is_one_root_parameter_passed_to_children():
    built = {name: t.to_dict() for name, t in root.build_all(DEFAULT_SETTINGS).items()}
    users = {name for name, t in built.items() if "IsMultiAZ" in t.get("Conditions", {})}
    assert users == {"network.yaml", "database.yaml", "cache.yaml", "alarms.yaml"}
    for child_id, filename, _ in root.CHILDREN:
        params = built["root.yaml"]["Resources"][child_id]["Properties"]["Parameters"]
        if filename in users:
            assert params["EnableMultiAZ"] == {"Ref": "EnableMultiAZ"}


# --- a second environment, names, tags, outputs -----------------------------------------------


def test_dev_environment_needs_no_code_change():
    dev = config.load("params/dev.json")
    stacks = resolve(dev.values, region=dev.region)
    assert _one(stacks, "AWS::EC2::VPC")["CidrBlock"] == "10.0.0.0/16"
    for i in (1, 2, 3):
        block = stacks["NetworkStack"].resources[f"PrivateSubnet{i}"]["Properties"]["CidrBlock"]
        assert ipaddress.IPv4Network(block).subnet_of(ipaddress.IPv4Network("10.0.0.0/16"))
    assert stacks["IamStack"].resources["Ec2Role"]["Properties"]["RoleName"] == "wealist-dev-ec2-role"
    assert stacks["IamStack"].resources["MonitoringRole"]["Properties"]["RoleName"] == "wealist-dev-monitoring-role"
    asg = stacks["ComputeStack"].resources["BackendAutoScalingGroup"]["Properties"]
    assert asg["AutoScalingGroupName"] == "wealist-dev-backend-asg"
    repos = {
        v["Properties"]["RepositoryName"] for v in all_resources(stacks).values() if v["Type"] == "AWS::ECR::Repository"
    }
    assert repos == {"dev/user-service", "dev/board-service"}
    db = _one(stacks, "AWS::RDS::DBInstance")
    assert db["MasterUserPassword"] == "{{resolve:ssm-secure:/wealist/dev/db/postgres_superuser_password}}"


def test_everything_taggable_carries_project_and_environment(single):
    untaggable = {
        "AWS::EC2::VPCGatewayAttachment",
        "AWS::EC2::Route",
        "AWS::EC2::SubnetRouteTableAssociation",
        "AWS::EC2::SecurityGroupIngress",
        "AWS::EC2::SecurityGroupEgress",
        "AWS::IAM::InstanceProfile",
        "AWS::AutoScaling::ScalingPolicy",
        "AWS::ElasticLoadBalancingV2::Listener",
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        "AWS::SNS::Subscription",
        "AWS::S3::BucketPolicy",
    }
    for key, res in all_resources(single).items():
        if res["Type"] in untaggable:
            continue
        tags = res["Properties"].get("Tags")
        if res["Type"] == "AWS::EC2::LaunchTemplate":
            tags = res["Properties"]["TagSpecifications"][0]["Tags"]
        assert tags is not None, f"{key} has no tags"
        as_dict = tags if isinstance(tags, dict) else {t["Key"]: t["Value"] for t in tags}
        assert (as_dict.get("Project"), as_dict.get("Environment")) == ("wealist", "prod"), key


def test_logical_ids_are_stable_pascal_case_nouns():
    for name, t in root.build_all(DEFAULT_SETTINGS).items():
        for rid in t.resources:
            assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", rid), (name, rid)
            assert not re.search(r"prod|dev|wealist", rid, re.I), (name, rid)
            numbers = re.findall(r"\d+", rid)
            assert all(1 <= int(n) <= DEFAULT_SETTINGS.az_count for n in numbers), (name, rid)


def test_root_outputs_are_described_and_exported(single):
    root_t = root.build(DEFAULT_SETTINGS).to_dict()
    wanted = {
        "LoadBalancerDnsName",
        "UserServiceRepositoryUri",
        "BoardServiceRepositoryUri",
        "DatabaseEndpoint",
        "RedisEndpoint",
        "BackendAsgName",
        "MonitoringAsgName",
        "VpcId",
        "PublicSubnetIds",
        "PrivateSubnetIds",
    }
    assert wanted <= set(root_t["Outputs"])
    for name, out in root_t["Outputs"].items():
        assert out["Description"]
        assert out["Export"]["Name"] == {"Fn::Sub": f"${{AWS::StackName}}-{name}"}
    outputs = single["Root"].outputs
    assert outputs["DatabaseEndpoint"] == "DatabaseStack/Database.Endpoint.Address"
    assert outputs["BackendAsgName"] == "ComputeStack/BackendAutoScalingGroup"


def test_children_are_referenced_by_relative_path():
    root_t = root.build(DEFAULT_SETTINGS).to_dict()
    stacks = {k: v for k, v in root_t["Resources"].items() if v["Type"] == "AWS::CloudFormation::Stack"}
    assert {v["Properties"]["TemplateURL"] for v in stacks.values()} == {f for _, f, _ in root.CHILDREN}
    rendered = {r.filename for r in synth.synthesize()}
    standalone = {f for f, _ in synth.STANDALONE}
    assert rendered == {"root.yaml"} | {f for _, f, _ in root.CHILDREN} | standalone
    assert not standalone & {v["Properties"]["TemplateURL"] for v in stacks.values()}


def test_missing_wire_fails_the_build(monkeypatch):
    from troposphere import Parameter

    from wealist_cfn.stacks import cache

    original = cache.build

    def with_orphan(settings):
        t = original(settings)
        t.add_parameter(Parameter("NobodyProvidesThis", Type="String"))
        return t

    monkeypatch.setattr(cache, "build", with_orphan)
    with pytest.raises(root.WiringError, match="CacheStack: parameter NobodyProvidesThis"):
        root.build_all(DEFAULT_SETTINGS)


# --- alarms -----------------------------------------------------------------------------------


def _alarms(stacks) -> dict[str, dict]:
    return {k: v["Properties"] for k, v in stacks["AlarmsStack"].of_type("AWS::CloudWatch::Alarm").items()}


def _dim(alarm: dict, name: str):
    metrics = alarm.get("Dimensions") or [
        q["MetricStat"]["Metric"]["Dimensions"][0] for q in alarm["Metrics"] if "MetricStat" in q
    ]
    [value] = {d["Value"] for d in metrics if d["Name"] == name} or {None}
    return value


def test_alarm_count_per_mode(single, multi):
    """Single-AZ: 7 load balancer (two 5xx rates, four target groups, p99),
    4 database, 3 for the Redis group (the worst of its nodes), 2 for the
    one NAT gateway, the backend and the monitoring group in service = 18.
    Multi-AZ adds 2 for each of the two extra NAT gateways = 22."""
    assert count_by_type(single)["AWS::CloudWatch::Alarm"] == 18
    assert count_by_type(multi)["AWS::CloudWatch::Alarm"] == 22


@pytest.mark.parametrize("mode", ["single", "multi"])
def test_nat_alarms_follow_the_nat_gateways(mode, request):
    stacks = request.getfixturevalue(mode)
    gateways = set(stacks["NetworkStack"].of_type("AWS::EC2::NatGateway"))
    watched: dict[str, set] = {}
    for alarm in _alarms(stacks).values():
        if alarm.get("Namespace") == "AWS/NATGateway":
            watched.setdefault(alarm["MetricName"], set()).add(_dim(alarm, "NatGatewayId"))
    assert watched == {m: {f"NetworkStack/{g}" for g in gateways} for m in ("ErrorPortAllocation", "PacketsDropCount")}


@pytest.mark.parametrize("mode", ["single", "multi"])
def test_redis_alarms_watch_every_member_the_group_can_have(mode, request):
    """Members of a replication group are <group>-001, -002, ...
    (ElastiCache's naming of the clusters it creates for NumCacheClusters).
    After a failover and a scale-down the survivor can be -002: in both
    modes each Redis alarm takes the largest value over -001 to -003, so
    whichever nodes exist are watched, and never breaches on missing data
    (a node that is gone publishes nothing)."""
    stacks = request.getfixturevalue(mode)
    redis = _one(stacks, "AWS::ElastiCache::ReplicationGroup")
    assert redis["NumCacheClusters"] <= 3
    watched: dict[str, set] = {}
    for alarm in _alarms(stacks).values():
        for q in alarm.get("Metrics", []):
            metric = q.get("MetricStat", {}).get("Metric", {})
            if metric.get("Namespace") == "AWS/ElastiCache":
                [dim] = metric["Dimensions"]
                watched.setdefault(metric["MetricName"], set()).add(dim["Value"])
        if any(
            "AWS/ElastiCache" == q.get("MetricStat", {}).get("Metric", {}).get("Namespace")
            for q in alarm.get("Metrics", [])
        ):
            [expr] = [q["Expression"] for q in alarm["Metrics"] if "Expression" in q]
            assert expr == "MAX([node1, node2, node3])"
            assert alarm["TreatMissingData"] == "notBreaching"
    members = {f"CacheStack/Redis-{i:03d}" for i in (1, 2, 3)}
    assert watched == {m: members for m in ("EngineCPUUtilization", "DatabaseMemoryUsagePercentage", "Evictions")}


def test_every_alarm_pages_says_what_to_do_and_treats_missing_data_deliberately(multi):
    for key, alarm in _alarms(multi).items():
        assert alarm["AlarmActions"] == alarm["OKActions"] == ["AlarmsStack/AlarmTopic"], key
        # What it means, then what to check first.
        assert re.search(r"\bcheck\b", alarm["AlarmDescription"], re.I), key
        assert alarm["TreatMissingData"] in ("breaching", "notBreaching"), key
        assert alarm["AlarmName"].startswith("wealist-prod-alarm-"), key
    names = [a["AlarmName"] for a in _alarms(multi).values()]
    assert len(names) == len(set(names))


def test_alarms_watch_the_resources_the_stack_made(single):
    alarms = _alarms(single)
    lb = "LoadBalancerStack/LoadBalancer.LoadBalancerFullName"
    groups = {_dim(a, "TargetGroup") for a in alarms.values() if a.get("MetricName") == "UnHealthyHostCount"}
    assert groups == {
        f"LoadBalancerStack/{k}TargetGroup.TargetGroupFullName"
        for k in ("UserService", "BoardService", "Grafana", "Prometheus")
    }
    for key in ("LoadBalancerErrorRateAlarm", "TargetErrorRateAlarm", "TargetResponseTimeAlarm"):
        assert _dim(alarms[key], "LoadBalancer") == lb
    assert alarms["TargetResponseTimeAlarm"]["ExtendedStatistic"] == "p99"
    # A 5xx rate, not a count: errors over requests, absent errors as 0.
    [expr] = [q["Expression"] for q in alarms["TargetErrorRateAlarm"]["Metrics"] if "Expression" in q]
    assert expr == "100 * FILL(errors, 0) / requests"
    assert {
        _dim(alarms[k], "DBInstanceIdentifier")
        for k in ("DatabaseCpuAlarm", "DatabaseFreeStorageAlarm", "DatabaseMemoryAlarm", "DatabaseConnectionsAlarm")
    } == {"DatabaseStack/Database"}
    # FreeStorageSpace is in bytes; the alarm compares it with 20 % of the
    # allocated GiB of this parameter file (20).
    storage = alarms["DatabaseFreeStorageAlarm"]
    [expr] = [q["Expression"] for q in storage["Metrics"] if "Expression" in q]
    assert expr == "100 * free / (20 * 1073741824)"
    assert (storage["ComparisonOperator"], storage["Threshold"]) == ("LessThanThreshold", 20.0)
    backend = alarms["BackendInServiceAlarm"]
    assert backend["Threshold"] == "2"  # BackendMinSize in params/prod.json
    assert _dim(backend, "AutoScalingGroupName") == "ComputeStack/BackendAutoScalingGroup"
    asg = single["ComputeStack"].resources["BackendAutoScalingGroup"]["Properties"]
    assert asg["MetricsCollection"], "GroupInServiceInstances is only published with group metrics enabled"
    monitoring = alarms["MonitoringInServiceAlarm"]
    assert (monitoring["MetricName"], monitoring["Namespace"]) == ("GroupInServiceInstances", "AWS/AutoScaling")
    assert _dim(monitoring, "AutoScalingGroupName") == "ComputeStack/MonitoringAutoScalingGroup"
    assert (monitoring["ComparisonOperator"], monitoring["Threshold"]) == ("LessThanThreshold", 1)
    group = single["ComputeStack"].resources["MonitoringAutoScalingGroup"]["Properties"]
    assert "GroupInServiceInstances" in group["MetricsCollection"][0]["Metrics"], (
        "GroupInServiceInstances is only published with group metrics enabled"
    )
    assert monitoring["TreatMissingData"] == "breaching", "group metrics come every minute: a gap must page"


@pytest.mark.parametrize("mode", ["single", "multi"])
def test_dashboard_shows_every_alarm_of_the_mode_and_nothing_else(mode, request):
    """The CloudWatch dashboard <project>-<environment>: its body, resolved
    for the mode, is JSON whose widgets name exactly that mode's alarms, one
    graph each (a metric widget with one alarm annotation and no metrics of
    its own: CloudWatch API reference, "Dashboard Body Structure and
    Syntax"), in the region the stack runs in, on the 24-column grid."""
    stacks = request.getfixturevalue(mode)
    [(key, dash)] = stacks["AlarmsStack"].of_type("AWS::CloudWatch::Dashboard").items()
    props = dash["Properties"]
    assert props["DashboardName"] == "wealist-prod"
    body = json.loads(props["DashboardBody"])
    shown = []
    for w in body["widgets"]:
        assert w["type"] == "metric" and "metrics" not in w["properties"]
        assert w["properties"]["region"] == "ap-northeast-2"
        assert 0 <= w["x"] and w["x"] + w["width"] <= 24
        [arn] = w["properties"]["annotations"]["alarms"]
        shown.append(arn)
    alarms = _alarms(stacks)
    assert sorted(shown) == sorted(f"AlarmsStack/{k}.Arn" for k in alarms)
    titles = {w["properties"]["title"] for w in body["widgets"]}
    assert titles == {a["AlarmName"] for a in alarms.values()}
    assert len({(w["x"], w["y"]) for w in body["widgets"]}) == len(shown), "no two widgets on one spot"


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(prod):
    stacks = _stacks(prod)
    topic = stacks["AlarmsStack"].resources["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == "AlarmsStack/AlarmTopicKey"
    key = stacks["AlarmsStack"].resources["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    grants = {s["Principal"].get("Service"): s["Action"] for s in key["KeyPolicy"]["Statement"]}
    # CloudWatch must encrypt what it publishes to an encrypted topic.
    assert set(grants["cloudwatch.amazonaws.com"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    # No AlarmEmail: no subscription; with one, a single e-mail subscription.
    assert not stacks["AlarmsStack"].of_type("AWS::SNS::Subscription")
    mailed = _stacks(prod, AlarmEmail="oncall@example.com")["AlarmsStack"].of_type("AWS::SNS::Subscription")
    [sub] = [v["Properties"] for v in mailed.values()]
    assert sub == {"TopicArn": "AlarmsStack/AlarmTopic", "Protocol": "email", "Endpoint": "oncall@example.com"}


# --- egress -----------------------------------------------------------------------------------


def test_instances_egress_is_explicit_and_narrow(single):
    """With any egress rule, a security group loses AWS's allow-all
    (https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html):
    what is listed here is all the instances may open."""
    sec = single["SecurityStack"]
    ec2_sg = "SecurityStack/Ec2SecurityGroup"
    rules = list(sec.resources["Ec2SecurityGroup"]["Properties"]["SecurityGroupEgress"])
    rules += [
        r["Properties"]
        for r in sec.of_type("AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == ec2_sg
    ]
    allowed = {
        (r["IpProtocol"], int(r["FromPort"]), int(r["ToPort"]), r.get("CidrIp") or r["DestinationSecurityGroupId"])
        for r in rules
    }
    assert allowed == {
        ("tcp", 443, 443, "0.0.0.0/0"),  # the only rule to the internet
        ("tcp", 5432, 5432, "SecurityStack/RdsSecurityGroup"),
        ("tcp", 6379, 6379, "SecurityStack/RedisSecurityGroup"),
        # Prometheus's scrapes stay inside the instances' own group.
        ("tcp", 8081, 8081, ec2_sg),
        ("tcp", 8000, 8000, ec2_sg),
        ("tcp", 9100, 9100, ec2_sg),
    }
    assert all(len(r["Description"]) > 20 for r in rules), "each rule says why it exists"


@pytest.mark.parametrize("mode", ["single", "multi"])
def test_network_and_access_log_rows(mode, request):
    """Both modes: one flow log on the VPC into its retained group, through
    its own role; one access-log bucket with its policy, named in the ALB's
    attributes. The switch changes none of them."""
    stacks = request.getfixturevalue(mode)
    net, lb = stacks["NetworkStack"], stacks["LoadBalancerStack"]
    assert set(net.of_type("AWS::EC2::FlowLog")) == {"VpcFlowLog"}
    assert set(net.of_type("AWS::Logs::LogGroup")) == {"FlowLogGroup"}
    assert set(net.of_type("AWS::IAM::Role")) == {"FlowLogRole"}
    assert net.resources["FlowLogGroup"]["Properties"]["RetentionInDays"] == "365"  # FlowLogRetentionDays default
    assert set(lb.of_type("AWS::S3::Bucket")) == {"AccessLogBucket"}
    assert set(lb.of_type("AWS::S3::BucketPolicy")) == {"AccessLogBucketPolicy"}
    lifecycle = lb.resources["AccessLogBucket"]["Properties"]["LifecycleConfiguration"]["Rules"][0]
    assert lifecycle["ExpirationInDays"] == "365"  # AccessLogExpirationDays default
    counts = count_by_type(stacks)
    assert counts["AWS::EC2::FlowLog"] == 1 and counts["AWS::S3::Bucket"] == 1
    attrs = {
        a["Key"]: a["Value"]
        for a in _one(stacks, "AWS::ElasticLoadBalancingV2::LoadBalancer")["LoadBalancerAttributes"]
    }
    assert attrs["access_logs.s3.bucket"] == "LoadBalancerStack/AccessLogBucket"
    root = stacks["Root"].outputs
    assert root["FlowLogGroupName"] == "NetworkStack/FlowLogGroup"
    assert root["AccessLogBucketName"] == "LoadBalancerStack/AccessLogBucket"
