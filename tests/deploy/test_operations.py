"""cancel, continue-rollback, changesets and deploy --no-rollback.

Stand-ins: botocore's Stubber, shaped like the CloudFormation API
reference, for the states moto cannot produce (UPDATE_IN_PROGRESS that
lasts, UPDATE_ROLLBACK_FAILED with UPDATE_FAILED resources, CREATE_FAILED
after DisableRollback); moto's server, through the command line, for
ListChangeSets / DeleteChangeSet, which it implements.

The rules relied on (API reference): CancelUpdateStack "You can cancel only
stacks that are in the UPDATE_IN_PROGRESS state"; ContinueUpdateRollback
continues a stack in UPDATE_ROLLBACK_FAILED, and ResourcesToSkip names
"only resources that are in the UPDATE_FAILED state because a rollback
failed", a nested stack's resource as ``NestedStackName.ResourceLogicalID``;
ExecuteChangeSet ``DisableRollback`` keeps the resources of a failed
operation, and the stack stays CREATE_FAILED.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from botocore.stub import ANY

from helpers.deploy import REGION, client, run_cli, stubbed_aws
from wealist_cfn.deploy import changeset, flow, operations, review, stackstate
from wealist_cfn.errors import CommandError

ACCOUNT = "123456789012"
ROOT = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod/1111"
DB = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod-DatabaseStack-X/2222"
CS = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/deploy-1/aaaa"
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
NESTED = "AWS::CloudFormation::Stack"


def _stack(status):
    return {"Stacks": [{"StackName": "wealist-prod", "StackId": ROOT, "CreationTime": T0, "StackStatus": status}]}


# -- cancel --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status",
    ["CREATE_IN_PROGRESS", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"],
)
def test_cancel_is_refused_unless_an_update_runs(status):
    """Stubbed DescribeStacks; no CancelUpdateStack call (the stub has none)."""
    aws, stubs = stubbed_aws()
    stubs["cloudformation"].add_response("describe_stacks", _stack(status), {"StackName": "wealist-prod"})
    with pytest.raises(CommandError) as exc:
        operations.cancel(aws, "wealist-prod")
    assert exc.value.exit_code == 3
    assert f"wealist-prod is {status}" in str(exc.value) and "UPDATE_IN_PROGRESS" in str(exc.value)
    stubs["cloudformation"].assert_no_pending_responses()


def test_cancel_of_a_running_update_calls_cancel_update_stack_on_the_root():
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("describe_stacks", _stack("UPDATE_IN_PROGRESS"), {"StackName": "wealist-prod"})
    cfn.add_response("cancel_update_stack", {}, {"StackName": ROOT, "ClientRequestToken": ANY})
    operations.cancel(aws, "wealist-prod")
    cfn.assert_no_pending_responses()


def test_cancel_of_a_nested_stack_is_refused_with_its_roots_name():
    """Stubbed DescribeStacks of a nested stack (ParentId and RootId set):
    refused, naming the root; no CancelUpdateStack (the stub has none)."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    nested = {
        "Stacks": [
            {
                "StackName": "wealist-prod-DatabaseStack-X",
                "StackId": DB,
                "CreationTime": T0,
                "StackStatus": "UPDATE_IN_PROGRESS",
                "ParentId": ROOT,
                "RootId": ROOT,
            }
        ]
    }
    cfn.add_response("describe_stacks", nested, {"StackName": "wealist-prod-DatabaseStack-X"})
    with pytest.raises(CommandError) as exc:
        operations.cancel(aws, "wealist-prod-DatabaseStack-X")
    assert exc.value.exit_code == 3 and "cancel --stack-name wealist-prod" in str(exc.value)
    cfn.assert_no_pending_responses()


# -- continue-rollback ---------------------------------------------------------------------------


def _failed_tree(cfn):
    cfn.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": "DatabaseStack",
                    "PhysicalResourceId": DB,
                    "ResourceType": NESTED,
                    "LastUpdatedTimestamp": T0,
                    "ResourceStatus": "UPDATE_FAILED",
                }
            ]
        },
        {"StackName": ROOT},
    )
    cfn.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": "Database",
                    "PhysicalResourceId": "wealist-prod-postgres",
                    "LastUpdatedTimestamp": T0,
                    "ResourceType": "AWS::RDS::DBInstance",
                    "ResourceStatus": "UPDATE_FAILED",
                    "ResourceStatusReason": "DB instance is in state storage-full",
                }
            ]
        },
        {"StackName": DB},
    )


def test_continue_rollback_skips_a_nested_resource_in_the_api_s_dotted_form():
    """Stubbed: ``--skip DatabaseStack/Database`` (as status prints it) is
    sent as ResourcesToSkip ``DatabaseStack.Database``."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_FAILED"), {"StackName": "wealist-prod"})
    _failed_tree(cfn)
    cfn.add_response(
        "continue_update_rollback",
        {},
        {"StackName": ROOT, "ClientRequestToken": ANY, "ResourcesToSkip": ["DatabaseStack.Database"]},
    )
    _, skipped = operations.continue_rollback(aws, "wealist-prod", ["DatabaseStack/Database"])
    assert skipped == ["DatabaseStack.Database"]
    cfn.assert_no_pending_responses()


def test_continue_rollback_refuses_a_skip_that_did_not_fail_and_lists_the_ones_that_did():
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_FAILED"), {"StackName": "wealist-prod"})
    _failed_tree(cfn)
    with pytest.raises(CommandError) as exc:
        operations.continue_rollback(aws, "wealist-prod", ["CacheStack/Redis"])
    assert exc.value.exit_code == 3 and "--skip CacheStack/Redis" in str(exc.value)
    assert exc.value.details == ("skippable: DatabaseStack/Database (--skip DatabaseStack/Database)",)
    cfn.assert_no_pending_responses()


def test_continue_rollback_refuses_a_skip_of_a_resource_that_is_not_update_failed():
    """Stubbed: a DELETE_FAILED resource is in a failed state but not one
    ResourcesToSkip accepts (only UPDATE_FAILED): refused before the call,
    and only the UPDATE_FAILED one is offered."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_FAILED"), {"StackName": "wealist-prod"})
    cfn.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": "OldBucket",
                    "PhysicalResourceId": "b",
                    "ResourceType": "AWS::S3::Bucket",
                    "LastUpdatedTimestamp": T0,
                    "ResourceStatus": "DELETE_FAILED",
                },
                {
                    "LogicalResourceId": "Topic",
                    "PhysicalResourceId": "t",
                    "ResourceType": "AWS::SNS::Topic",
                    "LastUpdatedTimestamp": T0,
                    "ResourceStatus": "UPDATE_FAILED",
                },
            ]
        },
        {"StackName": ROOT},
    )
    with pytest.raises(CommandError) as exc:
        operations.continue_rollback(aws, "wealist-prod", ["OldBucket"])
    assert exc.value.exit_code == 3 and exc.value.details == ("skippable: Topic (--skip Topic)",)
    cfn.assert_no_pending_responses()


def test_continue_rollback_is_refused_unless_the_rollback_failed():
    aws, stubs = stubbed_aws()
    stubs["cloudformation"].add_response(
        "describe_stacks", _stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": "wealist-prod"}
    )
    with pytest.raises(CommandError) as exc:
        operations.continue_rollback(aws, "wealist-prod", [])
    assert exc.value.exit_code == 3 and "UPDATE_ROLLBACK_FAILED" in str(exc.value)


# -- changesets ----------------------------------------------------------------------------------

OURS = "deploy-20261128-181900-abc1234-9f3e"


def _change_sets(endpoint):
    cfn = client("cloudformation", endpoint)
    body = '{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}'
    cfn.create_stack(StackName="wealist-prod", TemplateBody=body)
    body2 = '{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}, "T2": {"Type": "AWS::SNS::Topic"}}}'
    cfn.create_change_set(
        StackName="wealist-prod",
        ChangeSetName=OURS,
        TemplateBody=body2,
        Description=changeset.description("abc1234", "0" * 64),
    )
    cfn.create_change_set(
        StackName="wealist-prod", ChangeSetName="someone-elses", TemplateBody=body2, Description="made by hand"
    )
    return cfn


def test_changesets_list_shows_only_this_tools(moto_endpoint, prod_params):
    """moto: two change sets on the stack, one made by this tool (its name
    pattern and Description); list shows that one, --everything both."""
    _change_sets(moto_endpoint)
    code, out, err = run_cli("changesets", "list", "--params", prod_params, "--endpoint-url", moto_endpoint)
    assert code == 0, err
    assert OURS in out and "someone-elses" not in out
    code, out, _ = run_cli(
        "changesets", "list", "--everything", "--params", prod_params, "--endpoint-url", moto_endpoint
    )
    assert "someone-elses" in out and "(not made by this tool)" in out


def test_changesets_delete_refuses_another_s_and_deletes_ours(moto_endpoint, prod_params):
    """moto: deleting a change set this tool did not make is refused (exit
    3, it stays); deleting without names removes only this tool's."""
    cfn = _change_sets(moto_endpoint)
    code, _, err = run_cli(
        "changesets", "delete", "someone-elses", "--params", prod_params, "--endpoint-url", moto_endpoint
    )
    assert code == 3 and "was not made by this tool" in err
    code, out, err = run_cli("changesets", "delete", "--params", prod_params, "--endpoint-url", moto_endpoint)
    assert code == 0, err
    assert f"deleted {OURS}" in out
    left = [c["ChangeSetName"] for c in cfn.list_change_sets(StackName="wealist-prod")["Summaries"]]
    assert left == ["someone-elses"]


def test_changesets_on_a_missing_stack_is_one_line_exit_2(moto_endpoint, prod_params):
    code, _, err = run_cli("changesets", "list", "--params", prod_params, "--endpoint-url", moto_endpoint)
    assert code == 2 and err.strip() == "error: stack wealist-prod does not exist"


# -- deploy --no-rollback ------------------------------------------------------------------------


def test_no_rollback_executes_a_first_create_with_disable_rollback(prod_params):
    """Stubbed ExecuteChangeSet: DisableRollback=True instead of
    RetainExceptOnCreate; a Ctrl-C in the watch ends the test."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response(
        "describe_change_set",
        {
            "ChangeSetId": CS,
            "ChangeSetName": "deploy-1",
            "StackId": ROOT,
            "Status": "CREATE_COMPLETE",
            "ExecutionStatus": "AVAILABLE",
        },
        {"ChangeSetName": CS},
    )
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
    cfn.add_response(
        "execute_change_set", {}, {"ChangeSetName": CS, "ClientRequestToken": ANY, "DisableRollback": True}
    )
    dep = flow.Deployment(
        flow.Options(stack_name="wealist-prod", params=prod_params, no_rollback=True, sleep=lambda s: None), aws=aws
    )
    dep.plan = flow.Plan(
        stackstate.StackState("wealist-prod", "REVIEW_IN_PROGRESS", ROOT),
        changeset.ChangeSet("deploy-1", CS, ROOT, "CREATE"),
        review.Review("wealist-prod", "CREATE"),
    )
    steps = dep.execute()
    assert next(steps).message == "executing change set deploy-1"
    cfn.assert_no_pending_responses()


def test_a_create_failed_stack_is_explained_and_replaced_only_when_asked():
    """Stubbed: after a --no-rollback create failed (CREATE_FAILED), a
    deploy names the failed resources and --replace-failed; with it, the
    stack is to be deleted and created again."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": "Topic",
                    "ResourceType": "AWS::SNS::Topic",
                    "LastUpdatedTimestamp": T0,
                    "ResourceStatus": "CREATE_FAILED",
                    "ResourceStatusReason": "boom",
                }
            ]
        },
        {"StackName": ROOT},
    )
    state = stackstate.StackState("wealist-prod", "CREATE_FAILED", ROOT)
    with pytest.raises(CommandError) as exc:
        stackstate.check_deployable(aws, state, replace_failed=False)
    assert "CREATE_FAILED" in str(exc.value) and "--no-rollback" in str(exc.value)
    assert any("--replace-failed" in d for d in exc.value.details)
    assert any("blocking: Topic" in d for d in exc.value.details)
    assert stackstate.check_deployable(aws, state, replace_failed=True) == "replace"


# -- --replace-failed of a CREATE_FAILED stack ----------------------------------------------------


def test_replace_failed_rolls_a_create_failed_stack_back_with_retain_except_on_create_before_deleting():
    """Stubbed (RollbackStack, DescribeStacks, UpdateTerminationProtection,
    DeleteStack): DeleteStack of a CREATE_FAILED stack keeps its Retain and
    RetainExceptOnCreate resources (the next create fails AlreadyExists), so
    the stack is rolled back first with RetainExceptOnCreate=True (RollbackStack,
    API reference), then deleted once ROLLBACK_COMPLETE. Before: DeleteStack at once."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("rollback_stack", {"StackId": ROOT}, {"StackName": ROOT, "RetainExceptOnCreate": True})
    cfn.add_response("describe_stacks", _stack("ROLLBACK_IN_PROGRESS"), {"StackName": ROOT})
    cfn.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE"), {"StackName": ROOT})
    cfn.add_response(
        "update_termination_protection", {"StackId": ROOT}, {"StackName": ROOT, "EnableTerminationProtection": False}
    )
    cfn.add_response("delete_stack", {}, {"StackName": ROOT})
    cfn.add_response("describe_stacks", _stack("DELETE_COMPLETE"), {"StackName": ROOT})
    state = stackstate.StackState("wealist-prod", "CREATE_FAILED", ROOT, termination_protection=True)
    waits = list(stackstate.delete_failed(aws, state, sleep=lambda s: None))
    assert [w.status for w in waits] == ["ROLLBACK_IN_PROGRESS"]
    cfn.assert_no_pending_responses()


def test_a_rollback_that_fails_during_replace_failed_stops_before_any_delete():
    """Stubbed: RollbackStack ends ROLLBACK_FAILED (a delete failed): the
    explanation of ROLLBACK_FAILED, no DeleteStack (the stub has none)."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("rollback_stack", {"StackId": ROOT}, {"StackName": ROOT, "RetainExceptOnCreate": True})
    cfn.add_response("describe_stacks", _stack("ROLLBACK_FAILED"), {"StackName": ROOT})
    cfn.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT})
    state = stackstate.StackState("wealist-prod", "CREATE_FAILED", ROOT)
    with pytest.raises(CommandError) as exc:
        list(stackstate.delete_failed(aws, state, sleep=lambda s: None))
    assert "ROLLBACK_FAILED" in str(exc.value)
    cfn.assert_no_pending_responses()


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_delete_of_replace_failed_is_bounded():
    """Stubbed: a delete that stays DELETE_IN_PROGRESS ends, by a fake
    clock, after the bound with the status named. Before: unbounded."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("delete_stack", {}, {"StackName": ROOT})
    for _ in range(4):
        cfn.add_response("describe_stacks", _stack("DELETE_IN_PROGRESS"), {"StackName": ROOT})
    clock = _Clock()
    state = stackstate.StackState("wealist-prod", "ROLLBACK_COMPLETE", ROOT)
    with pytest.raises(CommandError) as exc:
        list(stackstate.delete_failed(aws, state, sleep=clock.sleep, interval=10.0, timeout=30.0, clock=clock))
    assert "still DELETE_IN_PROGRESS" in str(exc.value) and "nothing was created" in str(exc.value)
    cfn.assert_no_pending_responses()


def test_the_create_failed_hint_rolls_back_and_switches_termination_protection_off():
    """Stubbed: the by-hand way out of CREATE_FAILED rolls back with
    --retain-except-on-create and switches termination protection off before
    delete-stack (UpdateTerminationProtection: a protected stack refuses
    DeleteStack)."""
    aws, stubs = stubbed_aws()
    stubs["cloudformation"].add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT})
    with pytest.raises(CommandError) as exc:
        stackstate.check_deployable(
            aws, stackstate.StackState("wealist-prod", "CREATE_FAILED", ROOT), replace_failed=False
        )
    text = "\n".join(exc.value.details)
    assert "rollback-stack --stack-name wealist-prod --retain-except-on-create" in text
    assert text.index("--no-enable-termination-protection") < text.index("delete-stack --stack-name")
    with pytest.raises(CommandError) as exc:
        stackstate.check_deployable(
            aws, stackstate.StackState("wealist-prod", "ROLLBACK_COMPLETE", ROOT), replace_failed=False
        )
    text = "\n".join(exc.value.details)
    assert text.index("--no-enable-termination-protection") < text.index("delete-stack --stack-name")
