"""The runner's mechanics on the local endpoint (moto's server): experiments
deployed through the change-set engine, observed, and everything they made
deleted, on a clean end, on an error, on Ctrl-C and on SIGTERM.

Relies on moto for what it does: CloudFormation stacks and change sets
(nested ones included, templates read from its S3), S3 objects, ECR. Its
verdicts mean nothing (moto keeps other change sets after an execute, has
no stack-policy enforcement, names generated buckets its own way), so no
test here asserts one; test_verdicts.py does, with the Stubber.
"""

from __future__ import annotations

import os
import re
import signal

import pytest

from wealist_cfn.aws import Aws
from wealist_cfn.deploy import signals
from wealist_cfn.prove import cfn_behaviour, registry, runner
from wealist_cfn.prove.model import HOLDS, INCONCLUSIVE, NOT_RUN, Experiment, Reliance, holds

REGION = "ap-northeast-2"


@pytest.fixture
def aws(moto_endpoint) -> Aws:
    return Aws(REGION, endpoint_url=moto_endpoint, local_credentials=True)


def _run(aws, experiments, **kw):
    lines = []
    report = runner.drive(
        runner.run(
            aws,
            experiments,
            project="wealist",
            environment="sbx",
            role_arn=None,
            run_id="r1",
            sleep=lambda _s: None,
            interval=0.01,
            **kw,
        ),
        lines.append,
    )
    return report, lines


def _live_stacks(aws) -> list[str]:
    return [s["StackName"] for s in aws.cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]


def _objects(aws) -> list[str]:
    bucket = f"wealist-cfn-artifacts-{aws.account or '123456789012'}-{REGION}"
    try:
        return [o["Key"] for o in aws.s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    except aws.s3.exceptions.NoSuchBucket:
        return []


def _experiment(act, **kw) -> Experiment:
    base = dict(
        id="probe",
        assumption="a probe of the runner",
        relies=(Reliance("wealist_cfn/prove/runner.py", "run"),),
        templates=cfn_behaviour.NESTED,
        act=act,
        observe=lambda ctx: {},
        verdict=lambda r: holds("probe", seen=r),
    )
    base.update(kw)
    return Experiment(**base)


def _deploy_nested(ctx):
    ctx.deploy(None, {"RepositoryName": f"{ctx.stack.lower()}-a"})


def test_experiments_run_on_the_local_endpoint_and_leave_nothing(aws):
    """Two real experiments, one nested (packaged to S3, executed), one a
    change set only: stacks named <prefix>-proof-<id>-<run>, observed, then
    every stack and uploaded template deleted."""
    chosen = registry.select(["nested-bucket-name", "empty-parameter-value"])
    report, lines = _run(aws, chosen)
    assert [r.experiment for r in report.results] == ["empty-parameter-value", "nested-bucket-name"]
    names = {
        "empty-parameter-value": "wealist-sbx-proof-empty-parameter-value-r1",
        "nested-bucket-name": runner.short_stack_name("r1", len("wealist-sbx")),
    }
    for r in report.results:
        assert r.stacks == [names[r.experiment]]
        assert f"deleted stack {names[r.experiment]}" in r.cleaned
        assert r.outcome in (HOLDS, "fails", INCONCLUSIVE) and r.evidence
    nested = report.results[1]
    assert any(
        c.startswith("deleted s3://wealist-cfn-artifacts-") and "/plan/wealist-sbx/proof/" in c for c in nested.cleaned
    )
    assert report.left == [] and not report.interrupted
    assert _live_stacks(aws) == [] and _objects(aws) == []
    assert any("executing" in p.message for p in lines)


def test_ctrl_c_mid_run_deletes_what_was_made_and_runs_nothing_more(aws):
    """KeyboardInterrupt after the deploy, before a verdict: the stack and
    its packaged templates are deleted, the report says interrupted, the
    experiment is 'not run' and the next one 'not started'."""

    def act(ctx):
        _deploy_nested(ctx)
        assert _live_stacks(aws)  # the stack is there when the interrupt comes
        raise KeyboardInterrupt

    later = _experiment(lambda ctx: None, id="later")
    report, _ = _run(aws, [_experiment(act), later])
    assert report.interrupted
    first, second = report.results
    assert first.outcome == NOT_RUN and "interrupted" in first.reason
    assert "deleted stack wealist-sbx-proof-probe-r1" in first.cleaned
    assert second.outcome == NOT_RUN and second.reason == "not started: the run was interrupted"
    assert report.left == [] and _live_stacks(aws) == [] and _objects(aws) == []
    assert not report.ok


def test_sigterm_takes_the_ctrl_c_path(aws):
    """SIGTERM under signals.sigterm_as_interrupt (as cmd_prove runs the
    runner): the same clean-up as Ctrl-C."""

    def act(ctx):
        _deploy_nested(ctx)
        os.kill(os.getpid(), signal.SIGTERM)

    with signals.sigterm_as_interrupt():
        report, _ = _run(aws, [_experiment(act)])
    assert report.interrupted and report.results[0].outcome == NOT_RUN
    assert report.left == [] and _live_stacks(aws) == []


def test_a_second_ctrl_c_during_the_clean_up_lists_what_is_left_with_the_command(aws, monkeypatch):
    def interrupted_delete(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_delete_stack", interrupted_delete)

    def act(ctx):
        _deploy_nested(ctx)
        raise KeyboardInterrupt

    report, _ = _run(aws, [_experiment(act)])
    stack_id = aws.cfn.describe_stacks(StackName="wealist-sbx-proof-probe-r1")["Stacks"][0]["StackId"]
    what = {x.what: x.command for x in report.left}
    assert (
        what["stack wealist-sbx-proof-probe-r1 (clean-up interrupted)"]
        == f"aws cloudformation delete-stack --stack-name {stack_id} --region {REGION}"
    )
    templates = [c for w, c in what.items() if w.startswith("s3://")]
    assert templates and all(c.startswith("aws s3api delete-object --bucket wealist-cfn-artifacts-") for c in templates)
    assert report.interrupted and not report.ok


def test_ctrl_c_while_a_line_is_printed_ends_the_run_with_its_report(aws):
    printed = []

    def show(p):
        printed.append(p)
        if p.message.startswith("holds"):
            raise KeyboardInterrupt

    report = runner.drive(
        runner.run(
            aws,
            [_experiment(lambda c: None, templates={}), _experiment(lambda c: None, id="next", templates={})],
            project="wealist",
            environment="sbx",
            role_arn=None,
            run_id="r1",
            sleep=lambda _s: None,
        ),
        show,
    )
    assert report.interrupted
    assert [(r.experiment, r.outcome) for r in report.results] == [("probe", HOLDS), ("next", NOT_RUN)]


def test_an_error_is_inconclusive_and_still_cleaned_up(aws):
    def act(ctx):
        _deploy_nested(ctx)
        raise RuntimeError("boom")

    report, _ = _run(aws, [_experiment(act)])
    r = report.results[0]
    assert r.outcome == INCONCLUSIVE and "RuntimeError: boom" in r.reason
    assert _live_stacks(aws) == [] and report.left == [] and not report.interrupted


def test_a_service_role_experiment_without_the_role_is_not_attempted(aws):
    calls = []
    report, _ = _run(aws, [_experiment(lambda ctx: calls.append(1), service_role=True)])
    assert calls == [] and report.results[0].outcome == INCONCLUSIVE
    assert "--params" in report.results[0].reason


def test_waits_are_bounded(aws):
    """Context.wait_for gives up after its timeout in slept time."""
    slept, reads = [], []
    ctx = runner.Context(
        aws,
        _experiment(lambda c: None),
        project="wealist",
        environment="sbx",
        run_id="r1",
        role_arn=None,
        sleep=slept.append,
        interval=30,
    )
    answer = ctx.wait_for(lambda: reads.append(1) or {"n": len(reads)}, lambda a: False, timeout=120)
    assert answer == {"n": 5} and sum(slept) == 120


def test_stack_names_fit_cloudformation():
    """CreateStack StackName: letters, digits, hyphens, a letter first, at
    most 128 characters (CloudFormation API reference, CreateStack)."""
    import re

    for e in registry.EXPERIMENTS:
        name = runner.stack_name("wealist-prod", e.id, runner.new_run_id())
        assert re.fullmatch(r"[A-Za-z][-A-Za-z0-9]{0,127}", name), name


def test_retained_resources_are_removed_after_the_stack_is_deleted(aws):
    """moto: a Retain resource (the ALB's access-log bucket) is removed only
    once its stack is gone, since the stack's deletion still deletes what
    depends on it (the bucket policy) and would fail on a bucket already
    removed (DeleteStack leaves DELETE_FAILED, CloudFormation User Guide,
    troubleshooting 'Delete stack fails')."""
    order = []

    def act(ctx):
        _deploy_nested(ctx)
        ctx.after_delete("a thing", lambda: order.append(_live_stacks(aws)), "remove it by hand")

    report, _ = _run(aws, [_experiment(act)])
    assert order == [[]], "the removal ran while the stack was still there"
    assert "removed a thing" in report.results[0].cleaned and _live_stacks(aws) == []


def test_ctrl_c_during_the_clean_up_of_a_finished_experiment_starts_nothing_more(aws, monkeypatch):
    """moto: the experiment ends with a verdict; a Ctrl-C lands while its
    stack is being deleted. The run records the interrupt and stops: the
    next experiment (it could be a 90-minute ElastiCache one) never starts."""

    def interrupted_delete(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_delete_stack", interrupted_delete)
    started = []
    later = _experiment(lambda ctx: started.append(1), id="later", templates={})
    report, _ = _run(aws, [_experiment(_deploy_nested), later])
    assert started == []
    assert report.interrupted and not report.ok
    first, second = report.results
    assert first.outcome == HOLDS
    assert second.outcome == NOT_RUN and second.reason == "not started: the run was interrupted"
    assert any(x.what == "stack wealist-sbx-proof-probe-r1 (clean-up interrupted)" for x in report.left)


def test_ctrl_c_on_the_start_line_keeps_the_experiment_in_the_report(aws):
    """moto (no stack is made): a Ctrl-C while the 'start:' line is printed
    leaves every selected experiment in the report, none of them run."""
    ran = []

    def show(p):
        if p.message.startswith("start"):
            raise KeyboardInterrupt

    report = runner.drive(
        runner.run(
            aws,
            [
                _experiment(lambda c: ran.append(1), templates={}),
                _experiment(lambda c: ran.append(2), id="next", templates={}),
            ],
            project="wealist",
            environment="sbx",
            role_arn=None,
            run_id="r1",
            sleep=lambda _s: None,
        ),
        show,
    )
    assert ran == [] and report.interrupted
    assert [(r.experiment, r.outcome) for r in report.results] == [("probe", NOT_RUN), ("next", NOT_RUN)]


def test_an_update_still_running_is_cancelled_then_deleted():
    """Stubber (moto has no CancelUpdateStack rollback): DeleteStack refuses
    a stack in UPDATE_IN_PROGRESS (DeleteStack / CancelUpdateStack, CloudFormation
    API reference), so the clean-up cancels the update, waits for its
    rollback, then deletes. Stack shapes: API_Stack.html."""
    from datetime import datetime, timezone

    from botocore.stub import Stubber

    aws = Aws(REGION, local_credentials=True)
    sid = f"arn:aws:cloudformation:{REGION}:123456789012:stack/wealist-sbx-proof-x-r1/1"

    def st(status):
        return {
            "Stacks": [
                {
                    "StackName": "wealist-sbx-proof-x-r1",
                    "StackId": sid,
                    "StackStatus": status,
                    "CreationTime": datetime(2026, 12, 7, tzinfo=timezone.utc),
                }
            ]
        }

    stub = Stubber(aws.cfn)
    stub.add_response("describe_stacks", st("UPDATE_IN_PROGRESS"), {"StackName": sid})
    stub.add_response("cancel_update_stack", {}, {"StackName": sid})
    stub.add_response("describe_stacks", st("UPDATE_ROLLBACK_IN_PROGRESS"), {"StackName": sid})
    stub.add_response("describe_stacks", st("UPDATE_ROLLBACK_COMPLETE"), {"StackName": sid})
    stub.add_response("delete_stack", {}, {"StackName": sid})
    stub.add_response("describe_stacks", st("DELETE_IN_PROGRESS"), {"StackName": sid})
    stub.add_client_error("describe_stacks", "ValidationError", f"Stack with id {sid} does not exist")
    with stub:
        assert runner._delete_stack(aws, sid, sleep=lambda _s: None, interval=1) == ""
    stub.assert_no_pending_responses()


def test_a_deletion_that_does_not_end_is_reported_not_waited_for_forever():
    from datetime import datetime, timezone

    from botocore.stub import Stubber

    aws = Aws(REGION, local_credentials=True)
    sid = "wealist-sbx-proof-x-r1"
    stub = Stubber(aws.cfn)
    running = {
        "Stacks": [
            {
                "StackName": sid,
                "StackId": sid,
                "StackStatus": "DELETE_IN_PROGRESS",
                "CreationTime": datetime(2026, 12, 7, tzinfo=timezone.utc),
            }
        ]
    }
    for _ in range(4):
        stub.add_response("describe_stacks", running)
    with stub:
        assert (
            runner._delete_stack(aws, sid, sleep=lambda _s: None, interval=10, timeout=30)
            == "still DELETE_IN_PROGRESS after 30s"
        )


def test_a_key_the_stack_made_is_listed_as_pending_deletion(aws):
    """A stack's deletion only schedules its key's deletion: the
    AWS::KMS::Key delete handler calls ScheduleKeyDeletion (resource schema
    aws-kms-key.json; KMS API reference, ScheduleKeyDeletion: PendingDeletion
    for PendingWindowInDays, 7 here). The key ID comes from the create's
    events (API_StackEvent.html: PhysicalResourceId, a key ID for
    AWS::KMS::Key), given as the watcher records them; the stack's deletion
    runs on moto (moto's server cannot create this key: it answers 500).
    The report names the key with the commands to inspect it or cancel its
    deletion, and it does not count as a failed clean-up."""
    from datetime import datetime, timezone

    from wealist_cfn.deploy import events
    from wealist_cfn.prove import services

    key = "1234abcd-12ab-34cd-56ef-1234567890ab"
    ctx = runner.Context(
        aws,
        services.KMS_KEY_TAGS,
        project="wealist",
        environment="sbx",
        run_id="r1",
        role_arn="arn:aws:iam::123456789012:role/wealist-sbx-cfn-role",
        sleep=lambda _s: None,
        interval=0.01,
    )
    when = datetime(2026, 12, 7, tzinfo=timezone.utc)
    ctx.steps.append(
        runner.Step(
            None,
            events=[
                events.StackEvent("", "Key", "AWS::KMS::Key", "CREATE_IN_PROGRESS", "", when, "e1"),
                events.StackEvent("", "Key", "AWS::KMS::Key", "CREATE_COMPLETE", "", when, "e2", physical_id=key),
            ],
        )
    )
    ctx.stacks[ctx.stack] = ctx.stack  # not (or no longer) on the endpoint: deleted
    services._note_keys(ctx)
    done, left, interrupted = ctx.cleanup()
    assert done == [f"deleted stack {ctx.stack}"] and not interrupted
    [note] = left
    assert note.scheduled and note.what.startswith(f"KMS key {key}: PendingDeletion for 7 days")
    assert f"aws kms describe-key --key-id {key} --region {REGION}" in note.command
    assert f"aws kms cancel-key-deletion --key-id {key} --region {REGION}" in note.command
    report = runner.Report("123456789012", REGION, "r1", "", None, results=[], left=left)
    assert report.unremoved == [] and report.ok


def test_the_bucket_name_experiment_names_its_root_as_long_as_productions(aws):
    """moto (its generated names mean nothing; the name CloudFormation is
    given is the point): S3 bucket names are at most 63 characters (S3 user
    guide, bucket naming rules), and CloudFormation cuts a generated name to
    fit, so a root named <prefix>-proof-nested-bucket-name-<run> (51
    characters) always loses its own name from the bucket's. The experiment
    names its root as long as production's (wealist-prod, 12), so the cut,
    if any, is production's."""
    report, _ = _run(aws, registry.select(["nested-bucket-name"]), root_length=len("wealist-prod"))
    [r] = report.results
    [root] = r.stacks
    assert len(root) == len("wealist-prod") and re.fullmatch(r"[a-z][a-z0-9]+", root)
    assert root == runner.short_stack_name("r1", 12)
    assert runner.short_stack_name("12072231a1b2", 12) == "pa1b21207223"
    assert f"deleted stack {root}" in r.cleaned and _live_stacks(aws) == []


def test_a_failed_alb_create_still_removes_its_retained_bucket(aws):
    """The access-log bucket is Retain; a create that failed made it, and
    its rollback keeps it unless RetainExceptOnCreate (ExecuteChangeSet, API
    reference). Its name comes from the operation's events
    (API_StackEvent.html PhysicalResourceId, as the watcher records them);
    the bucket, with an object in it, and the stack's deletion are moto's.
    After the clean-up the bucket is gone and nothing is reported left."""
    from datetime import datetime, timezone

    from wealist_cfn.deploy import events
    from wealist_cfn.prove import services

    bucket = "pa1b21207223-accesslogbucket-1a2b3c4d5e6f"
    aws.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    aws.s3.put_object(Bucket=bucket, Key="alb/AWSLogs/123456789012/ELBAccessLogTestFile", Body=b"x")
    ctx = runner.Context(
        aws,
        services.ALB_ACCESS_LOGS,
        project="wealist",
        environment="sbx",
        run_id="r1",
        role_arn=None,
        sleep=lambda _s: None,
        interval=0.01,
    )
    when = datetime(2026, 12, 7, tzinfo=timezone.utc)
    ctx.steps.append(
        runner.Step(
            None,
            events=[
                events.StackEvent(
                    "", "AccessLogBucket", "AWS::S3::Bucket", "CREATE_COMPLETE", "", when, "e1", physical_id=bucket
                ),
                events.StackEvent(
                    "",
                    "LoadBalancer",
                    "AWS::ElasticLoadBalancingV2::LoadBalancer",
                    "CREATE_FAILED",
                    "Access Denied for bucket",
                    when,
                    "e2",
                ),
            ],
        )
    )
    ctx.stacks[ctx.stack] = ctx.stack
    services._note_buckets(ctx)
    done, left, _ = ctx.cleanup()
    assert left == []
    assert done == [
        f"deleted stack {ctx.stack}",
        f"removed access-log bucket {bucket} (Retain) and its objects, unless already gone",
    ]
    assert bucket not in [b["Name"] for b in aws.s3.list_buckets()["Buckets"]]
    # Gone already (the rollback removed it): nothing to do, nothing left.
    again = runner.Context(
        aws,
        services.ALB_ACCESS_LOGS,
        project="wealist",
        environment="sbx",
        run_id="r1",
        role_arn=None,
        sleep=lambda _s: None,
        interval=0.01,
    )
    again.steps = ctx.steps
    services._note_buckets(again)
    assert again.cleanup()[1] == []


def test_the_change_set_deletion_experiment_records_its_nested_shell():
    """Stubber (moto makes no nested change set with a stack of its own): a
    CREATE change set with nested stacks makes a nested stack shell
    (REVIEW_IN_PROGRESS; DescribeChangeSet of the nested change set names it
    in StackId, API_DescribeChangeSet.html). Deleting the change set leaves
    it, and AWS may even refuse to delete such a stack
    (aws-cloudformation/rain #477): the act records it beside the root, so
    the clean-up deletes it or lists it with the command."""
    from datetime import datetime, timezone
    from types import SimpleNamespace

    from botocore.stub import Stubber

    from wealist_cfn.prove import cfn_behaviour

    aws = Aws(REGION, local_credentials=True)
    acct = "123456789012"
    root, child = "wealist-sbx-proof-d-r1", "wealist-sbx-proof-d-r1-Child-1ABC"
    root_id = f"arn:aws:cloudformation:{REGION}:{acct}:stack/{root}/1"
    child_id = f"arn:aws:cloudformation:{REGION}:{acct}:stack/{child}/2"
    cs_id = f"arn:aws:cloudformation:{REGION}:{acct}:changeSet/deploy-1/1"
    nested_cs = f"arn:aws:cloudformation:{REGION}:{acct}:changeSet/deploy-1-Child/2"
    when = datetime(2026, 12, 7, tzinfo=timezone.utc)
    stub = Stubber(aws.cfn)
    stub.add_response(
        "describe_change_set",
        {
            "ChangeSetId": cs_id,
            "ChangeSetName": "deploy-1",
            "StackId": root_id,
            "StackName": root,
            "CreationTime": when,
            "Status": "CREATE_COMPLETE",
            "Changes": [
                {
                    "Type": "Resource",
                    "ResourceChange": {
                        "Action": "Add",
                        "LogicalResourceId": "Child",
                        "ResourceType": "AWS::CloudFormation::Stack",
                        "ChangeSetId": nested_cs,
                    },
                }
            ],
        },
        {"ChangeSetName": cs_id},
    )
    stub.add_response(
        "describe_change_set",
        {
            "ChangeSetId": nested_cs,
            "ChangeSetName": "deploy-1-Child",
            "StackId": child_id,
            "StackName": child,
            "CreationTime": when,
            "Status": "CREATE_COMPLETE",
            "ParentChangeSetId": cs_id,
        },
        {"ChangeSetName": nested_cs},
    )
    stub.add_response("delete_change_set", {}, {"ChangeSetName": cs_id})

    ctx = SimpleNamespace(aws=aws, recorded={}, stacks={root: root_id}, stack=root)
    ctx.change_set = lambda *_a, **_k: SimpleNamespace(id=cs_id)
    with stub:
        cfn_behaviour._delete_act(ctx)
    stub.assert_no_pending_responses()
    assert ctx.stacks == {root: root_id, child: child_id}
