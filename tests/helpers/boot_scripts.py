"""The boot scripts (wealist_cfn/boot/) rendered as the compute stack renders
them, and run with stand-ins for aws, docker, sleep and shutdown."""

from __future__ import annotations

import json
import re
import subprocess

from ops.tools import ROOT

BOOT = ROOT / "wealist_cfn" / "boot"


USERDATA = BOOT / "userdata.sh"


STARTUP = BOOT / "startup.sh"


# What the compute stack's Fn::Sub provides: pseudo parameters, the stack's
# parameters and the Role variable (wealist_cfn/stacks/compute.py). The
# bucket is the account-unique name the root stack computes for
# params/prod.json's empty DeployBucketName in moto's account, the one
# bootstrap creates there.
BUCKET = "wealist-prod-deploy-123456789012-ap-northeast-2"


SUB_VALUES = {
    "AWS::Region": "ap-northeast-2",
    "Project": "wealist",
    "Environment": "prod",
    "Role": "backend",
    "DeployBucketName": BUCKET,
    "UserServicePort": "8081",
    "BoardServicePort": "8000",
}


def render_sub(text: str, values: dict[str, str]) -> str:
    """Fn::Sub: ${Name} is replaced, ${!Name} becomes a literal ${Name}; a
    name with no value is an error, as it is for CloudFormation."""

    def replace(m):
        inner = m.group(1)
        if inner.startswith("!"):
            return "${" + inner[1:] + "}"
        if inner not in values:
            raise KeyError(f"Fn::Sub has no value for ${{{inner}}}")
        return values[inner]

    return re.sub(r"\$\{([^}]*)\}", replace, text)


FAKE_AWS = r"""#!/bin/bash
echo "aws $*" >>"$CALLS"
case "$1 $2" in
  "s3 cp")
    if [ -n "${FAIL_S3:-}" ]; then echo "fatal error: An error occurred (AccessDenied)" >&2; exit 1; fi
    if [ "$3" = --recursive ]; then src=${5#s3://*/}; mkdir -p "$6"; cp -r "$FILES/$src". "$6"/
    else src=${4#s3://*/}; cp "$FILES/$src" "$5"; fi ;;
  "ssm get-parameters-by-path") cat "$PARAMS_JSON" ;;
  "sts get-caller-identity") echo 123456789012 ;;
  "ecr get-login-password") echo token ;;
  "autoscaling set-instance-health")
    if [ -n "${FAIL_HEALTH:-}" ]; then echo "An error occurred (AccessDenied)" >&2; exit 254; fi
    # The first FAIL_HEALTH_TIMES calls are refused as a busy group is (ResourceContention).
    n=$(grep -c "set-instance-health" "$CALLS")
    if [ "$n" -le "${FAIL_HEALTH_TIMES:-0}" ]; then
      echo "An error occurred (ResourceContention) when calling the SetInstanceHealth operation" >&2; exit 254
    fi ;;
  *) echo "fake aws: unexpected: $*" >&2; exit 1 ;;
esac
"""


FAKE_DOCKER = r"""#!/bin/bash
echo "docker $*" >>"$CALLS"
case "$1" in
  info|pull|login) cat >/dev/null 2>&1 || true ;;
  run)
    for a in "$@"; do
      case "$a" in
        *.env) [ "$(stat -c %a "$a")" = 600 ] || { echo "env file $a is not mode 600" >&2; exit 1; } ;;
      esac
    done
    if [ -n "${FAIL_DB:-}" ]; then echo "psql: error: connection refused" >&2; exit 2; fi ;;
  compose) [ -f "$3" ] || { echo "no compose file $3" >&2; exit 1; } ;;
  ps) echo user-service; echo board-service ;;
esac
"""


def _parameters_json(prefix="/wealist/prod"):
    values = {
        "db/postgres_host": "db.example.internal",
        "db/postgres_port": "5432",
        "db/postgres_superuser": "wealist_admin",
        "db/postgres_superuser_password": "MasterPw1",
        "db/postgres_db": "wealist",
        "redis/host": "redis.example.internal",
        "redis/port": "6379",
        "redis/auth_token": "RedisToken1234567",
        "monitoring/grafana_admin_password": "GrafanaPw1",
        "deploy/user_service_repository": "user-service",
        "deploy/board_service_repository": "board-service",
        "deploy/user_service_image_tag": "abc123",
        "deploy/board_service_image_tag": "def456",
    }
    for k in ("user", "board"):
        values.update(
            {
                f"db/{k}_db_name": f"wealist_{k}_db",
                f"db/{k}_db_user": f"wealist_{k}_service",
                f"db/{k}_db_password": f"{k.title()}Pw123",
            }
        )
    return {"Parameters": [{"Name": f"{prefix}/{k}", "Type": "String", "Value": v} for k, v in values.items()]}


# Records each pause instead of taking it: the give-up's hold is asserted
# from what it asked for, never timed.
FAKE_SLEEP = r"""#!/bin/bash
echo "sleep $*" >>"$CALLS"
"""


FAKE_SHUTDOWN = r"""#!/bin/bash
echo "shutdown $*" >>"$CALLS"
"""


def _run_startup(tmp_path, role, **extra_env):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("aws", FAKE_AWS), ("docker", FAKE_DOCKER), ("sleep", FAKE_SLEEP), ("shutdown", FAKE_SHUTDOWN)):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    # The instance's python3 runs render.py; here, the test's interpreter.
    import sys

    (bin_dir / "python3").symlink_to(sys.executable)
    # IMDSv2 (token required) gives the instance ID: tests/ops/standins/curl.py.
    curl = ROOT / "tests" / "ops" / "standins" / "curl.py"
    (bin_dir / "curl").write_text(f'#!/bin/bash\nexec "{sys.executable}" "{curl}" "$@"\n')
    (bin_dir / "curl").chmod(0o755)
    params = tmp_path / "parameters.json"
    params.write_text(json.dumps(_parameters_json()))
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "CALLS": str(tmp_path / "calls.log"),
        "FILES": str(ROOT / "instance-files"),
        "PARAMS_JSON": str(params),
        "WEALIST_BASE": str(tmp_path / "opt"),
        "WEALIST_ROLE": role,
        "WEALIST_BUCKET": BUCKET,
        "WEALIST_PREFIX": "/wealist/prod",
        "AWS_REGION": "ap-northeast-2",
        "USER_SERVICE_PORT": "8081",
        "BOARD_SERVICE_PORT": "8000",
        "IMDS_INSTANCE_ID": "i-0123456789abcdef0",
        **extra_env,
    }
    result = subprocess.run(["bash", str(STARTUP)], env=env, capture_output=True, text=True, timeout=60)
    calls = (tmp_path / "calls.log").read_text().splitlines() if (tmp_path / "calls.log").exists() else []
    return result, calls
