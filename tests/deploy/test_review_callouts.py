"""The review's security call-outs: a change that widens who may do what,
or who may reach what, is called out as a broadening; a narrowing is not.

Stand-ins: CloudFormation is scripted (tests/helpers/scripted.py), S3 and STS are
moto's server. DescribeChangeSet with ``IncludePropertyValues`` reports the
resource's properties before and after in ``BeforeContext`` /
``AfterContext`` (JSON strings), as the API reference documents
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChange.html);
moto reports neither, so it cannot show any of this.
"""

from __future__ import annotations

import json

import pytest

from helpers.scripted import Cfn, Scripted, change, detail, run_cli, scripted_aws, tiny_templates
from wealist_cfn.core.settings import PARAMS_DIR

pytestmark = [pytest.mark.stubbed, pytest.mark.moto]

ROLE, POLICY, MANAGED = "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"
SG, INGRESS, RULE = (
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::ElasticLoadBalancingV2::ListenerRule",
)


def _doc(statements):
    return {"Version": "2012-10-17", "Statement": statements}


def _allow(action, resource="arn:aws:s3:::wealist-deploy/*"):
    return {"Effect": "Allow", "Action": action, "Resource": resource}


TRUST = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
ROLE_BEFORE = {
    "AssumeRolePolicyDocument": _doc([TRUST]),
    "Policies": [{"PolicyName": "deploy-files", "PolicyDocument": _doc([_allow(["s3:GetObject"])])}],
}


def _role(trust=(TRUST,), actions=("s3:GetObject",), resource="arn:aws:s3:::wealist-deploy/*"):
    return {
        "AssumeRolePolicyDocument": _doc(list(trust)),
        "Policies": [{"PolicyName": "deploy-files", "PolicyDocument": _doc([_allow(list(actions), resource)])}],
    }


def _sg(*rules):
    return {
        "GroupDescription": "rds",
        "SecurityGroupIngress": [{"IpProtocol": p, "FromPort": f, "ToPort": t, **src} for p, f, t, src in rules],
    }


APP = {"SourceSecurityGroupId": "sg-app"}


def _rule(*conditions):
    return {
        "Priority": 30,
        "Actions": [{"Type": "forward", "TargetGroupArn": "arn:tg/grafana"}],
        "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/grafana/*"]}}, *conditions],
    }


SOURCE_IP = {"Field": "source-ip", "SourceIpConfig": {"Values": ["203.0.113.0/24"]}}

# (name, type, before, after): each one widens access.
BROADENINGS = [
    ("role gains an action", ROLE, ROLE_BEFORE, _role(actions=("s3:GetObject", "s3:PutObject"))),
    ("role gains a resource", ROLE, ROLE_BEFORE, _role(resource="*")),
    (
        "role gains a principal",
        ROLE,
        ROLE_BEFORE,
        _role(
            trust=(
                TRUST,
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "sts:AssumeRole"},
            )
        ),
    ),
    (
        "policy gains an action",
        POLICY,
        {"PolicyName": "p", "PolicyDocument": _doc([_allow("ssm:GetParameter")])},
        {"PolicyName": "p", "PolicyDocument": _doc([_allow(["ssm:GetParameter", "ssm:PutParameter"])])},
    ),
    (
        "managed policy gains a resource",
        MANAGED,
        {"PolicyDocument": _doc([_allow("s3:GetObject")])},
        {"PolicyDocument": _doc([_allow("s3:GetObject", ["arn:aws:s3:::wealist-deploy/*", "arn:aws:s3:::other/*"])])},
    ),
    (
        "security group gains a source",
        SG,
        _sg(("tcp", 5432, 5432, APP)),
        _sg(("tcp", 5432, 5432, APP), ("tcp", 5432, 5432, {"CidrIp": "10.0.0.0/8"})),
    ),
    ("security group gains a port range", SG, _sg(("tcp", 5432, 5432, APP)), _sg(("tcp", 5000, 6000, APP))),
    ("security group gains a protocol", SG, _sg(("tcp", 5432, 5432, APP)), _sg(("-1", -1, -1, APP))),
    (
        "ingress rule gains a wider source",
        INGRESS,
        {"GroupId": "sg-rds", "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "CidrIp": "10.1.0.0/16"},
        {"GroupId": "sg-rds", "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "CidrIp": "0.0.0.0/0"},
    ),
    ("listener rule loses its source-ip condition", RULE, _rule(SOURCE_IP), _rule()),
]

# The reverse of each broadening (and a few more): none may be called a broadening.
NARROWINGS = [(f"reverse of: {name}", t, after, before) for name, t, before, after in BROADENINGS] + [
    ("role action narrowed from a wildcard", ROLE, _role(actions=("s3:*",)), _role(actions=("s3:GetObject",))),
    (
        "security group source narrowed",
        SG,
        _sg(("tcp", 5432, 5432, {"CidrIp": "10.0.0.0/8"})),
        _sg(("tcp", 5432, 5432, {"CidrIp": "10.1.2.0/24"})),
    ),
    (
        "listener rule source narrowed",
        RULE,
        _rule({"Field": "source-ip", "SourceIpConfig": {"Values": ["0.0.0.0/0"]}}),
        _rule(SOURCE_IP),
    ),
]


def _security_callouts(monkeypatch, endpoint, rtype, before, after) -> list[str]:
    """plan --output json on a change set modifying one resource; the
    messages of its security call-outs."""
    cfn = Cfn(
        change_sets={
            "root": [
                change(
                    "Modify",
                    "Subject",
                    rtype,
                    replacement="False",
                    before=before,
                    after=after,
                    details=[detail("Properties", "Never")],
                )
            ]
        }
    )
    with scripted_aws(monkeypatch, Scripted(("cloudformation",), cfn.handlers())):
        code, out, err = run_cli(
            "plan",
            "--skip-preflight",
            "--stack-name",
            cfn.name,
            "--params",
            PARAMS_DIR / "prod.json",
            "--endpoint-url",
            endpoint,
            "--output",
            "json",
            "--templates",
            tiny_templates(),
        )
    assert code == 0, err
    doc = json.loads(out)
    return [c["message"] for c in doc["review"]["callouts"] if c["level"] == "security"]


@pytest.mark.parametrize("name,rtype,before,after", BROADENINGS, ids=[b[0] for b in BROADENINGS])
def test_broadening_is_called_out(name, rtype, before, after, monkeypatch, moto_endpoint):
    """Scripted DescribeChangeSet with property values: the change is called
    out as broadening access."""
    messages = _security_callouts(monkeypatch, moto_endpoint, rtype, before, after)
    assert len(messages) == 1 and messages[0].startswith("broadens"), messages


@pytest.mark.parametrize("name,rtype,before,after", NARROWINGS, ids=[n[0] for n in NARROWINGS])
def test_narrowing_is_not_called_a_broadening(name, rtype, before, after, monkeypatch, moto_endpoint):
    """Scripted DescribeChangeSet with property values: a change that only
    takes access away is reported, but never as a broadening."""
    messages = _security_callouts(monkeypatch, moto_endpoint, rtype, before, after)
    assert len(messages) == 1 and "broaden" not in messages[0], messages
