"""Every security group's egress, as data, in both modes: the committed
templates resolved for prod.json (tests/helpers/on_disk.py). No endpoint.

What AWS does with egress (AWS::EC2::SecurityGroup, CloudFormation template
reference): "When you create a security group, if you do not add egress
rules, we add egress rules that allow all outbound IPv4 and IPv6 traffic.
Otherwise, we do not add them." So a group with no SecurityGroupEgress of
its own may connect anywhere; the stateful groups (RDS, Redis) never open a
connection and carry one rule that matches nothing (stacks/security.py,
NO_EGRESS). checkov flags neither the absence nor a widened rule.
"""

from __future__ import annotations

import pytest

from helpers import on_disk

VPC_CIDR = "10.1.0.0/16"  # params/prod.json
USER_PORT, BOARD_PORT = "8081", "8000"  # params/prod.json
MATCHES_NOTHING = ("icmp", 252, 86, "255.255.255.255/32")
SG = "SecurityStack/"

EXPECTED = {
    "AlbSecurityGroup": {("tcp", 0, 65535, VPC_CIDR)},
    "Ec2SecurityGroup": {
        ("tcp", 443, 443, "0.0.0.0/0"),
        ("tcp", 5432, 5432, "sg:RdsSecurityGroup"),
        ("tcp", 6379, 6379, "sg:RedisSecurityGroup"),
        ("tcp", USER_PORT, USER_PORT, "sg:Ec2SecurityGroup"),
        ("tcp", BOARD_PORT, BOARD_PORT, "sg:Ec2SecurityGroup"),
        ("tcp", 9100, 9100, "sg:Ec2SecurityGroup"),
    },
    "RdsSecurityGroup": {MATCHES_NOTHING},
    "RedisSecurityGroup": {MATCHES_NOTHING},
}


def _to(rule: dict) -> str:
    if "DestinationSecurityGroupId" in rule:
        return "sg:" + str(rule["DestinationSecurityGroupId"]).rsplit("/", 1)[-1]
    return rule.get("CidrIp") or rule.get("CidrIpv6") or rule.get("DestinationPrefixListId")


def egress(mode: str) -> dict[str, set[tuple]]:
    """``{group: {(protocol, from, to, destination)}}`` from the groups'
    own rules and every AWS::EC2::SecurityGroupEgress resource; a group with
    no rule at all maps to ``{"all traffic"}`` (AWS's default)."""
    res = on_disk.resources(mode)
    groups = {k.rsplit("/", 1)[-1]: r for k, r in res.items() if r["Type"] == "AWS::EC2::SecurityGroup"}
    out = {
        g: {
            (x["IpProtocol"], x.get("FromPort"), x.get("ToPort"), _to(x))
            for x in r["Properties"].get("SecurityGroupEgress", [])
        }
        for g, r in groups.items()
    }
    for r in res.values():
        if r["Type"] == "AWS::EC2::SecurityGroupEgress":
            p = r["Properties"]
            out[str(p["GroupId"]).rsplit("/", 1)[-1]].add((p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), _to(p)))
    return {g: rules or {"all traffic"} for g, rules in out.items()}


@pytest.mark.parametrize("mode", sorted(on_disk.MODES))
def test_every_security_groups_egress_is_exactly_what_it_needs(mode):
    assert egress(mode) == EXPECTED


@pytest.mark.parametrize("mode", sorted(on_disk.MODES))
def test_the_stateful_groups_open_no_connection(mode):
    """RDS and Redis answer; they never connect out. Their one rule is ICMP
    type 252 code 86 to the broadcast address: nothing ever matches it."""
    rules = egress(mode)
    assert rules["RdsSecurityGroup"] == rules["RedisSecurityGroup"] == {MATCHES_NOTHING}


def test_a_group_without_egress_rules_counts_as_open_to_all(monkeypatch):
    """The check reads AWS's default right: no rule means all traffic."""
    real = on_disk.resources

    def without_rds_egress(mode, **values):
        res = {k: dict(v) for k, v in real(mode, **values).items()}
        rds = res[SG + "RdsSecurityGroup"]
        rds["Properties"] = {k: v for k, v in rds["Properties"].items() if k != "SecurityGroupEgress"}
        return res

    monkeypatch.setattr(on_disk, "resources", without_rds_egress)
    assert egress("single-az")["RdsSecurityGroup"] == {"all traffic"}
