"""Release sequences: set the released tag, replace the instances, and on
failure put the previous tag back and replace them again.

Stand-in: botocore's Stubber, with responses shaped like the Auto Scaling
API reference (StartInstanceRefresh, DescribeInstanceRefreshes,
CancelInstanceRefresh: https://docs.aws.amazon.com/autoscaling/ec2/APIReference/)
and the SSM API reference (GetParameter, PutParameter:
https://docs.aws.amazon.com/systems-manager/latest/APIReference/). The
stubs check every request's exact parameters and order. What they do not
enforce: AWS refuses a second StartInstanceRefresh while one runs
(InstanceRefreshInProgress), which release() avoids by asking first, and a
cancelled refresh passes through Cancelling before Cancelled, which the
timeout case replays."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from helpers.release import (
    GROUP,
    TAG,
    _follow,
    _get,
    _group,
    _put,
    _quiet,
    _refresh,
)
from wealist_cfn.ops import rollout

from .release_scenarios import _run, _start, a_timeout_cancels_the_refresh_restores_and_rolls_back

pytestmark = pytest.mark.stubbed


@pytest.fixture
def clients():
    ssm = boto3.client("ssm", region_name="ap-northeast-2")
    asg = boto3.client("autoscaling", region_name="ap-northeast-2")
    with Stubber(ssm) as ssm_stub, Stubber(asg) as asg_stub:
        yield ssm, ssm_stub, asg, asg_stub
        ssm_stub.assert_no_pending_responses()
        asg_stub.assert_no_pending_responses()


def test_first_release_replaces_unreleased(clients):
    ssm, ssm_stub, asg, asg_stub = clients
    _get(ssm_stub, "unreleased")
    _quiet(asg_stub)
    _put(ssm_stub, "0123abcd")
    _start(asg_stub, "r1")
    _follow(asg_stub, "r1", _refresh("r1", "InProgress", 50, 1), _refresh("r1", "Successful", 100, 0))
    result, seen = _run(ssm, asg, {TAG: "0123abcd"})
    assert result.succeeded and not result.restored
    assert result.previous == {TAG: "unreleased"}
    assert seen == [("release", "InProgress"), ("release", "Successful")]


def test_a_failed_refresh_restores_the_previous_tag_and_rolls_back(clients):
    ssm, ssm_stub, asg, asg_stub = clients
    _get(ssm_stub, "feedbeef")
    _quiet(asg_stub)
    _put(ssm_stub, "0123abcd")
    _start(asg_stub, "r1")
    failed = _refresh("r1", "Failed", 0, 2, reason="Instance failed to become healthy")
    _follow(asg_stub, "r1", _refresh("r1", "InProgress", 0, 2), failed)
    _put(ssm_stub, "feedbeef")  # restored before anything else
    _quiet(asg_stub, failed)  # nothing left running to cancel
    _start(asg_stub, "r2")
    _follow(asg_stub, "r2", _refresh("r2", "Successful", 100, 0))
    result, seen = _run(ssm, asg, {TAG: "0123abcd"})
    assert not result.succeeded and result.restored
    assert "Failed: Instance failed to become healthy" in result.error
    assert result.rollback.succeeded and result.rollback_error == ""
    assert seen[-1] == ("rollback", "Successful")


def test_a_timeout_cancels_the_refresh_restores_and_rolls_back(clients):
    a_timeout_cancels_the_refresh_restores_and_rolls_back(clients)


def test_two_releases_in_a_row(clients):
    ssm, ssm_stub, asg, asg_stub = clients
    first_done = _refresh("r1", "Successful", 100, 0)
    _get(ssm_stub, "unreleased")
    _quiet(asg_stub)
    _put(ssm_stub, "aaaa1111")
    _start(asg_stub, "r1")
    _follow(asg_stub, "r1", first_done)
    _get(ssm_stub, "aaaa1111")
    _quiet(asg_stub, first_done)  # the first one is over: the second may start
    _put(ssm_stub, "bbbb2222")
    _start(asg_stub, "r2")
    _follow(asg_stub, "r2", _refresh("r2", "Successful", 100, 0))
    first, _ = _run(ssm, asg, {TAG: "aaaa1111"})
    second, _ = _run(ssm, asg, {TAG: "bbbb2222"})
    assert first.succeeded and second.succeeded
    assert second.previous == {TAG: "aaaa1111"}


def test_a_running_refresh_refuses_before_any_tag_changes(clients):
    ssm, ssm_stub, asg, asg_stub = clients
    _get(ssm_stub, "feedbeef")
    _quiet(asg_stub, _refresh("r0", "InProgress", 10, 2))
    with pytest.raises(rollout.RefreshInProgress):
        _run(ssm, asg, {TAG: "0123abcd"})
    # No put_parameter was stubbed: any write would have failed the stub.


def test_both_services_at_once(clients):
    """The first release of both services in one refresh: no instance waits
    for the other service's tag."""
    ssm, ssm_stub, asg, asg_stub = clients
    board = "/wealist/prod/deploy/board_service_image_tag"
    _get(ssm_stub, "unreleased")
    _get(ssm_stub, "unreleased", board)
    _quiet(asg_stub)
    _put(ssm_stub, "aaaa1111")
    _put(ssm_stub, "bbbb2222", board)
    _start(asg_stub, "r1")
    _follow(asg_stub, "r1", _refresh("r1", "Successful", 100, 0))
    result, _ = _run(ssm, asg, {TAG: "aaaa1111", board: "bbbb2222"})
    assert result.succeeded and result.previous == {TAG: "unreleased", board: "unreleased"}


@pytest.mark.parametrize("item", ["chat-service=abc", "user-service", "user-service="])
def test_cli_refuses_a_bad_release_before_any_call(item, capsys, monkeypatch):
    from wealist_cfn import cli
    from wealist_cfn.aws import Aws

    from .tools import ROOT

    monkeypatch.setattr(Aws, "client", lambda self, service: pytest.fail(f"no AWS call expected ({service})"))
    code = cli.main(["rollout", "--params", str(ROOT / "params" / "prod.json"), "--release", item])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"error: --release {item}: expected SERVICE=TAG with SERVICE one of user-service")


def test_cli_release_failure_reports_restore_and_exits_1(clients, capsys, monkeypatch):
    from wealist_cfn import cli
    from wealist_cfn.aws import Aws

    from .tools import ROOT

    ssm, ssm_stub, asg, asg_stub = clients
    monkeypatch.setattr(Aws, "check_credentials", lambda self: "123456789012")
    monkeypatch.setattr(Aws, "client", lambda self, service: {"ssm": ssm, "autoscaling": asg, "elbv2": None}[service])
    # A group on ELB checks: Auto Scaling judges the new instances itself.
    asg_stub.add_response(
        "describe_auto_scaling_groups", {"AutoScalingGroups": [_group("ELB")]}, {"AutoScalingGroupNames": [GROUP]}
    )
    _get(ssm_stub, "feedbeef")
    _quiet(asg_stub)
    _put(ssm_stub, "0123abcd")
    _start(asg_stub, "r1")
    failed = _refresh("r1", "Failed", 0, 2, reason="Instance failed to become healthy")
    _follow(asg_stub, "r1", failed)
    _put(ssm_stub, "feedbeef")
    _quiet(asg_stub, failed)
    _start(asg_stub, "r2")
    _follow(asg_stub, "r2", _refresh("r2", "Successful", 100, 0))
    code = cli.main(
        ["rollout", "--params", str(ROOT / "params" / "prod.json"), "--poll", "0", "--release", "user-service=0123abcd"]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert f"{TAG}: feedbeef -> 0123abcd" in out
    assert f"restored {TAG} to feedbeef" in err and "rolled back: wealist-prod-backend-asg runs the previous" in err


def test_a_failed_restore_says_exactly_how_to_restore_by_hand(clients):
    ssm, ssm_stub, asg, asg_stub = clients
    _get(ssm_stub, "feedbeef")
    _quiet(asg_stub)
    _put(ssm_stub, "0123abcd")
    _start(asg_stub, "r1")
    _follow(asg_stub, "r1", _refresh("r1", "Failed", 0, 2, reason="Instance failed to become healthy"))
    ssm_stub.add_client_error("put_parameter", "ThrottlingException", "Rate exceeded", 400)
    with pytest.raises(rollout.RolloutError) as err:
        _run(ssm, asg, {TAG: "0123abcd"})
    assert str(err.value).endswith(f"aws ssm put-parameter --name {TAG} --value feedbeef --type String --overwrite")
    assert "ThrottlingException" in str(err.value)
