"""events against Stubber: moto records no events on nested stacks, so the
merge across stacks, the nested path and failures-first use responses shaped
like API_DescribeStackEvents (StackEvent: EventId, StackId, StackName,
LogicalResourceId, ResourceType, Timestamp, ResourceStatus,
ResourceStatusReason; newest first). One pool worker keeps the call order
fixed for Stubber."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpers.daytwo import CHILD_ID, ROOT_ID, T0, root_and_child, stubbed_cfn
from wealist_cfn.daytwo import inspect, tree
from wealist_cfn.errors import CommandError

pytestmark = pytest.mark.stubbed


def _ev(sid, name, n, lid, rtype, status, minutes, reason=None):
    e = {
        "StackId": sid,
        "EventId": f"{name}-{n}",
        "StackName": name,
        "LogicalResourceId": lid,
        "ResourceType": rtype,
        "Timestamp": T0 + timedelta(minutes=minutes),
        "ResourceStatus": status,
    }
    if reason:
        e["ResourceStatusReason"] = reason
    return e


def test_events_merge_root_and_nested_in_time_order_with_failures_first(monkeypatch):
    monkeypatch.setattr(tree, "WORKERS", 1)
    aws, stub = stubbed_cfn()
    root_and_child(stub, [])
    stack = "AWS::CloudFormation::Stack"
    stub.add_response(
        "describe_stack_events",
        {
            "StackEvents": [  # newest first
                _ev(
                    ROOT_ID,
                    "wealist-dev",
                    3,
                    "wealist-dev",
                    stack,
                    "UPDATE_ROLLBACK_IN_PROGRESS",
                    30,
                    "The following resource(s) failed to update: [DatabaseStack].",
                ),
                _ev(ROOT_ID, "wealist-dev", 2, "DatabaseStack", stack, "UPDATE_IN_PROGRESS", 10),
                _ev(ROOT_ID, "wealist-dev", 1, "wealist-dev", stack, "UPDATE_IN_PROGRESS", 5),
                _ev(ROOT_ID, "wealist-dev", 0, "wealist-dev", stack, "UPDATE_COMPLETE", -120),  # before --since
            ]
        },
        {"StackName": ROOT_ID},
    )
    stub.add_response(
        "describe_stack_events",
        {
            "StackEvents": [
                _ev(
                    CHILD_ID,
                    "db",
                    2,
                    "Database",
                    "AWS::RDS::DBInstance",
                    "UPDATE_FAILED",
                    20,
                    "Cannot upgrade postgres from 17.6 to 15.4",
                ),
                _ev(CHILD_ID, "db", 1, "Database", "AWS::RDS::DBInstance", "UPDATE_IN_PROGRESS", 15),
            ]
        },
        {"StackName": CHILD_ID},
    )
    failures, merged = inspect.recent_events(aws, "wealist-dev", timedelta(hours=1), now=T0 + timedelta(minutes=31))
    stub.assert_no_pending_responses()
    assert [(e.where, e.status) for e in merged] == [
        ("wealist-dev", "UPDATE_IN_PROGRESS"),
        ("DatabaseStack", "UPDATE_IN_PROGRESS"),
        ("DatabaseStack/Database", "UPDATE_IN_PROGRESS"),
        ("DatabaseStack/Database", "UPDATE_FAILED"),
        ("wealist-dev", "UPDATE_ROLLBACK_IN_PROGRESS"),
    ]
    assert [(e.where, e.reason) for e in failures] == [
        ("DatabaseStack/Database", "Cannot upgrade postgres from 17.6 to 15.4"),
        ("wealist-dev", "The following resource(s) failed to update: [DatabaseStack]."),
    ]


@pytest.mark.parametrize("text", ["1x", "0h", "", "-1h", "h"])
def test_since_must_be_a_positive_duration(text):
    with pytest.raises(CommandError) as err:
        inspect.parse_since(text)
    assert err.value.exit_code == 2


def test_since_units():
    assert inspect.parse_since("90m") == timedelta(minutes=90)
    assert inspect.parse_since("2d") == timedelta(days=2)
