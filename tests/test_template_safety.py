"""Data safety and network exposure of the committed templates, resolved
(wealist_cfn.cfn.model) for the committed parameter file in both modes.

Pure template evaluation: no AWS endpoint. What CloudFormation does with
each attribute is its documentation's:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
(Snapshot only for the types that support it: RDS instances and clusters,
ElastiCache clusters and replication groups, among others; Retain for every
type) and .../aws-attribute-updatereplacepolicy.html.
"""

from __future__ import annotations

import ipaddress

import pytest

from helpers import on_disk

MODES = list(on_disk.MODES)
CERT = "arn:aws:acm:ap-northeast-2:123456789012:certificate/12345678-1234-1234-1234-123456789012"

# Resources that hold data, and the policies that keep it when CloudFormation
# deletes (DeletionPolicy) or replaces (UpdateReplacePolicy) them. Snapshot
# where the type supports it, Retain where it does not (ECR has no snapshot).
# RetainExceptOnCreate deletes only what a failed first create made (empty).
KEEPS_DATA = {
    "AWS::RDS::DBInstance": ({"Snapshot"}, {"Snapshot"}),
    "AWS::RDS::DBCluster": ({"Snapshot"}, {"Snapshot"}),
    "AWS::ElastiCache::ReplicationGroup": ({"Snapshot", "Retain"}, {"Snapshot", "Retain"}),
    "AWS::ElastiCache::CacheCluster": ({"Snapshot", "Retain"}, {"Snapshot", "Retain"}),
    "AWS::ECR::Repository": ({"Retain", "RetainExceptOnCreate"}, {"Retain"}),
}
# The VPC and subnets are guarded against replacement and removal (stack
# policy, review) but hold no data: no snapshot exists for them, and Retain
# would leave an empty network behind when the environment is torn down on
# purpose. They are not in KEEPS_DATA by decision.

CIDR_KEYS = ("CidrIp", "CidrIpv6", "SourcePrefixListId")


@pytest.mark.parametrize("mode", MODES)
def test_every_data_holding_resource_keeps_its_data(mode):
    found = {}
    for where, res in on_disk.resources(mode).items():
        if res["Type"] in KEEPS_DATA:
            deletion, replace = KEEPS_DATA[res["Type"]]
            assert res.get("DeletionPolicy") in deletion, (where, res.get("DeletionPolicy"))
            assert res.get("UpdateReplacePolicy") in replace, (where, res.get("UpdateReplacePolicy"))
            found[where] = res["Type"]
    # The set holds a database, a cache and two registries: the check above ran on each.
    assert sorted(found.values()) == sorted(
        ["AWS::RDS::DBInstance", "AWS::ElastiCache::ReplicationGroup", "AWS::ECR::Repository", "AWS::ECR::Repository"]
    )


def _ingress(mode: str, **values) -> list[tuple[str, str, dict]]:
    """(resource, group it opens, rule) for every ingress rule, inline in a
    security group or standalone."""
    out = []
    for where, res in on_disk.resources(mode, **values).items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::EC2::SecurityGroup":
            path, lid = where.split("/", 1)
            out += [(where, f"{path}/{lid}", rule) for rule in props.get("SecurityGroupIngress", [])]
        elif res["Type"] == "AWS::EC2::SecurityGroupIngress":
            out.append((where, props.get("GroupId") or props.get("GroupName"), props))
    return out


@pytest.mark.parametrize("mode", MODES)
def test_only_the_load_balancers_group_admits_addresses(mode):
    """No group but the one the load balancer uses admits a CIDR or prefix
    list, on any port, inline or standalone; every other rule names a source
    group."""
    stacks = on_disk.resolved(mode)
    albs = [r for s in stacks.values() for r in s.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer").values()]
    assert len(albs) == 1
    alb_groups = set(albs[0]["Properties"]["SecurityGroups"])
    assert len(alb_groups) == 1
    rules = _ingress(mode)
    groups = {g for _, g, _ in rules}
    assert len(groups) >= 4  # load balancer, instances, database, cache
    for where, group, rule in rules:
        if group in alb_groups:
            continue
        assert not any(k in rule for k in CIDR_KEYS), (where, group, rule)
        assert rule.get("SourceSecurityGroupId"), (where, group, rule)
    # And the load balancer's group is open on the web ports only.
    alb_rules = [r for _, g, r in rules if g in alb_groups]
    assert sorted((int(r["FromPort"]), int(r["ToPort"])) for r in alb_rules) == [(80, 80), (443, 443)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("certificate", ["", CERT], ids=["http", "https"])
def test_monitoring_rules_carry_the_access_cidr(mode, certificate):
    """Every listener rule that forwards to a target group of the monitoring
    instances (Grafana, Prometheus) matches on source-ip with exactly
    MonitoringAccessCidr; no listener's default action reaches them."""
    marker = "198.51.100.0/24"
    stacks = on_disk.resolved(mode, MonitoringAccessCidr=marker, CertificateArn=certificate)
    everything = {f"{p}/{lid}": r for p, s in stacks.items() for lid, r in s.resources.items()}
    monitoring = set(everything["ComputeStack/MonitoringAutoScalingGroup"]["Properties"]["TargetGroupARNs"])
    assert len(monitoring) == 2
    reached = set()
    for where, res in everything.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::ElasticLoadBalancingV2::ListenerRule":
            targets = {a.get("TargetGroupArn") for a in props["Actions"]}
            if targets & monitoring:
                sources = [c["SourceIpConfig"]["Values"] for c in props["Conditions"] if c["Field"] == "source-ip"]
                assert sources == [[marker]], (where, props["Conditions"])
                reached |= targets & monitoring
        elif res["Type"] == "AWS::ElasticLoadBalancingV2::Listener":
            targets = {a.get("TargetGroupArn") for a in props["DefaultActions"]}
            assert not targets & monitoring, where
    assert reached == monitoring


def _root_parameters() -> dict[str, dict]:
    return on_disk.parsed()["root.yaml"]["Parameters"]


def _is_cidr(name: str, spec: dict) -> bool:
    """A parameter that takes a CIDR block, judged from the template on disk."""
    if "CIDR" in spec.get("ConstraintDescription", "").upper():
        return True
    try:
        return "/" in str(spec.get("Default", "")) and bool(ipaddress.ip_network(spec["Default"]))
    except ValueError:
        return False


def test_every_cidr_parameter_has_bad_cases_in_the_config_tests():
    """Each CIDR parameter of the root template is refused in the config
    tests with a malformed block, an impossible octet, host bits set and a
    value that is no CIDR at all."""
    from helpers.config_cases import BAD_CASES

    cidr_params = {n for n, spec in _root_parameters().items() if _is_cidr(n, spec)}
    assert {"VpcCidr", "MonitoringAccessCidr"} <= cidr_params
    for name in cidr_params:
        cases = {c[0].rsplit("cidr-", 1)[-1]: c[3] for c in BAD_CASES if c[2] == name}
        # The parameter's AllowedPattern refuses a malformed block, an impossible octet and a
        # value that is no CIDR at all; the host-bits check comes after it.
        for kind in ("malformed", "octet", "not-cidr"):
            assert "IPv4 CIDR block" in cases.get(kind, ""), (name, kind)
        assert "host bits set" in cases.get("host-bits", ""), name
