"""What each instance's boot calls in AWS, read from the boot scripts (wealist_cfn/boot/), with the IAM
actions and resources each call needs: shared by tests/iamtrace/test_boot_calls.py and the story's
report (test_story.py)."""

from __future__ import annotations

import re
import shlex

from wealist_cfn import config
from wealist_cfn.aws import iamcalls
from wealist_cfn.core.paramstore import SECRET_NAMES
from wealist_cfn.stacks.common import BACKEND_GROUP, MONITORING_GROUP

from . import check
from .jobs import ROOT

BOOT = ROOT / "wealist_cfn" / "boot"


CFG = config.load(ROOT / "params" / "prod.json")


# The account-unique name the templates compute when DeployBucketName is empty.
BUCKET = CFG.deploy_bucket_name(check.ACCOUNT)


PREFIX = "/wealist/prod"


ROLES = {"backend": "Ec2Role", "monitoring": "MonitoringRole"}


# The Auto Scaling group each role's instances run in (stacks/common.py).
GROUPS = {"backend": f"wealist-prod-{BACKEND_GROUP}", "monitoring": f"wealist-prod-{MONITORING_GROUP}"}


INSTANCE = "i-0123456789abcdef0"


def _commands(text: str) -> list[str]:
    """Every ``aws ...`` command line of a script, continuation lines joined."""
    text = text.replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.split(" #")[0].strip()
        if line.startswith("#"):
            continue
        m = re.search(r"(?:^|[\s(|&;])aws (\S+ \S+.*?)(?:\s*[|)>]|$)", line)
        if m:
            out.append(m[1].strip())
    return out


def _sections() -> dict[str, list[str]]:
    """Each role's ``aws`` commands: userdata.sh's, the startup script's
    common part, its branch for the role, and the functions that role runs."""
    user = (BOOT / "userdata.sh").read_text()
    text = (BOOT / "startup.sh").read_text()
    branch = text[text.index('if [ "$WEALIST_ROLE" = backend ]') : text.index("\nfi\n")]
    backend_branch, monitoring_branch = branch.split("\nelse\n")
    backend = text[text.index("start_backend() {") : text.index("start_monitoring() {")]
    monitoring = text[text.index("start_monitoring() {") :]
    common = text[: text.index('if [ "$WEALIST_ROLE" = backend ]')]
    read = text[text.index("read_parameters() {") : text.index("start_backend() {")]
    paths = {
        "backend": ["db", "redis", *re.findall(r"read_parameters ([a-z ]+)\n", backend)[0].split()],
        "monitoring": re.findall(r"read_parameters ([a-z ]+)\n", monitoring)[0].split(),
    }
    out = {}
    for role, part in (
        ("backend", backend_branch + "\n" + backend),
        ("monitoring", monitoring_branch + "\n" + monitoring),
    ):
        cmds = _commands(user) + _commands(common) + _commands(part)
        for command in _commands(read):
            cmds += [command.replace("$path", p) for p in paths[role]]
        out[role] = cmds
    return out


def _calls(command: str, role: str) -> list[dict]:
    """The API calls one ``aws`` command makes, as calltrace would record them.

    SetInstanceHealth names only the instance; IAM authorises it on the
    instance's Auto Scaling group (Service Authorization Reference, EC2 Auto
    Scaling: SetInstanceHealth, resource type autoScalingGroup), so the call
    carries the group of ``role``'s instances for the mapping."""
    words = shlex.split(
        command.replace("$WEALIST_PREFIX", PREFIX)
        .replace("${DeployBucketName}", BUCKET)
        .replace("$WEALIST_BUCKET", BUCKET)
        .replace('"${AWS::Region}"', check.REGION)
    )
    service, op, args = words[0], words[1], words[2:]
    if (service, op) == ("s3", "cp"):
        source = next(a for a in args if a.startswith("s3://"))
        bucket, _, key = source[5:].partition("/")
        if "--recursive" in args:
            return [
                {"service": "s3", "operation": "ListObjectsV2", "params": {"Bucket": bucket, "Prefix": key}},
                {"service": "s3", "operation": "GetObject", "params": {"Bucket": bucket, "Key": key + "file"}},
            ]
        return [{"service": "s3", "operation": "GetObject", "params": {"Bucket": bucket, "Key": key}}]
    if (service, op) == ("ssm", "get-parameters-by-path"):
        path = args[args.index("--path") + 1]
        return [
            {
                "service": "ssm",
                "operation": "GetParametersByPath",
                "params": {"Path": path, "Recursive": True, "WithDecryption": "--with-decryption" in args},
            }
        ]
    if (service, op) == ("sts", "get-caller-identity"):
        return [{"service": "sts", "operation": "GetCallerIdentity", "params": {}}]
    if (service, op) == ("ecr", "get-login-password"):
        return [{"service": "ecr", "operation": "GetAuthorizationToken", "params": {}}]
    if (service, op) == ("autoscaling", "set-instance-health"):
        return [
            {
                "service": "autoscaling",
                "operation": "SetInstanceHealth",
                "params": {
                    "InstanceId": INSTANCE,
                    "HealthStatus": args[args.index("--health-status") + 1],
                    "ShouldRespectGracePeriod": "--no-should-respect-grace-period" not in args,
                    "AutoScalingGroupName": GROUPS[role],
                },
            }
        ]
    raise AssertionError(f"boot script: `aws {service} {op}` is not known to this test: map it to its API calls")


def _program_needs(role: str) -> list[iamcalls.Need]:
    """What the programs the boot starts call with the instance's role."""
    ctx = {"aws:RequestedRegion": check.REGION}
    group = f"arn:aws:logs:{check.REGION}:{check.ACCOUNT}:log-group:{PREFIX}/{role}"
    streams = [
        "startup",
        *(("user-service", "board-service", "node-exporter") if role == "backend" else ("prometheus", "grafana")),
    ]
    needs = [
        iamcalls.Need(a, f"{group}:log-stream:{INSTANCE}/{s}", ctx)
        for s in streams
        for a in ("logs:CreateLogStream", "logs:PutLogEvents")
    ]
    # The SSM agent, for Session Manager (which replaces SSH): its registration and session channels.
    needs.append(
        iamcalls.Need(
            "ssm:UpdateInstanceInformation", f"arn:aws:ec2:{check.REGION}:{check.ACCOUNT}:instance/{INSTANCE}", ctx
        )
    )
    needs += [
        iamcalls.Need(f"ssmmessages:{a}", "*", ctx)
        for a in ("CreateControlChannel", "CreateDataChannel", "OpenControlChannel", "OpenDataChannel")
    ]
    needs += [
        iamcalls.Need(f"ec2messages:{a}", "*", ctx)
        for a in ("AcknowledgeMessage", "DeleteMessage", "FailMessage", "GetEndpoint", "GetMessages", "SendReply")
    ]
    if role == "backend":
        for repo in ("user-service", "board-service"):
            arn = f"arn:aws:ecr:{check.REGION}:{check.ACCOUNT}:repository/{repo}"
            needs += [iamcalls.Need(a, arn, ctx) for a in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")]
    else:
        needs.append(iamcalls.Need("ec2:DescribeInstances", "*", ctx))
    return needs


def _decrypts(call: dict) -> list[iamcalls.Need]:
    """kms:Decrypt of each SecureString under a path read with decryption."""
    params = call["params"]
    if call["operation"] != "GetParametersByPath" or not params.get("WithDecryption"):
        return []
    return [
        iamcalls.Need(
            "kms:Decrypt",
            check.KEY_ARN,
            {
                "aws:RequestedRegion": check.REGION,
                "kms:ViaService": f"ssm.{check.REGION}.amazonaws.com",
                "kms:EncryptionContext:PARAMETER_ARN": (
                    f"arn:aws:ssm:{check.REGION}:{check.ACCOUNT}:parameter{PREFIX}/{n}"
                ),
            },
        )
        for n in SECRET_NAMES
        if f"{PREFIX}/{n}".startswith(params["Path"] + "/")
    ]


def boot_needs(role: str) -> list[iamcalls.Need]:
    needs = []
    for command in _sections()[role]:
        for call in _calls(command, role):
            call = {**call, "region": check.REGION}
            needs += iamcalls.needs(call, account=check.ACCOUNT) + _decrypts(call)
    return needs + _program_needs(role)
