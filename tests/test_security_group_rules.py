"""Who may reach what: every security group's ingress and egress, as data,
straight from the builder (wealist_cfn/stacks/security.py), in
milliseconds: no build of the whole set, no endpoint, no stand-in.

test_security_group_egress.py checks the committed templates resolved for
prod.json; this file checks the builder itself, for the default settings and
for other ports, so that the mutation run of security.py judges each mutant
in a few milliseconds.

What AWS does with the rules (AWS::EC2::SecurityGroup, CloudFormation
template reference): a group created without SecurityGroupEgress gets an
allow-all egress rule ("if you do not add egress rules, we add egress rules
that allow all outbound IPv4 and IPv6 traffic. Otherwise, we do not add
them"); a rule names either a CIDR or another group, and a group named as
the source or destination admits only traffic of the instances in it
(Amazon VPC user guide, "Security group rules").
"""

from __future__ import annotations

import dataclasses
import json

from wealist_cfn.cfn import templates
from wealist_cfn.core.settings import DEFAULT_SETTINGS, TEMPLATES_DIR
from wealist_cfn.stacks import security

GROUPS = ("AlbSecurityGroup", "Ec2SecurityGroup", "RdsSecurityGroup", "RedisSecurityGroup")
ANYWHERE = "0.0.0.0/0"
VPC = "param:VpcCidr"
USER, BOARD = "param:UserServicePort", "param:BoardServicePort"
MATCHES_NOTHING = ("icmp", 252, 86, "255.255.255.255/32")


def _value(v):
    """A port or address as data: a number, a CIDR, ``param:Name`` for a
    template parameter, ``sg:Name`` for a group of this template."""
    if isinstance(v, dict) and "Ref" in v:
        return ("sg:" if v["Ref"] in GROUPS else "param:") + v["Ref"]
    return v


def _peer(rule: dict, *keys: str):
    found = [_value(rule[k]) for k in keys if k in rule]
    assert len(found) == 1, rule  # a rule names exactly one peer
    return found[0]


def rules(settings=DEFAULT_SETTINGS) -> dict[str, dict[str, set[tuple]]]:
    """``{group: {"in": {(protocol, from, to, source)}, "out": {...}}}``
    from the groups' own rules and the separate Ingress/Egress resources;
    a group without any egress rule is ``{"all traffic"}`` (AWS's default)."""
    res = json.loads(json.dumps(security.build(settings).to_dict()))["Resources"]
    out = {g: {"in": set(), "out": set()} for g, r in res.items() if r["Type"] == "AWS::EC2::SecurityGroup"}
    src, dst = (
        ("CidrIp", "CidrIpv6", "SourceSecurityGroupId", "SourcePrefixListId"),
        ("CidrIp", "CidrIpv6", "DestinationSecurityGroupId", "DestinationPrefixListId"),
    )
    for g, r in res.items():
        p = r["Properties"]
        if r["Type"] == "AWS::EC2::SecurityGroup":
            out[g]["in"] |= {
                (x["IpProtocol"], _value(x.get("FromPort")), _value(x.get("ToPort")), _peer(x, *src))
                for x in p.get("SecurityGroupIngress", [])
            }
            out[g]["out"] |= {
                (x["IpProtocol"], _value(x.get("FromPort")), _value(x.get("ToPort")), _peer(x, *dst))
                for x in p.get("SecurityGroupEgress", [])
            }
        elif r["Type"] in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
            way, peers = ("in", src) if r["Type"].endswith("Ingress") else ("out", dst)
            out[p["GroupId"]["Ref"]][way].add(
                (p["IpProtocol"], _value(p.get("FromPort")), _value(p.get("ToPort")), _peer(p, *peers))
            )
    for g in out:
        out[g]["out"] = out[g]["out"] or {"all traffic"}
    return out


def expected(grafana=3000, prometheus=9090, node=9100, postgres=5432, redis=6379):
    return {
        # The internet reaches the load balancer on 80 and 443 only; it talks
        # to targets inside the VPC only.
        "AlbSecurityGroup": {
            "in": {("tcp", 80, 80, ANYWHERE), ("tcp", 443, 443, ANYWHERE)},
            "out": {("tcp", 0, 65535, VPC)},
        },
        # The instances: the service ports, Grafana and Prometheus from the
        # load balancer only; the scrape ports from their own group (the
        # monitoring instance). Out: HTTPS anywhere, the database and the
        # cache by group, the scrape ports to their own group. No SSH.
        "Ec2SecurityGroup": {
            "in": {
                ("tcp", USER, USER, "sg:AlbSecurityGroup"),
                ("tcp", BOARD, BOARD, "sg:AlbSecurityGroup"),
                ("tcp", grafana, grafana, "sg:AlbSecurityGroup"),
                ("tcp", prometheus, prometheus, "sg:AlbSecurityGroup"),
                ("tcp", USER, USER, "sg:Ec2SecurityGroup"),
                ("tcp", BOARD, BOARD, "sg:Ec2SecurityGroup"),
                ("tcp", node, node, "sg:Ec2SecurityGroup"),
            },
            "out": {
                ("tcp", 443, 443, ANYWHERE),
                ("tcp", postgres, postgres, "sg:RdsSecurityGroup"),
                ("tcp", redis, redis, "sg:RedisSecurityGroup"),
                ("tcp", USER, USER, "sg:Ec2SecurityGroup"),
                ("tcp", BOARD, BOARD, "sg:Ec2SecurityGroup"),
                ("tcp", node, node, "sg:Ec2SecurityGroup"),
            },
        },
        # The stateful groups: their port from the instances only, and one
        # egress rule that matches nothing (never AWS's allow-all).
        "RdsSecurityGroup": {"in": {("tcp", postgres, postgres, "sg:Ec2SecurityGroup")}, "out": {MATCHES_NOTHING}},
        "RedisSecurityGroup": {"in": {("tcp", redis, redis, "sg:Ec2SecurityGroup")}, "out": {MATCHES_NOTHING}},
    }


def test_every_groups_ingress_and_egress_is_exactly_what_its_tier_needs():
    assert rules() == expected()


def test_the_ports_follow_the_settings_for_every_rule_that_names_them():
    other = dataclasses.replace(
        DEFAULT_SETTINGS,
        grafana_port=3300,
        prometheus_port=9091,
        node_exporter_port=9101,
        postgres_port=5433,
        redis_port=6380,
    )
    assert rules(other) == expected(3300, 9091, 9101, 5433, 6380)


def test_nothing_is_open_to_the_internet_but_the_load_balancers_two_ports():
    public = {(g, r) for g, ways in rules().items() for r in ways["in"] if r[3] in (ANYWHERE, "::/0")}
    assert public == {
        ("AlbSecurityGroup", ("tcp", 80, 80, ANYWHERE)),
        ("AlbSecurityGroup", ("tcp", 443, 443, ANYWHERE)),
    }


def test_the_stateful_groups_rule_matches_no_traffic():
    # ICMP type 252 code 86 to 255.255.255.255/32: no such ICMP message is
    # sent, and the broadcast address is never a destination a security
    # group forwards to.
    for g in ("RdsSecurityGroup", "RedisSecurityGroup"):
        (rule,) = rules()[g]["out"]
        assert rule == MATCHES_NOTHING


def test_every_group_is_in_the_vpc_and_is_an_output_by_its_own_id():
    d = json.loads(json.dumps(security.build(DEFAULT_SETTINGS).to_dict()))
    assert {g for g, r in d["Resources"].items() if r["Type"] == "AWS::EC2::SecurityGroup"} == set(GROUPS)
    assert all(d["Resources"][g]["Properties"]["VpcId"] == {"Ref": "VpcId"} for g in GROUPS)
    assert {k: v["Value"] for k, v in d["Outputs"].items()} == {
        "AlbSecurityGroupId": {"Ref": "AlbSecurityGroup"},
        "Ec2SecurityGroupId": {"Ref": "Ec2SecurityGroup"},
        "RdsSecurityGroupId": {"Ref": "RdsSecurityGroup"},
        "RedisSecurityGroupId": {"Ref": "RedisSecurityGroup"},
    }
    assert set(d["Parameters"]) == {"Project", "Environment", "VpcCidr", "UserServicePort", "BoardServicePort", "VpcId"}


def test_the_committed_template_is_what_the_builder_makes():
    """templates/security.yaml is what a deploy uploads and what reviewers
    read: the builder must make exactly it (descriptions, tags and checkov
    notes included), as ``build.py --check`` requires of the whole set."""
    built = json.loads(json.dumps(security.build(DEFAULT_SETTINGS).to_dict()))
    assert built == templates.load((TEMPLATES_DIR / "security.yaml").read_text())
