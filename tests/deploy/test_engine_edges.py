"""The deploy engine at CloudFormation's edges: change-set status decisions,
ClientToken, policies restored on every exit path, termination protection,
operation-scoped events, failed first creates and leftovers.

Stand-in: botocore's Stubber. Every response is shaped like the
CloudFormation API reference (docs.aws.amazon.com/AWSCloudFormation/latest/
APIReference/): DescribeChangeSet's ``Status`` / ``ExecutionStatus``
("If the change set execution status is AVAILABLE, you can execute the
change set ... an OBSOLETE state because the stack was already updated",
API_ChangeSetSummary / API_DescribeChangeSet), ``StackEvent`` with
``OperationId`` and ``Stack.LastOperations`` as modelled by the pinned
botocore (cloudformation/2010-05-15/service-2.json), ListStackResources,
ListChangeSets. Stubber enforces the call order and the request parameters
(botocore validates them against the same model), which is what these tests
rely on; it cannot show that AWS behaves as its reference says.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from botocore.stub import ANY

from helpers.deploy import stubbed_aws
from helpers.prepared import (
    ACCOUNT,
    ROOT,
    ROOT_CS,
    ROOT_TEMPLATE,
    T0,
    _cs,
    _prepare_stubs,
    _prepared,
    _set_sources,
    _stack,
)
from wealist_cfn.deploy import changeset, events, flow, policy, review, stackstate
from wealist_cfn.errors import CommandError

pytestmark = pytest.mark.stubbed

DB_STACK = f"arn:aws:cloudformation:ap-northeast-2:{ACCOUNT}:stack/wealist-prod-DatabaseStack-X/2222"
NESTED = "AWS::CloudFormation::Stack"


def _event(eid, stack_id, lid, rtype, status, reason="", ts=0, phys="", **extra):
    e = {
        "StackId": stack_id,
        "EventId": eid,
        "StackName": "x",
        "LogicalResourceId": lid,
        "ResourceType": rtype,
        "Timestamp": T0 + timedelta(seconds=ts),
        "ResourceStatus": status,
        "PhysicalResourceId": phys,
        **extra,
    }
    if reason:
        e["ResourceStatusReason"] = reason
    return e


def _tree(cfn):
    """ListStackResources of the root (one nested stack) and of that child."""
    cfn.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": "DatabaseStack",
                    "PhysicalResourceId": DB_STACK,
                    "ResourceType": NESTED,
                    "LastUpdatedTimestamp": T0,
                    "ResourceStatus": "UPDATE_COMPLETE",
                }
            ]
        },
        {"StackName": ROOT},
    )
    cfn.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": DB_STACK})


def _policies(cfn, db_body):
    _tree(cfn)
    cfn.add_response("get_stack_policy", {"StackPolicyBody": json.dumps(policy.PROTECT)}, {"StackName": ROOT})
    cfn.add_response("get_stack_policy", {"StackPolicyBody": json.dumps(db_body)}, {"StackName": DB_STACK})


def _guarded_review():
    rev = review.Review("wealist-prod", "UPDATE", "deploy-1", ROOT_CS)
    rev.rows = [
        review.row_from_change(
            "DatabaseStack",
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "Database",
                    "ResourceType": "AWS::RDS::DBInstance",
                    "Replacement": "True",
                    "Scope": ["Properties"],
                    "Details": [
                        {
                            "Target": {"Attribute": "Properties", "Name": "DBName", "RequiresRecreation": "Always"},
                            "Evaluation": "Static",
                            "ChangeSource": "DirectModification",
                        }
                    ],
                },
            },
        )
    ]
    review.analyse(rev)
    assert rev.guarded
    return rev


def _deployment(aws, prod_params, *, allow_replace=True, cs_type="UPDATE", sleep=lambda s: None):
    dep = flow.Deployment(
        flow.Options(stack_name="wealist-prod", params=prod_params, allow_replace=allow_replace, sleep=sleep), aws=aws
    )
    cs = changeset.ChangeSet("deploy-1", ROOT_CS, ROOT, cs_type)
    rev = _guarded_review() if cs_type == "UPDATE" else review.Review("wealist-prod", "CREATE")
    dep.plan = flow.Plan(
        stackstate.StackState("wealist-prod", "UPDATE_COMPLETE" if cs_type == "UPDATE" else "REVIEW_IN_PROGRESS", ROOT),
        cs,
        rev,
    )
    return dep


# -- policies and ExecutionStatus --------------------------------------------------------------


def test_obsolete_change_set_is_refused_before_any_policy_is_relaxed(prod_params):
    """Stubbed DescribeChangeSet: ExecutionStatus OBSOLETE (the stack was
    updated after the review). Clear error, nothing executed, and no
    Get/SetStackPolicy call at all (the stub would reject one)."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("describe_change_set", _cs(execution="OBSOLETE"), {"ChangeSetName": ROOT_CS})
    dep = _deployment(aws, prod_params)
    with pytest.raises(CommandError) as exc:
        list(dep.execute())
    assert "OBSOLETE" in str(exc.value) and "the stack changed after it was made" in str(exc.value)
    assert "no stack policy was changed" in " ".join(exc.value.details)
    cfn.assert_no_pending_responses()


def test_refused_execute_after_relax_puts_the_protective_policy_back(prod_params):
    """Stubbed: the policies are relaxed for an approved replacement, then
    ExecuteChangeSet is refused (InvalidChangeSetStatus, as when the change
    set went OBSOLETE between the check and the call). The protective policy
    is set again on the relaxed stack before the error reaches the user."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("describe_change_set", _cs(), {"ChangeSetName": ROOT_CS})
    _policies(cfn, policy.PROTECT)  # protect(): already protected
    _tree(cfn)  # relax()
    cfn.add_response("set_stack_policy", {}, {"StackName": DB_STACK, "StackPolicyBody": json.dumps(policy.ALLOW_ALL)})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
    cfn.add_response("describe_stacks", _stack("UPDATE_COMPLETE"), {"StackName": ROOT})
    cfn.add_client_error(
        "execute_change_set",
        "InvalidChangeSetStatus",
        "ChangeSet [deploy-1] cannot be executed in its current status of [OBSOLETE]",
    )
    _policies(cfn, policy.ALLOW_ALL)  # the restore reads the tree again
    cfn.add_response("set_stack_policy", {}, {"StackName": DB_STACK, "StackPolicyBody": json.dumps(policy.PROTECT)})
    dep = _deployment(aws, prod_params)
    with pytest.raises(CommandError) as exc:
        list(dep.execute())
    assert "InvalidChangeSetStatus" in str(exc.value)
    assert any("stack policy put back on DatabaseStack" in d for d in exc.value.details)
    cfn.assert_no_pending_responses()


def test_ctrl_c_while_the_update_runs_gives_the_exact_restoring_command(prod_params):
    """Stubbed: Ctrl-C during the watch of a running update. Putting the
    policy back then would deny the approved replacement mid-update, so it
    stays relaxed and one line names the set-stack-policy command for the
    relaxed stack's ID (no SetStackPolicy call: the stub would reject it)."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("describe_change_set", _cs(), {"ChangeSetName": ROOT_CS})
    _policies(cfn, policy.PROTECT)
    _tree(cfn)
    cfn.add_response("set_stack_policy", {}, {"StackName": DB_STACK, "StackPolicyBody": json.dumps(policy.ALLOW_ALL)})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
    cfn.add_response("describe_stacks", _stack("UPDATE_COMPLETE"), {"StackName": ROOT})
    cfn.add_response("execute_change_set", {}, {"ChangeSetName": ROOT_CS, "ClientRequestToken": ANY})
    cfn.add_response("describe_stacks", _stack("UPDATE_IN_PROGRESS"), {"StackName": ROOT})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
    cfn.add_response("describe_stacks", _stack("UPDATE_IN_PROGRESS"), {"StackName": ROOT})  # the state, now
    _tree(cfn)  # the restore line looks up the relaxed stack's ID

    def interrupt(_):
        raise KeyboardInterrupt

    dep = _deployment(aws, prod_params, sleep=interrupt)
    with pytest.raises(KeyboardInterrupt):
        list(dep.execute())
    [line] = [x for x in dep.left_behind if "stack policy" in x]
    assert "still relaxed on DatabaseStack (the update still runs)" in line
    assert f"set-stack-policy --stack-name {DB_STACK} --stack-policy-body" in line
    assert json.dumps(policy.PROTECT, separators=(",", ":")) in line
    cfn.assert_no_pending_responses()


# -- nothing to do is a status, not an empty list ----------------------------------------------


def test_outputs_only_change_set_is_executed_not_dropped(prod_params):
    """Stubbed: the shape aws-cdk PR #2029 quotes for an Outputs/Exports-only
    change: CREATE_COMPLETE, AVAILABLE, ``Changes: []``. The deployed root
    template (GetTemplate) lacks the new export, so the plan is a real one:
    no DeleteChangeSet (the stub would reject it), and the review says why
    there are no rows."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _prepare_stubs(cfn, prod_params)
    cfn.add_response("describe_change_set", _cs(), {"ChangeSetName": ROOT_CS})
    cfn.add_response("describe_change_set", _cs(), {"ChangeSetName": ROOT_CS, "IncludePropertyValues": True})
    deployed = {"Resources": ROOT_TEMPLATE["Resources"], "Outputs": {}}
    cfn.add_response(
        "get_template", {"TemplateBody": json.dumps(deployed)}, {"StackName": ROOT, "TemplateStage": "Original"}
    )
    dep = _prepared(aws, prod_params, ROOT_TEMPLATE)
    list(dep.prepare())
    assert not dep.plan.no_changes
    assert any("Outputs or Exports only" in n for n in dep.plan.review.notes)
    cfn.assert_no_pending_responses()


@pytest.mark.parametrize(
    "reason",
    [
        "The submitted information didn't contain changes. Submit different information to create a change set.",
        "No updates are to be performed.",
    ],
)
def test_failed_change_set_shapes_are_no_changes_and_deleted(prod_params, reason):
    """Stubbed: the two FAILED shapes of "nothing to do" (Status FAILED,
    ExecutionStatus UNAVAILABLE, StatusReason as CloudFormation words it):
    no changes, and the change set is deleted."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _prepare_stubs(cfn, prod_params)
    cfn.add_response(
        "describe_change_set", _cs("FAILED", "UNAVAILABLE", StatusReason=reason), {"ChangeSetName": ROOT_CS}
    )
    cfn.add_response("delete_change_set", {}, {"ChangeSetName": ROOT_CS})
    dep = _prepared(aws, prod_params, ROOT_TEMPLATE)
    list(dep.prepare())
    assert dep.plan.no_changes
    cfn.assert_no_pending_responses()


# -- ClientToken -------------------------------------------------------------------------------


def test_a_change_set_already_under_this_runs_name_is_refused_not_adopted():
    """Stubbed: CreateChangeSet carries ClientToken, so CloudFormation answers
    a retry of ours with our own change set, never AlreadyExistsException
    (CreateChangeSet, ClientToken: "to ensure that AWS CloudFormation knows
    that you're not attempting to create another change set with the same
    name"). That error means a change set someone else made under the name:
    exit 1 naming it; it is not described, used, deleted, and nobody hears of
    it as ours (before, it was adopted as this run's own)."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_client_error(
        "create_change_set",
        "AlreadyExistsException",
        "ChangeSet deploy-x already exists",
        expected_params={
            "StackName": "wealist-prod",
            "ChangeSetName": ANY,
            "ChangeSetType": "UPDATE",
            "Parameters": [],
            "Capabilities": ANY,
            "Tags": [],
            "IncludeNestedStacks": True,
            "Description": ANY,
            "TemplateBody": "{}",
            "ClientToken": ANY,
        },
    )
    made = []
    with pytest.raises(CommandError) as err:
        changeset.create(
            aws,
            stack_name="wealist-prod",
            change_set_type="UPDATE",
            parameters=[],
            tags=[],
            template_body="{}",
            template_url=None,
            commit="abc",
            sleep=lambda s: None,
            on_created=made.append,
        )
    assert err.value.exit_code == 1 and made == []
    assert re.fullmatch(
        r"CreateChangeSet: a change set named deploy-\d{8}-\d{6}-abc-[0-9a-f]{16} already exists "
        r"on wealist-prod and this run did not make it .*",
        str(err.value),
    )
    cfn.assert_no_pending_responses()


def test_change_set_names_carry_sixty_four_random_bits_and_stay_this_projects():
    """No AWS call: a new name ends in 16 hex digits, and ``changesets``
    still counts it, and the older 4-digit names, as this project's."""
    from wealist_cfn.deploy import operations

    name = changeset.new_name("abc1234+dirty")
    assert re.fullmatch(r"deploy-\d{8}-\d{6}-abc1234-[0-9a-f]{16}", name)
    assert operations.OUR_NAME.fullmatch(name)
    assert operations.OUR_NAME.fullmatch("deploy-20261128-181900-abc1234-9f3e")
    assert not operations.OUR_NAME.fullmatch("deploy-20261128-181900-abc1234-9f3e0")


# -- termination protection --------------------------------------------------------------------


def _stub_create_executed(cfn) -> None:
    """A CREATE change set executed: read, the events before, ExecuteChangeSet
    with RetainExceptOnCreate, then termination protection switched on."""
    cfn.add_response("describe_change_set", _cs(), {"ChangeSetName": ROOT_CS})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
    cfn.add_response(
        "execute_change_set", {}, {"ChangeSetName": ROOT_CS, "ClientRequestToken": ANY, "RetainExceptOnCreate": True}
    )
    cfn.add_response(
        "update_termination_protection", {"StackId": ROOT}, {"StackName": ROOT, "EnableTerminationProtection": True}
    )


def test_new_stack_is_protected_before_the_watch_even_if_interrupted(prod_params):
    """Stubbed: a CREATE is executed with RetainExceptOnCreate and
    termination protection is enabled right after ExecuteChangeSet, so a
    Ctrl-C (or a CI timeout) during the watch leaves the new stack protected."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _stub_create_executed(cfn)
    cfn.add_response("describe_stacks", _stack("CREATE_IN_PROGRESS"), {"StackName": ROOT})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})

    def interrupt(_):
        raise KeyboardInterrupt

    dep = _deployment(aws, prod_params, cs_type="CREATE", sleep=interrupt)
    with pytest.raises(KeyboardInterrupt):
        list(dep.execute())
    cfn.assert_no_pending_responses()


def test_status_enables_termination_protection_on_a_created_stack_without_it():
    """Stubbed: ``status`` on a CREATE_COMPLETE stack whose
    EnableTerminationProtection is false switches it on."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("describe_stacks", _stack("CREATE_COMPLETE"), {"StackName": "wealist-prod"})
    start = _event("r1", ROOT, "wealist-prod", NESTED, "CREATE_IN_PROGRESS", "User Initiated", ts=0, phys=ROOT)
    done = _event("r2", ROOT, "wealist-prod", NESTED, "CREATE_COMPLETE", ts=60, phys=ROOT)
    cfn.add_response("describe_stack_events", {"StackEvents": [done, start]}, {"StackName": ROOT})
    cfn.add_response("describe_stacks", _stack("CREATE_COMPLETE"), {"StackName": ROOT})
    cfn.add_response("describe_stack_events", {"StackEvents": [done, start]}, {"StackName": ROOT})
    cfn.add_response("describe_stack_events", {"StackEvents": [done, start]}, {"StackName": ROOT})
    cfn.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT})
    cfn.add_response("get_stack_policy", {"StackPolicyBody": json.dumps(policy.PROTECT)}, {"StackName": ROOT})
    cfn.add_response(
        "describe_stacks", _stack("CREATE_COMPLETE", EnableTerminationProtection=False), {"StackName": ROOT}
    )
    cfn.add_response(
        "update_termination_protection", {"StackId": ROOT}, {"StackName": ROOT, "EnableTerminationProtection": True}
    )
    items = list(flow.watch(aws, "wealist-prod", sleep=lambda s: None))
    assert "termination protection enabled on the new stack" in [i.message for i in items if isinstance(i, flow.Info)]
    cfn.assert_no_pending_responses()


# -- events of this operation only -------------------------------------------------------------


def test_nested_events_older_than_the_operation_are_not_this_deploys(prod_params):
    """Stubbed DescribeStackEvents: the child's old failure (an earlier
    operation, no ClientRequestToken) is older than the root's newest event
    before the execute, so it is neither shown nor the first cause; the
    root's event of an earlier operation (OperationId in the stack's
    LastOperations before the execute) is not shown either."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("describe_change_set", _cs(), {"ChangeSetName": ROOT_CS})
    _policies(cfn, policy.PROTECT)
    before = _event("r0", ROOT, "wealist-prod", NESTED, "UPDATE_COMPLETE", ts=10, phys=ROOT, OperationId="op-old")
    cfn.add_response("describe_stack_events", {"StackEvents": [before]}, {"StackName": ROOT})
    cfn.add_response(
        "describe_stacks",
        _stack("UPDATE_COMPLETE", LastOperations=[{"OperationType": "UPDATE_STACK", "OperationId": "op-old"}]),
        {"StackName": ROOT},
    )
    cfn.add_response("execute_change_set", {}, {"ChangeSetName": ROOT_CS, "ClientRequestToken": ANY})
    cfn.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": ROOT})
    root_events = [
        _event("r3", ROOT, "wealist-prod", NESTED, "UPDATE_ROLLBACK_COMPLETE", ts=40, phys=ROOT),
        _event(
            "r2",
            ROOT,
            "DatabaseStack",
            NESTED,
            "UPDATE_FAILED",
            "Embedded stack was not successfully updated",
            ts=30,
            phys=DB_STACK,
        ),
        _event("r1", ROOT, "DatabaseStack", NESTED, "UPDATE_IN_PROGRESS", ts=12, phys=DB_STACK),
        _event(
            "old",
            ROOT,
            "wealist-prod",
            NESTED,
            "UPDATE_FAILED",
            "an older failure",
            ts=11,
            phys=ROOT,
            OperationId="op-old",
        ),
        before,
    ]
    db_events = [
        _event("d2", DB_STACK, "Database", "AWS::RDS::DBInstance", "UPDATE_FAILED", "storage-full", ts=20),
        _event("d1", DB_STACK, "Database", "AWS::RDS::DBInstance", "UPDATE_FAILED", "an old failure", ts=5),
    ]
    cfn.add_response("describe_stack_events", {"StackEvents": root_events}, {"StackName": ROOT})
    cfn.add_response("describe_stack_events", {"StackEvents": db_events}, {"StackName": DB_STACK})
    cfn.add_response("describe_stack_events", {"StackEvents": root_events}, {"StackName": ROOT})
    cfn.add_response("describe_stack_events", {"StackEvents": db_events}, {"StackName": DB_STACK})
    _policies(cfn, policy.PROTECT)
    cfn.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": ROOT})
    dep = _deployment(aws, prod_params, allow_replace=False)
    shown = [i for i in dep.execute() if isinstance(i, events.StackEvent)]
    assert [e.event_id for e in shown] == ["r1", "d2", "r2", "r3"]
    assert dep.result.final.first_cause.reason == "storage-full"
    cfn.assert_no_pending_responses()


def test_status_starts_at_the_operations_first_event_across_pages():
    """Stubbed: a long rollback pushes the operation's UPDATE_IN_PROGRESS
    onto the second DescribeStackEvents page. ``status`` starts there (not at
    the newest *_IN_PROGRESS, the rollback's), follows the nested stack, and
    names the first cause inside it."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    page1 = [
        _event("r5", ROOT, "wealist-prod", NESTED, "UPDATE_ROLLBACK_COMPLETE", ts=90, phys=ROOT),
        _event(
            "r4",
            ROOT,
            "wealist-prod",
            NESTED,
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to update: [DatabaseStack].",
            ts=50,
            phys=ROOT,
        ),
        _event(
            "r3",
            ROOT,
            "DatabaseStack",
            NESTED,
            "UPDATE_FAILED",
            "Embedded stack was not successfully updated",
            ts=45,
            phys=DB_STACK,
        ),
    ]
    page2 = [
        _event("r2", ROOT, "DatabaseStack", NESTED, "UPDATE_IN_PROGRESS", ts=2, phys=DB_STACK),
        _event("r1", ROOT, "wealist-prod", NESTED, "UPDATE_IN_PROGRESS", "User Initiated", ts=0, phys=ROOT),
        _event("r0", ROOT, "wealist-prod", NESTED, "CREATE_COMPLETE", ts=-100, phys=ROOT),
    ]
    db_events = [
        _event("d1", DB_STACK, "Database", "AWS::RDS::DBInstance", "UPDATE_FAILED", "storage-full", ts=30),
        _event("d0", DB_STACK, "Database", "AWS::RDS::DBInstance", "UPDATE_FAILED", "older", ts=-50),
    ]

    def pages():
        cfn.add_response("describe_stack_events", {"StackEvents": page1, "NextToken": "p2"}, {"StackName": ROOT})
        cfn.add_response("describe_stack_events", {"StackEvents": page2}, {"StackName": ROOT, "NextToken": "p2"})

    cfn.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": "wealist-prod"})
    pages()  # finding the start
    cfn.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": ROOT})
    pages()
    cfn.add_response("describe_stack_events", {"StackEvents": db_events}, {"StackName": DB_STACK})
    cfn.add_response("describe_stack_events", {"StackEvents": page1, "NextToken": "p2"}, {"StackName": ROOT})
    cfn.add_response("describe_stack_events", {"StackEvents": db_events}, {"StackName": DB_STACK})
    _policies(cfn, policy.PROTECT)
    cfn.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": ROOT})
    items = list(flow.watch(aws, "wealist-prod", sleep=lambda s: None))
    shown = [i.event_id for i in items if isinstance(i, events.StackEvent)]
    assert shown == ["r1", "r2", "d1", "r3", "r4", "r5"]
    final = next(i for i in items if isinstance(i, events.Final))
    assert final.first_cause.where == "DatabaseStack/Database" and final.first_cause.reason == "storage-full"
    cfn.assert_no_pending_responses()


# -- failed first creates ----------------------------------------------------------------------


def _failed_db(cfn, reason):
    cfn.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": "DatabaseStack",
                    "PhysicalResourceId": DB_STACK,
                    "ResourceType": NESTED,
                    "LastUpdatedTimestamp": T0,
                    "ResourceStatus": "DELETE_FAILED",
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
                    "ResourceType": "AWS::RDS::DBInstance",
                    "LastUpdatedTimestamp": T0,
                    "ResourceStatus": "DELETE_FAILED",
                    "ResourceStatusReason": reason,
                }
            ]
        },
        {"StackName": DB_STACK},
    )


def test_rollback_failed_names_blocking_resources_and_replace_failed_covers_it():
    """Stubbed ListStackResources (nested): a failed first create whose
    rollback failed on the database (deletion protection) is explained with
    the blocking resource and the commands; --replace-failed deletes it."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    why = "Cannot delete protected DB Instance, please disable deletion protection and try again."
    _failed_db(cfn, why)
    state = stackstate.StackState(
        "wealist-prod", "ROLLBACK_FAILED", ROOT, "The following resource(s) failed to delete: [DatabaseStack]."
    )
    with pytest.raises(CommandError) as exc:
        stackstate.check_deployable(aws, state, replace_failed=False)
    text = "\n".join(exc.value.details)
    assert "blocking: DatabaseStack/Database (AWS::RDS::DBInstance): " + why in text
    assert "--replace-failed" in text and "aws cloudformation delete-stack --stack-name wealist-prod" in text
    assert stackstate.check_deployable(aws, state, replace_failed=True) == "replace"


def test_delete_failed_names_blocking_resources_and_the_retain_command():
    """Stubbed: DELETE_FAILED is not replaced (someone was deleting a stack
    that may hold data); the guidance names the blocking resources and the
    delete-stack commands, with --retain-resources for the top-level one."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _failed_db(cfn, "Cannot delete protected DB Instance")
    state = stackstate.StackState("wealist-prod", "DELETE_FAILED", ROOT, "resources failed to delete")
    with pytest.raises(CommandError) as exc:
        stackstate.check_deployable(aws, state, replace_failed=True)
    text = "\n".join(exc.value.details)
    assert "blocking: DatabaseStack/Database" in text
    assert "delete-stack --stack-name wealist-prod --retain-resources DatabaseStack" in text


def test_first_create_makes_deletion_protection_off_and_says_so(prod_params):
    """No stand-in (parameters only): on AWS a CREATE is made with
    DeletionProtection=false when the file says true, and an UPDATE with the
    file's value; the review note says the same deploy switches it on."""
    from wealist_cfn import config

    assert config.load(prod_params).values["DeletionProtection"] == "true"
    aws, _ = stubbed_aws()
    dep = flow.Deployment(flow.Options(stack_name="wealist-prod", params=prod_params), aws=aws)
    create = {p["ParameterKey"]: p["ParameterValue"] for p in dep._create_parameters("CREATE")}
    update = {p["ParameterKey"]: p["ParameterValue"] for p in dep._create_parameters("UPDATE")}
    assert (create["DeletionProtection"], update["DeletionProtection"]) == ("false", "true")


# -- REVIEW_IN_PROGRESS and leftovers ----------------------------------------------------------


def test_review_in_progress_is_not_waited_for():
    """Stubbed DescribeStacks: a REVIEW_IN_PROGRESS shell (an unexecuted
    CREATE change set) settles at once as a stack to create."""
    aws, stubs = stubbed_aws()
    stubs["cloudformation"].add_response("describe_stacks", _stack("REVIEW_IN_PROGRESS"), {"StackName": "wealist-prod"})
    items = list(stackstate.settle(aws, "wealist-prod", sleep=lambda s: pytest.fail("waited")))
    assert [type(i).__name__ for i in items] == ["StackState"]
    assert items[0].change_set_type == "CREATE"


def test_an_unexecuted_create_removes_its_change_set_and_the_shell(prod_params):
    """Stubbed: the run made the change set and the REVIEW_IN_PROGRESS shell;
    cleanup deletes both (ListChangeSets empty after the delete), and says so."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("delete_change_set", {}, {"ChangeSetName": ROOT_CS})
    cfn.add_client_error("describe_change_set", "ChangeSetNotFound", f"ChangeSet [{ROOT_CS}] does not exist")
    cfn.add_response("describe_stacks", _stack("REVIEW_IN_PROGRESS"), {"StackName": ROOT})
    cfn.add_response("list_change_sets", {"Summaries": []}, {"StackName": ROOT})
    cfn.add_response("delete_stack", {}, {"StackName": ROOT})
    dep = flow.Deployment(flow.Options(stack_name="wealist-prod", params=prod_params), aws=aws)
    dep._made, dep._made_shell = changeset.ChangeSet("deploy-1", ROOT_CS, ROOT, "CREATE"), True
    assert dep.cleanup() == [
        "deleted change set deploy-1 (not executed)",
        "deleted the empty stack shell wealist-prod (REVIEW_IN_PROGRESS, made by this run)",
    ]
    assert dep.cleanup() == []  # once
    cfn.assert_no_pending_responses()


def test_a_shell_holding_another_plan_is_left_with_the_command():
    """Stubbed ListChangeSets: another plan's change set sits in the shell,
    so it is kept, and the line says how to remove it."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("describe_stacks", _stack("REVIEW_IN_PROGRESS"), {"StackName": ROOT})
    cfn.add_response(
        "list_change_sets", {"Summaries": [{"ChangeSetName": "deploy-2", "StackId": ROOT}]}, {"StackName": ROOT}
    )
    line = stackstate.delete_review_shell(aws, ROOT, "wealist-prod")
    assert "holds 1 other change set(s) (deploy-2)" in line
    assert line.endswith("aws cloudformation delete-stack --stack-name wealist-prod")


# A change set made from other content is refused end to end in
# test_change_set_refusal.py (moto: plan, then deploy --change-set) and
# test_trust.py (Stubber: every field the proof compares).


def test_first_create_switches_deletion_protection_on_after_it_succeeded(prod_params):
    """Stubbed, the whole AWS path: the create runs (RetainExceptOnCreate,
    termination protection at once), and once it is CREATE_COMPLETE a second
    change set with the file's DeletionProtection=true is made, reviewed (no
    guarded change) and executed in the same deploy."""
    from wealist_cfn import config

    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cs2 = f"arn:aws:cloudformation:ap-northeast-2:{ACCOUNT}:changeSet/deploy-2/bbbb"
    _stub_create_executed(cfn)
    cfn.add_response("describe_stacks", _stack("CREATE_COMPLETE"), {"StackName": ROOT})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
    cfn.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT})
    cfn.add_response("get_stack_policy", {}, {"StackName": ROOT})
    cfn.add_response("set_stack_policy", {}, {"StackName": ROOT, "StackPolicyBody": json.dumps(policy.PROTECT)})
    cfn.add_response("describe_stacks", _stack("CREATE_COMPLETE"), {"StackName": ROOT})
    # The second change set: the file's parameters, DeletionProtection=true.
    params = config.load(prod_params).cfn_parameters()
    assert {"ParameterKey": "DeletionProtection", "ParameterValue": "true"} in params
    cfn.add_response(
        "create_change_set",
        {"Id": cs2, "StackId": ROOT},
        {
            "StackName": "wealist-prod",
            "ChangeSetName": ANY,
            "ChangeSetType": "UPDATE",
            "Parameters": params,
            "Capabilities": ANY,
            "Tags": ANY,
            "IncludeNestedStacks": True,
            "Description": ANY,
            "TemplateBody": ANY,
            "ClientToken": ANY,
        },
    )
    page = dict(
        _cs(),
        ChangeSetId=cs2,
        ChangeSetName="deploy-2",
        Changes=[
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "LoadBalancerStack",
                    "ResourceType": NESTED,
                    "Replacement": "False",
                    "Scope": ["Properties"],
                    "Details": [],
                },
            }
        ],
    )
    cfn.add_response("describe_change_set", page, {"ChangeSetName": cs2})
    cfn.add_response("describe_change_set", page, {"ChangeSetName": cs2, "IncludePropertyValues": True})
    cfn.add_response("describe_change_set", page, {"ChangeSetName": cs2})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
    cfn.add_response("execute_change_set", {}, {"ChangeSetName": cs2, "ClientRequestToken": ANY})
    cfn.add_response("describe_stacks", _stack("UPDATE_COMPLETE"), {"StackName": ROOT})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
    cfn.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT})
    cfn.add_response("get_stack_policy", {"StackPolicyBody": json.dumps(policy.PROTECT)}, {"StackName": ROOT})
    cfn.add_response("describe_stacks", _stack("UPDATE_COMPLETE"), {"StackName": ROOT})
    dep = _deployment(aws, prod_params, cs_type="CREATE")
    _set_sources(dep, ROOT_TEMPLATE)
    messages = [i.message for i in dep.execute() if isinstance(i, flow.Info)]
    assert messages[-1] == "deletion protection switched on (database, load balancer)"
    assert dep.result.final.status == "UPDATE_COMPLETE"
    cfn.assert_no_pending_responses()


def test_error_half_way_through_relaxing_still_restores(prod_params):
    """Stubbed: SetStackPolicy is refused (AccessDenied) while relaxing; the
    stacks meant to be relaxed are checked and the protective policy set
    again where it is missing, before the error is shown."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("describe_change_set", _cs(), {"ChangeSetName": ROOT_CS})
    _policies(cfn, policy.PROTECT)
    _tree(cfn)
    cfn.add_client_error("set_stack_policy", "AccessDenied", "not authorized to perform: cloudformation:SetStackPolicy")
    _policies(cfn, policy.ALLOW_ALL)
    cfn.add_response("set_stack_policy", {}, {"StackName": DB_STACK, "StackPolicyBody": json.dumps(policy.PROTECT)})
    dep = _deployment(aws, prod_params)
    with pytest.raises(CommandError) as exc:
        list(dep.execute())
    assert "AccessDenied" in str(exc.value) or "not authorized" in str(exc.value)
    assert any("stack policy put back on DatabaseStack" in d for d in exc.value.details)
    cfn.assert_no_pending_responses()


def test_a_failed_change_set_is_deleted_and_the_error_says_so(prod_params):
    """Stubbed: a change set FAILED for a real reason (not "no changes") is
    an error; the change set this run made is deleted, and the error's last
    line says so instead of asking the user to delete it."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _prepare_stubs(cfn, prod_params)
    cfn.add_response(
        "describe_change_set",
        _cs(
            "FAILED",
            "UNAVAILABLE",
            StatusReason=(
                "Nested change set arn:aws:cloudformation:...:changeSet/x/y was not successfully created: Currently "
                "in FAILED."
            ),
        ),
        {"ChangeSetName": ROOT_CS},
    )
    cfn.add_response("delete_change_set", {}, {"ChangeSetName": ROOT_CS})
    cfn.add_client_error("describe_change_set", "ChangeSetNotFound", f"ChangeSet [{ROOT_CS}] does not exist")
    dep = _prepared(aws, prod_params, ROOT_TEMPLATE)
    with pytest.raises(CommandError) as exc:
        list(dep.prepare())
    assert "failed: Nested change set" in str(exc.value)
    assert exc.value.details[-1].startswith("deleted change set deploy-")
    assert not any(d.startswith("delete it:") for d in exc.value.details)  # this run deleted it
    cfn.assert_no_pending_responses()


@pytest.mark.parametrize("code", ["AccessDenied", "InvalidChangeSetStatus"])
def test_a_no_op_whose_change_set_cannot_be_deleted_says_so(prod_params, code):
    """Stubbed: DeleteChangeSet can fail (API reference, DeleteChangeSet,
    Errors: InvalidChangeSetStatus, "the change set's status ... prevents the
    operation"; an IAM policy without cloudformation:DeleteChangeSet answers
    AccessDenied). A no-op deploy then says the change set was left and how
    to delete it; it never claims it was deleted."""
    from helpers.nested_review import _run_deploy

    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _prepare_stubs(cfn, prod_params)
    no_updates = _cs("FAILED", "UNAVAILABLE", StatusReason="No updates are to be performed.")
    cfn.add_response("describe_change_set", no_updates, {"ChangeSetName": ROOT_CS})
    cfn.add_client_error("delete_change_set", code, "not now", 400, expected_params={"ChangeSetName": ROOT_CS})
    dep = _prepared(aws, prod_params, ROOT_TEMPLATE)
    rc, out, err = _run_deploy(dep)
    assert rc == 0, err
    assert "no changes: wealist-prod already matches" in out
    assert "deleted" not in out
    assert re.search(r"left change set \S+ \(.*" + code + r".*\); delete it: aws cloudformation delete-change-set", out)
    cfn.assert_no_pending_responses()


def test_a_no_op_change_set_not_waited_for_is_deleting_not_deleted(prod_params):
    """Stubbed: DeleteChangeSet accepted, not followed to its end (an existing
    stack, no shell to remove after it): "deleting", and where it went."""
    from helpers.nested_review import _run_deploy

    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _prepare_stubs(cfn, prod_params)
    no_updates = _cs("FAILED", "UNAVAILABLE", StatusReason="No updates are to be performed.")
    cfn.add_response("describe_change_set", no_updates, {"ChangeSetName": ROOT_CS})
    cfn.add_response("delete_change_set", {}, {"ChangeSetName": ROOT_CS})
    dep = _prepared(aws, prod_params, ROOT_TEMPLATE)
    rc, out, err = _run_deploy(dep)
    assert rc == 0, err
    assert "deleted" not in out
    assert re.search(r"^  deleting change set \S+ \(not executed\)", out, re.M)
