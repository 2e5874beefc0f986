"""A FAILED change set shows the real cause: the failed nested change set's
reason and CloudFormation's pre-deployment validation events, with the path.

Stand-ins:

* botocore's Stubber, answering like the CloudFormation API reference:
  DescribeChangeSet (Status FAILED, StatusReason, a nested stack's row naming
  its ChangeSetId) and DescribeEvents (OperationEvents with EventType
  VALIDATION_ERROR, ValidationName, ValidationStatus FAILED,
  ValidationStatusReason, ValidationPath, ValidationFailureMode FAIL/WARN; the
  request takes ChangeSetName and Filters.FailedEvents). The root's reason
  "Nested change set <arn> was not successfully created: Currently in FAILED."
  is the text AWS gives (aws-cdk and aws-sam-cli threads quote it).
* moto's server for the fallback: moto does not implement DescribeEvents (it
  answers HTTP 500 with an HTML page, which botocore cannot parse), like an
  endpoint or partition without the operation.
"""

from __future__ import annotations

import boto3
import pytest

from helpers.deploy import stubbed_aws
from wealist_cfn.aws import Aws
from wealist_cfn.deploy import changeset, failures
from wealist_cfn.errors import CommandError

ACCOUNT = "123456789012"
ROOT = f"arn:aws:cloudformation:ap-northeast-2:{ACCOUNT}:stack/wealist-prod/1111"
ROOT_CS = f"arn:aws:cloudformation:ap-northeast-2:{ACCOUNT}:changeSet/deploy-1/aaaa"
DB = f"arn:aws:cloudformation:ap-northeast-2:{ACCOUNT}:stack/wealist-prod-DatabaseStack-X/2222"
DB_CS = f"arn:aws:cloudformation:ap-northeast-2:{ACCOUNT}:changeSet/deploy-1-DatabaseStack/bbbb"
ROOT_REASON = f"Nested change set {DB_CS} was not successfully created: Currently in FAILED."
DB_REASON = (
    "The following hook(s)/validation failed: [AWS::EarlyValidation::PropertyValidation]. "
    "To troubleshoot Early Validation errors, use the DescribeEvents API for detailed failure information."
)


def _page(cs_id, stack_id, changes, status="FAILED", reason=""):
    return {
        "ChangeSetId": cs_id,
        "ChangeSetName": cs_id.split("/")[1],
        "StackId": stack_id,
        "StackName": "wealist-prod",
        "Status": status,
        "StatusReason": reason,
        "ExecutionStatus": "UNAVAILABLE",
        "Changes": changes,
    }


NESTED_ROW = {
    "Type": "Resource",
    "ResourceChange": {
        "Action": "Modify",
        "LogicalResourceId": "DatabaseStack",
        "PhysicalResourceId": DB,
        "ResourceType": "AWS::CloudFormation::Stack",
        "Replacement": "False",
        "Scope": ["Properties"],
        "Details": [],
        "ChangeSetId": DB_CS,
    },
}

VALIDATION = {
    "EventId": "e-1",
    "StackId": DB,
    "OperationId": "op-1",
    "OperationType": "CREATE_CHANGESET",
    "OperationStatus": "FAILED",
    "EventType": "VALIDATION_ERROR",
    "LogicalResourceId": "Database",
    "PhysicalResourceId": "",
    "ResourceType": "AWS::RDS::DBInstance",
    "ResourceStatus": "CREATE_FAILED",
    "ValidationFailureMode": "FAIL",
    "ValidationName": "PROPERTY_VALIDATION",
    "ValidationStatus": "FAILED",
    "ValidationStatusReason": "#/DBInstanceClass: expected type: String, found: JSONArray",
    "ValidationPath": "/Resources/Database/Properties/DBInstanceClass",
}


def _stub_walk(cfn, *, events_root, events_nested):
    """The reads explain() makes, in order."""
    cfn.add_response(
        "describe_change_set", _page(ROOT_CS, ROOT, [NESTED_ROW], reason=ROOT_REASON), {"ChangeSetName": ROOT_CS}
    )
    cfn.add_response("describe_change_set", _page(DB_CS, DB, [], reason=DB_REASON), {"ChangeSetName": DB_CS})
    for cs_id, evs in ((ROOT_CS, events_root), (DB_CS, events_nested)):
        if isinstance(evs, Exception):
            cfn.add_client_error(
                "describe_events",
                *evs.args,
                expected_params={"ChangeSetName": cs_id, "Filters": {"FailedEvents": True}},
            )
            return
        cfn.add_response(
            "describe_events", {"OperationEvents": evs}, {"ChangeSetName": cs_id, "Filters": {"FailedEvents": True}}
        )


def test_failed_change_set_names_the_validation_and_its_path():
    """Stubbed: CreateChangeSet, the change set FAILED with the root's
    pointer-only reason. The error's first line is the validation that failed
    (nested path, logical ID, type, ValidationPath, reason); the details keep
    the root's and the nested change set's reasons and the delete command."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    cfn.add_response("create_change_set", {"Id": ROOT_CS, "StackId": ROOT})
    cfn.add_response(
        "describe_change_set", _page(ROOT_CS, ROOT, [NESTED_ROW], reason=ROOT_REASON), {"ChangeSetName": ROOT_CS}
    )
    _stub_walk(cfn, events_root=[], events_nested=[VALIDATION])
    with pytest.raises(CommandError) as exc_info:
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
        )
    err = exc_info.value
    cfn.assert_no_pending_responses()
    line = str(err)
    assert line.startswith("change set deploy-")
    assert (
        "failed: DatabaseStack/Database (AWS::RDS::DBInstance) at /Resources/Database/Properties/DBInstanceClass: "
        "PROPERTY_VALIDATION: #/DBInstanceClass: expected type: String, found: JSONArray"
    ) in line
    assert "\n" not in line
    assert f"root change set: {ROOT_REASON}" in err.details
    assert f"nested change set DatabaseStack: {DB_REASON}" in err.details
    assert err.details[-1].startswith("delete it: aws cloudformation delete-change-set --stack-name wealist-prod")
    data = err.data["changeSetFailure"]
    assert data["validations"][0]["path"] == "/Resources/Database/Properties/DBInstanceClass"
    assert data["nested"][0]["path"] == "DatabaseStack"


def test_without_validation_events_the_nested_reason_is_the_cause():
    """Stubbed: no validation events, but a nested change set failed: its
    reason (not the root's "Nested change set ... was not successfully
    created") is the cause."""
    aws, stubs = stubbed_aws()
    reason = "Template format error: Unresolved resource dependencies [DbSubnetGroup] in the Resources block"
    cfn = stubs["cloudformation"]
    cfn.add_response("describe_change_set", _page(ROOT_CS, ROOT, [NESTED_ROW], reason=ROOT_REASON))
    cfn.add_response("describe_change_set", _page(DB_CS, DB, [], reason=reason))
    cfn.add_response("describe_events", {"OperationEvents": []})
    cfn.add_response("describe_events", {"OperationEvents": []})
    f = failures.explain(aws, ROOT_CS, "deploy-1")
    cfn.assert_no_pending_responses()
    assert f.cause == f"DatabaseStack: {reason}"
    assert f.lines() == [f"root change set: {ROOT_REASON}"]


def test_a_warning_validation_does_not_hide_the_blocking_one():
    """Stubbed: a WARN-mode validation (S3 bucket not empty) and a FAIL-mode
    one: the cause is the FAIL one; the warning is listed and marked."""
    aws, stubs = stubbed_aws()
    warn = dict(
        VALIDATION,
        EventId="e-0",
        ValidationFailureMode="WARN",
        ValidationName="S3_BUCKET_EMPTINESS",
        LogicalResourceId="Logs",
        ResourceType="AWS::S3::Bucket",
        ValidationPath="/Resources/Logs",
        ValidationStatusReason="Bucket is not empty",
    )
    _stub_walk(stubs["cloudformation"], events_root=[warn], events_nested=[VALIDATION, warn])
    f = failures.explain(aws, ROOT_CS, "deploy-1")
    assert f.cause.startswith("DatabaseStack/Database (AWS::RDS::DBInstance)")
    assert len(f.validations) == 2  # the repeated event is shown once
    assert (
        "validation: DatabaseStack/Logs (AWS::S3::Bucket) at /Resources/Logs: S3_BUCKET_EMPTINESS: "
        "Bucket is not empty [warning only]"
    ) in f.lines()


def test_describe_events_refused_falls_back_to_the_change_sets():
    """Stubbed: DescribeEvents answered AccessDenied (a role without
    cloudformation:DescribeEvents): the nested reason stays the cause and one
    note says the events could not be read. No exception."""
    aws, stubs = stubbed_aws()
    _stub_walk(
        stubs["cloudformation"],
        events_root=Exception("AccessDenied", "not authorized to perform: cloudformation:DescribeEvents"),
        events_nested=[],
    )
    f = failures.explain(aws, ROOT_CS, "deploy-1")
    assert f.cause == f"DatabaseStack: {DB_REASON}"
    assert f.note.startswith("CloudFormation's validation events could not be read: AccessDenied")


@pytest.mark.moto
def test_endpoint_without_describe_events_falls_back_cleanly(moto_endpoint):
    """moto: a real change set on moto's server, read by explain(): moto has
    no DescribeEvents (HTTP 500, unparsable), so the result carries the
    change set's own reason and one note; nothing raises."""
    cfn = boto3.client("cloudformation", region_name="ap-northeast-2", endpoint_url=moto_endpoint)
    cs = cfn.create_change_set(
        StackName="wealist-prod",
        ChangeSetName="deploy-1",
        ChangeSetType="CREATE",
        TemplateBody='{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}',
    )
    aws = Aws("ap-northeast-2", endpoint_url=moto_endpoint)
    f = failures.explain(aws, cs["Id"], "deploy-1", reason="something failed")
    assert f.cause == "something failed"
    assert f.note.startswith("CloudFormation's validation events could not be read: ResponseParserError")
    assert aws.calls["cloudformation:DescribeEvents"] == 1
