"""Every way an instance refresh can end ends ``rollout``, with the exit
code written down here for each state.

Stand-in: Auto Scaling is scripted (tests/helpers/scripted.py, responses validated
against botocore's DescribeInstanceRefreshes output shape); STS is moto's
server. moto implements neither StartInstanceRefresh nor
DescribeInstanceRefreshes. The states and their meaning are the API
reference's
(https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_InstanceRefresh.html):
Pending, InProgress, Baking, Cancelling and RollbackInProgress go on;
Successful, Failed, Cancelled, RollbackSuccessful and RollbackFailed are
final.
"""

from __future__ import annotations

from datetime import datetime, timezone

import botocore.session
import pytest

from helpers.scripted import Scripted, ScriptedError, run_cli, scripted_aws

from .tools import ROOT

pytestmark = [pytest.mark.stubbed, pytest.mark.moto]

# Final state -> the exit code `rollout` must end with (wealist_cfn/errors.py:
# 0 ok, 1 failed). Written out, not read from the code.
FINAL = {"Successful": 0, "Failed": 1, "Cancelled": 1, "RollbackSuccessful": 1, "RollbackFailed": 1}
GOING_ON = ("Pending", "InProgress", "Baking", "Cancelling", "RollbackInProgress")
REFRESH_ID = "08b91cf7-8fa6-48af-b6a6-d227f40f1b9b"


def test_the_api_has_no_state_this_table_does_not_know():
    """No endpoint: botocore's model of InstanceRefreshStatus is exactly
    the states above, so a new one makes this fail rather than hang."""
    model = botocore.session.get_session().get_service_model("autoscaling")
    assert set(model.shape_for("InstanceRefreshStatus").enum) == set(FINAL) | set(GOING_ON)


def _script(states: list[str]) -> Scripted:
    """Auto Scaling answering StartInstanceRefresh, then DescribeInstanceRefreshes
    with ``states`` in turn (the last one three more times, then an error: a
    command that does not stop at a final state fails instead of hanging)."""
    seq = list(states) + [states[-1]] * 3

    def describe(params):
        if not seq:
            raise ScriptedError("Throttling", "still polling after the refresh ended")
        status = seq.pop(0)
        return {
            "InstanceRefreshes": [
                {
                    "InstanceRefreshId": REFRESH_ID,
                    "AutoScalingGroupName": params["AutoScalingGroupName"],
                    "Status": status,
                    "StatusReason": f"reason for {status}",
                    "PercentageComplete": 50,
                    "StartTime": datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc),
                }
            ]
        }

    # The backend group on ELB checks: rollout asks first, for the warm-up.
    group = {
        "AutoScalingGroups": [
            {
                "AutoScalingGroupName": "wealist-prod-backend-asg",
                "MinSize": 2,
                "MaxSize": 6,
                "DesiredCapacity": 2,
                "DefaultCooldown": 300,
                "AvailabilityZones": ["ap-northeast-2a"],
                "HealthCheckType": "ELB",
                "CreatedTime": datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc),
            }
        ]
    }
    return Scripted(
        ("autoscaling",),
        {
            ("autoscaling", "DescribeAutoScalingGroups"): lambda p: group,
            ("autoscaling", "StartInstanceRefresh"): lambda p: {"InstanceRefreshId": REFRESH_ID},
            ("autoscaling", "DescribeInstanceRefreshes"): describe,
        },
    )


@pytest.mark.parametrize("final", list(FINAL))
def test_rollout_ends_at_each_final_state_with_its_exit_code(final, monkeypatch, moto_endpoint):
    """Scripted Auto Scaling: the refresh passes through every state that
    goes on, then ends in ``final``; rollout stops there (one describe per
    state, no more), names the state and its reason, and exits as the table says."""
    script = _script([*GOING_ON, final])
    with scripted_aws(monkeypatch, script):
        code, out, err = run_cli(
            "rollout",
            "--params",
            ROOT / "params" / "prod.json",
            "--endpoint-url",
            moto_endpoint,
            "--poll",
            "0",
            "--timeout",
            "60",
        )
    assert code == FINAL[final], out + err
    assert len(script.ops("autoscaling", "DescribeInstanceRefreshes")) == len(GOING_ON) + 1
    if final == "Successful":
        assert "succeeded" in out
    else:
        assert f"ended {final}" in err and f"reason for {final}" in err
