"""The deploy engine's second pass (issue 23): a watch that always ends, the
no-changes texts matched exactly, change sets deleted asynchronously.

Stand-ins, per test (each docstring names its own):

* moto's server, for what it really does: a CREATE change set leaves a
  REVIEW_IN_PROGRESS stack shell (as CreateChangeSet's reference says:
  "the stack is in the REVIEW_IN_PROGRESS state until you execute the
  change set").
* botocore's Stubber, with responses shaped like the CloudFormation API
  reference, for what moto cannot produce: DescribeChangeSet / ChangeSetSummary
  ``Status`` DELETE_PENDING and DELETE_IN_PROGRESS (the ChangeSetStatus enum
  of DescribeChangeSet; moto deletes at once), FAILED change sets with a
  chosen StatusReason. Stubber validates requests and responses against the
  pinned botocore model and enforces the order of calls.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from helpers.deploy import REGION, client, run_cli, stubbed_aws
from wealist_cfn.aws import Aws
from wealist_cfn.deploy import changeset, flow, stackstate

ACCOUNT = "123456789012"
ROOT = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod/1111"
ROOT_CS = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/deploy-1/aaaa"
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
NESTED = "AWS::CloudFormation::Stack"
SHELL_TEMPLATE = '{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}'


def _stack(status, **extra):
    return {
        "Stacks": [{"StackName": "wealist-prod", "StackId": ROOT, "CreationTime": T0, "StackStatus": status, **extra}]
    }


def _never(_seconds):
    pytest.fail("waited on a stack in which nothing runs")


# -- 1. status on a REVIEW_IN_PROGRESS shell ends ------------------------------------------------


def test_status_reports_a_review_shell_and_ends(moto_endpoint):
    """moto: a CREATE change set that is not executed leaves the stack
    REVIEW_IN_PROGRESS. ``status`` reads it once, reports the shell with its
    change set, and never sleeps (before the fix it polled forever:
    ``is_final`` is false for REVIEW_IN_PROGRESS)."""
    cfn = client("cloudformation", moto_endpoint)
    cfn.create_change_set(
        StackName="wealist-prod", ChangeSetName="deploy-1", ChangeSetType="CREATE", TemplateBody=SHELL_TEMPLATE
    )
    assert cfn.describe_stacks(StackName="wealist-prod")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    aws = Aws(REGION, endpoint_url=moto_endpoint)
    items = list(flow.watch(aws, "wealist-prod", sleep=_never))
    [sh] = items
    assert isinstance(sh, flow.Shell)
    assert [name for name, _, _ in sh.change_sets] == ["deploy-1"]


def test_status_command_on_a_shell_says_nothing_runs_and_exits_0(moto_endpoint, prod_params):
    """moto, through the command line: one block naming the shell, the change
    set and the commands that create or remove it; exit 0."""
    cfn = client("cloudformation", moto_endpoint)
    cfn.create_change_set(
        StackName="wealist-prod", ChangeSetName="deploy-1", ChangeSetType="CREATE", TemplateBody=SHELL_TEMPLATE
    )
    code, out, err = run_cli("status", "--params", prod_params, "--endpoint-url", moto_endpoint)
    assert code == 0, err
    assert "is REVIEW_IN_PROGRESS" in out and "no operation runs" in out
    assert "change set deploy-1:" in out
    assert "--change-set deploy-1" in out
    assert "aws cloudformation delete-stack --stack-name wealist-prod" in out


def test_a_watch_on_a_shell_that_never_starts_is_bounded():
    """Stubbed DescribeStacks/DescribeStackEvents: after an execute, a root
    that still reads REVIEW_IN_PROGRESS after the grace period ends the watch
    as a Final with that status, instead of polling until a CI timeout."""
    from wealist_cfn.deploy import events

    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    polls = int(events.SHELL_GRACE // 5)
    for _ in range(polls):
        cfn.add_response("describe_stacks", _stack("REVIEW_IN_PROGRESS"), {"StackName": ROOT})
        cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
    cfn.add_response("describe_stacks", _stack("REVIEW_IN_PROGRESS"), {"StackName": ROOT})
    w = events.Watcher(aws, ROOT, sleep=lambda s: None, interval=5)
    items = list(w.watch())
    assert isinstance(items[-1], events.Final) and items[-1].status == "REVIEW_IN_PROGRESS"
    cfn.assert_no_pending_responses()


def test_a_watch_gives_up_after_its_overall_bound():
    """Stubbed: a root that stays UPDATE_IN_PROGRESS; the watch raises
    WatchTimeout after ``timeout`` seconds of (injected) sleeping."""
    from wealist_cfn.deploy import events

    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    for _ in range(3):
        cfn.add_response("describe_stacks", _stack("UPDATE_IN_PROGRESS"), {"StackName": ROOT})
        cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
    slept = []
    w = events.Watcher(aws, ROOT, sleep=slept.append, interval=5, timeout=10)
    with pytest.raises(events.WatchTimeout) as exc:
        list(w.watch())
    assert exc.value.status == "UPDATE_IN_PROGRESS" and sum(slept) == 10
    cfn.assert_no_pending_responses()


def test_the_watch_bound_counts_the_time_the_calls_take():
    """Stubbed, with a fake clock: each poll's calls take 40 minutes
    (botocore retrying a throttled call backs off); the 90-minute bound ends
    the watch after three polls although only two 5 s intervals were slept.
    Before: only the slept intervals counted, so 1,080 polls."""
    from wealist_cfn.deploy import events

    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    now = [0.0]

    def slow(**_kw):
        now[0] += 40 * 60

    aws.cfn.meta.events.register("before-parameter-build.cloudformation.DescribeStacks", slow)
    for _ in range(3):
        cfn.add_response("describe_stacks", _stack("UPDATE_IN_PROGRESS"), {"StackName": ROOT})
        cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
    slept = []
    w = events.Watcher(aws, ROOT, sleep=slept.append, interval=5, timeout=90 * 60, clock=lambda: now[0])
    with pytest.raises(events.WatchTimeout) as exc:
        list(w.watch())
    assert exc.value.waited == 120 * 60 and sum(slept) == 10
    cfn.assert_no_pending_responses()


# -- 7. the no-changes texts, and nothing else ----------------------------------------------------


@pytest.mark.parametrize(
    "reason",
    [
        "The submitted information didn't contain changes. Submit different information to create a change set.",
        "No updates are to be performed.",
    ],
)
def test_the_two_documented_no_changes_reasons_are_no_changes(reason):
    """No stand-in: the two StatusReason texts CloudFormation gives a change
    set that changes nothing (those aws-cdk and the AWS CLI match)."""
    assert changeset.is_no_changes("FAILED", reason)


@pytest.mark.parametrize(
    "reason",
    [
        'Resource handler returned message: "no changes were applied to the parameter group" (Service: Rds)',
        "Template format error: Unresolved resource dependencies [NoChanges] in the Resources block",
        "NO CHANGES allowed on a protected resource",
    ],
)
def test_a_failure_mentioning_no_changes_is_a_failure(reason):
    """No stand-in: a real failure whose text merely contains the phrase."""
    assert not changeset.is_no_changes("FAILED", reason)


def test_a_failed_change_set_whose_reason_mentions_no_changes_exits_non_zero(prod_params):
    """Stubbed CreateChangeSet/DescribeChangeSet: FAILED with a reason that
    contains "no changes" but is not one of the two documented texts. The
    deploy fails (CommandError) instead of ending in "no changes", exit 0."""
    from helpers.prepared import ROOT_TEMPLATE, _cs, _prepare_stubs, _prepared

    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _prepare_stubs(cfn, prod_params)
    cfn.add_response(
        "describe_change_set",
        _cs(
            "FAILED",
            "UNAVAILABLE",
            StatusReason=('Nested change set arn:x failed: Resource handler returned message: "no changes allowed"'),
        ),
        {"ChangeSetName": ROOT_CS},
    )
    cfn.add_response("delete_change_set", {}, {"ChangeSetName": ROOT_CS})
    cfn.add_client_error("describe_change_set", "ChangeSetNotFound", "ChangeSet does not exist")
    dep = _prepared(aws, prod_params, ROOT_TEMPLATE)
    with pytest.raises(Exception) as exc:
        list(dep.prepare())
    assert getattr(exc.value, "exit_code", None) == 1
    assert dep.plan is None


# -- 5. asynchronous change-set deletion ----------------------------------------------------------


def test_cleanup_waits_for_its_own_deleting_change_set_and_removes_the_shell(prod_params):
    """Stubbed, shaped like DescribeChangeSet / ListChangeSets: after
    DeleteChangeSet the set reads DELETE_PENDING, then DELETE_IN_PROGRESS,
    then is gone; the shell's listing still shows it DELETE_IN_PROGRESS. It
    is this run's own change set on its way out, not "another plan": the
    shell this run made is deleted. Before the fix the listing counted it as
    another change set and left the shell."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("delete_change_set", {}, {"ChangeSetName": ROOT_CS})
    for status in ("DELETE_PENDING", "DELETE_IN_PROGRESS"):
        cfn.add_response(
            "describe_change_set",
            {"ChangeSetId": ROOT_CS, "ChangeSetName": "deploy-1", "StackId": ROOT, "Status": status},
            {"ChangeSetName": ROOT_CS},
        )
    cfn.add_client_error("describe_change_set", "ChangeSetNotFound", f"ChangeSet [{ROOT_CS}] does not exist")
    cfn.add_response("describe_stacks", _stack("REVIEW_IN_PROGRESS"), {"StackName": ROOT})
    cfn.add_response(
        "list_change_sets",
        {
            "Summaries": [
                {"ChangeSetName": "deploy-1", "ChangeSetId": ROOT_CS, "StackId": ROOT, "Status": "DELETE_IN_PROGRESS"}
            ]
        },
        {"StackName": ROOT},
    )
    cfn.add_response("delete_stack", {}, {"StackName": ROOT})
    dep = flow.Deployment(flow.Options(stack_name="wealist-prod", params=prod_params, sleep=lambda s: None), aws=aws)
    dep._made, dep._made_shell = changeset.ChangeSet("deploy-1", ROOT_CS, ROOT, "CREATE"), True
    assert dep.cleanup() == [
        "deleted change set deploy-1 (not executed)",
        "deleted the empty stack shell wealist-prod (REVIEW_IN_PROGRESS, made by this run)",
    ]
    cfn.assert_no_pending_responses()


def test_a_change_set_still_deleting_after_the_bound_is_reported_as_such(prod_params):
    """Stubbed: the change set stays DELETE_IN_PROGRESS past the bound. The
    line says so (not "deleted"), and the shell is still cleaned, since the
    listing shows only a change set on its way out."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("delete_change_set", {}, {"ChangeSetName": ROOT_CS})
    waiting = {"ChangeSetId": ROOT_CS, "ChangeSetName": "deploy-1", "StackId": ROOT, "Status": "DELETE_IN_PROGRESS"}
    for _ in range(61):
        cfn.add_response("describe_change_set", waiting, {"ChangeSetName": ROOT_CS})
    cfn.add_response("describe_stacks", _stack("REVIEW_IN_PROGRESS"), {"StackName": ROOT})
    cfn.add_response("list_change_sets", {"Summaries": [dict(waiting)]}, {"StackName": ROOT})
    cfn.add_response("delete_stack", {}, {"StackName": ROOT})
    dep = flow.Deployment(flow.Options(stack_name="wealist-prod", params=prod_params, sleep=lambda s: None), aws=aws)
    dep._made, dep._made_shell = changeset.ChangeSet("deploy-1", ROOT_CS, ROOT, "CREATE"), True
    first, second = dep.cleanup()
    assert (
        first == "deleting change set deploy-1 (not executed): still DELETE_IN_PROGRESS after 120s; "
        "CloudFormation finishes it"
    )
    assert second.startswith("deleted the empty stack shell")
    cfn.assert_no_pending_responses()


def test_another_plans_change_set_still_keeps_the_shell():
    """Stubbed ListChangeSets: a CREATE_COMPLETE change set of another plan
    sits next to ours (DELETE_PENDING): the shell is kept, and only the
    other one is named."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("describe_stacks", _stack("REVIEW_IN_PROGRESS"), {"StackName": ROOT})
    cfn.add_response(
        "list_change_sets",
        {
            "Summaries": [
                {"ChangeSetName": "deploy-1", "ChangeSetId": ROOT_CS, "Status": "DELETE_PENDING"},
                {"ChangeSetName": "deploy-2", "ChangeSetId": ROOT_CS + "2", "Status": "CREATE_COMPLETE"},
            ]
        },
        {"StackName": ROOT},
    )
    line = stackstate.delete_review_shell(aws, ROOT, "wealist-prod", ours=ROOT_CS)
    assert "holds 1 other change set(s) (deploy-2)" in line


# -- 6. what a failed first create leaves ---------------------------------------------------------


def test_a_failed_create_names_what_its_rollback_left_and_how_to_remove_it():
    """Stubbed ListStackResources (StackResourceSummary shape; a nested stack
    read by its ID): the create rolled back ROLLBACK_FAILED because the
    versioned access-log bucket held ELB's test object (DeleteBucket:
    BucketNotEmpty), and the flow-log group's delete was skipped. ``finish``
    names both, with the way to remove each, instead of "nothing behind"."""
    from wealist_cfn.deploy import events

    lb = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod-LoadBalancerStack-Y/3333"
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": "LoadBalancerStack",
                    "PhysicalResourceId": lb,
                    "ResourceType": NESTED,
                    "LastUpdatedTimestamp": T0,
                    "ResourceStatus": "DELETE_FAILED",
                },
                {
                    "LogicalResourceId": "FlowLogGroup",
                    "PhysicalResourceId": "wealist-prod-flow",
                    "LastUpdatedTimestamp": T0,
                    "ResourceType": "AWS::Logs::LogGroup",
                    "ResourceStatus": "DELETE_SKIPPED",
                },
            ]
        },
        {"StackName": ROOT},
    )
    cfn.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": "AccessLogBucket",
                    "PhysicalResourceId": "wealist-prod-alb-logs-1",
                    "ResourceType": "AWS::S3::Bucket",
                    "LastUpdatedTimestamp": T0,
                    "ResourceStatus": "DELETE_FAILED",
                },
                {
                    "LogicalResourceId": "LoadBalancer",
                    "PhysicalResourceId": "arn:lb",
                    "LastUpdatedTimestamp": T0,
                    "ResourceType": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                    "ResourceStatus": "DELETE_COMPLETE",
                },
            ]
        },
        {"StackName": lb},
    )
    cfn.add_response("describe_stacks", _stack("ROLLBACK_FAILED"), {"StackName": ROOT})
    items = list(flow.finish(aws, ROOT, events.Final("ROLLBACK_FAILED", ""), new=True))
    lines = [i.message for i in items if isinstance(i, flow.Info)]
    assert lines == [
        "left behind: LoadBalancerStack/AccessLogBucket (AWS::S3::Bucket) wealist-prod-alb-logs-1: DELETE_FAILED; "
        "empty every object version, then: aws s3api delete-bucket --bucket wealist-prod-alb-logs-1",
        "left behind: FlowLogGroup (AWS::Logs::LogGroup) wealist-prod-flow: DELETE_SKIPPED; "
        "aws logs delete-log-group --log-group-name wealist-prod-flow",
    ]
    cfn.assert_no_pending_responses()
