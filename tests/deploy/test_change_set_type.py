"""Which change-set type a deploy makes, for every stack status
CloudFormation has. No stand-in: the statuses are botocore's model of
DescribeStacks (cloudformation/2010-05-15/service-2.json, StackStatus).

CREATE is due for no stack and for a REVIEW_IN_PROGRESS shell ("a stack
that has an expected change set of type CREATE", CreateChangeSet API
reference); everything else is an UPDATE. The type decides more than the
API call: only a CREATE is executed with RetainExceptOnCreate and gets
termination protection at once (flow.py), so an UPDATE where CREATE was due
leaves a first stack unprotected while every "it executed" check passes.
What each type's execution sends is checked, request by request, in
test_engine_edges.py (test_new_stack_is_protected_before_the_watch_even_if_
interrupted: CREATE; the UPDATE tests' ExecuteChangeSet without it).
"""

from __future__ import annotations

import botocore.session
import pytest

from wealist_cfn.deploy import stackstate

STATUSES = botocore.session.get_session().get_service_model("cloudformation").shape_for("StackStatus").enum


def test_the_model_has_the_statuses_this_test_reasons_about():
    assert "REVIEW_IN_PROGRESS" in STATUSES and "UPDATE_ROLLBACK_COMPLETE" in STATUSES and len(STATUSES) > 20


@pytest.mark.parametrize("status", [None, *STATUSES])
def test_create_only_for_no_stack_or_a_review_shell(status):
    want = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
    assert stackstate.StackState("wealist-prod", status).change_set_type == want
