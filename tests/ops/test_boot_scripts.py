"""The shell that runs on the instances: shellcheck on every script and on the
UserData as CloudFormation renders it, the size limits, and the startup
script's behaviour with fake `aws` and `docker` commands (no AWS, no Docker)."""

from __future__ import annotations

import json
import re
import stat
import subprocess
from pathlib import Path

import pytest

from helpers.boot_scripts import (
    BOOT,
    BUCKET,
    STARTUP,
    SUB_VALUES,
    USERDATA,
    _parameters_json,
    _run_startup,
    render_sub,
)

from .tools import ROOT, require


def shell_scripts() -> list[Path]:
    """Every shell script but the UserData, which is checked as Fn::Sub renders it."""
    found = sorted({*BOOT.glob("*.sh"), *(ROOT / "scripts").glob("*.sh")} - {USERDATA})
    assert STARTUP in found
    return found


@pytest.mark.parametrize("script", shell_scripts(), ids=lambda p: str(p.relative_to(ROOT)))
def test_shellcheck_passes_on_every_script(script):
    """shellcheck (Debian) finds nothing, at its default severity, in each script."""
    shellcheck = require("shellcheck")
    result = subprocess.run([shellcheck, "--shell=bash", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("role", ["backend", "monitoring"])
def test_rendered_userdata_passes_shellcheck_and_fits_the_limit(tmp_path, role):
    """The UserData after Fn::Sub, for each role: valid shell, under 16 KB."""
    shellcheck = require("shellcheck")
    rendered = render_sub(USERDATA.read_text(), dict(SUB_VALUES, Role=role))
    assert f'WEALIST_ROLE="{role}"' in rendered
    assert len(rendered.encode()) < 16 * 1024
    path = tmp_path / f"userdata-{role}.sh"
    path.write_text(rendered)
    result = subprocess.run([shellcheck, "--shell=bash", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_userdata_uses_only_variables_the_compute_stack_provides():
    """An unknown ${Name} would make the stack's Fn::Sub fail at deploy time.
    What each launch template's Fn::Sub can fill in: the compute stack's
    parameters, its Sub variables and the pseudo parameters."""
    from wealist_cfn.core.settings import DEFAULT_SETTINGS
    from wealist_cfn.stacks import compute

    template = json.loads(compute.build(DEFAULT_SETTINGS).to_json())
    used = set(re.findall(r"\$\{([^!}][^}]*)\}", USERDATA.read_text()))
    assert used <= set(SUB_VALUES), used - set(SUB_VALUES)
    subs = [
        r["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::EC2::LaunchTemplate"
    ]
    assert len(subs) == 2
    for text, variables in subs:
        assert text == USERDATA.read_text()
        provided = (
            set(template["Parameters"])
            | set(variables)
            | {"AWS::Region", "AWS::StackName", "AWS::AccountId", "AWS::Partition"}
        )
        assert set(SUB_VALUES) <= provided, set(SUB_VALUES) - provided


def test_userdata_fetches_the_startup_script_bootstrap_uploads():
    """The startup script is an object in the deploy bucket (Parameter Store
    refuses `{{ }}` and caps values at 4-8 KB): UserData reads the very key
    bootstrap writes, and no longer a parameter."""
    from wealist_cfn.ops import bootstrap

    rendered = render_sub(USERDATA.read_text(), SUB_VALUES)
    assert f"s3://{BUCKET}/{bootstrap.STARTUP_SCRIPT_KEY}" in rendered
    assert bootstrap.local_files()[bootstrap.STARTUP_SCRIPT_KEY] == STARTUP
    assert "ssm get-parameter " not in rendered


# -- The startup script, run against fake aws and docker --------------------


def test_backend_startup_runs_every_step_in_order(tmp_path):
    """Fake aws/docker: config, parameters, ECR login, database init per
    service, then compose pull and up; env files are mode 600."""
    result, calls = _run_startup(tmp_path, "backend")

    assert result.returncode == 0, result.stderr
    steps = [c for c in calls if not c.startswith("docker info")]

    def index(prefix):
        return next(i for i, c in enumerate(steps) if c.startswith(prefix))

    order = [
        index(f"aws s3 cp --recursive --only-show-errors s3://{BUCKET}/config/"),
        index("aws ssm get-parameters-by-path --path /wealist/prod/db --recursive --with-decryption"),
        index("docker login --username AWS --password-stdin 123456789012.dkr.ecr.ap-northeast-2"),
        index("docker run --rm --network host --env-file " + str(tmp_path / "opt/db-init-user-service.env")),
        index("docker run --rm --network host --env-file " + str(tmp_path / "opt/db-init-board-service.env")),
        index("docker compose -f docker-compose.prod.yml pull"),
        index("docker compose -f docker-compose.prod.yml up -d"),
    ]
    assert order == sorted(order)
    opt = tmp_path / "opt"
    for name in (".env", "user-service.env", "board-service.env", "db-init-user-service.env"):
        assert stat.S_IMODE((opt / name).stat().st_mode) == 0o600, name
    compose_env = (opt / ".env").read_text()
    assert "USER_SERVICE_IMAGE=123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/user-service:abc123" in compose_env
    # The instance ID, asked of IMDS with a session token, names the log streams.
    assert "INSTANCE_ID=i-0123456789abcdef0" in compose_env and "AWSLOGS_GROUP=/wealist/prod/backend" in compose_env
    # Each service sees its own credentials only; the master password stays with the init container.
    user_env = (opt / "user-service.env").read_text()
    assert "DB_PASSWORD=UserPw123" in user_env and "BoardPw123" not in user_env and "MasterPw1" not in user_env
    assert "MasterPw1" not in result.stdout + result.stderr


def test_monitoring_startup_renders_prometheus_config_and_starts_the_stack(tmp_path):
    """Fake aws/docker: monitoring files downloaded, prometheus.yml rendered
    for this environment, Grafana's password file mode 600, compose up."""
    result, calls = _run_startup(tmp_path, "monitoring")

    assert result.returncode == 0, result.stderr
    mon = tmp_path / "opt" / "monitoring"
    prom = (mon / "prometheus.yml").read_text()
    assert "@@" not in prom and '"wealist-prod-backend-asg"' in prom and "region: ap-northeast-2" in prom
    assert stat.S_IMODE((mon / "grafana.env").stat().st_mode) == 0o600
    assert "AWSLOGS_GROUP=/wealist/prod/monitoring" in (mon / ".env").read_text()
    assert stat.S_IMODE((mon / "prometheus.yml").stat().st_mode) & 0o004, "Prometheus runs unprivileged"
    assert any(c.startswith("docker compose -f docker-compose.yml up -d") for c in calls)
    assert not any("db-init" in c for c in calls)


@pytest.mark.parametrize(
    "failure,step", [({"FAIL_S3": "1"}, "aws s3 cp"), ({"FAIL_DB": "1"}, "database init of user-service")]
)
def test_startup_fails_loudly_and_starts_nothing_after_a_failed_step(tmp_path, failure, step, monkeypatch):
    """Fake aws/docker: a failing step gives a non-zero exit and a FAILED line
    naming it; compose up never runs."""
    # A failing call is retried 5 times; no waiting between attempts here.
    result, calls = _run_startup(tmp_path, "backend", **failure, WEALIST_RETRY_DELAY="0")

    assert result.returncode != 0
    assert re.search(r"FAILED.*: " + re.escape(step), result.stderr), result.stderr
    assert not any(" up -d" in c for c in calls)


SET_UNHEALTHY = (
    "aws autoscaling set-instance-health --instance-id i-0123456789abcdef0 --health-status Unhealthy "
    "--no-should-respect-grace-period"
)


@pytest.mark.parametrize("role", ["backend", "monitoring"])
def test_a_boot_that_succeeds_never_touches_its_health(tmp_path, role):
    result, calls = _run_startup(tmp_path, role)
    assert result.returncode == 0, result.stderr
    assert not any(c.startswith("aws autoscaling") for c in calls)


@pytest.mark.parametrize(
    "failure,step",
    [
        ({"FAIL_S3": "1"}, "aws s3 cp"),
        ({"FAIL_DB": "1"}, "database init of user-service"),
        # The database's endpoint never published: the bounded wait gives up.
        ({"NO_ENDPOINT": "1", "WEALIST_PARAMETER_WAIT": "0"}, "still missing under /wealist/prod: db/postgres_host"),
    ],
)
def test_a_boot_that_gives_up_marks_its_instance_unhealthy_once(tmp_path, failure, step):
    """Fake aws/docker/sleep: whichever step gives up, the last call is
    SetInstanceHealth Unhealthy for this instance (from IMDS), ignoring the
    grace period, and the script still exits non-zero."""
    if failure.pop("NO_ENDPOINT", None):
        doc = _parameters_json()
        doc["Parameters"] = [p for p in doc["Parameters"] if not p["Name"].endswith("/db/postgres_host")]
        (tmp_path / "no-endpoint.json").write_text(json.dumps(doc))
        failure["PARAMS_JSON"] = str(tmp_path / "no-endpoint.json")
    result, calls = _run_startup(tmp_path, "backend", **failure, WEALIST_RETRY_DELAY="0", WEALIST_REPLACE_AFTER="0")
    assert result.returncode != 0
    assert re.search(r"FAILED.*" + re.escape(step), result.stderr), result.stderr
    assert calls[-1] == SET_UNHEALTHY
    assert calls.count(SET_UNHEALTHY) == 1
    assert "marking i-0123456789abcdef0 Unhealthy" in result.stderr


def test_a_give_up_waits_out_the_shortest_lifetime_before_asking(tmp_path):
    """Fake sleep: a boot that fails at once holds until WEALIST_REPLACE_AFTER
    seconds after the boot's start (default: the boot budget, 360 s), so a
    failing group replaces each instance at most that often."""
    result, calls = _run_startup(tmp_path, "backend", FAIL_S3="1", WEALIST_RETRY_DELAY="0")
    assert result.returncode != 0
    holds = [int(c.split()[1]) for c in calls if c.startswith("sleep ") and c != "sleep 0"]
    assert holds and 350 <= holds[-1] <= 360, calls
    assert calls.index(f"sleep {holds[-1]}") == len(calls) - 2 and calls[-1] == SET_UNHEALTHY


def test_a_refused_health_call_is_retried_then_the_instance_stops_itself(tmp_path):
    """Fake aws, sleep and shutdown. Every SetInstanceHealth refused: five
    attempts, then ``shutdown -h now``, since Auto Scaling's EC2 health
    check counts an instance in any state other than running unhealthy and
    replaces it (Auto Scaling user guide, "Health checks for instances in an
    Auto Scaling group"); the boot keeps its own exit code. Before, one
    refused call left the instance InService, serving nothing."""
    result, calls = _run_startup(
        tmp_path, "backend", FAIL_S3="1", FAIL_HEALTH="1", WEALIST_RETRY_DELAY="0", WEALIST_REPLACE_AFTER="0"
    )
    assert result.returncode == 1
    assert calls.count(SET_UNHEALTHY) == 5
    assert calls[-1] == "shutdown -h now"
    assert "could not mark i-0123456789abcdef0 Unhealthy: stopping it" in result.stderr


def test_a_busy_group_is_asked_again_and_the_instance_is_not_stopped(tmp_path):
    """Fake aws: the first two SetInstanceHealth calls answer
    ResourceContention (SetInstanceHealth API reference, Errors: "You
    already have a pending update to an Amazon EC2 Auto Scaling resource"),
    which the AWS CLI's standard retry mode does not retry; the third is
    accepted. The pauses between are the retry helper's, within the mark's
    own budget (the boot's is spent by then)."""
    result, calls = _run_startup(
        tmp_path, "backend", FAIL_S3="1", FAIL_HEALTH_TIMES="2", WEALIST_RETRY_DELAY="1", WEALIST_REPLACE_AFTER="0"
    )
    assert result.returncode == 1
    assert calls.count(SET_UNHEALTHY) == 3 and calls[-1] == SET_UNHEALTHY
    assert calls[-5:] == [SET_UNHEALTHY, "sleep 1", SET_UNHEALTHY, "sleep 2", SET_UNHEALTHY]
    assert not any(c.startswith("shutdown") for c in calls)


def test_unknown_role_is_refused(tmp_path):
    result, _ = _run_startup(tmp_path, "frontend")
    assert result.returncode == 2 and "unknown role" in result.stderr


def test_each_group_reads_only_the_parameter_paths_its_role_may_read():
    """The startup script's get-parameters-by-path calls match the paths
    iam.py grants each role (GetParametersByPath on a path exposes all below
    it, so reading the environment's root would need, and leak, everything)."""
    from wealist_cfn.stacks import iam

    text = STARTUP.read_text()

    def body(function):
        return re.search(rf"^{function}\(\) {{\n(.*?)^}}", text, re.MULTILINE | re.DOTALL).group(1)

    def paths(*functions):
        return tuple(
            p
            for f in functions
            for line in re.findall(r"^\s*read_parameters (.+)$", body(f), re.M)
            for p in line.split()
        )

    # The backend reads db/ and redis/ while it waits for the stacks' endpoints.
    assert "wait_for_parameters" in body("start_backend") and "wait_for_parameters" not in body("start_monitoring")
    assert sorted(paths("wait_for_parameters", "start_backend")) == sorted(iam.BACKEND_PARAMETER_PATHS)
    assert sorted(paths("start_monitoring")) == sorted(iam.MONITORING_PARAMETER_PATHS)
    assert '--path "$WEALIST_PREFIX" ' not in text


def test_without_an_instance_id_from_imds_the_boot_fails_before_anything_starts(tmp_path):
    """IMDS does not answer (the curl stand-in fails every URL but IMDSv2's
    token and instance-id): the startup script fails naming the step, and
    nothing starts. Fatal on purpose: the instance's credentials come from
    the same endpoint, so no later step could work."""
    result, calls = _run_startup(
        tmp_path, "backend", WEALIST_RETRY_DELAY="0", WEALIST_IMDS="http://169.254.169.254/broken"
    )

    assert result.returncode != 0
    assert "FAILED after 5 attempts: imds instance-id" in result.stderr
    assert not any(" up -d" in c for c in calls)


@pytest.mark.parametrize("script", ["userdata", "startup"])
@pytest.mark.parametrize(
    "delay,slept", [(None, ["5", "10", "15", "20"]), ("0", ["0", "0", "0", "0"]), ("2", ["2", "4", "6", "8"])]
)
def test_every_retry_honours_the_delay_setting(tmp_path, script, delay, slept):
    """Both scripts' retry: 5 attempts, attempt x WEALIST_RETRY_DELAY seconds
    apart (5 when unset). The function is taken from the script as it runs
    (the UserData as Fn::Sub renders it) and run with a failing command; a
    `sleep` on PATH records what it was asked."""
    text = render_sub(USERDATA.read_text(), SUB_VALUES) if script == "userdata" else STARTUP.read_text()
    body = re.search(r"^retry\(\) \{\n.*?^\}\n", text, re.M | re.S).group(0)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sleep").write_text(f'#!/bin/bash\necho "$1" >>"{tmp_path}/slept"\n')
    (bin_dir / "sleep").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "WEALIST_ROLE": "backend"}
    if delay is not None:
        env["WEALIST_RETRY_DELAY"] = delay
    prelude = 'log() { echo "$*" >&2; }\n'
    result = subprocess.run(
        ["bash", "-c", prelude + body + "retry false"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0
    assert (tmp_path / "slept").read_text().split() == slept


def test_userdata_retries_its_mark_and_stops_the_instance_when_it_fails(tmp_path):
    """UserData's own give-up (a failure before the startup script runs),
    taken from the script as Fn::Sub renders it and run with a fake aws that
    refuses SetInstanceHealth, fake curl for IMDS, and fake sleep and
    shutdown: five attempts, then ``shutdown -h now``. Before, one refused
    call ended the give-up."""
    text = render_sub(USERDATA.read_text(), SUB_VALUES)
    start = text.index("retry() {")
    end = text.index("trap replace_me EXIT\n") + len("trap replace_me EXIT\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.log"
    import sys

    curl = Path(__file__).parent / "standins" / "curl.py"
    for name, body in (
        ("aws", 'echo "aws $*" >>"$CALLS"; exit 254'),
        ("sleep", 'echo "sleep $*" >>"$CALLS"'),
        ("shutdown", 'echo "shutdown $*" >>"$CALLS"'),
        ("curl", f'exec "{sys.executable}" "{curl}" "$@"'),
    ):
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "CALLS": str(calls),
        "WEALIST_RETRY_DELAY": "0",
        "WEALIST_REPLACE_AFTER": "0",
        "IMDS_INSTANCE_ID": "i-0123456789abcdef0",
    }
    script = "set -Eeuo pipefail\nboot_started=$(date +%s)\n" + text[start:end] + "false\n"
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    recorded = calls.read_text().splitlines()
    assert result.returncode != 0
    assert len([c for c in recorded if "set-instance-health" in c]) == 5, recorded
    assert recorded[-1] == "shutdown -h now"
    assert "could not mark this instance Unhealthy: stopping it" in result.stderr
