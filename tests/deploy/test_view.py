"""The deploy view: a recorded create of a root and two nested stacks, run
through the real watcher (events.Watcher) and shown by both renderers.

Stubber: moto creates in 0.2 s and records no events on nested stacks, so
it cannot produce a long create with resources in progress. The responses
are shaped like API_DescribeStacks (Stacks[].StackStatus) and
API_DescribeStackEvents (StackEvents newest first: EventId, StackId,
StackName, LogicalResourceId, PhysicalResourceId, ResourceType, Timestamp,
ResourceStatus, ResourceStatusReason), returned "in reverse chronological
order" (API_DescribeStackEvents). The child's own events are not in its
parent's list: the parent shows only the AWS::CloudFormation::Stack
resource, whose PhysicalResourceId is the child's stack ARN (the sample
output in gist efekarakus/5eec8215...; taimos/cfn-tail#6 asks for the
recursive DescribeStackEvents the watcher does), so the watcher follows it.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.stub import Stubber

from wealist_cfn.deploy import events, flow, view

pytestmark = pytest.mark.stubbed

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
ROOT = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/wealist-prod/1"
NET = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/wealist-prod-NetworkStack-A/2"
DB = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/wealist-prod-DatabaseStack-B/3"
STACK = "AWS::CloudFormation::Stack"
ESC = "\033["


def _ev(n, sid, lid, rtype, status, minute, physical="", reason=""):
    e = {
        "EventId": f"e{n}",
        "StackId": sid,
        "StackName": sid.split("/")[1],
        "LogicalResourceId": lid,
        "ResourceType": rtype,
        "Timestamp": T0 + timedelta(minutes=minute),
        "ResourceStatus": status,
    }
    if physical:
        e["PhysicalResourceId"] = physical
    if reason:
        e["ResourceStatusReason"] = reason
    return e


# A first create, oldest first: the network finishes, the database takes 25 minutes.
RECORDED = [
    _ev(1, ROOT, "wealist-prod", STACK, "CREATE_IN_PROGRESS", 0, ROOT, "User Initiated"),
    _ev(2, ROOT, "NetworkStack", STACK, "CREATE_IN_PROGRESS", 0, NET),
    _ev(3, ROOT, "DatabaseStack", STACK, "CREATE_IN_PROGRESS", 0, DB),
    _ev(4, NET, "Vpc", "AWS::EC2::VPC", "CREATE_IN_PROGRESS", 1),
    _ev(5, DB, "DbSubnetGroup", "AWS::RDS::DBSubnetGroup", "CREATE_IN_PROGRESS", 1),
    _ev(6, NET, "Vpc", "AWS::EC2::VPC", "CREATE_COMPLETE", 2),
    _ev(7, DB, "DbSubnetGroup", "AWS::RDS::DBSubnetGroup", "CREATE_COMPLETE", 2),
    _ev(8, DB, "Database", "AWS::RDS::DBInstance", "CREATE_IN_PROGRESS", 3),
    _ev(9, NET, "NatGateway", "AWS::EC2::NatGateway", "CREATE_IN_PROGRESS", 3),
    _ev(10, NET, "NatGateway", "AWS::EC2::NatGateway", "CREATE_COMPLETE", 5),
    _ev(11, ROOT, "NetworkStack", STACK, "CREATE_COMPLETE", 6, NET),
    _ev(12, DB, "Database", "AWS::RDS::DBInstance", "CREATE_COMPLETE", 28),
    _ev(13, ROOT, "DatabaseStack", STACK, "CREATE_COMPLETE", 29, DB),
    _ev(14, ROOT, "wealist-prod", STACK, "CREATE_COMPLETE", 30, ROOT),
]
# How many recorded events each poll of the watcher sees: after minute 0, 2, 4, 20, 30.
ROUNDS = [3, 7, 9, 11, 14]


def _stub_watch(stub: Stubber, recorded: list[dict], rounds: list[int], final: str) -> None:
    """The calls a watch makes, in its order: DescribeStacks on the root, then
    DescribeStackEvents on each known stack, root first, children in the
    order their first event names them (twice in the last round: the watcher
    looks once more after the final status)."""
    known = [ROOT]
    for i, cutoff in enumerate(rounds):
        last = i == len(rounds) - 1
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "wealist-prod",
                        "StackId": ROOT,
                        "CreationTime": T0,
                        "StackStatus": final if last else "CREATE_IN_PROGRESS",
                    }
                ]
            },
            {"StackName": ROOT},
        )
        for _ in range(2 if last else 1):
            j = 0
            while j < len(known):
                sid = known[j]
                page = [e for e in recorded[:cutoff] if e["StackId"] == sid][::-1]
                stub.add_response("describe_stack_events", {"StackEvents": page}, {"StackName": sid})
                for e in page:
                    child = e.get("PhysicalResourceId", "")
                    if e["ResourceType"] == STACK and child.startswith("arn:") and child != sid and child not in known:
                        known.append(child)
                j += 1


class _Aws:
    def __init__(self, cfn):
        self.cfn = cfn


def _watch(recorded=RECORDED, rounds=ROUNDS, final="CREATE_COMPLETE") -> list:
    cfn = boto3.client("cloudformation", region_name="ap-northeast-2")
    stub = Stubber(cfn)
    _stub_watch(stub, recorded, rounds, final)
    with stub:
        # Totals as the review counts them: 1 in the root's own rows per child, 2 in each child.
        watcher = events.Watcher(
            _Aws(cfn),
            ROOT,
            total=6,
            totals={"": 2, "NetworkStack": 2, "DatabaseStack": 2},
            sleep=lambda _s: None,
            interval=0.0,
        )
        items = list(watcher.watch())
        stub.assert_no_pending_responses()
    return items


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_the_engine_yields_per_stack_progress_with_the_slowest_resource():
    items = _watch()
    progress = [i for i in items if isinstance(i, events.Progress)]
    # At minute 20 (4th round): the network is done, the database waits for its instance since minute 3.
    mid = next(p for p in progress if p.at == T0 + timedelta(minutes=6))
    rows = {r.path: r for r in mid.stacks}
    assert (rows["NetworkStack"].done, rows["NetworkStack"].total, rows["NetworkStack"].slowest) == (2, 2, "")
    db = rows["DatabaseStack"]
    assert (db.done, db.total, db.slowest, db.slowest_type, db.slowest_status) == (
        1,
        2,
        "Database",
        "AWS::RDS::DBInstance",
        "CREATE_IN_PROGRESS",
    )
    assert db.slowest_since == T0 + timedelta(minutes=3)
    assert (rows[""].done, rows[""].total, rows[""].slowest) == (1, 2, "DatabaseStack")
    assert isinstance(items[-1], events.Final) and items[-1].status == "CREATE_COMPLETE"
    end = progress[-1]
    assert (end.done, end.total) == (6, 6) and all(r.done == r.total for r in end.stacks)


def test_a_log_gets_plain_event_lines_and_a_progress_line_per_change():
    out = io.StringIO()
    shown = view.LogView(out)
    for item in _watch():
        shown(item)
    text = out.getvalue()
    assert ESC not in text
    lines = text.splitlines()
    assert "10:03:00  CREATE_IN_PROGRESS           DatabaseStack/Database  (AWS::RDS::DBInstance)" in lines
    assert "10:28:00  CREATE_COMPLETE              DatabaseStack/Database  (AWS::RDS::DBInstance)" in lines
    assert lines[-1] == "final state: CREATE_COMPLETE"
    progress = [line for line in lines if line.startswith("progress:")]
    # The engine yields a Progress on every poll while something runs; a log repeats no count.
    assert len(progress) == len(set(progress))
    assert progress[-1] == "progress: 6 of 6 resources done"
    assert sum(1 for line in lines if "CREATE_" in line and not line.startswith(("progress", "final"))) == 14


def test_a_terminal_gets_one_line_per_stack_redrawn_in_place():
    out, clock = _Terminal(), _Clock()
    now = {"t": T0}
    shown = view.LiveView(
        out, stack_name="wealist-prod", clock=clock, now=lambda: now["t"], min_interval=0.5, width=200
    )
    snapshots = []
    for item in _watch():
        if isinstance(item, events.Progress) and item.at:
            now["t"] = item.at + timedelta(minutes=14)  # the terminal's clock, 14 min after the newest event
            clock.t += 1.0  # a poll apart: every Progress is due
        shown(item)
        if isinstance(item, events.Progress):
            snapshots.append(shown.rows())
    text = out.getvalue()
    # Redrawn in place: cursor up over the block and clear, never a growing scroll of progress.
    assert f"{ESC}4F{ESC}J" in text
    # The poll after minute 6: the network is done, the database instance still being created.
    during = next(
        s
        for s in snapshots
        if any("Database (AWS::RDS::DBInstance)" in line for line in s)
        and any(line.lstrip().startswith("NetworkStack") and line.endswith("done") for line in s)
    )
    assert during[0] == "progress: 4 of 6 resources done"
    assert len(during) == 4  # the summary and one line per stack
    db_line = next(line for line in during if line.lstrip().startswith("DatabaseStack"))
    # In progress since 10:03; that poll's newest event (the first at 10:06) is CloudFormation's
    # time. The terminal's wall clock reads 10:20 and is not believed (before, it showed 17m00s).
    assert "  1/2  " in db_line and "Database (AWS::RDS::DBInstance) CREATE_IN_PROGRESS 3m00s" in db_line
    net_line = next(line for line in during if line.lstrip().startswith("NetworkStack"))
    assert "  2/2  " in net_line
    assert next(line for line in during if line.lstrip().startswith("wealist-prod"))
    # Plain events are not printed on a terminal (the block carries them); the final state is.
    assert "10:03:00  CREATE_IN_PROGRESS" not in text
    assert text.rstrip().endswith("final state: CREATE_COMPLETE")


def test_an_age_grows_with_the_time_elapsed_here_not_with_the_wall_clock():
    """A quiet stretch (no new event: ``Progress.at`` stays) counts on with
    the monotonic clock from when that ``at`` was first seen; the wall clock,
    an hour off here, is never read while ``at`` is known."""
    out, clock = _Terminal(), _Clock()
    shown = view.LiveView(out, clock=clock, now=lambda: T0 + timedelta(hours=1), min_interval=0.5, width=200)
    since = T0 - timedelta(minutes=2)

    def progress(at):
        return events.Progress(
            0, 1, [events.StackProgress("", 0, 1, "Db", "AWS::RDS::DBInstance", "CREATE_IN_PROGRESS", since)], at
        )

    shown(progress(T0))
    assert shown.rows()[1].endswith("CREATE_IN_PROGRESS 2m00s")
    clock.t += 90
    shown(progress(T0))
    assert shown.rows()[1].endswith("CREATE_IN_PROGRESS 3m30s")
    clock.t += 30
    shown(progress(T0 + timedelta(minutes=5)))  # a new event: its time is the new base
    assert shown.rows()[1].endswith("CREATE_IN_PROGRESS 7m00s")


def test_the_redraw_rate_is_bounded():
    """Many Progress items within one interval: one redraw; the final state always draws."""
    out, clock = _Terminal(), _Clock()
    shown = view.LiveView(out, clock=clock, now=lambda: T0, min_interval=0.5)
    p = events.Progress(1, 3, [events.StackProgress("", 1, 3, "A", "AWS::X::Y", "CREATE_IN_PROGRESS", T0)], T0)
    for _ in range(50):
        shown(p)
        clock.t += 0.01  # 50 items in 0.5 s
    assert shown.redraws == 1
    clock.t += 0.5
    shown(p)
    assert shown.redraws == 2
    shown(events.Final("CREATE_COMPLETE", ""))
    assert shown.redraws == 3


def test_a_failure_stays_on_screen_above_the_block():
    failed = RECORDED[:11] + [
        _ev(12, DB, "Database", "AWS::RDS::DBInstance", "CREATE_FAILED", 9, reason="DBInstanceClass not available"),
        _ev(13, ROOT, "DatabaseStack", STACK, "CREATE_FAILED", 10, DB, "Embedded stack was not successfully created"),
        _ev(14, ROOT, "wealist-prod", STACK, "ROLLBACK_COMPLETE", 12, ROOT),
    ]
    out = _Terminal()
    shown = view.LiveView(out, clock=_Clock(), now=lambda: T0, width=200)
    for item in _watch(failed, final="ROLLBACK_COMPLETE"):
        shown(item)
    text = out.getvalue()
    assert (
        "10:09:00  CREATE_FAILED                DatabaseStack/Database  (AWS::RDS::DBInstance)  DBInstanceClass "
        "not available\n" in text
    )
    assert (
        "first cause: DatabaseStack/Database (AWS::RDS::DBInstance) CREATE_FAILED: DBInstanceClass not "
        "available" in text
    )


def test_quiet_shows_only_the_result():
    out = io.StringIO()
    shown = view.QuietView(out)
    for item in [
        flow.Info("uploading templates"),
        *_watch(),
        flow.Result(
            events.Final("CREATE_COMPLETE", ""), [{"OutputKey": "LoadBalancerDns", "OutputValue": "alb.example"}]
        ),
    ]:
        shown(item)
    assert out.getvalue() == "final state: CREATE_COMPLETE\noutput LoadBalancerDns = alb.example\n"


def test_the_timeline_holds_the_same_events_and_counts():
    timeline = view.Timeline()
    for item in _watch():
        timeline(item)
    kinds = [e["kind"] for e in timeline.entries]
    assert kinds.count("event") == 14 and kinds[-1] == "final"
    db = next(e for e in timeline.entries if e["kind"] == "event" and e["logicalId"] == "Database")
    assert db == {
        "time": "2026-12-07T10:03:00+00:00",
        "kind": "event",
        "stack": "DatabaseStack",
        "logicalId": "Database",
        "type": "AWS::RDS::DBInstance",
        "status": "CREATE_IN_PROGRESS",
        "reason": "",
    }
    progress = [e for e in timeline.entries if e["kind"] == "progress"]
    slow = next(
        p for p in progress if any(s["slowest"] and s["slowest"]["logicalId"] == "Database" for s in p["stacks"])
    )
    assert {
        "stack": "DatabaseStack",
        "done": 1,
        "total": 2,
        "slowest": {
            "logicalId": "Database",
            "type": "AWS::RDS::DBInstance",
            "status": "CREATE_IN_PROGRESS",
            "since": "2026-12-07T10:03:00+00:00",
        },
    } in slow["stacks"]
    # Only changes: no two progress entries alike.
    assert len({str(p) for p in progress}) == len(progress)


def test_the_view_is_chosen_by_the_stream():
    assert isinstance(view.for_stream(_Terminal()), view.LiveView)
    assert isinstance(view.for_stream(io.StringIO()), view.LogView)
    assert isinstance(view.for_stream(_Terminal(), quiet=True), view.QuietView)


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (59, "59s"), (61, "1m01s"), (3725, "1h02m"), (-5, "0s")])
def test_ages(seconds, text):
    assert view.age(seconds) == text
