"""The parts of the flow moto cannot show: nested change sets with
Replacement details, guarded changes, failures and stuck stack states.

Every test here uses botocore's Stubber with responses shaped like the
ones AWS documents for CloudFormation (DescribeChangeSet with nested
ChangeSetIds and Details, DescribeStackEvents, ListStackResources).
"""

from __future__ import annotations

import argparse
import io
import json
from contextlib import redirect_stderr, redirect_stdout
from datetime import timedelta

import pytest
from botocore.stub import ANY

from helpers.deploy import stubbed_aws
from helpers.nested_review import (
    DB_STACK,
    ROOT,
    ROOT_CS,
    T0,
    _cs_page,
    _FakeDeployment,
    _nested_review,
    _run_deploy,
)
from wealist_cfn.cli import deploy as cli
from wealist_cfn.deploy import changeset, events, flow, review, stackstate
from wealist_cfn.errors import CommandError

pytestmark = pytest.mark.stubbed


def test_nested_change_sets_are_walked_into_one_review():
    """Stubbed (AWS-shaped DescribeChangeSet): the nested change set's rows
    follow the nested stack's row, with replacement and property details."""
    rev = _nested_review()
    assert [(r.path, r.logical_id) for r in rev.rows] == [
        ("", "DatabaseStack"),
        ("DatabaseStack", "Database"),
        ("DatabaseStack", "DatabaseSecurityGroup"),
        ("DatabaseStack", "DbSubnetGroup"),
    ]
    db = rev.rows[1]
    assert db.replacement == "True"
    assert db.properties == ["DBName (replaces)", "MultiAZ"]
    assert "IsMultiAZ" in db.causes
    # Every row counted once, the nested stack's own row included; a replacing Modify is a Replace.
    assert rev.counts == {"Modify": 2, "Replace": 2}
    text = review.render_text(rev)
    assert "wealist-prod/DatabaseStack" in text and "DBName (DirectModification; recreation Always)" in text


def test_callouts_guard_the_database_and_spot_a_broadened_ingress():
    """Stubbed: a replacement of the RDS instance is guarded, and said to
    fail rather than replace (it is custom-named: CloudFormation's "Resource
    custom naming" refuses to replace it), naming the property that would
    cause it; the subnet group is a warning, a new 0.0.0.0/0 ingress is a
    broadening."""
    rev = _nested_review()
    guarded = rev.guarded
    assert [c.where for c in guarded] == ["DatabaseStack/Database"]
    assert "cannot replace it: this update would fail" in guarded[0].message and "DBName" in guarded[0].message
    warn = [c for c in rev.callouts if c.level == "warning"]
    assert [c.where for c in warn] == ["DatabaseStack/DbSubnetGroup"]
    sec = [c for c in rev.callouts if c.level == "security"]
    assert len(sec) == 1 and "broadens" in sec[0].message and "from 0.0.0.0/0" in sec[0].message
    assert "sg-ec2" not in sec[0].message  # the unchanged rule is not reported as new
    md = review.render_markdown(rev)
    assert "[!CAUTION]" in md and "`DatabaseStack/Database`" in md
    doc = json.loads(review.render_json(rev))
    assert doc["callouts"][0]["level"] == "guarded"
    assert "before" not in doc["changes"][0] and "after" not in doc["changes"][0]


def test_guarded_replacement_is_refused_even_with_yes():
    """Stubbed review: --yes does not approve a guarded change; exit 3, not executed."""
    dep = _FakeDeployment(_nested_review())
    code, _, err = _run_deploy(dep)
    assert code == 3 and not dep.executed
    # The change set this run made is not left behind; the refusal says so.
    assert "--allow-replace" in err and dep.cleaned and "deleted change set deploy-1" in err


def _conditional_only(rev):
    """The review above, with the database only possibly replaced: a subnet
    list that another nested stack's update will tell (Evaluation: Dynamic)."""
    db = next(r for r in rev.rows if r.logical_id == "Database")
    db.replacement, db.policy_action, db.properties = "Conditional", "", ["DBSubnetGroupName (may replace)"]
    review.analyse(rev)
    return rev


def test_conditional_replacement_is_refused_with_a_way_that_keeps_the_policies():
    """Stubbed review: a Conditional-only guarded change is still refused by
    default, and the refusal names --accept-conditional."""
    rev = _conditional_only(_nested_review())
    assert [c.conditional for c in rev.guarded] == [True]
    dep = _FakeDeployment(rev)
    code, _, err = _run_deploy(dep, accept_conditional=False)
    assert code == 3 and not dep.executed
    assert "--accept-conditional" in err


def test_accept_conditional_executes_without_relaxing_any_policy():
    """Stubbed review: with --accept-conditional the deploy goes ahead, and
    the flow is not told to relax the stack policies (allow_replace stays off)."""
    rev = _conditional_only(_nested_review())
    dep = _FakeDeployment(rev)
    code, out, _ = _run_deploy(dep, accept_conditional=True)
    assert dep.executed and dep.opts.allow_replace is False
    assert "stack policies stay in place" in out
    assert code == 0


def test_accept_conditional_does_not_cover_a_certain_replacement():
    """Stubbed review: Replacement True (DBName changes) is refused even with --accept-conditional."""
    dep = _FakeDeployment(_nested_review())
    code, _, err = _run_deploy(dep, accept_conditional=True)
    assert code == 3 and not dep.executed
    assert "refused: 1 guarded change(s)" in err


def test_ctrl_c_at_the_prompt_deletes_the_change_set(monkeypatch):
    """Stubbed review, a terminal: Ctrl-C at the approval prompt is a "no":
    not executed, and the change set this run made is deleted and reported."""
    rev = _nested_review()
    rev.callouts = [c for c in rev.callouts if c.level != "guarded"]
    dep = _FakeDeployment(rev)

    def ctrl_c(prompt):
        raise KeyboardInterrupt

    monkeypatch.setattr("builtins.input", ctrl_c)
    monkeypatch.setattr(cli.sys.stdin, "isatty", lambda: True, raising=False)

    class Tty(io.StringIO):
        def isatty(self):
            return True

    out, err = Tty(), io.StringIO()
    args = argparse.Namespace(
        output="text", no_execute=False, yes=False, params="params/prod.json", accept_conditional=False, discard=False
    )
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli._deploy(args, dep)
        except KeyboardInterrupt:
            pytest.fail("Ctrl-C at the prompt escaped: the change set was left behind")
    assert code == 3 and not dep.executed and dep.cleaned
    assert "deleted change set deploy-1 (not executed)" in err.getvalue()


def test_without_terminal_or_yes_the_change_set_is_deleted():
    """Stubbed review: no TTY and no --yes: not executed, exit 3, and the
    change set this run made is deleted (a declined deploy leaves nothing)."""
    rev = _nested_review()
    rev.callouts = [c for c in rev.callouts if c.level != "guarded"]
    dep = _FakeDeployment(rev)
    code, _, err = _run_deploy(dep, yes=False)
    assert code == 3 and not dep.executed and dep.cleaned
    assert "not approved" in err and "deleted change set deploy-1 (not executed)" in err


def _event(eid, stack_id, lid, rtype, status, reason="", ts=0, phys=""):
    e = {
        "StackId": stack_id,
        "EventId": eid,
        "StackName": "x",
        "LogicalResourceId": lid,
        "ResourceType": rtype,
        "Timestamp": T0 + timedelta(seconds=ts),
        "ResourceStatus": status,
        "PhysicalResourceId": phys,
    }
    if reason:
        e["ResourceStatusReason"] = reason
    return e


def test_failed_nested_create_reports_the_first_cause():
    """Stubbed (DescribeStackEvents of root and nested stack): the cause is
    the database's own failure, not the consequences that follow it."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    root_events = [
        _event("r5", ROOT, "wealist-prod", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE", ts=50, phys=ROOT),
        _event(
            "r4",
            ROOT,
            "DatabaseStack",
            "AWS::CloudFormation::Stack",
            "CREATE_FAILED",
            f"Embedded stack {DB_STACK} was not successfully created: The following resource(s) failed to "
            f"create: [Database].",
            ts=30,
            phys=DB_STACK,
        ),
        _event(
            "r3",
            ROOT,
            "NetworkStack",
            "AWS::CloudFormation::Stack",
            "CREATE_FAILED",
            "Resource creation cancelled",
            ts=31,
            phys="arn:net",
        ),
        _event("r2", ROOT, "DatabaseStack", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", ts=2, phys=DB_STACK),
        _event(
            "r1",
            ROOT,
            "wealist-prod",
            "AWS::CloudFormation::Stack",
            "CREATE_IN_PROGRESS",
            "User Initiated",
            ts=0,
            phys=ROOT,
        ),
    ]
    db_events = [
        _event(
            "d3",
            DB_STACK,
            "DbSubnetGroup",
            "AWS::RDS::DBSubnetGroup",
            "CREATE_FAILED",
            "Resource creation cancelled",
            ts=21,
        ),
        _event(
            "d2",
            DB_STACK,
            "Database",
            "AWS::RDS::DBInstance",
            "CREATE_FAILED",
            "Cannot find version 16.4 for postgres (Service: Rds, Status Code: 400)",
            ts=20,
        ),
        _event("d1", DB_STACK, "Database", "AWS::RDS::DBInstance", "CREATE_IN_PROGRESS", ts=5),
    ]
    cfn.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {"StackName": "wealist-prod", "StackId": ROOT, "CreationTime": T0, "StackStatus": "ROLLBACK_COMPLETE"}
            ]
        },
    )
    cfn.add_response("describe_stack_events", {"StackEvents": root_events}, {"StackName": ROOT})
    cfn.add_response("describe_stack_events", {"StackEvents": db_events}, {"StackName": DB_STACK})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": "arn:net"})
    for sid in (ROOT, DB_STACK, "arn:net"):  # the last look after the final state
        cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": sid})
    w = events.Watcher(aws, ROOT, total=10, sleep=lambda s: None)
    items = list(w.watch())
    final = items[-1]
    assert isinstance(final, events.Final) and not final.ok
    assert final.first_cause.where == "DatabaseStack/Database"
    assert "16.4" in final.first_cause.reason
    shown = [i for i in items if isinstance(i, events.StackEvent)]
    assert [e.event_id for e in shown] == sorted(
        [e.event_id for e in shown],
        key=lambda x: {"r1": 0, "r2": 2, "d1": 5, "d2": 20, "d3": 21, "r4": 30, "r3": 31, "r5": 50}[x],
    )
    cfn.assert_no_pending_responses()


def _stack(status, **extra):
    return {
        "Stacks": [{"StackName": "wealist-prod", "StackId": ROOT, "CreationTime": T0, "StackStatus": status, **extra}]
    }


def test_rollback_complete_is_explained_and_replaced_only_when_asked():
    """Stubbed (DescribeStacks/DeleteStack): ROLLBACK_COMPLETE cannot be
    updated; --replace-failed deletes it and waits until it is gone."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    state = stackstate.StackState("wealist-prod", "ROLLBACK_COMPLETE", ROOT)
    with pytest.raises(CommandError) as exc:
        stackstate.check_deployable(aws, state, replace_failed=False)
    assert exc.value.exit_code == 1 and "--replace-failed" in " ".join(exc.value.details)
    assert stackstate.check_deployable(aws, state, replace_failed=True) == "replace"
    cfn.add_response("delete_stack", {}, {"StackName": ROOT})
    cfn.add_response("describe_stacks", _stack("DELETE_IN_PROGRESS"), {"StackName": ROOT})
    cfn.add_response("describe_stacks", _stack("DELETE_COMPLETE"), {"StackName": ROOT})
    waits = list(stackstate.delete_failed(aws, state, sleep=lambda s: None))
    assert [w.status for w in waits] == ["DELETE_IN_PROGRESS"]
    cfn.assert_no_pending_responses()


def test_update_rollback_failed_names_the_blocking_resources():
    """Stubbed (ListStackResources, nested): the explanation names the nested
    resource and the continue-update-rollback command that skips it."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": "DatabaseStack",
                    "PhysicalResourceId": DB_STACK,
                    "ResourceType": "AWS::CloudFormation::Stack",
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
                    "ResourceType": "AWS::RDS::DBInstance",
                    "LastUpdatedTimestamp": T0,
                    "ResourceStatus": "UPDATE_FAILED",
                    "ResourceStatusReason": "DB instance is in state storage-full",
                }
            ]
        },
        {"StackName": DB_STACK},
    )
    state = stackstate.StackState("wealist-prod", "UPDATE_ROLLBACK_FAILED", ROOT)
    with pytest.raises(CommandError) as exc:
        stackstate.check_deployable(aws, state, replace_failed=False)
    text = "\n".join(exc.value.details)
    assert "DatabaseStack/Database" in text and "storage-full" in text
    assert "continue-update-rollback --stack-name wealist-prod" in text
    assert "DatabaseStack.Database" in text


def test_a_running_operation_is_waited_for_before_starting():
    """Stubbed (DescribeStacks): *_IN_PROGRESS yields Waiting until the stack settles."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    for status in ("UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"):
        cfn.add_response("describe_stacks", _stack(status), {"StackName": "wealist-prod"})
    slept = []
    items = list(stackstate.settle(aws, "wealist-prod", sleep=slept.append, interval=7))
    assert [type(i).__name__ for i in items] == ["Waiting", "Waiting", "StackState"]
    assert items[-1].change_set_type == "UPDATE" and slept == [7, 7]


def test_no_changes_answered_as_an_error_ends_in_no_changes():
    """Stubbed (CreateChangeSet ValidationError 'No updates are to be performed.'): no change set, no error."""
    aws, stubs = stubbed_aws()
    stubs["cloudformation"].add_client_error("create_change_set", "ValidationError", "No updates are to be performed.")
    cs = changeset.create(
        aws,
        stack_name="wealist-prod",
        change_set_type="UPDATE",
        parameters=[],
        tags=[],
        template_body="{}",
        template_url=None,
        commit="abc",
        sleep=lambda s: None,
    )
    assert cs.no_changes and cs.id == ""


def test_failed_change_set_without_changes_is_no_changes():
    """Stubbed (a FAILED change set with "didn't contain changes"): no changes, not a failure."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response(
        "create_change_set",
        {"Id": ROOT_CS, "StackId": ROOT},
        {
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
    cfn.add_response(
        "describe_change_set",
        _cs_page(
            ROOT_CS,
            ROOT,
            [],
            Status="FAILED",
            StatusReason=(
                "The submitted information didn't contain changes. Submit different information to create a change set."
            ),
        ),
    )
    cs = changeset.create(
        aws,
        stack_name="wealist-prod",
        change_set_type="UPDATE",
        parameters=[],
        tags=[],
        template_body="{}",
        template_url=None,
        commit="abc",
        sleep=lambda s: None,
    )
    assert cs.no_changes and cs.id == ROOT_CS


@pytest.mark.parametrize("allow_replace", [False, True])
def test_execute_relaxes_policies_only_with_allow_replace(allow_replace, prod_params):
    """Stubbed (ListStackResources, Get/SetStackPolicy, ExecuteChangeSet,
    events): the guarded database replacement is executed with the policies
    as they are unless --allow-replace was given; then exactly the database's
    stack gets the allow-all policy, and the protective one comes back at the
    end. Any other SetStackPolicy call fails the stub."""
    from wealist_cfn.deploy import policy

    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    protect, allow_all = json.dumps(policy.PROTECT), json.dumps(policy.ALLOW_ALL)

    def tree():
        cfn.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    {
                        "LogicalResourceId": "DatabaseStack",
                        "PhysicalResourceId": DB_STACK,
                        "ResourceType": "AWS::CloudFormation::Stack",
                        "LastUpdatedTimestamp": T0,
                        "ResourceStatus": "UPDATE_COMPLETE",
                    }
                ]
            },
            {"StackName": ROOT},
        )
        cfn.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": DB_STACK})

    def protected(db_body):
        tree()
        cfn.add_response("get_stack_policy", {"StackPolicyBody": protect}, {"StackName": ROOT})
        cfn.add_response("get_stack_policy", {"StackPolicyBody": db_body}, {"StackName": DB_STACK})

    cfn.add_response("describe_change_set", _cs_page(ROOT_CS, ROOT, []), {"ChangeSetName": ROOT_CS})
    protected(protect)  # already protected: nothing set
    if allow_replace:
        tree()
        cfn.add_response("set_stack_policy", {}, {"StackName": DB_STACK, "StackPolicyBody": allow_all})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
    cfn.add_response("describe_stacks", _stack("UPDATE_COMPLETE"), {"StackName": ROOT})
    cfn.add_response("execute_change_set", {}, {"ChangeSetName": ROOT_CS, "ClientRequestToken": ANY})
    cfn.add_response("describe_stacks", _stack("UPDATE_COMPLETE"), {"StackName": ROOT})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
    cfn.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ROOT})
    protected(allow_all if allow_replace else protect)
    if allow_replace:
        cfn.add_response("set_stack_policy", {}, {"StackName": DB_STACK, "StackPolicyBody": protect})
    cfn.add_response("describe_stacks", _stack("UPDATE_COMPLETE"), {"StackName": ROOT})

    dep = flow.Deployment(
        flow.Options(stack_name="wealist-prod", params=prod_params, allow_replace=allow_replace, sleep=lambda s: None),
        aws=aws,
    )
    cs = changeset.ChangeSet("deploy-1", ROOT_CS, ROOT, "UPDATE")
    dep.plan = flow.Plan(stackstate.StackState("wealist-prod", "UPDATE_COMPLETE", ROOT), cs, _nested_review())
    messages = [i.message for i in dep.execute() if isinstance(i, flow.Info)]
    cfn.assert_no_pending_responses()
    assert dep.result.final.ok
    relaxed = [m for m in messages if m.startswith("--allow-replace")]
    assert relaxed == (
        ["--allow-replace: stack policy relaxed on DatabaseStack for this update only"] if allow_replace else []
    )


# -- a guarded change through CI (issue 23, item 9) -------------------------------------------


def test_ci_accepts_a_conditional_change_set_only_by_its_reviewed_name(monkeypatch):
    """Stubbed review. CI never passes --accept-conditional (deploy.yml);
    WEALIST_ACCEPT_CONDITIONAL, set from the workflow_dispatch input, names
    the one reviewed change set that may go ahead, with the policies kept.
    Another name is refused (exit 3) and says which name it had. Before the
    fix a Conditional change could never pass in CI."""
    rev = _conditional_only(_nested_review())
    monkeypatch.setenv("WEALIST_ACCEPT_CONDITIONAL", "deploy-0-other")
    dep = _FakeDeployment(rev)
    code, _, err = _run_deploy(dep)
    assert code == 3 and not dep.executed
    assert "names deploy-0-other, not this change set (deploy-1)" in err
    assert "run the Deploy workflow by hand with accept-conditional = deploy-1" in err

    monkeypatch.setenv("WEALIST_ACCEPT_CONDITIONAL", "deploy-1")
    dep = _FakeDeployment(_conditional_only(_nested_review()))
    code, out, _ = _run_deploy(dep)
    assert code == 0 and dep.executed and dep.opts.allow_replace is False
    assert "WEALIST_ACCEPT_CONDITIONAL=deploy-1" in out and "stack policies stay in place" in out


def test_the_ci_name_does_not_cover_a_certain_replacement(monkeypatch):
    """Stubbed review: Replacement True is refused whatever the name says."""
    monkeypatch.setenv("WEALIST_ACCEPT_CONDITIONAL", "deploy-1")
    dep = _FakeDeployment(_nested_review())
    code, _, _ = _run_deploy(dep)
    assert code == 3 and not dep.executed


def test_no_rollback_is_refused_for_an_update():
    """Stubbed review of an UPDATE: --no-rollback is for a first create;
    refused with exit 3 before anything is executed, the change set deleted."""
    dep = _FakeDeployment(_nested_review())
    dep.opts.no_rollback = True
    code, _, err = _run_deploy(dep, yes=True)
    assert code == 3 and not dep.executed and dep.cleaned
    assert "refused: --no-rollback is for a first create" in err
