"""The instance roles (wealist_cfn/stacks/iam.py) as data: who may assume
each, under which boundary, and exactly what each may do on which resource,
straight from the builder, resolved for one account (tests/helpers/policy_data.py).
No stand-in and no endpoint: what is checked is the policy text IAM would
be given; each case runs in milliseconds for the mutation run of iam.py.

IAM rules relied on (IAM User Guide): a role's effective permissions are
the intersection of its policies and its permissions boundary ("Permissions
boundaries for IAM entities"); a role's trust policy names who may assume
it ("Roles terms and concepts"); Parameter Store's GetParametersByPath on a
path returns everything below it (SSM user guide, "Working with parameter
hierarchies"), so a grant on ``/wealist/prod/db`` and ``db/*`` is the whole
of the database's parameters and nothing else; kms:ViaService limits a
Decrypt to requests made through the named service (KMS developer guide,
"kms:ViaService").
"""

from __future__ import annotations

import json
import re

from helpers.policy_data import ACCOUNT, REGION, cond, grants, plain
from wealist_cfn.cfn import templates
from wealist_cfn.core.settings import DEFAULT_SETTINGS, TEMPLATES_DIR
from wealist_cfn.stacks import iam

A = "Allow"
PARAM = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/wealist/prod/"
BUCKET = "arn:aws:s3:::wealist-deploy"
VIA_SSM = cond(StringEquals={"kms:ViaService": f"ssm.{REGION}.amazonaws.com"})
SESSION_MANAGER = (
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:GetEndpoint",
    "ec2messages:GetMessages",
    "ec2messages:SendReply",
)


def built() -> dict:
    return plain(iam.build(DEFAULT_SETTINGS))


def role_grants(role: str) -> set[tuple]:
    r = built()["Resources"][role]["Properties"]
    return {g for p in r["Policies"] for g in grants(p["PolicyDocument"])}


def allow(actions, resources, condition="") -> set[tuple]:
    actions = [actions] if isinstance(actions, str) else actions
    resources = [resources] if isinstance(resources, str) else resources
    return {(A, "", a, r, condition) for a in actions for r in resources}


def common(group: str, log_group: str, asg: str) -> set[tuple]:
    """What both groups' instances do: decrypt their SecureStrings through
    Parameter Store, log in to ECR only for the backend (below), write their
    own log group, run the Session Manager agent, mark themselves unhealthy."""
    return (
        allow("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*", VIA_SSM)
        | allow(
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/wealist/prod/{log_group}:log-stream:*",
        )
        | allow(SESSION_MANAGER, "*")
        | allow(
            "autoscaling:SetInstanceHealth",
            f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/wealist-prod-{asg}",
        )
    )


def test_the_backend_may_do_exactly_what_its_startup_and_containers_do():
    want = (
        allow(
            "ssm:GetParametersByPath",
            [PARAM + p for p in ("db", "db/*", "redis", "redis/*", "deploy", "deploy/*", "app", "app/*")],
        )
        | allow("s3:GetObject", [f"{BUCKET}/boot/*", f"{BUCKET}/config/*"])
        | allow("s3:ListBucket", BUCKET, cond(StringLike={"s3:prefix": ["boot/*", "config/*"]}))
        | allow("ecr:GetAuthorizationToken", "*")
        | allow(
            ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "ref:RepositoryArns"
        )
        | common("backend", "backend", "backend-asg")
    )
    assert role_grants("Ec2Role") == want


def test_the_monitoring_instance_may_do_exactly_what_grafana_and_prometheus_do():
    want = (
        allow("ssm:GetParametersByPath", [PARAM + "monitoring", PARAM + "monitoring/*"])
        | allow("s3:GetObject", [f"{BUCKET}/boot/*", f"{BUCKET}/monitoring/*", f"{BUCKET}/config/render.py"])
        | allow("s3:ListBucket", BUCKET, cond(StringLike={"s3:prefix": ["boot/*", "monitoring/*"]}))
        | allow(["ec2:DescribeInstances", "ec2:DescribeAvailabilityZones"], "*")
        | allow(["cloudwatch:GetMetricData", "cloudwatch:ListMetrics", "tag:GetResources"], "*")
        | common("monitoring", "monitoring", "monitoring-asg")
    )
    assert role_grants("MonitoringRole") == want


def test_neither_group_reads_the_others_secrets():
    backend, monitoring = role_grants("Ec2Role"), role_grants("MonitoringRole")
    assert not any(g[3].startswith(PARAM + "monitoring") for g in backend)
    assert not any(g[3].startswith(PARAM + p) for g in monitoring for p in ("db", "redis", "deploy", "app"))
    # nor the environment's root, which would hold both
    assert not any(g[3] in (PARAM.rstrip("/"), PARAM + "*") for g in backend | monitoring)


def test_only_ec2_may_assume_each_role_and_each_carries_the_boundary():
    d = built()["Resources"]
    for role, suffix in (("Ec2Role", "ec2-role"), ("MonitoringRole", "monitoring-role")):
        p = d[role]["Properties"]
        assert grants(p["AssumeRolePolicyDocument"]) == {
            (A, json.dumps({"Service": "ec2.amazonaws.com"}), "sts:AssumeRole", "", "")
        }
        assert plain(p["PermissionsBoundary"]) == {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/${Project}-${Environment}-role-boundary"
        }
        assert p["RoleName"] == {"Fn::Sub": f"${{Project}}-${{Environment}}-{suffix}"}
        profile = d[role.replace("Role", "InstanceProfile")]["Properties"]
        assert profile == {
            "InstanceProfileName": {"Fn::Sub": f"${{Project}}-${{Environment}}-{suffix}"},
            "Roles": [{"Ref": role}],
        }
    assert {k for k, r in d.items() if r["Type"] == "AWS::IAM::Role"} == {"Ec2Role", "MonitoringRole"}


def test_the_roles_and_profiles_are_outputs_for_the_stacks_that_use_them():
    assert {k: v["Value"] for k, v in built()["Outputs"].items()} == {
        "Ec2RoleName": {"Ref": "Ec2Role"},
        "Ec2RoleArn": {"Fn::GetAtt": ["Ec2Role", "Arn"]},
        "Ec2InstanceProfileArn": {"Fn::GetAtt": ["Ec2InstanceProfile", "Arn"]},
        "MonitoringRoleName": {"Ref": "MonitoringRole"},
        "MonitoringRoleArn": {"Fn::GetAtt": ["MonitoringRole", "Arn"]},
        "MonitoringInstanceProfileArn": {"Fn::GetAtt": ["MonitoringInstanceProfile", "Arn"]},
    }


def test_the_helpers_other_stacks_use_name_the_same_resources():
    assert iam.log_group_name("backend") == "/${Project}/${Environment}/backend"
    assert plain(iam.group_arn("backend-asg")) == {
        "Fn::Sub": "arn:${AWS::Partition}:autoscaling:${AWS::Region}:"
        "${AWS::AccountId}:autoScalingGroup:*:autoScalingGroupName/"
        "${Project}-${Environment}-backend-asg"
    }
    assert plain(iam.boundary_arn()) == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/${Project}-${Environment}-role-boundary"
    }


def test_the_committed_template_is_what_the_builder_makes():
    """templates/iam.yaml is what a deploy uploads and what reviewers read:
    the builder must make exactly it (statement IDs, descriptions, tags and
    checkov notes included), as ``build.py --check`` requires of the set."""
    assert built() == templates.load((TEMPLATES_DIR / "iam.yaml").read_text())


def _documents(d: dict):
    for r in d["Resources"].values():
        p = r["Properties"]
        if "AssumeRolePolicyDocument" in p:
            yield p["AssumeRolePolicyDocument"]
        for policy in p.get("Policies", []):
            yield policy["PolicyDocument"]


def test_every_policy_document_is_in_the_current_policy_language():
    # Without Version 2012-10-17 IAM reads a policy as 2008-10-17, where
    # policy variables are literal text; any other value is refused
    # (IAM User Guide, "IAM JSON policy elements: Version").
    docs = list(_documents(built()))
    assert len(docs) == 2 + 6 + 7 and all(doc["Version"] == "2012-10-17" for doc in docs)


def _subs(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "Fn::Sub":
                yield x if isinstance(x, str) else x[0]
            else:
                yield from _subs(x)
    elif isinstance(v, list):
        for x in v:
            yield from _subs(x)


def test_every_name_a_sub_uses_is_a_parameter_of_the_template():
    # CloudFormation refuses a template whose Sub names a variable that is
    # neither a parameter, a resource nor a pseudo parameter (template
    # reference, Fn::Sub).
    d = built()
    names = {n for s in _subs(d["Resources"]) for n in re.findall(r"\$\{([^}!]+)\}", s)}
    assert {n for n in names if not n.startswith("AWS::")} <= set(d["Parameters"]) | set(d["Resources"])
    assert {"Project", "Environment", "DeployBucketName"} <= names
