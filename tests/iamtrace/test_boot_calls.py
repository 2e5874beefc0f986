"""Each instance's boot, every AWS call of it, under the instance's own role
(its policies and the permissions boundary, and for decryption the secrets
key's policy), from the committed templates resolved in both modes: every
``aws`` command of wealist_cfn/boot/userdata.sh and startup.sh read from the
scripts themselves (a command the reader does not know fails the test),
plus what the programs the boot starts call with the role.

This generalises tests/ops/test_instance_roles.py's reading of the
``aws s3 cp`` calls to every call. Stand-in: none runs (moto makes no
instance); the calls are mapped by wealist_cfn/aws/iamcalls.py like the story's
and evaluated by tests/iamtrace/check.py. What the programs call, as their
documentation says:

* the awslogs driver: logs:CreateLogStream and logs:PutLogEvents into an
  existing group (awslogs-create-group false) (Docker docs, "Amazon
  CloudWatch Logs logging driver", https://docs.docker.com/engine/logging/drivers/awslogs/);
* the CloudWatch agent shipping the boot log: the same two calls on its
  stream (CloudWatch agent user guide, "Create IAM roles and users for use
  with the CloudWatch agent",
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/create-iam-roles-for-cloudwatch-agent.html);
* ``aws ecr get-login-password`` is ecr:GetAuthorizationToken, and an image
  pull ecr:BatchGetImage and ecr:GetDownloadUrlForLayer on the repository
  (ECR user guide, "Private repository policies", pulling an image);
* Prometheus's EC2 service discovery: ec2:DescribeInstances (Prometheus
  docs, ec2_sd_config), the monitoring instance only;
* the SSM agent, for Session Manager: ssm:UpdateInstanceInformation, the
  ssmmessages channels and ec2messages (Systems Manager user guide, "Verify
  or add instance permissions for Session Manager",
  https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-getting-started-instance-profile.html);
* get-parameters-by-path ``--with-decryption`` decrypts each SecureString
  under the path: kms:Decrypt with Parameter Store's encryption context
  through ssm.<region> (KMS developer guide, "How Parameter Store uses AWS KMS",
  https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html).
"""

from __future__ import annotations

import re

import pytest

from . import check
from .boot_calls import BOOT, ROLES, _commands, _sections, boot_needs


def test_every_aws_command_of_the_boot_is_read():
    sections = _sections()
    joined = {role: " / ".join(cmds) for role, cmds in sections.items()}
    for role in ROLES:
        assert "s3 cp" in joined[role] and "ssm get-parameters-by-path" in joined[role], role
    assert "ecr get-login-password" in joined["backend"]
    assert "ecr get-login-password" not in joined["monitoring"]
    # The reader misses no line that runs aws.
    for script in ("userdata.sh", "startup.sh"):
        text = (BOOT / script).read_text().replace("\\\n", " ")
        lines = [
            ln
            for ln in text.splitlines()
            if re.search(r"(?:^|[\s(|&;])aws \S+ \S+", ln.split(" #")[0]) and not ln.strip().startswith("#")
        ]
        assert len(lines) == len(_commands(text)), script


@pytest.mark.parametrize("mode", sorted(check.MODES))
@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_instance_role_may_make_every_call_of_its_boot(role, mode):
    instance = check.instance_principals(mode)[ROLES[role]]
    keypolicy = check.key_policy()
    needs = boot_needs(role)
    assert {n.action for n in needs} >= {
        "s3:GetObject",
        "ssm:GetParametersByPath",
        "kms:Decrypt",
        "logs:PutLogEvents",
        "autoscaling:SetInstanceHealth",
    }
    denied = [
        f"boot ({role}): {instance.name} may not {n.action} on {n.resource}: {why}"
        for n in needs
        if (why := check.evaluate(instance, n, keypolicy)) is not None
    ]
    assert denied == []


def test_an_instance_role_reads_none_of_the_other_groups_secrets():
    """The same machinery, the other way round: each group's boot calls,
    made with the other group's role, are refused where they reach the
    other group's secrets."""
    pols = check.instance_principals("single-AZ")
    keypolicy = check.key_policy()
    for role, other in (("backend", "MonitoringRole"), ("monitoring", "Ec2Role")):
        refused = {n.action for n in boot_needs(role) if check.evaluate(pols[other], n, keypolicy) is not None}
        assert {"ssm:GetParametersByPath", "kms:Decrypt"} <= refused, (role, other)


@pytest.mark.parametrize(
    "role,sid,action",
    [
        ("backend", "ReadGroupParameters", "ssm:GetParametersByPath"),
        ("monitoring", "DecryptSecureStringsViaSsm", "kms:Decrypt"),
        ("backend", "PullServiceImages", "ecr:BatchGetImage"),
    ],
)
def test_removing_a_statement_the_boot_needs_is_a_denial(role, sid, action):
    instance = check.instance_principals("single-AZ")[ROLES[role]]
    kept = [s for s in instance.statements if s.get("Sid") != sid]
    assert len(kept) == len(instance.statements) - 1, sid
    instance.statements = kept
    keypolicy = check.key_policy()
    assert any(check.evaluate(instance, n, keypolicy) is not None for n in boot_needs(role) if n.action == action)
