"""Least privilege on the instances: each group's role, as the templates
resolve for params/prod.json, evaluated (wealist_cfn.rehearsal.strict's IAM policy
evaluation: explicit Deny wins, conditions must match) against the calls
that group's boot makes, and against the secrets it must never read.

Stand-in: the resolved templates (wealist_cfn.cfn.model), no AWS. What AWS
adds and this does not model: SCPs, permission boundaries, KMS key policies
(the aws/ssm key allows any principal of the account through SSM).
Parameter Store: GetParametersByPath on a path returns everything below it
(SSM user guide, "Working with parameter hierarchies"), so no role may hold
it on the environment's root."""

from __future__ import annotations

import pytest

from wealist_cfn import config
from wealist_cfn.cfn.model import resolve
from wealist_cfn.ops import bootstrap
from wealist_cfn.rehearsal import strict

from .tools import ROOT

ACCOUNT, REGION = "123456789012", "ap-northeast-2"
PARAM = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/wealist/prod"
# params/prod.json leaves DeployBucketName empty: the account-unique name.
BUCKET = f"arn:aws:s3:::wealist-prod-deploy-{ACCOUNT}-{REGION}"
LOGS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/wealist/prod"


def _log_calls(group: str, streams: tuple[str, ...]) -> list:
    # The awslogs driver and the CloudWatch agent: a stream per instance and
    # source in an existing group, then its events.
    return [
        (action, f"{LOGS}/{group}:log-stream:i-0123456789abcdef0/{s}", {})
        for s in streams
        for action in ("logs:CreateLogStream", "logs:PutLogEvents")
    ]


@pytest.fixture(scope="module")
def roles():
    cfg = config.load(ROOT / "params" / "prod.json")
    iam = resolve(cfg.values, region=cfg.region)["IamStack"]
    return {
        key: {
            "Statement": [
                st for p in iam.resources[key]["Properties"]["Policies"] for st in p["PolicyDocument"]["Statement"]
            ]
        }
        for key in ("Ec2Role", "MonitoringRole")
    }


def _allowed(policy, action, resource, **context) -> bool:
    return strict.evaluate_bucket_policy(policy, action, resource, context) == strict.ALLOW


BOOT_CALLS = {
    "Ec2Role": [
        ("s3:GetObject", f"{BUCKET}/boot/startup.sh", {}),
        ("s3:ListBucket", BUCKET, {"s3:prefix": "config/"}),
        ("s3:GetObject", f"{BUCKET}/config/render.py", {}),
        *[("ssm:GetParametersByPath", f"{PARAM}/{path}", {}) for path in ("db", "redis", "deploy", "app")],
        ("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abcd", {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"}),
        ("ecr:GetAuthorizationToken", "*", {}),
        ("ecr:BatchGetImage", "RegistryStack/UserServiceRepository.Arn", {}),
        *_log_calls("backend", ("startup", "user-service", "board-service", "node-exporter")),
    ],
    "MonitoringRole": [
        ("s3:GetObject", f"{BUCKET}/boot/startup.sh", {}),
        ("s3:ListBucket", BUCKET, {"s3:prefix": "monitoring/"}),
        ("s3:GetObject", f"{BUCKET}/monitoring/prometheus.yml", {}),
        ("s3:GetObject", f"{BUCKET}/config/render.py", {}),
        ("ssm:GetParametersByPath", f"{PARAM}/monitoring", {}),
        ("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abcd", {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"}),
        ("ec2:DescribeInstances", "*", {}),
        *_log_calls("monitoring", ("startup", "prometheus", "grafana")),
    ],
}


def _group(name: str) -> str:
    return (
        f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:0a1b2c3d-1111-2222-3333-444455556666:"
        f"autoScalingGroupName/{name}"
    )


GROUPS = {"Ec2Role": "wealist-prod-backend-asg", "MonitoringRole": "wealist-prod-monitoring-asg"}


@pytest.mark.parametrize("role", sorted(GROUPS))
def test_a_boot_that_gives_up_may_mark_unhealthy_in_its_own_group_only(roles, role):
    """The give-up path of both scripts (startup.sh give_up, UserData's
    replace_me) calls SetInstanceHealth, which IAM authorises against the
    Auto Scaling group (Service Authorization Reference, Amazon EC2 Auto
    Scaling: resource type autoScalingGroup, no key naming the instance).
    Allowed on the role's own group, denied on the other group, another
    environment's and every other autoscaling write."""
    import re

    for script in ("startup.sh", "userdata.sh"):
        text = (ROOT / "wealist_cfn" / "boot" / script).read_text()
        calls = re.findall(r"aws autoscaling ([a-z-]+)", text)
        assert calls == ["set-instance-health"], (script, calls)
    policy = roles[role]
    own = GROUPS[role]
    assert _allowed(policy, "autoscaling:SetInstanceHealth", _group(own))
    for other in set(GROUPS.values()) - {own} | {own.replace("-prod-", "-dev-"), "payments-asg"}:
        assert not _allowed(policy, "autoscaling:SetInstanceHealth", _group(other)), other
    for action in (
        "autoscaling:TerminateInstanceInAutoScalingGroup",
        "autoscaling:UpdateAutoScalingGroup",
        "autoscaling:SetDesiredCapacity",
    ):
        assert not _allowed(policy, action, _group(own)), action


@pytest.mark.parametrize("role", sorted(BOOT_CALLS))
def test_each_role_allows_what_its_boot_calls(roles, role):
    for action, resource, context in BOOT_CALLS[role]:
        assert _allowed(roles[role], action, resource, **context), (role, action, resource)


def _secret_paths(prefix):
    return [p.name for p in bootstrap.PARAMETERS if p.kind == bootstrap.SECRET and p.name.startswith(prefix)]


def test_monitoring_never_reads_a_database_or_redis_secret(roles):
    policy = roles["MonitoringRole"]
    secrets = _secret_paths("db/") + _secret_paths("redis/")
    assert "db/postgres_superuser_password" in secrets
    for name in secrets:
        for action in ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"):
            assert not _allowed(policy, action, f"{PARAM}/{name}"), name
    for path in ("", "/db", "/redis", "/deploy"):
        assert not _allowed(policy, "ssm:GetParametersByPath", f"{PARAM}{path}"), path
    assert not _allowed(policy, "ecr:BatchGetImage", "RegistryStack/UserServiceRepository.Arn")
    # render.py, by name, is all it reads of config/.
    assert not _allowed(policy, "s3:ListBucket", BUCKET, **{"s3:prefix": "config/"})
    for key in ("config/docker-compose.prod.yml", "config/db-init.sql"):
        assert not _allowed(policy, "s3:GetObject", f"{BUCKET}/{key}")
    for action, resource, _ in _log_calls("backend", ("startup", "user-service")):
        assert not _allowed(policy, action, resource), (action, resource)


def test_backend_never_reads_grafanas_password_nor_the_whole_tree(roles):
    policy = roles["Ec2Role"]
    for action in ("ssm:GetParameter", "ssm:GetParametersByPath"):
        assert not _allowed(policy, action, f"{PARAM}/monitoring/grafana_admin_password")
    assert not _allowed(policy, "ssm:GetParametersByPath", PARAM)
    assert not _allowed(policy, "ssm:GetParametersByPath", f"{PARAM}/monitoring")
    assert not _allowed(policy, "ec2:DescribeInstances", "*")
    assert not _allowed(policy, "s3:ListBucket", BUCKET, **{"s3:prefix": "monitoring/"})
    for action, resource, _ in _log_calls("monitoring", ("startup", "grafana")):
        assert not _allowed(policy, action, resource), (action, resource)
    assert not _allowed(policy, "logs:CreateLogGroup", f"{LOGS}/backend")
    # The original's global bucket name is another account's: out of reach.
    assert not _allowed(policy, "s3:GetObject", "arn:aws:s3:::wealist-deploy-scripts/boot/startup.sh")
    # Another environment's parameters are out of reach too.
    assert not _allowed(policy, "ssm:GetParametersByPath", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/wealist/dev/db")


def test_each_roles_s3_downloads_in_the_startup_script_are_allowed(roles):
    """The `aws s3 cp` calls the startup script makes for each role (read
    from the script itself): a recursive copy needs ListBucket on the prefix
    and GetObject below it, a single object GetObject only. A download the
    role may not make would fail the boot on AWS, which the rehearsal (moto,
    full access) cannot see."""
    import re

    text = (ROOT / "wealist_cfn" / "boot" / "startup.sh").read_text()
    backend_part = text[text.index('if [ "$WEALIST_ROLE" = backend ]') : text.index("\nfi\n")]
    backend, other = backend_part.split("\nelse\n")
    monitoring = other + text[text.index("start_monitoring() {") :]
    for role, part in (("Ec2Role", backend), ("MonitoringRole", monitoring)):
        copies = re.findall(r'aws s3 cp (--recursive )?--only-show-errors "s3://\$WEALIST_BUCKET/([^"]*)"', part)
        assert copies, role
        for recursive, key in copies:
            if recursive:
                assert _allowed(roles[role], "s3:ListBucket", BUCKET, **{"s3:prefix": key}), (role, key)
                assert _allowed(roles[role], "s3:GetObject", f"{BUCKET}/{key}some-file"), (role, key)
            else:
                assert _allowed(roles[role], "s3:GetObject", f"{BUCKET}/{key}"), (role, key)


def test_grafana_reads_cloudwatch_metrics_with_the_monitoring_role_only(roles):
    """Grafana's CloudWatch data source (authType default: the instance's
    role) needs GetMetricData for the panels, ListMetrics for the query
    editor and tag:GetResources for the dashboards' "Resource ARNs"
    variables (Grafana docs, AWS CloudWatch data source, IAM policy
    examples). Nothing that writes or reads logs; the backend gets none of it."""
    reads = [("cloudwatch:GetMetricData", "*"), ("cloudwatch:ListMetrics", "*"), ("tag:GetResources", "*")]
    for action, resource in reads:
        assert _allowed(roles["MonitoringRole"], action, resource), action
        assert not _allowed(roles["Ec2Role"], action, resource), action
    for action in (
        "cloudwatch:PutMetricData",
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DeleteAlarms",
        "cloudwatch:PutDashboard",
        "logs:GetLogEvents",
        "logs:StartQuery",
        "tag:TagResources",
    ):
        assert not _allowed(roles["MonitoringRole"], action, "*"), action
