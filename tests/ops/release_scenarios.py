"""A release (rollout) against Stubbed Parameter Store and Auto Scaling clients: the helpers and the
scenario of tests/ops/test_release.py that test_role_calls.py also runs with recording clients."""

from __future__ import annotations

import itertools

from helpers.release import (
    GROUP,
    PREFS,
    TAG,
    _follow,
    _get,
    _put,
    _quiet,
    _refresh,
)
from wealist_cfn.ops import rollout


def _start(stub, rid):
    stub.add_response(
        "start_instance_refresh",
        {"InstanceRefreshId": rid},
        {"AutoScalingGroupName": GROUP, "Strategy": "Rolling", "Preferences": PREFS},
    )


def _run(ssm, asg, tags, timeout=3600.0):
    ticks = itertools.count(0, 60)  # a minute per poll
    seen = []
    result = rollout.release(
        ssm,
        asg,
        GROUP,
        tags,
        poll_seconds=60,
        timeout_seconds=timeout,
        on_progress=lambda what, s: seen.append((what, s.status)),
        sleep=lambda s: None,
        clock=lambda: next(ticks),
    )
    return result, seen


def a_timeout_cancels_the_refresh_restores_and_rolls_back(clients):
    ssm, ssm_stub, asg, asg_stub = clients
    _get(ssm_stub, "feedbeef")
    _quiet(asg_stub)
    _put(ssm_stub, "0123abcd")
    _start(asg_stub, "r1")
    stuck = _refresh("r1", "InProgress", 40, 1)
    _follow(asg_stub, "r1", stuck, stuck)  # polled at 60 and 120 s: past the 100 s timeout
    _put(ssm_stub, "feedbeef")
    _quiet(asg_stub, stuck)  # still running: cancel it
    asg_stub.add_response("cancel_instance_refresh", {"InstanceRefreshId": "r1"}, {"AutoScalingGroupName": GROUP})
    _follow(asg_stub, "r1", _refresh("r1", "Cancelling", 40, 1), _refresh("r1", "Cancelled", 40, 1))
    _start(asg_stub, "r2")
    _follow(asg_stub, "r2", _refresh("r2", "Successful", 100, 0))
    result, _ = _run(ssm, asg, {TAG: "0123abcd"}, timeout=100)
    assert result.restored and result.rollback.succeeded
    # The timeout message says what still runs and how to stop or follow it.
    assert "r1 of wealist-prod-backend-asg still InProgress at 40%, 1 instances still to replace" in result.error
    assert "aws autoscaling cancel-instance-refresh --auto-scaling-group-name wealist-prod-backend-asg" in result.error
    assert "--instance-refresh-ids r1" in result.error
