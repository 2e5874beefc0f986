"""Every log group the instances write to exists in the stack with a
retention, and each instance role can write to exactly its own.

The group names are read from what runs on the instances, as it runs there:
the compose files' ``awslogs-group`` as Compose V2's own ``config`` resolves
it from the ``.env`` render.py writes, and the CloudWatch agent's
``log_group_name`` as UserData's ``sed`` fills it in (UserData rendered as
Fn::Sub renders it). They are checked against the committed compute.yaml and
iam.yaml, resolved with the project's resolver (wealist_cfn/cfn/model.py) for
each parameter file, in both modes.

Stand-ins: none run against AWS. The policies are evaluated by
tests/helpers/iam_eval.py (IAM's matching rules; conditions ignored on Allow, the
stricter reading for "can never"). What AWS enforces and this does not
model: the awslogs driver and the agent fail to write to a group that does
not exist and may not create it (awslogs-create-group false, no
logs:CreateLogGroup), which is why every group must exist in the stack.
CreateLogStream and PutLogEvents act on the log-stream ARN
``arn:aws:logs:<region>:<account>:log-group:<group>:log-stream:<stream>``
(Service Authorization Reference, "Actions defined by Amazon CloudWatch
Logs", as parliament's bundled copy lists them).
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from helpers.boot_scripts import SUB_VALUES, USERDATA, render_sub
from helpers.iam_eval import allowed, listify
from helpers.instance_files import (
    _backend_values,
    _compose_config,
    _doc,
    render,  # instance-files/config/render.py
)
from wealist_cfn import config
from wealist_cfn.cfn import model as cfnmodel
from wealist_cfn.cfn import templates as tpl
from wealist_cfn.core.parameters import RETENTION_DAYS
from wealist_cfn.core.settings import TEMPLATES_DIR

from .tools import ROOT

FILES = ROOT / "instance-files"
INSTANCE = "i-0123456789abcdef0"
ROLES = {"backend": "Ec2Role", "monitoring": "MonitoringRole"}
COMPOSE = {
    "backend": FILES / "config" / "docker-compose.prod.yml",
    "monitoring": FILES / "monitoring" / "docker-compose.yml",
}
CASES = [(params, multi_az) for params in ("prod", "dev") for multi_az in ("false", "true")]


def _stacks(params: str, multi_az: str) -> tuple[config.Config, dict[str, cfnmodel.Stack]]:
    cfg = config.load(ROOT / "params" / f"{params}.json")
    committed = {p.name: tpl.load(p.read_text()) for p in TEMPLATES_DIR.glob("*.yaml")}
    return cfg, cfnmodel.resolve_set(committed, dict(cfg.values, EnableMultiAZ=multi_az), region=cfg.region)


def _compose_groups(tmp_path, cfg, role: str) -> set[str]:
    work = tmp_path / role
    work.mkdir()
    shutil.copy(COMPOSE[role], work)
    prefix = f"/{cfg.values['Project']}/{cfg.values['Environment']}"
    env = {"WEALIST_PREFIX": prefix, "WEALIST_ROLE": role, "AWS_REGION": cfg.region, "INSTANCE_ID": INSTANCE}
    if role == "backend":
        env.update(USER_SERVICE_PORT="8081", BOARD_SERVICE_PORT="8000", ECR_REGISTRY="x.dkr.ecr.amazonaws.com")
        render.render_env(_doc(_backend_values(), prefix), str(work), env)
    else:
        render.render_env(_doc({"monitoring/grafana_admin_password": "x"}, prefix), str(work), env)
    resolved = _compose_config(work, work / COMPOSE[role].name)
    return {svc["logging"]["options"]["awslogs-group"] for svc in resolved["services"].values()}


def _agent_groups(cfg, role: str) -> set[str]:
    """The agent config's log_group_name after UserData's sed, with the
    values Fn::Sub gives UserData for these parameters."""
    values = dict(SUB_VALUES, Project=cfg.values["Project"], Environment=cfg.values["Environment"], Role=role)
    userdata = render_sub(USERDATA.read_text(), values)
    [(placeholder, group)] = re.findall(r"sed 's\|(@@\w+@@)\|([^|]+)\|'", userdata)
    agent = json.loads((FILES / "boot" / "cloudwatch-agent.json").read_text().replace(placeholder, group))
    return {e["log_group_name"] for e in agent["logs"]["logs_collected"]["files"]["collect_list"]}


def _stream_arn(region: str, group: str, stream: str) -> str:
    return f"arn:aws:logs:{region}:{cfnmodel.ACCOUNT}:log-group:{group}:log-stream:{stream}"


@pytest.mark.parametrize("params,multi_az", CASES)
def test_every_log_group_the_instances_write_to_exists_with_retention(tmp_path, params, multi_az):
    cfg, stacks = _stacks(params, multi_az)
    created = {
        r["Properties"]["LogGroupName"]: r["Properties"]
        for r in stacks["ComputeStack"].of_type("AWS::Logs::LogGroup").values()
    }
    retention = str(cfg.values.get("LogRetentionDays", "90"))

    named = {}
    for role in ROLES:
        groups = _compose_groups(tmp_path, cfg, role) | _agent_groups(cfg, role)
        assert len(groups) == 1, f"{role}: containers and boot log go to one group, found {groups}"
        named[role] = groups.pop()
        assert named[role] in created, f"{role}: {named[role]} is not created by compute.yaml"
        props = created[named[role]]
        assert str(props["RetentionInDays"]) == retention and str(props["RetentionInDays"]) in RETENTION_DAYS
    assert named["backend"] != named["monitoring"]


@pytest.mark.parametrize("params,multi_az", CASES)
def test_each_role_writes_to_exactly_its_own_log_group(tmp_path, params, multi_az):
    """CreateLogStream and PutLogEvents (what the awslogs driver and the
    agent call on an existing group) on the role's own group's streams,
    nothing on the other group, no CreateLogGroup, no logs action on "*"."""
    cfg, stacks = _stacks(params, multi_az)
    iam = stacks["IamStack"]
    for role, role_id in ROLES.items():
        statements = [
            s for p in iam.resources[role_id]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]
        ]
        own = _agent_groups(cfg, role).pop()
        other = _agent_groups(cfg, next(r for r in ROLES if r != role)).pop()
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            for stream in (f"{INSTANCE}/startup", f"{INSTANCE}/grafana", f"{INSTANCE}/user-service"):
                assert allowed(statements, action, _stream_arn(cfg.region, own, stream)), (role, action, stream)
            assert not allowed(statements, action, _stream_arn(cfg.region, other, f"{INSTANCE}/startup"))
            assert not allowed(statements, action, _stream_arn(cfg.region, f"{own}-other", "x"))
        for action in ("logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DeleteLogGroup"):
            assert not allowed(statements, action, f"arn:aws:logs:{cfg.region}:{cfnmodel.ACCOUNT}:log-group:{own}")
        logs_statements = [s for s in statements if any(str(a).startswith("logs:") for a in listify(s["Action"]))]
        assert logs_statements and all("*" not in listify(s["Resource"]) for s in logs_statements)


def test_the_check_would_catch_a_role_writing_to_the_other_group():
    """The evaluator does tell the groups apart: a statement on the other
    group's streams is found."""
    wrong = [
        {
            "Effect": "Allow",
            "Action": ["logs:PutLogEvents"],
            "Resource": ["arn:aws:logs:ap-northeast-2:123456789012:log-group:/wealist/prod/monitoring:log-stream:*"],
        }
    ]
    assert not allowed(wrong, "logs:PutLogEvents", _stream_arn("ap-northeast-2", "/wealist/prod/backend", "i-1/x"))
    assert allowed(wrong, "logs:PutLogEvents", _stream_arn("ap-northeast-2", "/wealist/prod/monitoring", "i-1/x"))
