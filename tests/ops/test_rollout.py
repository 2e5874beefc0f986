"""Rollout: start an instance refresh, follow it, refuse a second one.

moto 5.2.5 implements neither StartInstanceRefresh nor
DescribeInstanceRefreshes (its server answers HTTP 500 "not implemented"), so
these tests use botocore's Stubber with responses shaped like the ones AWS
documents for those calls; the stub also checks the exact request."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from wealist_cfn import cli, errors
from wealist_cfn.aws import Aws
from wealist_cfn.ops import rollout

from .tools import ROOT

pytestmark = pytest.mark.stubbed

GROUP = "wealist-prod-backend-asg"
REFRESH_ID = "08b91cf7-8fa6-48af-b6a6-d227f40f1b9b"
PARAMS = str(ROOT / "params" / "prod.json")


def _refresh(status, pct, to_update=None, reason=None, refresh_id=REFRESH_ID):
    r = {
        "InstanceRefreshId": refresh_id,
        "AutoScalingGroupName": GROUP,
        "Status": status,
        "PercentageComplete": pct,
        "StartTime": datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc),
        "Preferences": {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200, "SkipMatching": False},
    }
    if to_update is not None:
        r["InstancesToUpdate"] = to_update
    if reason:
        r["StatusReason"] = reason
    return r


def _sts(answer=None):
    """An STS client stubbed to answer GetCallerIdentity (or fail with ``answer``)."""
    sts = boto3.client("sts", region_name="ap-northeast-2")
    stub = Stubber(sts)
    if answer:
        stub.add_client_error(
            "get_caller_identity", service_error_code=answer[0], service_message=answer[1], http_status_code=403
        )
    else:
        stub.add_response(
            "get_caller_identity",
            {"UserId": "AIDAEXAMPLE", "Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/ops"},
        )
    stub.activate()
    return sts, stub


def _route(monkeypatch, autoscaling, sts_answer=None):
    """The command's clients: the stubbed Auto Scaling client, and STS for the credentials check."""
    sts, sts_stub = _sts(sts_answer)
    monkeypatch.setattr(Aws, "client", lambda self, service: sts if service == "sts" else autoscaling)
    return sts_stub


@pytest.fixture
def asg():
    client = boto3.client("autoscaling", region_name="ap-northeast-2")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def _expect_start(stub, prefs=None):
    stub.add_response(
        "start_instance_refresh",
        {"InstanceRefreshId": REFRESH_ID},
        {
            "AutoScalingGroupName": GROUP,
            "Strategy": "Rolling",
            "Preferences": prefs or {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200, "SkipMatching": False},
        },
    )


def _expect_group(stub, health_type):
    """DescribeAutoScalingGroups: the backend's health-check type (Auto Scaling API reference)."""
    stub.add_response(
        "describe_auto_scaling_groups",
        {
            "AutoScalingGroups": [
                {
                    "AutoScalingGroupName": GROUP,
                    "MinSize": 2,
                    "MaxSize": 6,
                    "DesiredCapacity": 2,
                    "DefaultCooldown": 300,
                    "AvailabilityZones": ["ap-northeast-2a"],
                    "HealthCheckType": health_type,
                    "CreatedTime": datetime(2026, 11, 1, tzinfo=timezone.utc),
                }
            ]
        },
        {"AutoScalingGroupNames": [GROUP]},
    )


def _expect_describe(stub, *refreshes):
    for r in refreshes:
        stub.add_response(
            "describe_instance_refreshes",
            {"InstanceRefreshes": [r]},
            {"AutoScalingGroupName": GROUP, "InstanceRefreshIds": [REFRESH_ID]},
        )


def test_start_keeps_full_capacity_and_follow_reports_each_step(asg):
    """Stubber: Rolling, 100% healthy kept, launch before terminate; followed
    from Pending to Successful with each change reported once."""
    client, stub = asg
    _expect_start(stub)
    _expect_describe(
        stub,
        _refresh("Pending", 0),
        _refresh("InProgress", 50, 1),
        _refresh("InProgress", 50, 1),
        _refresh("Successful", 100, 0),
    )
    seen, sleeps = [], []

    refresh_id = rollout.start(client, GROUP)
    final = rollout.follow(client, GROUP, refresh_id, poll_seconds=7, on_progress=seen.append, sleep=sleeps.append)

    assert final.succeeded
    assert [(s.status, s.percentage) for s in seen] == [("Pending", 0), ("InProgress", 50), ("Successful", 100)]
    assert sleeps == [7, 7, 7]


@pytest.mark.parametrize("status", ["Failed", "Cancelled", "RollbackSuccessful"])
def test_cli_exits_non_zero_when_the_refresh_fails_or_is_cancelled(asg, monkeypatch, capsys, status):
    """Stubber: `build.py rollout` follows to a bad end and exits 1 with the reason."""
    client, stub = asg
    _expect_group(stub, "ELB")
    _expect_start(stub)
    _expect_describe(stub, _refresh("InProgress", 10, 2), _refresh(status, 50, 1, reason="health checks failed"))
    _route(monkeypatch, client)

    code = cli.main(["rollout", "--params", PARAMS, "--poll", "0"])

    assert code == errors.EXIT_FAILED
    err = capsys.readouterr().err
    assert f"ended {status}" in err and "health checks failed" in err


def test_cli_refuses_cleanly_when_a_refresh_is_already_running(asg, monkeypatch, capsys):
    """Stubber: InstanceRefreshInProgress -> exit 3 naming the running refresh; nothing else is called."""
    client, stub = asg
    _expect_group(stub, "ELB")
    stub.add_client_error(
        "start_instance_refresh",
        service_error_code="InstanceRefreshInProgress",
        service_message="An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.",
        http_status_code=400,
    )
    stub.add_response(
        "describe_instance_refreshes",
        {
            "InstanceRefreshes": [
                _refresh("InProgress", 30, 2, refresh_id="running-1"),
                _refresh("Successful", 100, 0, refresh_id="old-1"),
            ]
        },
        {"AutoScalingGroupName": GROUP, "MaxRecords": 5},
    )
    _route(monkeypatch, client)

    code = cli.main(["rollout", "--params", PARAMS])

    assert code == errors.EXIT_REFUSED
    err = capsys.readouterr().err
    assert "already running" in err and "running-1" in err and "cancel-instance-refresh" in err


def test_cli_passes_the_chosen_preferences_and_can_return_at_once(asg, monkeypatch, capsys):
    """Stubber: --min-healthy/--max-healthy/--warmup reach the API; --no-wait does not poll."""
    client, stub = asg
    _expect_start(
        stub, {"MinHealthyPercentage": 90, "MaxHealthyPercentage": 150, "SkipMatching": False, "InstanceWarmup": 120}
    )
    _route(monkeypatch, client)

    code = cli.main(
        ["rollout", "--params", PARAMS, "--min-healthy", "90", "--max-healthy", "150", "--warmup", "120", "--no-wait"]
    )

    assert code == errors.EXIT_OK
    assert REFRESH_ID in capsys.readouterr().out


def test_cli_on_ec2_checks_waits_a_measured_boot_per_instance(asg, monkeypatch, capsys):
    """Stubber: on EC2 checks a new instance counts as soon as it runs, so
    without --warmup the refresh waits past a failed boot's Unhealthy mark
    instead of the group's DefaultInstanceWarmup of 180 s, which would move
    on before the services answer."""
    client, stub = asg
    _expect_group(stub, "EC2")
    _expect_start(
        stub,
        {
            "MinHealthyPercentage": 100,
            "MaxHealthyPercentage": 200,
            "SkipMatching": False,
            "InstanceWarmup": rollout.EC2_CHECK_WARMUP,
        },
    )
    _route(monkeypatch, client)

    code = cli.main(["rollout", "--params", PARAMS, "--no-wait"])

    assert code == errors.EXIT_OK
    assert f"warm-up {rollout.EC2_CHECK_WARMUP}s" in capsys.readouterr().out


def test_the_ec2_check_warmup_outlasts_a_failed_boots_unhealthy_mark():
    """No AWS call. A boot that gives up holds until WEALIST_REPLACE_AFTER
    (default: the boot budget) after UserData began, which starts about
    30 s after the instance is InService, then marks itself Unhealthy (with
    retries). A refresh counts an instance healthy once InstanceWarmup has
    passed after InService under EC2 checks (Auto Scaling user guide,
    "Understand the default values for an instance refresh": warm-up is the
    time "until a new instance is considered healthy"); the warm-up must end
    after the mark, or the failed instance counts and the refresh moves on.
    Before, it was 300 s against a mark at about 390 s."""
    import re

    from wealist_cfn.core import bootbudget

    startup = (Path(rollout.__file__).resolve().parents[1] / "boot" / "startup.sh").read_text()
    budget = int(re.search(r"\$\{WEALIST_BOOT_BUDGET:-(\d+)\}", startup).group(1))
    assert budget == bootbudget.BOOT_BUDGET_SECONDS
    assert "REPLACE_AFTER=${WEALIST_REPLACE_AFTER:-$BOOT_BUDGET}" in startup
    hold = budget
    assert rollout.EC2_CHECK_WARMUP > bootbudget.BEFORE_USERDATA_SECONDS + hold + bootbudget.MARK_SECONDS


def test_preferences_that_can_replace_nothing_are_a_usage_error(capsys):
    """No AWS call: 100% min with 100% max could never replace an instance."""
    code = cli.main(["rollout", "--params", PARAMS, "--max-healthy", "100"])
    assert code == errors.EXIT_USAGE
    assert "--max-healthy" in capsys.readouterr().err


@pytest.mark.parametrize("min_healthy, max_healthy", [(100, 100), (50, 200), (101, 200), (90, 99), (100, 201)])
def test_preferences_outside_what_the_api_accepts_cannot_be_made(min_healthy, max_healthy):
    """No AWS call: invalid preferences fail when they are made, so start() never sends them."""
    with pytest.raises(rollout.RolloutError, match="--m(in|ax)-healthy"):
        rollout.Preferences(min_healthy=min_healthy, max_healthy=max_healthy)


def test_follow_gives_up_after_the_timeout_and_says_the_refresh_goes_on(asg):
    """Stubber with a fake clock: a refresh that never ends stops being followed."""
    client, stub = asg
    _expect_describe(stub, _refresh("InProgress", 10, 2), _refresh("InProgress", 10, 2))
    now = iter([0.0, 50.0, 100.0])

    with pytest.raises(rollout.RolloutError, match="goes on in AWS"):
        rollout.follow(
            client, GROUP, REFRESH_ID, poll_seconds=1, timeout_seconds=60, sleep=lambda s: None, clock=lambda: next(now)
        )


@pytest.mark.parametrize("params", ["prod", "dev"])
def test_group_names_are_the_ones_the_compute_stack_gives_its_groups(params):
    """rollout.group_name() for each group is the AutoScalingGroupName the
    compute stack renders for that params file, group found by its Role tag."""
    import json

    from wealist_cfn import config
    from wealist_cfn.core.settings import DEFAULT_SETTINGS
    from wealist_cfn.stacks import compute

    cfg = config.load(ROOT / "params" / f"{params}.json")
    resources = json.loads(compute.build(DEFAULT_SETTINGS).to_json())["Resources"].values()
    stack_names = {}
    for r in resources:
        if r["Type"] == "AWS::AutoScaling::AutoScalingGroup":
            [role] = [t["Value"] for t in r["Properties"]["Tags"] if t["Key"] == "Role"]
            stack_names[role] = (
                r["Properties"]["AutoScalingGroupName"]["Fn::Sub"]
                .replace("${Project}", cfg.project)
                .replace("${Environment}", cfg.environment)
            )
    assert set(stack_names) == set(rollout.GROUPS)
    for group in rollout.GROUPS:
        assert rollout.group_name(cfg, group) == stack_names[group]
    if params == "prod":
        assert rollout.group_name(cfg) == GROUP


@pytest.mark.parametrize("command", ["rollout", "bootstrap"])
def test_a_region_other_than_the_params_files_is_a_usage_error(command, capsys):
    """No AWS call: the stack lives in the params file's region."""
    code = cli.main([command, "--params", PARAMS, "--region", "us-east-1"])
    assert code == errors.EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--region us-east-1 contradicts" in err[0] and "ap-northeast-2" in err[0]


@pytest.mark.parametrize(
    "code_, message",
    [
        ("ExpiredToken", "The security token included in the request is expired"),
        ("InvalidClientTokenId", "The security token included in the request is invalid."),
    ],
)
@pytest.mark.parametrize("command", ["rollout", "bootstrap"])
def test_rejected_credentials_are_one_line_and_exit_2_before_any_other_call(
    command, code_, message, asg, monkeypatch, capsys
):
    """Stubber: STS GetCallerIdentity answering ExpiredToken / InvalidClientTokenId
    ends the command with exit 2 and one line, before any other AWS call
    (the Auto Scaling stub has no response queued: a call would fail the test)."""
    client, stub = asg
    sts_stub = _route(monkeypatch, client, (code_, message))

    code = cli.main([command, "--params", PARAMS])

    assert code == errors.EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    # One error line; an expired token adds the way out (sign in again, then status) on indented lines.
    assert err[0] == f"error: AWS credentials rejected ({code_}): {message}"
    assert all(line.startswith("  ") for line in err[1:])
    assert len(err) == (3 if code_ == "ExpiredToken" else 1)
    sts_stub.assert_no_pending_responses()


@pytest.mark.moto
@pytest.mark.parametrize(
    "extra, expected",
    [
        ((), "error: AWS credentials: Unable to locate credentials"),
        (("--profile", "wealist-nope"), "error: AWS profile not found: wealist-nope"),
    ],
)
@pytest.mark.parametrize("command", ["rollout", "bootstrap"])
def test_missing_credentials_or_profile_are_one_line_without_traceback(
    command, extra, expected, moto_endpoint, tmp_path
):
    """moto's server as the endpoint (so nothing could reach AWS): with no
    credentials anywhere, or a profile no config file has, `python build.py
    COMMAND` ends with exit 2 and one line, and the server holds nothing."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        HOME=str(tmp_path),
    )
    r = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), command, "--params", PARAMS, "--endpoint-url", moto_endpoint, *extra],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    # One error line, then (missing credentials) the ways in on indented lines.
    assert lines[0].startswith(expected) and all(line.startswith("  ") for line in lines[1:]), r.stderr
    ssm = boto3.client("ssm", region_name="ap-northeast-2", endpoint_url=moto_endpoint)
    s3 = boto3.client("s3", region_name="ap-northeast-2", endpoint_url=moto_endpoint)
    assert ssm.describe_parameters()["Parameters"] == [] and s3.list_buckets()["Buckets"] == []
