"""destroy's wait against Stubber: moto deletes a stack at once, so the
DELETE_IN_PROGRESS states and a DELETE_FAILED come from responses shaped like
API_DescribeStacks (Stack: StackName, StackId, CreationTime, StackStatus,
StackStatusReason)."""

from __future__ import annotations

import pytest

from helpers.daytwo import CHILD_ID, ROOT_ID, T0, stubbed_cfn
from wealist_cfn.daytwo import destroy, tree
from wealist_cfn.errors import CommandError

pytestmark = pytest.mark.stubbed


def _stack(sid, status, reason=None):
    st = {"StackName": "wealist-dev", "StackId": sid, "CreationTime": T0, "StackStatus": status}
    if reason:
        st["StackStatusReason"] = reason
    return {"Stacks": [st]}


def _plan():
    return destroy.DestroyPlan("wealist-dev", ROOT_ID, "UPDATE_COMPLETE", nested={"DatabaseStack": CHILD_ID})


def test_wait_reports_nested_stacks_deleted_until_the_root_is_gone(monkeypatch):
    monkeypatch.setattr(tree, "WORKERS", 1)
    aws, stub = stubbed_cfn()
    stub.add_response("delete_stack", {}, {"StackName": ROOT_ID})
    stub.add_response("describe_stacks", _stack(ROOT_ID, "DELETE_IN_PROGRESS"), {"StackName": ROOT_ID})
    stub.add_response("describe_stacks", _stack(CHILD_ID, "DELETE_IN_PROGRESS"), {"StackName": CHILD_ID})
    stub.add_response("describe_stacks", _stack(ROOT_ID, "DELETE_IN_PROGRESS"), {"StackName": ROOT_ID})
    stub.add_response("describe_stacks", _stack(CHILD_ID, "DELETE_COMPLETE"), {"StackName": CHILD_ID})
    stub.add_response("describe_stacks", _stack(ROOT_ID, "DELETE_COMPLETE"), {"StackName": ROOT_ID})
    waits = list(destroy.delete(aws, _plan(), sleep=lambda s: None, interval=10))
    stub.assert_no_pending_responses()
    assert [(w.nested_done, w.nested_total, w.waited) for w in waits] == [(0, 1, 0.0), (1, 1, 10.0)]


def test_delete_failed_is_one_line_with_the_reason():
    aws, stub = stubbed_cfn()
    stub.add_response("delete_stack", {}, {"StackName": ROOT_ID})
    stub.add_response(
        "describe_stacks",
        _stack(ROOT_ID, "DELETE_FAILED", "The following resource(s) failed to delete: [DatabaseStack]."),
        {"StackName": ROOT_ID},
    )
    with pytest.raises(CommandError) as err:
        list(destroy.delete(aws, _plan(), sleep=lambda s: None))
    assert err.value.exit_code == 1 and "failed to delete: [DatabaseStack]" in str(err.value)


def test_termination_protection_is_named_and_turned_off_only_when_asked():
    """moto implements neither a change-set stack's termination protection nor
    UpdateTerminationProtection, so Stubber: DescribeStacks reports
    EnableTerminationProtection (API_Stack), destroy's plan names it, and
    disable_protections calls UpdateTerminationProtection on the root."""
    aws, stub = stubbed_cfn()
    described = _stack(ROOT_ID, "UPDATE_COMPLETE")
    described["Stacks"][0]["EnableTerminationProtection"] = True
    stub.add_response("describe_stacks", described, {"StackName": "wealist-dev"})
    stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT_ID})
    stub.add_response(
        "get_template", {"TemplateBody": "Resources: {}\n"}, {"StackName": ROOT_ID, "TemplateStage": "Original"}
    )
    stub.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT_ID})
    p = destroy.plan(aws, "wealist-dev")
    assert [(x.kind, x.where) for x in p.protections] == [("termination", "root stack")]
    stub.add_response(
        "update_termination_protection",
        {"StackId": ROOT_ID},
        {"StackName": ROOT_ID, "EnableTerminationProtection": False},
    )
    assert destroy.disable_protections(aws, p) == ["termination protection of root stack turned off"]
    stub.assert_no_pending_responses()
