"""Boot rehearsal: the UserData as CloudFormation renders it and the startup
script it fetches, run end to end on this machine in a temporary root, from
what `bootstrap` wrote and what the stacks publish to a healthy backend.

Stand-ins, and what each enforces of the real thing:

* AWS: the real AWS CLI (``aws``, as on Amazon Linux) against moto's server
  with the strict layer (wealist_cfn.rehearsal.strict): Parameter Store refuses what
  the PutParameter API reference refuses (``{{ }}``, sizes, names), and the
  deploy bucket's TLS-only policy is evaluated as IAM does over TLS.
* RDS: a real PostgreSQL (17 when installed, tests/ops/postgres.py) with an
  RDS-like master: LOGIN CREATEROLE CREATEDB, member of rds_superuser, never
  a superuser. The master's name and password are the ones bootstrap wrote,
  set as CloudFormation sets them from the ``{{resolve:ssm-secure}}``
  reference. Reached on a Unix socket (libpq ignores sslmode there; RDS's
  rds.force_ssl is not exercised).
* Docker: tests/ops/standins/docker.py. ``run --env-file`` reads the file
  by docker/cli's kvfile rules (literal values, quotes kept) and runs psql on
  the host; ``compose`` is validated and resolved by Compose V2's own
  ``config``.
  The awslogs driver's start-up is modelled against moto's CloudWatch Logs:
  a stream per container, the group never created, a failure fatal only in
  blocking mode (the stand-in's docstring cites the rules).
* ``dnf``, ``systemctl``, ``logger``: record what they are asked; ``dnf
  install amazon-cloudwatch-agent`` installs tests/ops/standins/cwagent.py
  as the agent's control script, which checks its configuration as the
  agent's translator would and creates the boot log's stream in an existing
  group only.
* ``curl``: tests/ops/standins/curl.py, IMDSv2 only (a session token is
  required, as the launch template sets); any download fails (Compose is
  "installed", so UserData must not download it).

Absolute paths of the UserData (/var/log, /usr/local, /opt/aws) are moved
under the temporary root; nothing else in the scripts is changed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import boto3
import pytest

from helpers.boot_scripts import SUB_VALUES, USERDATA, render_sub
from helpers.secrets import _leaks, _pieces
from wealist_cfn.core.settings import DEFAULT_SETTINGS
from wealist_cfn.ops import bootstrap
from wealist_cfn.stacks import cache, compute, database

from . import postgres as pg
from .tools import VENV_BIN, compose_binary, require

pytestmark = [pytest.mark.moto, pytest.mark.slow]

STANDINS = Path(__file__).parent / "standins"
PREFIX = "/wealist/prod"
INSTANCE = "i-0a1b2c3d4e5f67890"


def _stack_parameters() -> list[str]:
    """Names (relative) of the parameters the database and cache stacks publish."""
    out = []
    for stack in (database, cache):
        for r in json.loads(stack.build(DEFAULT_SETTINGS).to_json())["Resources"].values():
            if r["Type"] == "AWS::SSM::Parameter":
                out.append(r["Properties"]["Name"]["Fn::Sub"].removeprefix("/${Project}/${Environment}/"))
    return out


@pytest.fixture(scope="module")
def postgres():
    # The master's name is bootstrap's default for params/prod.json.
    server, stop = pg.start(master="wealist_admin", dbname="wealist")
    try:
        yield server
    finally:
        stop()


def _ssm(target):
    return boto3.client("ssm", region_name=target.region, endpoint_url=target.endpoint_url)


def _values(target) -> dict[str, str]:
    out = {}
    for page in (
        _ssm(target).get_paginator("get_parameters_by_path").paginate(Path=PREFIX, Recursive=True, WithDecryption=True)
    ):
        out.update({p["Name"].removeprefix(PREFIX + "/"): p["Value"] for p in page["Parameters"]})
    return out


def _log_groups() -> dict[str, str]:
    """Role -> name of each log group the compute stack creates."""
    out = {}
    for r in json.loads(compute.build(DEFAULT_SETTINGS).to_json())["Resources"].values():
        if r["Type"] == "AWS::Logs::LogGroup":
            name = render_sub(r["Properties"]["LogGroupName"]["Fn::Sub"], SUB_VALUES)
            out[name.rsplit("/", 1)[1]] = name
    return out


def _logs(target):
    return boto3.client("logs", region_name=target.region, endpoint_url=target.endpoint_url)


def _streams(target, group) -> set[str]:
    return {s["logStreamName"] for s in _logs(target).describe_log_streams(logGroupName=group)["logStreams"]}


@pytest.fixture
def account(prod_cfg, target, postgres):
    """bootstrap's parameters and bucket; the endpoints the stacks publish
    (the database's host is the server's socket directory); the RDS master
    set to bootstrap's password; released images for both services."""
    bootstrap.run(prod_cfg, target)
    ssm = _ssm(target)
    published = {
        "db/postgres_host": postgres.socket_dir,
        "db/postgres_port": str(postgres.port),
        "redis/host": "redis.wealist.internal",
        "redis/port": "6379",
    }
    assert set(published) == set(_stack_parameters())
    for name, value in published.items():
        ssm.put_parameter(Name=f"{PREFIX}/{name}", Value=value, Type="String")
    for svc in ("user_service", "board_service"):
        ssm.put_parameter(
            Name=f"{PREFIX}/deploy/{svc}_image_tag", Value=f"{svc[:4]}1234", Type="String", Overwrite=True
        )
    # The log groups, as the compute stack creates them (with retention).
    for name in _log_groups().values():
        _logs(target).create_log_group(logGroupName=name)
    values = _values(target)
    master_pw = values["db/postgres_superuser_password"].replace("'", "''")
    postgres.query(f"ALTER ROLE {values['db/postgres_superuser']} PASSWORD '{master_pw}'")
    return values


def _boot(tmp_path, target, role="backend", **extra_env):
    """Run the rendered UserData in a temporary root; returns (exit code,
    boot log, recorded calls, Docker stand-in state directory)."""
    root = tmp_path / "root"
    bin_dir = tmp_path / "bin"
    state = tmp_path / "docker-state"
    for d in (root / "var/log", root / "usr/local/sbin", bin_dir, state):
        d.mkdir(parents=True, exist_ok=True)
    calls = tmp_path / "calls.log"
    record = '#!/bin/bash\necho "$(basename "$0") $*" >>"$CALLS"\n'
    ctl = root / "opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"
    (bin_dir / "dnf").write_text(
        record
        + f"""
case " $* " in
  *" amazon-cloudwatch-agent "*)
    if [ -n "${{FAIL_CWAGENT_INSTALL:-}}" ]; then echo "Error: Unable to find a match" >&2; exit 1; fi
    mkdir -p "{ctl.parent}" "{ctl.parent.parent / "etc"}"
    printf '#!/bin/bash\\nexec "%s" "%s" "$@"\\n' "{sys.executable}" "{STANDINS / "cwagent.py"}" >"{ctl}"
    chmod 755 "{ctl}" ;;
esac
"""
    )
    (bin_dir / "systemctl").write_text(record)
    # A boot whose Unhealthy mark fails stops its instance: recorded, never run here.
    (bin_dir / "shutdown").write_text(record)
    (bin_dir / "logger").write_text(record + "cat >/dev/null\n")
    (bin_dir / "curl").write_text(f'#!/bin/bash\nexec "{sys.executable}" "{STANDINS / "curl.py"}" "$@"\n')
    (bin_dir / "docker").write_text(f'#!/bin/bash\nexec "{sys.executable}" "{STANDINS / "docker.py"}" "$@"\n')
    # The AWS CLI pinned in requirements-dev.txt (installed beside this
    # interpreter) before whatever `aws` PATH finds first: a version manager's
    # shim adds a dozen processes to each of a boot's AWS CLI runs, and may
    # lead to another version.
    pinned = VENV_BIN / "aws"
    (bin_dir / "aws").symlink_to(pinned if pinned.exists() else require("aws"))
    # render.py runs on the instance's system Python, standard library only.
    (bin_dir / "python3").symlink_to(shutil.which("python3", path="/usr/bin") or sys.executable)
    for f in bin_dir.iterdir():
        f.chmod(0o755)

    text = render_sub(USERDATA.read_text(), dict(SUB_VALUES, Role=role))
    for path in ("/var/log/", "/usr/local/", "/opt/aws/"):
        text = text.replace(path, f"{root}{path}")
    script = tmp_path / "userdata.sh"
    script.write_text(text)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CALLS": str(calls),
        "AWS_ENDPOINT_URL": target.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "WEALIST_BASE": str(root / "opt/wealist"),
        "WEALIST_RETRY_DELAY": "0",
        # A boot that gives up asks for its replacement at once, not 360 s in.
        "WEALIST_REPLACE_AFTER": "0",
        # A missing endpoint fails at the first look unless a test waits.
        "WEALIST_PARAMETER_WAIT": "0",
        "WEALIST_POLL_SECONDS": "0",
        "COMPOSE_BIN": compose_binary(),
        "DOCKER_STATE": str(state),
        "IMDS_INSTANCE_ID": INSTANCE,
        **extra_env,
    }
    import subprocess

    result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=300)
    log = (root / "var/log/wealist-boot.log").read_text() if (root / "var/log/wealist-boot.log").exists() else ""
    recorded = calls.read_text().splitlines() if calls.exists() else []
    return result.returncode, log + result.stderr, recorded, state


def _started(state: Path, name="docker-compose.prod") -> dict:
    path = state / f"compose-up-{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def test_a_backend_boots_from_what_bootstrap_and_the_stacks_wrote(tmp_path, target, account, postgres):
    """The whole backend boot: exit 0; both databases and roles exist; each
    service logs in with its Parameter Store password to its own database
    only; the environment Compose resolves holds exactly the Parameter Store
    values; Docker and Compose were installed and started by dnf/systemctl.
    Its instance sits in its group (moto's Auto Scaling, real AWS CLI): a
    boot that ends well makes no health call, and the instance stays
    Healthy."""
    asg, instance_id = _group_instance(target)

    rc, log, calls, state = _boot(tmp_path, target, IMDS_INSTANCE_ID=instance_id)

    assert rc == 0, log
    assert "Unhealthy" not in log
    assert _health(asg, instance_id) == "Healthy"
    assert "wealist boot: backend instance ready" in log
    assert "dnf install -y -q docker" in calls and "systemctl enable --now docker" in calls
    # Only IMDS was asked (Compose is installed: nothing is downloaded).
    assert all("http://169.254.169.254/latest/" in c for c in calls if c.startswith("curl"))
    for key in ("user", "board"):
        name, user, password = (account[f"db/{key}_db_{k}"] for k in ("name", "user", "password"))
        assert postgres.query(f"select pg_get_userbyid(datdba) from pg_database where datname = '{name}'") == user
        assert postgres.query(f"select rolsuper from pg_roles where rolname = '{user}'") == "f"
        own = postgres.psql(user, password, name, "-At", "-c", "select current_user")
        assert own.returncode == 0 and own.stdout.strip() == user, own.stderr
        other = "wealist_board_db" if key == "user" else "wealist_user_db"
        assert postgres.psql(user, password, other, "-c", "select 1").returncode != 0

    started = _started(state)
    assert started["services"] == ["node-exporter", "user-service", "board-service"]
    for svc, key in (("user-service", "user"), ("board-service", "board")):
        env = started["config"][svc]["environment"]
        assert env["DB_PASSWORD"] == account[f"db/{key}_db_password"]
        assert env["DB_USER"] == account[f"db/{key}_db_user"] and env["DB_NAME"] == account[f"db/{key}_db_name"]
        assert env["DB_HOST"] == account["db/postgres_host"]
        assert env["REDIS_PASSWORD"] == account["redis/auth_token"]
        assert "PGPASSWORD" not in env and account["db/postgres_superuser_password"] not in json.dumps(env)
        tag = account[f"deploy/{svc.replace('-', '_')}_image_tag"]
        assert started["config"][svc]["image"].endswith(f"/{svc}:{tag}")
    _assert_logs_shipped(
        target, log, calls, state, "backend", ["node-exporter", "user-service", "board-service"], instance_id
    )
    # No secret in the boot log, not even a 6-character piece of one.
    assert not _leaks(log, _pieces([account[name] for name in bootstrap.SECRET_NAMES]))


def _assert_logs_shipped(target, log, calls, state, role, services, instance=INSTANCE):
    """What Compose resolved for each container's logging (its own `config`
    output): the awslogs driver into the role's group, stream
    <instance-id>/<service>, never creating the group; the driver stand-in
    created exactly those streams in the stack's group. The CloudWatch agent
    was installed by dnf, configured for the boot log into the same group
    (stream <instance-id>/startup) and started through systemctl."""
    group = _log_groups()[role]
    started = _started(state, "docker-compose.prod" if role == "backend" else "docker-compose")
    for svc in services:
        logging = started["config"][svc]["logging"]
        assert logging["driver"] == "awslogs"
        assert logging["options"]["awslogs-group"] == group
        assert logging["options"]["awslogs-create-group"] == "false"
        assert logging["options"]["awslogs-stream"] == f"{instance}/{svc}"
        assert logging["options"]["mode"] == "non-blocking"
    assert sorted(started["streams"]) == sorted(f"{group}/{instance}/{svc}" for svc in services)

    assert "dnf install -y -q amazon-cloudwatch-agent" in calls
    assert "systemctl restart amazon-cloudwatch-agent" in calls
    agent = json.loads((state / "cwagent-config.json").read_text())
    [entry] = agent["logs"]["logs_collected"]["files"]["collect_list"]
    assert entry["file_path"] == "/var/log/wealist-boot.log" and entry["log_group_name"] == group
    assert f"{instance}/startup" in _streams(target, group)
    assert _streams(target, group) == {f"{instance}/{s}" for s in ["startup", *services]}
    assert not (state / "cwagent-errors.log").exists() and not (state / "awslogs-errors.log").exists()
    assert "boot log shipped to CloudWatch Logs " + group in log


def test_no_value_in_parameter_store_contains_double_braces(target, account):
    """Everything the project stores there, bootstrap's and the stacks':
    Parameter Store refuses `{{ }}` in a value (PutParameter API reference)."""
    assert [k for k, v in account.items() if "{{" in v or "}}" in v] == []


def test_booting_twice_is_idempotent_and_applies_a_rotated_password(tmp_path, target, account, postgres, prod_cfg):
    """A second boot (a replacement instance) after `bootstrap --rotate`: the
    init runs again without error and the service's new password works, the
    old one no longer does."""
    assert _boot(tmp_path / "first", target)[0] == 0
    old = account["db/user_db_password"]
    bootstrap.run(prod_cfg, target, rotate=["db/user_db_password"])
    new = _values(target)["db/user_db_password"]
    assert new != old

    rc, log, _, _ = _boot(tmp_path / "second", target)

    assert rc == 0, log
    assert postgres.psql("wealist_user_service", new, "wealist_user_db", "-c", "select 1").returncode == 0
    assert postgres.psql("wealist_user_service", old, "wealist_user_db", "-c", "select 1").returncode != 0


def test_an_unreleased_service_is_left_out_and_the_released_one_starts(tmp_path, target, account):
    """The first release of one service: the other's tag is still
    `unreleased`; the boot succeeds, starts the released one and says which
    one it left out."""
    _ssm(target).put_parameter(
        Name=f"{PREFIX}/deploy/board_service_image_tag", Value="unreleased", Type="String", Overwrite=True
    )

    rc, log, _, state = _boot(tmp_path, target)

    assert rc == 0, log
    assert _started(state)["services"] == ["node-exporter", "user-service"]
    assert re.search(r"board-service: no image released yet .*left out", log)


@pytest.mark.parametrize("name", ["db/user_db_password", "redis/host", "db/postgres_superuser_password"])
def test_a_missing_parameter_fails_the_boot_loudly_and_starts_nothing(tmp_path, target, account, name):
    """Any parameter missing: non-zero exit, its name in the log, no
    `compose up` (no half service)."""
    _ssm(target).delete_parameter(Name=f"{PREFIX}/{name}")

    rc, log, calls, state = _boot(tmp_path, target)

    assert rc != 0
    assert name.split("/")[-1] in log or name in log, log
    assert "FAILED" in log
    assert not any(" up -d" in c for c in calls) and _started(state) == {}


def _group_instance(target) -> tuple[object, str]:
    """moto: the backend group with one instance, as the compute stack
    makes it by name; the instance's ID is the one IMDS gives the boot."""
    asg = boto3.client("autoscaling", region_name=target.region, endpoint_url=target.endpoint_url)
    ec2 = boto3.client("ec2", region_name=target.region, endpoint_url=target.endpoint_url)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    asg.create_launch_configuration(LaunchConfigurationName="rehearsal", ImageId=image, InstanceType="t3.medium")
    asg.create_auto_scaling_group(
        AutoScalingGroupName="wealist-prod-backend-asg",
        LaunchConfigurationName="rehearsal",
        MinSize=1,
        MaxSize=1,
        DesiredCapacity=1,
        AvailabilityZones=["ap-northeast-2a"],
    )
    [instance] = asg.describe_auto_scaling_instances()["AutoScalingInstances"]
    return asg, instance["InstanceId"]


def _health(asg, instance_id: str) -> str:
    return asg.describe_auto_scaling_instances(InstanceIds=[instance_id])["AutoScalingInstances"][0]["HealthStatus"]


def test_a_boot_that_gives_up_marks_its_own_instance_unhealthy(tmp_path, target, account):
    """moto's Auto Scaling, through the real AWS CLI (so the flags are the
    CLI's own, --no-should-respect-grace-period included): the endpoint
    never published, the boot gives up and its instance is Unhealthy in its
    group; Auto Scaling then replaces it (SetInstanceHealth, API reference;
    moto records the status and replaces nothing)."""
    asg, instance_id = _group_instance(target)
    _ssm(target).delete_parameter(Name=f"{PREFIX}/db/postgres_host")

    rc, log, _, state = _boot(tmp_path, target, IMDS_INSTANCE_ID=instance_id)

    assert rc != 0 and "still missing under /wealist/prod: db/postgres_host" in log
    assert f"marking {instance_id} Unhealthy" in log and "could not mark" not in log, log
    assert _health(asg, instance_id) == "Unhealthy"
    assert _started(state) == {}


def test_a_userdata_failure_before_the_startup_script_marks_the_instance_unhealthy(tmp_path, target, account):
    """moto's Auto Scaling and S3, real AWS CLI: the startup script is not in
    the bucket, so UserData itself gives up (its download is retried, then
    fails) and marks its instance Unhealthy; the startup script never ran."""
    from helpers.boot_scripts import BUCKET

    asg, instance_id = _group_instance(target)
    boto3.client("s3", region_name=target.region, endpoint_url=target.endpoint_url).delete_object(
        Bucket=BUCKET, Key=bootstrap.STARTUP_SCRIPT_KEY
    )

    rc, log, _, state = _boot(tmp_path, target, IMDS_INSTANCE_ID=instance_id)

    assert rc != 0 and "wealist-startup" not in log
    assert f"wealist boot: marking {instance_id} Unhealthy" in log, log
    assert _health(asg, instance_id) == "Unhealthy"


def test_a_monitoring_instance_boots_with_grafana_password_from_parameter_store(tmp_path, target, account):
    """The monitoring boot: exit 0; Prometheus's config rendered for this
    environment; the Grafana admin password Compose resolves is exactly the
    Parameter Store value; no database init runs."""
    rc, log, calls, state = _boot(tmp_path, target, role="monitoring")

    assert rc == 0, log
    started = _started(state, "docker-compose")
    assert started["services"] == ["grafana", "prometheus"]
    grafana = started["config"]["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == account["monitoring/grafana_admin_password"]
    prom = (tmp_path / "root/opt/wealist/monitoring/prometheus.yml").read_text()
    assert "@@" not in prom and "wealist-prod-backend-asg" in prom
    assert not any(c.startswith("docker run") for c in calls)
    _assert_logs_shipped(target, log, calls, state, "monitoring", ["grafana", "prometheus"])
    assert not _leaks(log, _pieces([account["monitoring/grafana_admin_password"]]))
    # The backend's group got nothing from this instance.
    assert _streams(target, _log_groups()["backend"]) == set()


def test_the_boot_succeeds_when_its_logs_cannot_be_shipped(tmp_path, target, account):
    """Shipping logs is never fatal. The agent's package cannot be installed
    and the log groups do not exist (a stack whose groups were deleted): the
    boot still exits 0 and starts every service, says that the boot log was
    not shipped, and the awslogs driver stand-in, in non-blocking mode, keeps
    retrying in the background as dockerd does (moby awslogs: in blocking
    mode the same failure would refuse the container's start, which the
    stand-in enforces: see the last assertion)."""
    for name in _log_groups().values():
        _logs(target).delete_log_group(logGroupName=name)

    rc, log, calls, state = _boot(tmp_path, target, FAIL_CWAGENT_INSTALL="1")

    assert rc == 0, log
    assert "WARNING: boot log not shipped to CloudWatch Logs" in log
    assert not any(c.startswith("amazon-cloudwatch-agent-ctl") for c in calls)
    assert _started(state)["services"] == ["node-exporter", "user-service", "board-service"]
    assert _started(state)["streams"] == []
    assert (state / "awslogs-errors.log").read_text().count("Error while trying to initialize awslogs") == 3

    # The stand-in does refuse a blocking container whose group is missing.
    import subprocess

    blocking = tmp_path / "blocking"
    blocking.mkdir()
    (blocking / "docker-compose.yml").write_text(
        "services:\n  app:\n    image: x\n    logging:\n      driver: awslogs\n      options:\n"
        "        awslogs-group: /wealist/prod/backend\n        awslogs-region: ap-northeast-2\n"
    )
    env = dict(
        os.environ,
        CALLS=str(tmp_path / "b.log"),
        DOCKER_STATE=str(blocking),
        COMPOSE_BIN=compose_binary(),
        AWS_ENDPOINT_URL=target.endpoint_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    refused = subprocess.run(
        [
            sys.executable,
            str(STANDINS / "docker.py"),
            "compose",
            "-f",
            str(blocking / "docker-compose.yml"),
            "up",
            "-d",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=blocking,
    )
    assert refused.returncode != 0 and "failed to create Cloudwatch log stream" in refused.stderr


def test_the_boot_waits_for_the_stacks_endpoints_it_needs(account):
    """The startup script waits for exactly what the database and cache
    stacks publish (their SSM parameters), no more and no fewer."""
    text = (Path(compute.__file__).resolve().parent.parent / "boot" / "startup.sh").read_text()
    [listed] = re.findall(r"^STACK_PARAMETERS=\((.*)\)$", text, re.M)
    assert sorted(listed.split()) == sorted(_stack_parameters())


def _when(path: Path, ready, then, *, limit=120.0):
    """A thread that runs ``then`` once ``ready(text of path)`` is true,
    looking every 10 ms for at most ``limit`` seconds."""
    import threading
    import time

    def watch():
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if path.exists() and ready(path.read_text()):
                then()
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_database_that_answers_late_is_waited_for(tmp_path, target, account, postgres):
    """RDS still being created, modified or failing over: the database's
    endpoint refuses connections for the first attempts. Real libpq on a
    real PostgreSQL: the published host is a socket directory that is empty
    until the boot's third database attempt, when the server's socket
    appears in it. psql exits 2 (connection failure); the boot retries,
    says so in its log, and then initialises both databases and starts both
    services."""
    late = tmp_path / "late-socket"
    late.mkdir()
    _ssm(target).put_parameter(Name=f"{PREFIX}/db/postgres_host", Value=str(late), Type="String", Overwrite=True)
    socket = Path(postgres.socket_dir) / f".s.PGSQL.{postgres.port}"
    calls = tmp_path / "calls.log"
    watcher = _when(
        calls, lambda text: text.count("docker-run-image") >= 3, lambda: (late / socket.name).symlink_to(socket)
    )

    rc, log, _, state = _boot(tmp_path, target)
    watcher.join(1)

    assert rc == 0, log
    retries = re.findall(r"database not reachable for user-service \(attempt (\d) of 8, psql exit 2\)", log)
    assert len(retries) >= 2 and retries[:2] == ["1", "2"], log
    assert (
        postgres.query("select count(*) from pg_database where datname in ('wealist_user_db', 'wealist_board_db')")
        == "2"
    )
    assert _started(state)["services"] == ["node-exporter", "user-service", "board-service"]


def test_a_database_that_never_answers_fails_the_boot_after_its_attempts(tmp_path, target, account):
    """Bounded: a database that never answers fails the boot after
    WEALIST_DB_ATTEMPTS attempts, with a line that says so, and nothing
    starts."""
    empty = tmp_path / "no-socket"
    empty.mkdir()
    _ssm(target).put_parameter(Name=f"{PREFIX}/db/postgres_host", Value=str(empty), Type="String", Overwrite=True)

    rc, log, _, state = _boot(tmp_path, target, WEALIST_DB_ATTEMPTS="3")

    assert rc != 0
    assert "FAILED: database init of user-service, attempt 3 of 3, psql exit 2" in log
    assert _started(state) == {}


def test_an_endpoint_published_late_is_waited_for_with_progress(tmp_path, target, account):
    """The cache stack publishes redis/host after the instance started its
    boot: the boot logs that it waits, naming what is missing, and goes on
    once the parameter exists."""
    ssm = _ssm(target)
    host = account["redis/host"]
    ssm.delete_parameter(Name=f"{PREFIX}/redis/host")
    boot_log = tmp_path / "root/var/log/wealist-boot.log"
    watcher = _when(
        boot_log,
        lambda text: "missing redis/host" in text,
        lambda: ssm.put_parameter(Name=f"{PREFIX}/redis/host", Value=host, Type="String"),
    )

    rc, log, _, state = _boot(tmp_path, target, WEALIST_PARAMETER_WAIT="20")
    watcher.join(1)

    assert rc == 0, log
    # Wall-clock seconds since the first read (its own time included).
    assert re.search(r"waiting for the database and cache endpoints \(\d+s of 20s\): missing redis/host", log)
    assert "endpoints published: " in log
    assert _started(state)["services"] == ["node-exporter", "user-service", "board-service"]
