"""Stack policies (wealist_cfn/deploy/policy.py) across a tree of stacks with
two children and a grandchild, some already protected and some not, and
every call's failure path.

Stand-in: botocore's Stubber. Responses are shaped like the CloudFormation
API reference: ListStackResources (StackResourceSummaries: LogicalResourceId,
PhysicalResourceId, ResourceType, ResourceStatus), GetStackPolicy
(StackPolicyBody, absent when no policy is set), SetStackPolicy (no body).
The Stubber checks each request's parameters and order; errors are queued
with the codes the API documents (AccessDenied, ValidationError for a stack
that does not exist). What AWS enforces and the stand-in cannot show: a
stack policy covers only the resources of its own stack (User Guide,
"Prevent updates to stack resources"), which is why every nested stack is
walked.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError

from helpers.deploy import stubbed_aws
from wealist_cfn.deploy import policy
from wealist_cfn.errors import CommandError

pytestmark = pytest.mark.stubbed

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
ARN = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/"
ROOT, NET, DB, GRAND, GONE = (f"{ARN}{n}/1" for n in ("wealist-prod", "net", "db", "grand", "gone"))
NESTED = "AWS::CloudFormation::Stack"


def _res(lid, phys, rtype=NESTED, status="CREATE_COMPLETE"):
    return {
        "LogicalResourceId": lid,
        "PhysicalResourceId": phys,
        "ResourceType": rtype,
        "ResourceStatus": status,
        "LastUpdatedTimestamp": T0,
    }


def _tree(cfn):
    """root -> NetworkStack, DatabaseStack (-> Inner); a deleted nested stack
    and a plain resource are not walked."""
    cfn.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                _res("NetworkStack", NET),
                _res("DatabaseStack", DB),
                _res("OldStack", GONE, status="DELETE_COMPLETE"),
                _res("Topic", "arn:aws:sns:ap-northeast-2:123456789012:t", rtype="AWS::SNS::Topic"),
            ]
        },
        {"StackName": ROOT},
    )
    cfn.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": NET})
    cfn.add_response("list_stack_resources", {"StackResourceSummaries": [_res("Inner", GRAND)]}, {"StackName": DB})
    cfn.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": GRAND})


PROTECT = json.dumps(policy.PROTECT)


def test_the_walk_reaches_the_grandchild_and_skips_what_is_not_a_live_nested_stack():
    aws, stubs = stubbed_aws()
    _tree(stubs["cloudformation"])
    assert policy.stack_ids(aws, ROOT) == {
        "": ROOT,
        "NetworkStack": NET,
        "DatabaseStack": DB,
        "DatabaseStack/Inner": GRAND,
    }


def test_protect_sets_the_policy_only_where_it_is_missing_or_different():
    """Mixed: root protected (keys in another order), network without a
    policy, database with the allow-all one, the grandchild protected."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _tree(cfn)
    reordered = json.dumps(policy.PROTECT, sort_keys=True, indent=2)
    for sid, body in ((ROOT, reordered), (NET, None), (DB, json.dumps(policy.ALLOW_ALL)), (GRAND, PROTECT)):
        cfn.add_response("get_stack_policy", {"StackPolicyBody": body} if body else {}, {"StackName": sid})
        if sid in (NET, DB):
            cfn.add_response("set_stack_policy", {}, {"StackName": sid, "StackPolicyBody": PROTECT})
    assert policy.protect(aws, ROOT) == ["NetworkStack", "DatabaseStack"]
    cfn.assert_no_pending_responses()


def test_a_policy_that_cannot_be_read_is_set_again():
    """GetStackPolicy refused (AccessDenied): not taken as protected."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT})
    cfn.add_client_error("get_stack_policy", "AccessDenied", "not authorized", 403, expected_params={"StackName": ROOT})
    cfn.add_response("set_stack_policy", {}, {"StackName": ROOT, "StackPolicyBody": PROTECT})
    assert policy.protect(aws, ROOT) == [""]
    cfn.assert_no_pending_responses()


def test_a_policy_that_cannot_be_set_stops_with_the_stack_named():
    """SetStackPolicy refused on the second stack: an error naming it, and
    nothing after it is attempted (the Stubber would answer an extra call
    with an error of its own)."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _tree(cfn)
    cfn.add_response("get_stack_policy", {"StackPolicyBody": PROTECT}, {"StackName": ROOT})
    cfn.add_response("get_stack_policy", {}, {"StackName": NET})
    cfn.add_client_error(
        "set_stack_policy",
        "AccessDenied",
        "User is not authorized to perform cloudformation:SetStackPolicy",
        403,
        expected_params={"StackName": NET, "StackPolicyBody": PROTECT},
    )
    with pytest.raises(CommandError) as exc:
        policy.protect(aws, ROOT)
    assert str(exc.value).startswith(f"SetStackPolicy on {NET}: ") and "not authorized" in str(exc.value)
    cfn.assert_no_pending_responses()


def test_relax_allows_exactly_the_paths_asked_for_that_exist():
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _tree(cfn)
    allow = json.dumps(policy.ALLOW_ALL)
    cfn.add_response("set_stack_policy", {}, {"StackName": DB, "StackPolicyBody": allow})
    cfn.add_response("set_stack_policy", {}, {"StackName": GRAND, "StackPolicyBody": allow})
    assert policy.relax(aws, ROOT, {"DatabaseStack/Inner", "DatabaseStack", "NoSuchStack"}) == [
        "DatabaseStack",
        "DatabaseStack/Inner",
    ]
    cfn.assert_no_pending_responses()


def test_relax_failing_is_an_error_not_a_silent_skip():
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": ROOT})
    cfn.add_client_error("set_stack_policy", "ValidationError", "Stack does not exist", 400)
    with pytest.raises(CommandError, match="SetStackPolicy on .*Stack does not exist"):
        policy.relax(aws, ROOT, {""})


def test_the_walk_failing_is_raised():
    """ListStackResources refused: the error reaches the caller (the deploy
    does not go ahead with stacks it could not see)."""
    aws, stubs = stubbed_aws()
    stubs["cloudformation"].add_client_error("list_stack_resources", "AccessDenied", "denied", 403)
    with pytest.raises(ClientError):
        policy.stack_ids(aws, ROOT)


def test_a_nested_stack_not_created_yet_and_an_empty_page_are_not_walked():
    """ListStackResources: PhysicalResourceId is optional in a
    StackResourceSummary (absent while the nested stack is being created),
    and StackResourceSummaries is optional in the output: neither is a
    stack to set a policy on, nor an error."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    pending = {k: v for k, v in _res("CacheStack", "").items() if k != "PhysicalResourceId"}
    cfn.add_response(
        "list_stack_resources",
        {"StackResourceSummaries": [_res("NetworkStack", NET), {**pending, "ResourceStatus": "CREATE_IN_PROGRESS"}]},
        {"StackName": ROOT},
    )
    cfn.add_response("list_stack_resources", {}, {"StackName": NET})
    assert policy.stack_ids(aws, ROOT) == {"": ROOT, "NetworkStack": NET}
    cfn.assert_no_pending_responses()
