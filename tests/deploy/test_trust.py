"""A deploy executes only a change set proven to hold what its own checkout
builds (issue 20, items 1-3).

Why: a pull request's plan role may call CreateChangeSet on the production
stack with any template, parameters and Description, and a change set made
without a RoleARN runs with the role already associated with the stack,
"even if the users don't have permission to pass it"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html,
``RoleARN``). Executing any change set deletes every other one on the stack
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ExecuteChangeSet.html).

Stand-ins, per test (each docstring names its own):

* botocore's Stubber, for :func:`wealist_cfn.deploy.verify.prove`: the exact
  calls in their order, responses validated against botocore's model
  (DescribeChangeSet with ``Capabilities``, ``Parameters`` and nested
  ``ChangeSetId`` rows; GetTemplate with ``ChangeSetName`` and
  ``TemplateStage=Original``; DescribeStackResource). moto cannot serve this
  proof: its DescribeChangeSet reports no Capabilities, it lists no nested
  change sets, and its GetTemplate reads only ``StackName`` (moto 5.2.5,
  ``cloudformation/responses.py``), returning the stack's template for any
  change set.
* the scripted CloudFormation of tests/helpers/scripted.py (answers by operation
  name, responses validated against the same model) with moto's server for
  S3 and STS, for the command line end to end.

What AWS enforces and these stand-ins only mirror: that GetTemplate by
change set returns the template that change set was made from ("For change
sets, the Original template is always available", GetTemplate API
reference); that DescribeChangeSet returns a NoEcho parameter's value masked;
that the change set's own RoleARN is not returned by DescribeChangeSet (not
a member of DescribeChangeSetOutput in the API model).
"""

from __future__ import annotations

import json

import pytest
import yaml
from botocore.stub import Stubber

from helpers.deploy import stubbed_aws
from helpers.scripted import Cfn, Scripted, ScriptedError, change, change_set_arn, run_cli, scripted_aws, stack_arn
from wealist_cfn.cfn import templates as tpl
from wealist_cfn.core.settings import PARAMS_DIR
from wealist_cfn.deploy import changeset, triggers, verify

NESTED = "AWS::CloudFormation::Stack"
ROLE = "arn:aws:iam::123456789012:role/wealist-prod-cfn-role"
OTHER_ROLE = "arn:aws:iam::123456789012:role/someone-elses-role"
ROOT = stack_arn("wealist-prod")
DB_STACK = stack_arn("wealist-prod-DatabaseStack")
NET_STACK = stack_arn("wealist-prod-NetworkStack")
ROOT_CS = change_set_arn("plan-1")
DB_CS = change_set_arn("plan-1-DatabaseStack")
CAPS = list(changeset.CAPABILITIES)

DB = {
    "Parameters": {"IsMultiAZ": {"Type": "String"}},
    "Resources": {
        "Database": {
            "Type": "AWS::RDS::DBInstance",
            "Properties": {"MultiAZ": {"Ref": "IsMultiAZ"}, "DBInstanceClass": "db.t3.micro"},
        }
    },
}
NET = {"Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.1.0.0/16"}}}}


def _root(area: str, version: str) -> dict:
    """The packaged root: nested TemplateURLs under ``area`` (plan/ or deploy/)."""
    url = "https://b.s3.ap-northeast-2.amazonaws.com/{area}/wealist-prod/{name}.abc.yaml?versionId={v}"
    return {
        "Parameters": {
            "EnableMultiAZ": {"Type": "String", "Default": "false"},
            "AvailabilityZones": {"Type": "CommaDelimitedList"},
        },
        "Resources": {
            "DatabaseStack": {
                "Type": NESTED,
                "Properties": {
                    "TemplateURL": url.format(area=area, name="database", v=version),
                    "Parameters": {"IsMultiAZ": {"Ref": "EnableMultiAZ"}},
                },
            },
            "NetworkStack": {
                "Type": NESTED,
                "Properties": {"TemplateURL": url.format(area=area, name="network", v=version)},
            },
        },
    }


def _text(data: dict) -> str:
    return tpl.dump(data)


EXPECTED = verify.Expected(
    root_name="root.yaml",
    templates={"root.yaml": _root("deploy", "v1"), "database.yaml": DB, "network.yaml": NET},
    child_files={"DatabaseStack": "database.yaml", "NetworkStack": "network.yaml"},
    parameters={"EnableMultiAZ": "false", "AvailabilityZones": "ap-northeast-2a,ap-northeast-2c"},
    capabilities=frozenset(CAPS),
    role_arn=ROLE,
    # The children are leaves: package.py uploads them as committed, these bytes.
    texts={"database.yaml": _text(DB), "network.yaml": _text(NET)},
    bucket="b",
    list_parameters=frozenset({"AvailabilityZones"}),
)
PARAMS = [
    {"ParameterKey": "EnableMultiAZ", "ParameterValue": "false"},
    {"ParameterKey": "AvailabilityZones", "ParameterValue": "ap-northeast-2a,ap-northeast-2c"},
]
# The tags every change set of this tool carries (flow.Deployment._tags).
TAGS = [
    {"Key": "Project", "Value": "wealist"},
    {"Key": "Environment", "Value": "prod"},
    {"Key": "ManagedBy", "Value": "wealist-cfn"},
]
# A URL outside the artifact bucket, with no version: accepted only as the
# very text the deployed root names.
OLD_NET_URL = "https://old-artifacts.s3.ap-northeast-2.amazonaws.com/deploy/wealist-prod/network.yaml"
# What a plan's Description says; a forger copies it.
HINT = "wealist-cfn deploy from commit abc1234; content sha256:" + "0" * 64


def _head(cfn: Stubber, cs_id: str = ROOT_CS, *, params=PARAMS, caps=CAPS, rows=None, **extra) -> None:
    rows = rows if rows is not None else [change("Modify", "DatabaseStack", NESTED, nested="plan-1-DatabaseStack")]
    cfn.add_response(
        "describe_change_set",
        {
            "ChangeSetId": cs_id,
            "ChangeSetName": cs_id.split("/")[1],
            "StackId": ROOT,
            "StackName": "wealist-prod",
            "Status": "CREATE_COMPLETE",
            "ExecutionStatus": "AVAILABLE",
            "Description": HINT,
            "Parameters": params,
            "Capabilities": caps,
            "IncludeNestedStacks": True,
            "Changes": rows,
            **extra,
        },
        {"ChangeSetName": cs_id},
    )


def _template(cfn: Stubber, body, **by) -> None:
    cfn.add_response(
        "get_template",
        {"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]},
        dict(by, TemplateStage="Original"),
    )


def _nested(cfn: Stubber, db_body, *, include_nested: bool = True, parameters: list | None = None) -> None:
    """The nested change set of DatabaseStack: its template, then its head."""
    _template(cfn, db_body, ChangeSetName=DB_CS)
    cfn.add_response(
        "describe_change_set",
        {
            "ChangeSetId": DB_CS,
            "ChangeSetName": "plan-1-DatabaseStack",
            "StackId": DB_STACK,
            "Status": "CREATE_COMPLETE",
            "ExecutionStatus": "AVAILABLE",
            "ParentChangeSetId": ROOT_CS,
            "RootChangeSetId": ROOT_CS,
            "IncludeNestedStacks": include_nested,
            "Parameters": parameters or [],
            "Changes": [change("Modify", "Database", "AWS::RDS::DBInstance", replacement="False")],
        },
        {"ChangeSetName": DB_CS},
    )


def _unchanged_network(cfn: Stubber, body) -> None:
    """NetworkStack has no row: the change set leaves it as deployed."""
    cfn.add_response(
        "describe_stack_resource",
        {
            "StackResourceDetail": {
                "StackName": "wealist-prod",
                "StackId": ROOT,
                "LogicalResourceId": "NetworkStack",
                "PhysicalResourceId": NET_STACK,
                "ResourceType": NESTED,
                "LastUpdatedTimestamp": "2026-11-01T00:00:00Z",
                "ResourceStatus": "UPDATE_COMPLETE",
            }
        },
        {"StackName": ROOT, "LogicalResourceId": "NetworkStack"},
    )
    _template(cfn, body, StackName=NET_STACK)


def _object(s3: Stubber, name: str, body: str, area: str = "plan", version: str = "v9") -> None:
    """GetObject of one pinned child URL (``_root``'s form): the version's bytes."""
    import io

    from botocore.response import StreamingBody

    data = body.encode()
    s3.add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(data), len(data)), "VersionId": version},
        {
            "Bucket": "b",
            "Key": f"{area}/wealist-prod/{name}.abc.yaml",
            "VersionId": version,
            "ExpectedBucketOwner": "123456789012",
        },
    )


def _objects(s3: Stubber, db: str | None = None, net: str | None = None) -> None:
    """The pinned URLs of both children hold this checkout's bytes (or the given ones)."""
    _object(s3, "database", db or _text(DB))
    _object(s3, "network", net or _text(NET))


def _prove(aws, stack_role=ROLE, expected=EXPECTED):
    return verify.prove(aws, ROOT_CS, expected, stack_id=ROOT, stack_role=stack_role)


# -- the proof, call by call (Stubber) ----------------------------------------------------------


def test_a_genuine_change_set_is_proven_by_content_not_by_url():
    """Stubber: the plan's change set names plan/ URLs at other versions; its
    root, the nested change set's template and the unchanged network stack's
    deployed template equal this checkout's: proven, every stack read."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn)
    _template(cfn, _text(_root("plan", "v9")), ChangeSetName=ROOT_CS)
    _objects(stubs["s3"])
    _nested(cfn, _text(DB))
    _unchanged_network(cfn, _text(NET))
    verdict = _prove(aws)
    assert verdict.ok, verdict.line()
    assert verdict.read == ["root", "DatabaseStack", "NetworkStack"]
    cfn.assert_no_pending_responses()
    stubs["s3"].assert_no_pending_responses()


def test_the_right_description_and_another_root_template_is_refused():
    """Stubber: a forged change set carrying the plan's Description (with
    main's content hash) and a root that adds a resource is refused, naming
    where it differs; nothing nested is read."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    forged = _root("plan", "v9")
    forged["Resources"]["Backdoor"] = {"Type": "AWS::IAM::User"}
    _head(cfn)
    _template(cfn, _text(forged), ChangeSetName=ROOT_CS)
    verdict = _prove(aws)
    assert (
        verdict.difference == "root template differs from what this checkout builds (Resources.Backdoor "
        "(only in the change set))"
    )
    cfn.assert_no_pending_responses()


def test_the_right_root_and_another_nested_template_is_refused():
    """Stubber: root equal, the nested change set's template (GetTemplate by
    its ChangeSetId) sets MultiAZ otherwise: refused, the nested stack and
    the property named."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    forged_db = json.loads(json.dumps(DB))
    forged_db["Resources"]["Database"]["Properties"]["MultiAZ"] = "true"
    _head(cfn)
    _template(cfn, _text(_root("plan", "v9")), ChangeSetName=ROOT_CS)
    _objects(stubs["s3"])
    _nested(cfn, _text(forged_db))
    verdict = _prove(aws)
    assert verdict.line() == (
        "change set plan-1: nested template DatabaseStack differs from what this checkout "
        "builds (Resources.Database.Properties.MultiAZ)"
    )


def test_a_nested_stack_left_as_deployed_is_compared_with_the_deployed_template():
    """Stubber: main changed network.yaml; a change set whose root keeps the
    deployed network URL (the very text the deployed root names, so it is
    accepted as a URL) has no row for NetworkStack, so executing it would
    leave the deployed (old) network template: refused on content."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    old_net = {"Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.9.0.0/16"}}}}
    root = _root("plan", "v9")
    root["Resources"]["NetworkStack"]["Properties"]["TemplateURL"] = OLD_NET_URL
    _head(cfn)
    _template(cfn, _text(root), ChangeSetName=ROOT_CS)
    _object(stubs["s3"], "database", _text(DB))
    _nested(cfn, _text(DB))
    _template(cfn, _text(root), StackName=ROOT)  # the deployed root names that URL
    _unchanged_network(cfn, _text(old_net))
    verdict = _prove(aws)
    assert verdict.difference == (
        "nested template NetworkStack differs from what this checkout builds (Resources.Vpc.Properties.CidrBlock)"
    )


def test_a_changed_nested_stack_without_its_nested_change_set_is_not_proven():
    """Stubber: a change set made without IncludeNestedStacks lists the
    nested stack as Modify with no ChangeSetId: the template it would run
    cannot be read, so it is refused."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn, rows=[change("Modify", "DatabaseStack", NESTED)])
    _template(cfn, _text(_root("plan", "v9")), ChangeSetName=ROOT_CS)
    _objects(stubs["s3"])
    verdict = _prove(aws)
    assert "nested stack DatabaseStack is changed (Modify) but names no nested change set" in verdict.difference


def test_the_right_templates_and_another_parameter_is_refused():
    """Stubber: DescribeChangeSet's Parameters hold EnableMultiAZ=true while
    the file says false: refused before any template is read, the value not
    printed."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn, params=[dict(PARAMS[0], ParameterValue="true"), PARAMS[1]])
    verdict = _prove(aws)
    assert verdict.difference == "parameter EnableMultiAZ differs from the parameter file"
    cfn.assert_no_pending_responses()


def test_a_list_parameter_is_compared_as_a_list():
    """Stubber: ``a, c`` and ``a,c`` are one list (the review's rule); the
    proof goes on to the templates."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn, params=[PARAMS[0], dict(PARAMS[1], ParameterValue="ap-northeast-2a, ap-northeast-2c")])
    _template(cfn, _text(_root("plan", "v9")), ChangeSetName=ROOT_CS)
    _objects(stubs["s3"])
    _nested(cfn, _text(DB))
    _unchanged_network(cfn, _text(NET))
    assert _prove(aws).ok


def test_a_masked_noecho_parameter_cannot_be_proven():
    """Stubber: DescribeChangeSet returns a NoEcho parameter as ``****``
    (API_Parameter); its value cannot be compared, so it is refused rather
    than assumed."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    expected = verify.Expected(
        **dict(EXPECTED.__dict__, parameters=dict(EXPECTED.parameters, Token="x"), no_echo=frozenset({"Token"}))
    )
    _head(cfn, params=PARAMS + [{"ParameterKey": "Token", "ParameterValue": "****"}])
    verdict = _prove(aws, expected=expected)
    assert verdict.difference == "parameter Token is NoEcho and comes back masked (****): its value cannot be proven"


def test_a_missing_capability_is_refused():
    """Stubber: Capabilities without CAPABILITY_NAMED_IAM: refused, naming it."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn, caps=[c for c in CAPS if c != "CAPABILITY_NAMED_IAM"])
    verdict = _prove(aws)
    assert verdict.difference == "capabilities differ from what this deploy passes (lacks CAPABILITY_NAMED_IAM)"


OPTIONS = {
    "ImportExistingResources": ({"ImportExistingResources": True}, "it imports existing resources"),
    "DeploymentMode": ({"DeploymentMode": "REVERT_DRIFT"}, "DeploymentMode REVERT_DRIFT"),
    # API_DeploymentConfig: EXPRESS ends before resources serve; DisableRollback
    # leaves a failed update in place. Accepted before (review, bypass 1).
    "DeploymentConfig EXPRESS": ({"DeploymentConfig": {"Mode": "EXPRESS"}}, "DeploymentConfig Mode EXPRESS"),
    "DeploymentConfig no rollback": (
        {"DeploymentConfig": {"Mode": "STANDARD", "DisableRollback": True}},
        "DeploymentConfig DisableRollback True",
    ),
    # CreateChangeSet OnStackFailure: DO_NOTHING keeps a failed stack, DELETE deletes it.
    "OnStackFailure DO_NOTHING": ({"OnStackFailure": "DO_NOTHING"}, "OnStackFailure DO_NOTHING"),
    "OnStackFailure DELETE": ({"OnStackFailure": "DELETE"}, "OnStackFailure DELETE"),
    "IncludeNestedStacks false": (
        {"IncludeNestedStacks": False, "rows": []},
        "it was made without IncludeNestedStacks",
    ),
    "NotificationARNs": (
        {"NotificationARNs": ["arn:aws:sns:ap-northeast-2:999999999999:listener"]},
        "notification topics",
    ),
    "RollbackConfiguration": (
        {
            "RollbackConfiguration": {
                "RollbackTriggers": [
                    {"Arn": "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:x", "Type": "AWS::CloudWatch::Alarm"}
                ]
            }
        },
        "rollback triggers",
    ),
    "Tags": ({"Tags": [{"Key": "Project", "Value": "wealist"}]}, "its tags differ from this deploy's (Environment)"),
    "Import row": ({"rows": [change("Import", "Bucket", "AWS::S3::Bucket")]}, "it imports Bucket (Action Import)"),
}


@pytest.mark.parametrize("option", list(OPTIONS))
def test_what_else_executing_would_apply_is_refused(option):
    """Stubber: a change set equal in templates and parameters that also
    carries something executing applies and this deploy never sends
    (DescribeChangeSet fields and a ResourceChange Action Import) is
    refused, naming it, before any template is read."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    extra, words = OPTIONS[option]
    _head(cfn, **{"Tags": [{"Key": "Project", "Value": "wealist"}, {"Key": "Environment", "Value": "prod"}], **extra})
    expected = verify.Expected(
        **dict(EXPECTED.__dict__, tags=frozenset({("Project", "wealist"), ("Environment", "prod")}))
    )
    verdict = _prove(aws, expected=expected)
    assert verdict.difference and words in verdict.difference, verdict.line()
    cfn.assert_no_pending_responses()


@pytest.mark.parametrize("stack_role", [OTHER_ROLE, None])
def test_a_stack_whose_role_is_not_the_service_role_is_refused(stack_role):
    """Stubber: DescribeChangeSet does not return the change set's RoleARN;
    one made without it runs with the stack's role. When that role is not the
    service role this deploy passes (another role, or none: the creator's
    credentials), the change set is refused."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn)
    verdict = _prove(aws, stack_role=stack_role)
    assert f"not the service role {ROLE} this deploy passes" in verdict.difference
    assert (OTHER_ROLE in verdict.difference) == (stack_role is not None)


# -- what a second review found open (each was proven before: /tmp scratch, issue 20) -----------


def test_the_default_deployment_options_are_proven():
    """Stubber: DeploymentConfig as the API reference gives its defaults
    (Mode STANDARD, DisableRollback false) and OnStackFailure ROLLBACK are
    what this deploy gets when it sends none: proven."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn, DeploymentConfig={"Mode": "STANDARD", "DisableRollback": False}, OnStackFailure="ROLLBACK")
    _template(cfn, _text(_root("plan", "v9")), ChangeSetName=ROOT_CS)
    _objects(stubs["s3"])
    _nested(cfn, _text(DB))
    _unchanged_network(cfn, _text(NET))
    assert _prove(aws).ok


def test_a_botocore_whose_model_lacks_a_member_proves_nothing(monkeypatch):
    """No API call: botocore's parser drops a member its model lacks, so a
    DeploymentConfig it cannot parse would read as "not set". The pinned
    botocore has every member the proof reads; were one missing, the proof
    refuses before any call."""
    aws, stubs = stubbed_aws()
    assert verify.missing_members(aws.cfn) == []
    monkeypatch.setattr(verify, "READ_MEMBERS", verify.READ_MEMBERS + ("DeploymentConfigV2",))
    verdict = _prove(aws)
    assert verdict.difference.startswith(
        "the installed botocore's DescribeChangeSet model lacks DeploymentConfigV2, which its parser would drop"
    )
    assert verdict.calls == 0


def test_a_nested_change_set_made_without_include_nested_stacks_is_refused():
    """Stubber: the root says IncludeNestedStacks, its nested change set does
    not: what that nested stack's own children would run is not computed
    (aws/aws-cli#6949: executing updates them anyway), so it is refused."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn)
    _template(cfn, _text(_root("plan", "v9")), ChangeSetName=ROOT_CS)
    _objects(stubs["s3"])
    _nested(cfn, _text(DB), include_nested=False)
    verdict = _prove(aws)
    assert verdict.difference == (
        "its nested change set for DatabaseStack was made without IncludeNestedStacks, so "
        "what its nested stacks would run cannot be read (executing still updates them)"
    )


UNPINNED = "https://attacker-public.s3.amazonaws.com/db.yaml"
OUR_BUCKET_NO_VERSION = "https://b.s3.ap-northeast-2.amazonaws.com/plan/wealist-prod/database.abc.yaml"
EXTRA_QUERY = OUR_BUCKET_NO_VERSION + "?versionId=v9&x=1"


@pytest.mark.parametrize("url", [UNPINNED, OUR_BUCKET_NO_VERSION, EXTRA_QUERY])
def test_a_nested_url_whose_bytes_can_still_change_is_refused(url):
    """Stubber: the child URL is not the deployed root's URL for it (the
    deployed root, GetTemplate by StackName, names deploy/ v1) and not a
    version of the artifact bucket: a foreign bucket, the artifact bucket
    without ``versionId``, or with another query too. Whoever may write there
    could change the bytes after the proof; refused, even though the nested
    change set's template is this checkout's."""
    root = _root("plan", "v9")
    root["Resources"]["DatabaseStack"]["Properties"]["TemplateURL"] = url
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn)
    _template(cfn, _text(root), ChangeSetName=ROOT_CS)
    _template(cfn, _text(_root("deploy", "v1")), StackName=ROOT)
    verdict = _prove(aws)
    assert verdict.difference == (
        "nested stack DatabaseStack's TemplateURL is neither the deployed one nor an "
        "object version (?versionId=) in the artifact bucket b: what it points at could "
        "change after this proof"
    )
    cfn.assert_no_pending_responses()


def test_a_pinned_nested_url_to_other_bytes_is_refused():
    """Stubber: the URL names a version of the artifact bucket whose bytes
    (GetObject with VersionId) are not this checkout's database.yaml."""
    forged = _text(DB).replace("db.t3.micro", "db.t3.large")
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn)
    _template(cfn, _text(_root("plan", "v9")), ChangeSetName=ROOT_CS)
    _object(stubs["s3"], "database", forged)
    verdict = _prove(aws)
    assert verdict.difference == (
        "nested stack DatabaseStack's TemplateURL names an object version whose bytes "
        "are not the database.yaml this checkout packages"
    )


def test_a_nested_url_pinned_to_the_null_version_is_refused():
    """Stubber: the URL names ``versionId=null`` in the artifact bucket, and
    GetObject of that version would return this checkout's bytes. The null
    version is the one written while versioning was off or suspended, and a
    later PUT while suspended replaces it ("Adding objects to
    versioning-suspended buckets", S3 User Guide: the PUT "overwrites" the
    object with version ID null): it pins no bytes. Refused unless it is the
    deployed parent's URL (GetTemplate by StackName names deploy/ v1 here);
    before, the bytes were read and accepted."""
    root = _root("plan", "v9")
    url = root["Resources"]["DatabaseStack"]["Properties"]["TemplateURL"].replace("versionId=v9", "versionId=null")
    root["Resources"]["DatabaseStack"]["Properties"]["TemplateURL"] = url
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn)
    _template(cfn, _text(root), ChangeSetName=ROOT_CS)
    _template(cfn, _text(_root("deploy", "v1")), StackName=ROOT)
    _object(stubs["s3"], "database", _text(DB), version="null")
    verdict = _prove(aws)
    assert verdict.difference == (
        "nested stack DatabaseStack's TemplateURL names the null version (versionId=null) "
        "of the artifact bucket b, which a later upload replaces: what it points at could "
        "change after this proof"
    )
    cfn.assert_no_pending_responses()


MERGED_DB = (
    "Parameters:\n  IsMultiAZ:\n    Type: String\nResources:\n  Database:\n    Type: AWS::RDS::DBInstance\n"
    "    Properties:\n      <<: {MultiAZ: !Ref IsMultiAZ, DBInstanceClass: db.t3.micro}\n"
)


def test_a_yaml_merge_key_in_a_leaf_is_refused():
    """Stubber: PyYAML expands ``<<`` into the very properties of DB;
    CloudFormation does not expand merge keys (cfn-lint W1100, PR
    aws-cloudformation/cfn-lint#4028). A leaf child is uploaded as the
    committed bytes, so its template must come back byte for byte; here its
    URL is granted (same bytes) to show the template itself is checked."""
    assert tpl.load(MERGED_DB) == DB  # what the old comparison saw
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn)
    _template(cfn, _text(_root("plan", "v9")), ChangeSetName=ROOT_CS)
    _objects(stubs["s3"])
    _nested(cfn, MERGED_DB)
    verdict = _prove(aws)
    assert verdict.difference == (
        "nested template DatabaseStack holds a merge key << (line 8), which "
        "CloudFormation does not read as this comparison would"
    )


def test_a_duplicate_key_in_the_root_is_refused():
    """Stubber: a root that repeats ``Parameters`` reads, in PyYAML, as the
    last one (equal to ours); CloudFormation does not read it so. The root is
    parsed strictly: refused, naming the key."""
    text = _text(_root("plan", "v9"))
    doubled = (
        text + "Parameters:\n  EnableMultiAZ: {Type: String, Default: 'false'}\n"
        "  AvailabilityZones: {Type: CommaDelimitedList}\n"
    )
    assert tpl.load(doubled) == tpl.load(text)
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn)
    _template(cfn, doubled, ChangeSetName=ROOT_CS)
    verdict = _prove(aws)
    assert verdict.difference.startswith("root template holds the duplicate key Parameters (line ")


@pytest.mark.parametrize(
    "text,what",
    [
        ("a: &x {b: 1}\nc: 2\n", "an anchor &x"),
        ("a: 1\nb: *x\n", "an alias *x"),
        ("a: !!binary aGk=\n", "the tag tag:yaml.org,2002:binary"),
        ("a: !Foo x\n", "the tag !Foo"),
        ("a: {<<: {b: 1}}\n", "a merge key <<"),
        ("a: 1\na: 2\n", "the duplicate key a"),
    ],
)
def test_the_strict_loader_refuses_what_cloudformation_reads_otherwise(text, what):
    """No stand-in: each YAML feature PyYAML reads one way and CloudFormation
    another (or refuses: "YAML aliases are not allowed in CloudFormation
    templates") is refused by name."""
    with pytest.raises(verify.StrictYamlError, match=what.replace("*", r"\*").replace("<<", "<<")):
        verify.strict_load(text)


def test_the_strict_loader_reads_the_short_forms():
    """No stand-in: CloudFormation's short forms become their long forms, as
    the packaged templates are read."""
    assert verify.strict_load("a: !Ref X\nb: !GetAtt R.Arn\nc: !If [C, 1, 2]\n") == {
        "a": {"Ref": "X"},
        "b": {"Fn::GetAtt": ["R", "Arn"]},
        "c": {"Fn::If": ["C", 1, 2]},
    }


def test_spaces_in_a_value_that_is_not_a_list_are_a_difference():
    """Stubber: ``fal se`` is not ``false``: only List and CommaDelimitedList
    parameters are read item by item (split on commas, items stripped)."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn, params=[dict(PARAMS[0], ParameterValue="fal se"), PARAMS[1]])
    verdict = _prove(aws)
    assert verdict.difference == "parameter EnableMultiAZ differs from the parameter file"


@pytest.mark.parametrize("given", [{"ParameterValue": ""}, {}])
def test_an_empty_parameter_value_reads_alike_given_or_omitted(given):
    """Stubber: an empty value as ``""`` or with no ParameterValue at all
    (which one AWS sends is sandbox check 7) equals an empty value in the
    parameter file."""
    expected = verify.Expected(**dict(EXPECTED.__dict__, parameters=dict(EXPECTED.parameters, CertificateArn="")))
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn, params=PARAMS + [{"ParameterKey": "CertificateArn", **given}])
    _template(cfn, _text(_root("plan", "v9")), ChangeSetName=ROOT_CS)
    _objects(stubs["s3"])
    _nested(cfn, _text(DB))
    _unchanged_network(cfn, _text(NET))
    assert _prove(aws, expected=expected).ok


def test_an_api_error_is_exit_1_not_a_difference():
    """Stubber: GetTemplate answers AccessDenied. That says nothing about the
    change set's content: the proof raises exit 1 naming the call and the
    error, so no caller can count it as "not proven" and fall back."""
    from wealist_cfn.errors import EXIT_FAILED, CommandError

    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn)
    cfn.add_client_error("get_template", "AccessDenied", "not authorized to perform: cloudformation:GetTemplate", 403)
    with pytest.raises(CommandError) as raised:
        _prove(aws)
    assert raised.value.exit_code == EXIT_FAILED
    assert str(raised.value).startswith(
        f"proving the change set: get_template (ChangeSetName={ROOT_CS}, "
        f"TemplateStage=Original) failed: AccessDenied: not authorized"
    )


def test_ssm_parameter_values_resolved_at_creation_are_reported():
    """Stubber: a nested change set's parameter of an SSM parameter type
    carries ``ResolvedValue`` (API_Parameter): the value CloudFormation
    resolved when the change set was made. The verdict names it, so the
    review can say an older change set deploys that (older) AMI."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn)
    _template(cfn, _text(_root("plan", "v9")), ChangeSetName=ROOT_CS)
    _objects(stubs["s3"])
    _nested(
        cfn,
        _text(DB),
        parameters=[
            {"ParameterKey": "ImageId", "ParameterValue": "/aws/service/ami", "ResolvedValue": "ami-0123456789abcdef0"}
        ],
    )
    _unchanged_network(cfn, _text(NET))
    verdict = _prove(aws)
    assert verdict.ok and verdict.resolved == {"DatabaseStack/ImageId": "ami-0123456789abcdef0"}


# -- the command line (scripted CloudFormation, moto's S3 and STS) ------------------------------


class TrustCfn(Cfn):
    """The scripted account, plus what the proof reads: change sets with
    their own templates, parameters and capabilities (``waiting``: name ->
    (root template text, parameters, capabilities)), ListChangeSets and the
    stack's RoleARN."""

    def __init__(
        self,
        waiting: dict[str, tuple[str, list[dict], list[str]]] | None = None,
        role: str | None = ROLE,
        last_change_set: str | None = None,
        summaries: dict[str, dict] | None = None,
        template_error: tuple[str, str, int] | None = None,
        **kw,
    ):
        super().__init__(**kw)
        self.summaries = dict(summaries or {})  # name -> ListChangeSets summary fields that differ
        self.template_error = template_error  # GetTemplate answers this error
        self.waiting = dict(waiting or {})
        self.role = role
        self.last = last_change_set  # the change set the stack last executed (Stack.ChangeSetId)
        self.created: list[dict] = []
        self.head: dict[str, dict] = {}  # name -> more DescribeChangeSet fields of a waiting change set

    def describe_stacks(self, params):
        out = super().describe_stacks(params)
        if self.role:
            out["Stacks"][0]["RoleARN"] = self.role
        if self.last:
            out["Stacks"][0]["ChangeSetId"] = change_set_arn(self.last)
        return out

    def create_change_set(self, params):
        self.created.append(params)
        return super().create_change_set(params)

    def _name(self, given: str) -> str:
        return given.split("/")[1] if given.startswith("arn:") else given

    def describe_change_set(self, params):
        name = self._name(params["ChangeSetName"])
        page = super().describe_change_set(params)
        if name in self.waiting:
            _, parameters, caps = self.waiting[name]
            page.update(
                Parameters=parameters,
                Capabilities=caps,
                Description=HINT,
                Tags=TAGS,
                IncludeNestedStacks=True,
                **self.head.get(name, {}),
            )
        elif name == "root":  # this run's own
            page.update(Parameters=self.created[-1]["Parameters"], Capabilities=self.created[-1]["Capabilities"])
        else:
            raise ScriptedError("ChangeSetNotFound", f"ChangeSet [{name}] does not exist", 404)
        return page

    def list_change_sets(self, params):
        return {
            "Summaries": [
                {
                    "StackId": self.root_id,
                    "StackName": self.name,
                    "ChangeSetId": change_set_arn(n),
                    "ChangeSetName": n,
                    "ExecutionStatus": "AVAILABLE",
                    "Status": "CREATE_COMPLETE",
                    "Description": HINT,
                    "IncludeNestedStacks": True,
                    "CreationTime": f"2026-12-01T00:00:{i:02d}Z",
                    **self.summaries.get(n, {}),
                }
                for i, n in enumerate(self.waiting)
            ]
        }

    def get_template(self, params):
        name = self._name(params.get("ChangeSetName", ""))
        if self.template_error:
            raise ScriptedError(*self.template_error)
        if name not in self.waiting:
            raise ScriptedError("ValidationError", f"no template for {params}")
        return {"TemplateBody": self.waiting[name][0], "StagesAvailable": ["Original", "Processed"]}

    def handlers(self):
        h = super().handlers()
        h[("cloudformation", "ListChangeSets")] = self.list_change_sets
        h[("cloudformation", "GetTemplate")] = self.get_template
        return h


def _templates(tmp_path, value: str = "x"):
    d = tmp_path / f"templates-{value}"
    d.mkdir()
    (d / "root.yaml").write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\n"
        "Resources:\n"
        "  Marker:\n"
        "    Type: AWS::SSM::Parameter\n"
        f"    Properties: {{Type: String, Value: {value}}}\n"
    )
    return d


def _file_params() -> list[dict]:
    from wealist_cfn import config

    return config.load(PARAMS_DIR / "prod.json").cfn_parameters()


def _cli(monkeypatch, endpoint, cfn: TrustCfn, templates, *extra, command="deploy"):
    script = Scripted(("cloudformation",), cfn.handlers())
    args = [
        command,
        "--skip-preflight",
        "--stack-name",
        cfn.name,
        "--params",
        PARAMS_DIR / "prod.json",
        "--endpoint-url",
        endpoint,
        "--templates",
        templates,
        "--role-arn",
        ROLE,
        *extra,
    ]
    if command == "deploy":
        args += ["--no-wait-healthy", "--yes"]
    with scripted_aws(monkeypatch, script):
        code, out, err = run_cli(*args)
    return code, out, err, script


def _executed(script) -> list[str]:
    return [p["ChangeSetName"] for p in script.ops("cloudformation", "ExecuteChangeSet")]


@pytest.mark.moto
def test_reviewed_executes_the_proven_change_set_and_never_the_forged_one(monkeypatch, moto_endpoint, tmp_path):
    """Scripted CloudFormation, moto's S3/STS: the issue's reproduction. Two
    change sets wait, both with main's Description; the newer is forged
    (another root). ``--change-set reviewed`` executes the genuine one and
    makes none of its own."""
    ours = _templates(tmp_path)
    genuine = (ours / "root.yaml").read_text()
    forged = genuine.replace("Value: x", "Value: forged")
    cfn = TrustCfn(
        waiting={"plan-genuine": (genuine, _file_params(), CAPS), "plan-forged": (forged, _file_params(), CAPS)}
    )
    code, out, err, script = _cli(monkeypatch, moto_endpoint, cfn, ours, "--change-set", "reviewed")
    assert code == 0, err + out
    assert _executed(script) == [change_set_arn("plan-genuine")]
    assert not script.ops("cloudformation", "CreateChangeSet")
    assert "change set plan-genuine, found waiting on the stack, is proven to hold what this checkout builds" in out


@pytest.mark.moto
@pytest.mark.parametrize("waiting", ["none", "forged"])
def test_reviewed_without_a_proven_change_set_is_refused_with_the_reason(waiting, monkeypatch, moto_endpoint, tmp_path):
    """Scripted CloudFormation, moto's S3/STS: with nothing waiting, or only
    change sets that carry main's Description and other content (another
    template; another parameter), ``--change-set reviewed`` ends with exit 3
    and the reason, executes nothing and makes no change set."""
    ours = _templates(tmp_path)
    text = (ours / "root.yaml").read_text()
    other_param = [
        dict(p, ParameterValue="true") if p["ParameterKey"] == "EnableMultiAZ" else p for p in _file_params()
    ]
    cfn = TrustCfn(
        waiting={}
        if waiting == "none"
        else {
            "plan-template": (text.replace("Value: x", "Value: y"), _file_params(), CAPS),
            "plan-parameter": (text, other_param, CAPS),
        }
    )
    code, out, err, script = _cli(monkeypatch, moto_endpoint, cfn, ours, "--change-set", "reviewed")
    assert code == 3, err + out
    assert not script.ops("cloudformation", "ExecuteChangeSet")
    assert not script.ops("cloudformation", "CreateChangeSet")
    assert "error: refused: no change set on wealist-prod is proven to hold what this checkout builds" in err
    if waiting == "none":
        assert "none is waiting on wealist-prod" in err
    else:
        assert "2 change set(s) waiting, none proven" in err
        assert (
            "change set plan-template: root template differs from what this checkout builds "
            "(Resources.Marker.Properties.Value)" in err
        )
        assert "change set plan-parameter: parameter EnableMultiAZ differs from the parameter file" in err


@pytest.mark.moto
def test_reviewed_or_new_makes_its_own_and_the_review_says_so(monkeypatch, moto_endpoint, tmp_path):
    """Scripted CloudFormation, moto's S3/STS: ``--change-set reviewed-or-new``
    with only a forged change set waiting makes its own (with the service
    role), executes that one, and its review says it is not the one a pull
    request showed."""
    ours = _templates(tmp_path)
    forged = (ours / "root.yaml").read_text().replace("Value: x", "Value: forged")
    cfn = TrustCfn(waiting={"plan-forged": (forged, _file_params(), CAPS)})
    code, out, err, script = _cli(
        monkeypatch, moto_endpoint, cfn, ours, "--change-set", "reviewed-or-new", "--output", "json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["review"]["description"].startswith("NOT the change set a pull request's plan showed")
    assert "change set plan-forged: root template differs" in err
    assert [c["RoleARN"] for c in script.ops("cloudformation", "CreateChangeSet")] == [ROLE]
    assert _executed(script) == [change_set_arn("root")]


@pytest.mark.moto
def test_an_api_error_while_proving_never_falls_back(monkeypatch, moto_endpoint, tmp_path):
    """Scripted CloudFormation, moto's S3/STS: GetTemplate answers
    AccessDenied while a change set waits. ``reviewed-or-new`` ends with exit
    1 naming the call and the error; it makes no change set of its own and
    executes nothing (before, the error counted as "not proven" and the
    deploy fell back to its own change set)."""
    ours = _templates(tmp_path)
    cfn = TrustCfn(
        waiting={"plan-1": ((ours / "root.yaml").read_text(), _file_params(), CAPS)},
        template_error=("AccessDenied", "not authorized to perform: cloudformation:GetTemplate", 403),
    )
    code, out, err, script = _cli(monkeypatch, moto_endpoint, cfn, ours, "--change-set", "reviewed-or-new")
    assert code == 1, err + out
    assert "error: proving the change set: get_template (ChangeSetName=" in err
    assert "failed: AccessDenied: not authorized to perform: cloudformation:GetTemplate" in err
    assert not script.ops("cloudformation", "CreateChangeSet")
    assert not script.ops("cloudformation", "ExecuteChangeSet")


@pytest.mark.moto
def test_change_sets_that_cannot_run_take_no_place_and_a_full_window_is_said(monkeypatch, moto_endpoint, tmp_path):
    """Scripted CloudFormation, moto's S3/STS: ListChangeSets summaries
    (ChangeSetSummary: Status, ExecutionStatus, IncludeNestedStacks) leave
    out, without a proof, a FAILED change set and one made without
    IncludeNestedStacks. Of 21 forged ones that remain, the newest 20 are
    proven and refused, and the output says one older was not examined, so
    flooding cannot silently push the real one out."""
    ours = _templates(tmp_path)
    forged = (ours / "root.yaml").read_text().replace("Value: x", "Value: forged")
    waiting = {f"flood-{i:02d}": (forged, _file_params(), CAPS) for i in range(21)}
    waiting.update({"plan-failed": (forged, _file_params(), CAPS), "plan-flat": (forged, _file_params(), CAPS)})
    cfn = TrustCfn(
        waiting=waiting,
        summaries={
            "plan-failed": {"Status": "FAILED", "ExecutionStatus": "UNAVAILABLE"},
            "plan-flat": {"IncludeNestedStacks": False},
        },
    )
    code, out, err, script = _cli(monkeypatch, moto_endpoint, cfn, ours, "--change-set", "reviewed")
    assert code == 3, err + out
    read = {p["ChangeSetName"] for p in script.ops("cloudformation", "GetTemplate")}
    assert len(read) == 20 and change_set_arn("flood-00") not in read
    assert not {change_set_arn("plan-failed"), change_set_arn("plan-flat")} & read
    assert "21 change sets wait on wealist-prod: only the newest 20 are examined, 1 older one(s) are not" in out
    assert "20 change set(s) waiting, none proven (1 older not examined)" in err


@pytest.mark.moto
@pytest.mark.parametrize("status", [None, "REVIEW_IN_PROGRESS"])
def test_reviewed_before_a_first_create_points_to_the_modes_that_make_it(status, monkeypatch, moto_endpoint, tmp_path):
    """Scripted CloudFormation, moto's S3/STS: ``reviewed`` on a stack that
    does not exist or is REVIEW_IN_PROGRESS refuses (exit 3) and says what
    works for a first create (``reviewed-or-new``, or no ``--change-set``);
    it neither claims to make a change set itself nor asks to plan again,
    which could never help there."""
    cfn = TrustCfn(status=status, role=None)
    code, out, err, script = _cli(monkeypatch, moto_endpoint, cfn, _templates(tmp_path), "--change-set", "reviewed")
    assert code == 3, err + out
    assert "a first create is never adopted" in err.splitlines()[0]
    assert (
        "a first create is made by the deploy itself, with the service role: deploy with --change-set "
        "reviewed-or-new, or without --change-set"
    ) in err
    assert "plan again" not in err and "this deploy makes it itself" not in err
    assert not script.ops("cloudformation", "CreateChangeSet")


@pytest.mark.moto
@pytest.mark.parametrize("mode", ["reviewed-or-new", "plan-name"])
def test_a_stack_in_review_is_never_adopted(mode, monkeypatch, moto_endpoint, tmp_path):
    """Scripted CloudFormation, moto's S3/STS: on a stack in
    REVIEW_IN_PROGRESS (a plan's first create waits), nothing proves the role
    the waiting CREATE would run with. ``reviewed-or-new`` reads no waiting
    change set and makes a fresh CREATE that carries the service role; a
    change set named on the command line is refused (exit 3)."""
    ours = _templates(tmp_path)
    cfn = TrustCfn(
        status="REVIEW_IN_PROGRESS",
        role=None,
        waiting={"plan-create": ((ours / "root.yaml").read_text(), _file_params(), CAPS)},
    )
    if mode == "plan-name":
        code, out, err, script = _cli(monkeypatch, moto_endpoint, cfn, ours, "--change-set", "plan-create")
        assert code == 3, err
        assert "refused: change set plan-create is a first create" in err
        assert not script.ops("cloudformation", "ExecuteChangeSet")
        return
    code, out, err, script = _cli(monkeypatch, moto_endpoint, cfn, ours, "--change-set", mode)
    assert code == 0, err + out
    assert not script.ops("cloudformation", "GetTemplate")
    created = script.ops("cloudformation", "CreateChangeSet")
    assert [(c["ChangeSetType"], c.get("RoleARN")) for c in created] == [("CREATE", ROLE)]
    assert _executed(script) == [change_set_arn("root")]


@pytest.mark.moto
@pytest.mark.parametrize("last", [None, "deploy-20261206-1", "plan-old"])
def test_a_named_change_set_that_is_gone_says_why(last, monkeypatch, moto_endpoint, tmp_path):
    """Scripted CloudFormation: DescribeChangeSet answers ChangeSetNotFound,
    which AWS gives for a change set deleted by another one's execute, one
    deleted by DeleteChangeSet, and a wrong name, stack or region alike. The
    message lists those causes, never asserts one, and names the change set
    the stack last executed (DescribeStacks ``ChangeSetId``) when there is
    one; when that is the named one, it says it was executed. Exit 1,
    nothing executed."""
    cfn = TrustCfn(waiting={}, last_change_set=last)
    code, out, err, script = _cli(monkeypatch, moto_endpoint, cfn, _templates(tmp_path), "--change-set", "plan-old")
    assert code == 1, err
    first = err.splitlines()[0]
    assert not script.ops("cloudformation", "ExecuteChangeSet")
    if last == "plan-old":
        assert first == (
            "error: change set plan-old on wealist-prod: it was executed: it is the change set "
            "wealist-prod last executed (DescribeStacks ChangeSetId)"
        )
        return
    assert first.startswith(
        "error: change set plan-old on wealist-prod: not found (ChangeSetNotFound): a change "
        "set on this stack was executed since (that deletes every other, ExecuteChangeSet "
        "reference), it was deleted (DeleteChangeSet), or the name, stack or region is wrong; "
        "looked on wealist-prod in ap-northeast-2"
    )
    if last:
        assert first.endswith(f"; the stack last executed change set {last} ({change_set_arn(last)})")
    else:
        assert "last executed" not in first


@pytest.mark.moto
def test_an_adopted_change_set_says_which_ssm_values_it_was_computed_with(monkeypatch, moto_endpoint, tmp_path):
    """Scripted CloudFormation, moto's S3/STS: the waiting change set's
    parameter carries ``ResolvedValue`` (API_Parameter: an SSM parameter type
    resolved when the change set was made). Once adopted, its review says the
    value it will deploy, even if the SSM parameter has changed since."""
    ours = _templates(tmp_path)
    params = _file_params()
    params[0] = dict(params[0], ResolvedValue="ami-0123456789abcdef0")
    cfn = TrustCfn(waiting={"plan-1": ((ours / "root.yaml").read_text(), params, CAPS)})
    code, out, err, script = _cli(monkeypatch, moto_endpoint, cfn, ours, "--change-set", "plan-1", "--output", "json")
    assert code == 0, err
    notes = json.loads(out)["review"]["notes"]
    assert (
        f"{params[0]['ParameterKey']} was resolved to ami-0123456789abcdef0 when the change set was made; "
        f"executing it deploys that value even if the SSM parameter has changed since"
    ) in notes


@pytest.mark.moto
def test_a_named_forged_change_set_is_refused(monkeypatch, moto_endpoint, tmp_path):
    """Scripted CloudFormation, moto's S3/STS: ``--change-set NAME`` of a
    change set with another root template: exit 3, one line naming what
    differs, nothing executed, no stack policy touched."""
    ours = _templates(tmp_path)
    forged = (ours / "root.yaml").read_text().replace("Value: x", "Value: forged")
    cfn = TrustCfn(waiting={"plan-forged": (forged, _file_params(), CAPS)})
    code, out, err, script = _cli(monkeypatch, moto_endpoint, cfn, ours, "--change-set", "plan-forged")
    assert code == 3, err
    assert err.splitlines()[0] == (
        "error: refused: change set plan-forged: root template differs from what this "
        "checkout builds (Resources.Marker.Properties.Value)"
    )
    assert not script.ops("cloudformation", "ExecuteChangeSet")
    assert not script.ops("cloudformation", "SetStackPolicy")


@pytest.mark.moto
@pytest.mark.parametrize(
    "status,role,passed", [(None, None, ROLE), ("UPDATE_COMPLETE", ROLE, None), ("UPDATE_COMPLETE", None, ROLE)]
)
def test_plan_passes_the_service_role_where_the_stack_lacks_it(
    status, role, passed, monkeypatch, moto_endpoint, tmp_path
):
    """Scripted CloudFormation, moto's S3/STS: a plan's first create carries
    the service role (so it would never run with its executor's
    credentials); an update of a stack that already has it passes none,
    needing no iam:PassRole (CloudFormation uses the stack's role)."""
    cfn = TrustCfn(status=status, role=role)
    code, out, err, script = _cli(monkeypatch, moto_endpoint, cfn, _templates(tmp_path), "--discard", command="plan")
    assert code == 0, err + out
    assert [c.get("RoleARN") for c in script.ops("cloudformation", "CreateChangeSet")] == [passed]


@pytest.mark.moto
def test_plan_that_may_not_pass_the_role_reviews_without_it_and_says_so(monkeypatch, moto_endpoint, tmp_path):
    """Scripted CloudFormation: CreateChangeSet with the RoleARN is refused
    as IAM words it for a caller without iam:PassRole; the plan is made
    again without it and the review says so."""
    cfn = TrustCfn(status=None, role=None)
    original = cfn.create_change_set

    def create(params):
        if params.get("RoleARN"):
            raise ScriptedError(
                "AccessDenied",
                f"User: arn:aws:sts::123456789012:assumed-role/plan/x is not "
                f"authorized to perform: iam:PassRole on resource: {ROLE}",
                403,
            )
        return original(params)

    cfn.create_change_set = create
    code, out, err, script = _cli(
        monkeypatch, moto_endpoint, cfn, _templates(tmp_path), "--discard", "--output", "json", command="plan"
    )
    assert code == 0, err
    assert [c.get("RoleARN") for c in script.ops("cloudformation", "CreateChangeSet")] == [ROLE, None]
    assert json.loads(out)["review"]["description"].startswith(f"computed without the service role {ROLE}")


def test_yaml_and_json_bodies_read_alike():
    """No stand-in: the two forms GetTemplate's TemplateBody takes (a YAML
    string; a JSON document botocore decoded) compare equal when they hold
    the same template."""
    assert verify.first_difference(yaml.safe_load(_text(DB)), json.loads(json.dumps(DB))) is None
    assert verify.first_difference({"a": [1, 2]}, {"a": [1, 3]}) == "a[1]"


@pytest.mark.moto
def test_a_plans_change_set_of_the_real_templates_is_proven_in_twenty_nine_calls(moto_endpoint, real_templates):
    """moto's S3 for packaging (plan/ and deploy/ areas, as the plan job and
    the deploy of the merge do it), Stubber for CloudFormation: a pull request
    edits database.yaml; its plan packages that child under plan/ and reuses
    the deployed others. The merge's deploy packages under deploy/. The
    plan's change set (root as the plan sent it; DatabaseStack's nested
    change set; the eight unchanged stacks as deployed) is proven against the
    deploy's packages, in 1 + 1 + 9 x 2 CloudFormation calls and one S3
    GetObject per pinned child URL."""
    import boto3

    from wealist_cfn.aws import Aws
    from wealist_cfn.deploy import package as package_mod

    aws = Aws("ap-northeast-2", endpoint_url=moto_endpoint)
    aws.account = "123456789012"
    package_mod.ensure_bucket(aws, "artifacts", create=True)
    before = tpl.read(real_templates)
    package_mod.package(aws, before, "artifacts", prefix="deploy/wealist-prod")  # what is deployed
    db = real_templates / "database.yaml"
    db.write_text(db.read_text() + "# edited in the pull request\n")
    after = tpl.read(real_templates)
    plan = package_mod.package(aws, after, "artifacts", prefix="plan/wealist-prod", reuse_prefix="deploy/wealist-prod")
    ours = package_mod.package(aws, after, "artifacts", prefix="deploy/wealist-prod")
    assert plan.root_body != ours.root_body  # the URLs differ: plan/ against deploy/

    cfn_client = boto3.client("cloudformation", region_name="ap-northeast-2")
    aws._clients["cloudformation"] = cfn_client
    cfn = Stubber(cfn_client)
    cfn.activate()
    _head(cfn, params=PARAMS, rows=[change("Modify", "DatabaseStack", NESTED, nested="plan-1-DatabaseStack")])
    _template(cfn, plan.root_body, ChangeSetName=ROOT_CS)
    for lid in tpl.nested_stacks(ours.templates["root.yaml"]):
        text = after.texts[ours.child_files[lid]]
        if lid == "DatabaseStack":
            _nested(cfn, text)
            continue
        child = stack_arn(f"wealist-prod-{lid}")
        cfn.add_response(
            "describe_stack_resource",
            {
                "StackResourceDetail": {
                    "LogicalResourceId": lid,
                    "PhysicalResourceId": child,
                    "ResourceType": NESTED,
                    "LastUpdatedTimestamp": "2026-11-01T00:00:00Z",
                    "ResourceStatus": "UPDATE_COMPLETE",
                }
            },
            {"StackName": ROOT, "LogicalResourceId": lid},
        )
        _template(cfn, text, StackName=child)
    texts = {name: after.texts[name] for name in ours.templates if name != "root.yaml"}
    assert not any(tpl.nested_stacks(ours.templates[name]) for name in texts)  # leaves: uploaded as committed
    expected = verify.Expected(
        root_name="root.yaml",
        templates=ours.templates,
        child_files=ours.child_files,
        parameters={p["ParameterKey"]: p["ParameterValue"] for p in PARAMS},
        capabilities=frozenset(CAPS),
        role_arn=ROLE,
        texts=texts,
        bucket="artifacts",
        list_parameters=frozenset({"AvailabilityZones"}),
    )
    verdict = verify.prove(aws, ROOT_CS, expected, stack_id=ROOT, stack_role=ROLE)
    assert verdict.ok, verdict.line()
    # + one GetObject (moto) per child: each pinned URL's version holds this checkout's bytes.
    assert (len(verdict.read), verdict.calls) == (10, 29)
    cfn.assert_no_pending_responses()


# -- rollback triggers: what every plan of an update carries (triggers.py) ---------------------

ALARM = "arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:"
WITH_TRIGGERS = verify.Expected(
    **dict(
        EXPECTED.__dict__,
        rollback_alarms=triggers.alarm_names("wealist-prod"),
        monitoring_minutes=triggers.monitoring_minutes(),
    )
)


def _config(*names: str, minutes: int | None = None, arn: str = ALARM) -> dict:
    return {
        "RollbackConfiguration": {
            "RollbackTriggers": [{"Arn": arn + n, "Type": "AWS::CloudWatch::Alarm"} for n in names],
            "MonitoringTimeInMinutes": triggers.monitoring_minutes() if minutes is None else minutes,
        }
    }


def _genuine_rest(cfn: Stubber, s3: Stubber) -> None:
    _template(cfn, _text(_root("plan", "v9")), ChangeSetName=ROOT_CS)
    _objects(s3)
    _nested(cfn, _text(DB))
    _unchanged_network(cfn, _text(NET))


def test_a_plan_with_this_stacks_rollback_triggers_is_proven_and_one_left_out_is_said():
    """Stubber: the plan of an update carries RollbackConfiguration (the
    stack's critical alarms, the monitoring time triggers.py computes), one
    alarm left out because it was in ALARM when the plan was made. Proven;
    the notes name the alarm left out. Before: refused, so every CI update
    by name exited 3 once the alarms existed."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    names = sorted(triggers.alarm_names("wealist-prod"))
    _head(cfn, **_config(*names[1:]))
    _genuine_rest(cfn, stubs["s3"])
    verdict = _prove(aws, expected=WITH_TRIGGERS)
    assert verdict.ok, verdict.line()
    assert any(names[0] in n and "left out" in n for n in verdict.notes), verdict.notes
    cfn.assert_no_pending_responses()


def test_a_plan_with_no_triggers_is_proven_and_the_review_says_so():
    """Stubber: an empty RollbackTriggers (every alarm in ALARM at plan
    time) is proven, never silently: a note says executing removes them."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    _head(cfn, RollbackConfiguration={"RollbackTriggers": []})
    _genuine_rest(cfn, stubs["s3"])
    verdict = _prove(aws, expected=WITH_TRIGGERS)
    assert verdict.ok, verdict.line()
    assert any("removes any the stack has" in n for n in verdict.notes), verdict.notes


FOREIGN = {
    # An alarm of this account whose name this project does not derive.
    "other alarm": (_config("wealist-prod-alarm-target-5xx", "someones-alarm"), "someones-alarm"),
    # The project's alarm name, in another account or region.
    "other account": (
        _config("wealist-prod-alarm-target-5xx", arn="arn:aws:cloudwatch:ap-northeast-2:999999999999:alarm:"),
        "999999999999",
    ),
    "other region": (
        _config("wealist-prod-alarm-target-5xx", arn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:"),
        "us-east-1",
    ),
    "composite": (
        {
            "RollbackConfiguration": {
                "RollbackTriggers": [
                    {"Arn": ALARM + "wealist-prod-alarm-target-5xx", "Type": "AWS::CloudWatch::CompositeAlarm"}
                ],
                "MonitoringTimeInMinutes": triggers.monitoring_minutes(),
            }
        },
        "CompositeAlarm",
    ),
    "monitoring time": (_config("wealist-prod-alarm-target-5xx", minutes=180), "watched 180 min"),
    "a wait without triggers": (
        {"RollbackConfiguration": {"RollbackTriggers": [], "MonitoringTimeInMinutes": 30}},
        "30 min",
    ),
}


@pytest.mark.parametrize("case", list(FOREIGN))
def test_a_foreign_trigger_or_another_monitoring_time_is_refused(case):
    """Stubber: a trigger on an alarm this project does not derive (or in
    another account or region, or of another type) or another monitoring
    time is refused before any template is read."""
    aws, stubs = stubbed_aws()
    cfn = stubs["cloudformation"]
    extra, words = FOREIGN[case]
    _head(cfn, **extra)
    verdict = _prove(aws, expected=WITH_TRIGGERS)
    assert verdict.difference and words in verdict.difference, verdict.line()
    cfn.assert_no_pending_responses()


@pytest.mark.moto
@pytest.mark.parametrize(
    "alarm, minutes, proven",
    [
        ("wealist-prod-alarm-target-5xx", None, True),
        ("someone-elses-alarm", None, False),
        ("wealist-prod-alarm-target-5xx", 3, False),
    ],
)
def test_ci_executes_a_plan_that_carries_the_rollback_triggers_by_name(
    alarm, minutes, proven, monkeypatch, moto_endpoint, tmp_path
):
    """Scripted CloudFormation, moto's S3/STS: what deploy.yml runs for an
    update, ``deploy --change-set NAME``, on the plan's change set, which
    carries RollbackConfiguration (every update plan does once the alarms
    exist). The stack's own alarm with the computed monitoring time: executed.
    A foreign alarm, or another monitoring time: exit 3, nothing executed.
    Before: every such plan exited 3."""
    from helpers.scripted import ACCOUNT, REGION

    ours = _templates(tmp_path)
    cfn = TrustCfn(waiting={"plan-1": ((ours / "root.yaml").read_text(), _file_params(), CAPS)})
    cfn.head["plan-1"] = {
        "RollbackConfiguration": {
            "RollbackTriggers": [
                {"Arn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm}", "Type": "AWS::CloudWatch::Alarm"}
            ],
            "MonitoringTimeInMinutes": triggers.monitoring_minutes() if minutes is None else minutes,
        }
    }
    code, out, err, script = _cli(monkeypatch, moto_endpoint, cfn, ours, "--change-set", "plan-1")
    if proven:
        assert code == 0, err + out
        assert _executed(script) == [change_set_arn("plan-1")]
        assert "rollback trigger left out of this change set: wealist-prod-alarm-backend-in-service" in out
    else:
        assert code == 3, err + out
        assert not _executed(script)
        assert "rollback trigger" in err


def _no_execute(monkeypatch, endpoint, cfn: TrustCfn, templates, *extra):
    script = Scripted(("cloudformation",), cfn.handlers())
    with scripted_aws(monkeypatch, script):
        code, out, err = run_cli(
            "deploy",
            "--skip-preflight",
            "--stack-name",
            cfn.name,
            "--params",
            PARAMS_DIR / "prod.json",
            "--endpoint-url",
            endpoint,
            "--templates",
            templates,
            "--role-arn",
            ROLE,
            "--no-execute",
            *extra,
        )
    return code, out, err, script


@pytest.mark.moto
@pytest.mark.parametrize("pin", ["uuid", "arn"])
def test_a_pinned_change_set_id_executes_the_approved_change_set(pin, monkeypatch, moto_endpoint, tmp_path):
    """Scripted CloudFormation, moto's S3/STS: ``--change-set NAME
    --change-set-id ID`` with the ID (the ARN, or the UUID that ends it) the
    change set under NAME has: proven and executed, by its ARN."""
    ours = _templates(tmp_path)
    cfn = TrustCfn(waiting={"plan-1": ((ours / "root.yaml").read_text(), _file_params(), CAPS)})
    arn = change_set_arn("plan-1")
    code, out, err, script = _cli(
        monkeypatch,
        moto_endpoint,
        cfn,
        ours,
        "--change-set",
        "plan-1",
        "--change-set-id",
        arn if pin == "arn" else arn.rsplit("/", 1)[-1],
    )
    assert code == 0, err + out
    assert _executed(script) == [arn]


@pytest.mark.moto
@pytest.mark.parametrize("execute", [True, False])
def test_a_change_set_made_again_under_the_approved_name_is_refused(execute, monkeypatch, moto_endpoint, tmp_path):
    """Scripted CloudFormation, moto's S3/STS: the approved change set was
    deleted and another made under its name (a name is unique only among the
    stack's existing change sets: CreateChangeSet's ChangeSetName, "must be
    unique among all change sets that are associated with the specified
    stack"; its ID is new). It holds the same templates and parameters, so
    the proof alone would accept it; the pinned ID refuses it: exit 3,
    nothing executed, no stack policy touched, no change set made, with
    ``--yes`` and with ``--no-execute`` (the workflow's check before
    bootstrap) alike."""
    ours = _templates(tmp_path)
    cfn = TrustCfn(waiting={"plan-1": ((ours / "root.yaml").read_text(), _file_params(), CAPS)})
    approved = change_set_arn("plan-1")
    cfn.head["plan-1"] = {"ChangeSetId": approved.rsplit("/", 1)[0] + "/0f0f0f0f-made-again"}
    pinned = ("--change-set", "plan-1", "--change-set-id", approved.rsplit("/", 1)[-1])
    if execute:
        code, out, err, script = _cli(monkeypatch, moto_endpoint, cfn, ours, *pinned)
    else:
        code, out, err, script = _no_execute(monkeypatch, moto_endpoint, cfn, ours, *pinned)
    assert code == 3, err + out
    assert err.splitlines()[0].startswith(
        f"error: refused: change set plan-1 on wealist-prod is {approved.rsplit('/', 1)[0]}/0f0f0f0f-made-again, "
        f"not the approved {approved.rsplit('/', 1)[-1]}"
    )
    assert not script.ops("cloudformation", "ExecuteChangeSet")
    assert not script.ops("cloudformation", "SetStackPolicy")
    assert not script.ops("cloudformation", "CreateChangeSet")


@pytest.mark.moto
def test_no_execute_proves_a_named_change_set_and_runs_nothing(monkeypatch, moto_endpoint, tmp_path):
    """Scripted CloudFormation, moto's S3/STS: ``deploy --change-set NAME
    --change-set-id ID --no-execute`` (the workflow's check before
    bootstrap): proven, exit 0; nothing executed, made, deleted, and no stack
    policy touched."""
    ours = _templates(tmp_path)
    cfn = TrustCfn(waiting={"plan-1": ((ours / "root.yaml").read_text(), _file_params(), CAPS)})
    code, out, err, script = _no_execute(
        monkeypatch, moto_endpoint, cfn, ours, "--change-set", "plan-1", "--change-set-id", change_set_arn("plan-1")
    )
    assert code == 0, err + out
    assert "proven" in out
    for op in ("ExecuteChangeSet", "CreateChangeSet", "DeleteChangeSet", "SetStackPolicy"):
        assert not script.ops("cloudformation", op), op


@pytest.mark.parametrize(
    "extra",
    [
        ("--change-set", "reviewed", "--change-set-id", "abc"),
        ("--change-set-id", "abc"),
        ("--change-set", "plan-1", "--change-set-id", " "),
    ],
)
def test_a_change_set_id_without_a_named_change_set_is_a_usage_error(extra):
    """No AWS call: ``--change-set-id`` pins the change set ``--change-set
    NAME`` names; with ``reviewed``, with no name, or empty it is exit 2."""
    code, out, err = run_cli(
        "deploy", "--stack-name", "wealist-prod", "--params", PARAMS_DIR / "prod.json", "--yes", *extra
    )
    assert code == 2, err + out
    assert "--change-set-id needs a non-empty ID and --change-set NAME" in err
