"""The change-set proof, one refusal at a time, each named in the verdict.

Stand-in: in-process fakes of the CloudFormation and S3 clients answering
DescribeChangeSet, GetTemplate, DescribeStackResource and GetObject in the
shapes of the API references (DescribeChangeSet's Capabilities, Parameters,
Tags, NotificationARNs, RollbackConfiguration, DeploymentConfig,
OnStackFailure, IncludeNestedStacks, Changes and NextToken; GetTemplate's
TemplateBody, a JSON body decoded by botocore), with the installed botocore's
own model of DescribeChangeSetOutput, which the proof checks. moto cannot
serve the proof (its DescribeChangeSet has no Capabilities and no nested
change sets, and its GetTemplate ignores ChangeSetName: see
test_trust.py); the fakes answer by arguments rather than in a fixed order,
and keep each case to milliseconds for the mutation run of verify.py.

The rules relied on: a change set made without a RoleARN runs with the
stack's role, "even if the users don't have permission to pass it"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html);
DescribeChangeSet returns a NoEcho value as ``****`` and pages its Changes
with NextToken
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeChangeSet.html);
a rollback trigger is a CloudWatch alarm ARN with a Type
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_RollbackTrigger.html);
DeploymentConfig's defaults are Mode STANDARD and DisableRollback false
(API_DeploymentConfig).
"""

from __future__ import annotations

import boto3
import botocore.exceptions
import pytest

from helpers.fake_pages import paginator_of
from wealist_cfn.aws import Aws
from wealist_cfn.cfn import templates as tpl
from wealist_cfn.deploy import verify
from wealist_cfn.errors import EXIT_FAILED, CommandError

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
ROOT = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod/1"
CHILD = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod-Net/2"
CS = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/plan-1/1"
NESTED_CS = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/plan-1-Net/2"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/wealist-prod-cfn-role"
CAPS = frozenset({"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"})
NESTED = "AWS::CloudFormation::Stack"
_MODEL = boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x").meta

LEAF = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}
FLAT = {
    "Parameters": {"Zones": {"Type": "CommaDelimitedList"}, "Size": {"Type": "String"}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
}


def alarm(name, account=ACCOUNT, region=REGION, partition="aws"):
    return f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}"


def client_error(code, message="m"):
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": message}}, "Op")


class Body:
    def __init__(self, data: bytes):
        self._d = data

    def read(self):
        return self._d


class Fake:
    def __init__(self, answers, calls, meta=None):
        self.answers, self.calls = answers, calls
        if meta is not None:
            self.meta = meta

    def __getattr__(self, op):
        if op.startswith("_") or op == "meta":
            raise AttributeError(op)
        if op == "get_paginator":
            return paginator_of(self)

        def call(**kw):
            self.calls.append((op, kw))
            a = self.answers[op]
            a = a(**kw) if callable(a) else a
            if isinstance(a, BaseException):
                raise a
            return a

        return call


def make_aws(cfn: dict, s3: dict | None = None, endpoint_url=None) -> tuple[Aws, list]:
    aws = Aws(REGION, endpoint_url=endpoint_url)
    aws.account = ACCOUNT
    calls: list = []
    aws._clients["cloudformation"] = Fake(cfn, calls, _MODEL)
    aws._clients["s3"] = Fake(s3 or {}, calls)
    return aws, calls


def head(**extra):
    return {
        "ChangeSetId": CS,
        "ChangeSetName": "plan-1",
        "StackId": ROOT,
        "IncludeNestedStacks": True,
        "Capabilities": sorted(CAPS),
        "Changes": [],
        "Parameters": [
            {"ParameterKey": "Zones", "ParameterValue": "a,b"},
            {"ParameterKey": "Size", "ParameterValue": "small"},
        ],
        **extra,
    }


def flat_expected(**over):
    kw = dict(
        root_name="root.yaml",
        templates={"root.yaml": FLAT},
        child_files={},
        parameters={"Zones": "a,b", "Size": "small"},
        capabilities=CAPS,
        role_arn=ROLE,
        list_parameters=frozenset({"Zones"}),
    )
    kw.update(over)
    return verify.Expected(**kw)


def prove_flat(h=None, expected=None, stack_role=ROLE, body=None, stack_id=ROOT):
    aws, calls = make_aws(
        {
            "describe_change_set": h if h is not None else head(),
            "get_template": {"TemplateBody": body if body is not None else tpl.dump(FLAT)},
        }
    )
    v = verify.prove(aws, CS, expected or flat_expected(), stack_id=stack_id, stack_role=stack_role)
    return v, calls


def test_a_change_set_of_exactly_what_this_checkout_builds_is_proven():
    v, calls = prove_flat()
    assert v.ok and v.line() == "change set plan-1: proven to hold what this checkout builds"
    assert v.read == ["root"] and v.calls == 2 == len(calls)
    assert calls[1] == ("get_template", {"ChangeSetName": CS, "TemplateStage": "Original"})


def test_the_verdict_names_the_change_set_as_given_or_as_it_calls_itself():
    aws, _ = make_aws({"describe_change_set": head(), "get_template": {"TemplateBody": tpl.dump(FLAT)}})
    assert verify.prove(aws, CS, flat_expected(), name="reviewed", stack_id=ROOT, stack_role=ROLE).name == "reviewed"
    assert verify.prove(aws, CS, flat_expected(), stack_id=ROOT, stack_role=ROLE).name == "plan-1"
    aws, _ = make_aws(
        {
            "describe_change_set": {k: v for k, v in head().items() if k != "ChangeSetName"},
            "get_template": {"TemplateBody": tpl.dump(FLAT)},
        }
    )
    assert verify.prove(aws, CS, flat_expected(), stack_id=ROOT, stack_role=ROLE).name == CS


def refused(v) -> str:
    assert not v.ok and v.notes == []
    assert v.line() == f"change set {v.name}: {v.difference}"
    return v.difference


@pytest.mark.parametrize(
    "caps, said",
    [
        (["CAPABILITY_IAM"], "lacks CAPABILITY_AUTO_EXPAND, CAPABILITY_NAMED_IAM"),
        (
            sorted(CAPS | {"CAPABILITY_RESOURCE_POLICY", "CAPABILITY_X"}),
            "adds CAPABILITY_RESOURCE_POLICY, CAPABILITY_X",
        ),
        (sorted(CAPS | {"CAPABILITY_RESOURCE_POLICY"}), "adds CAPABILITY_RESOURCE_POLICY"),
        (
            ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_RESOURCE_POLICY"],
            "lacks CAPABILITY_AUTO_EXPAND; adds CAPABILITY_RESOURCE_POLICY",
        ),
        (None, "lacks CAPABILITY_AUTO_EXPAND, CAPABILITY_IAM, CAPABILITY_NAMED_IAM"),
    ],
)
def test_capabilities_other_than_this_deploys_are_refused_saying_which(caps, said):
    h = head()
    if caps is None:
        del h["Capabilities"]
    else:
        h["Capabilities"] = caps
    assert refused(prove_flat(h)[0]) == f"capabilities differ from what this deploy passes ({said})"


@pytest.mark.parametrize(
    "extra, said",
    [
        (
            {"ImportExistingResources": True},
            "it imports existing resources (ImportExistingResources), which this deploy never does",
        ),
        (
            {"DeploymentMode": "REVERT_DRIFT"},
            "it was made with DeploymentMode REVERT_DRIFT, which this deploy never uses",
        ),
        (
            {"DeploymentConfig": {"Mode": "EXPRESS"}},
            "it was made with DeploymentConfig Mode EXPRESS; this deploy uses "
            "the defaults (Mode STANDARD, DisableRollback false)",
        ),
        (
            {"DeploymentConfig": {"Mode": "STANDARD", "DisableRollback": True}},
            "it was made with DeploymentConfig DisableRollback True; this deploy uses the defaults (Mode STANDARD, "
            "DisableRollback false)",
        ),
        (
            {"DeploymentConfig": {"DisableRollback": True, "Mode": "EXPRESS"}},
            "it was made with DeploymentConfig DisableRollback True, Mode EXPRESS; this deploy uses the defaults (Mode "
            "STANDARD, DisableRollback false)",
        ),
        (
            {"OnStackFailure": "DO_NOTHING"},
            "it was made with OnStackFailure DO_NOTHING; this deploy rolls a failure back (ROLLBACK)",
        ),
        (
            {"OnStackFailure": "DELETE"},
            "it was made with OnStackFailure DELETE; this deploy rolls a failure back (ROLLBACK)",
        ),
        (
            {"NotificationARNs": [f"arn:aws:sns:{REGION}:{ACCOUNT}:t"]},
            "it sets notification topics (NotificationARNs), which this deploy does not",
        ),
    ],
)
def test_each_option_this_deploy_never_sends_is_refused_by_name(extra, said):
    assert refused(prove_flat(head(**extra))[0]) == said


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"DeploymentConfig": {}},
        {"DeploymentConfig": {"Mode": "STANDARD"}},
        {"DeploymentConfig": {"Mode": "STANDARD", "DisableRollback": False}},
        {"OnStackFailure": "ROLLBACK"},
        {"NotificationARNs": []},
        {"ImportExistingResources": False},
    ],
)
def test_the_defaults_this_deploy_gets_are_proven(extra):
    assert prove_flat(head(**extra))[0].ok


def test_tags_are_compared_as_a_set_and_the_keys_that_differ_named():
    tags = frozenset({("Project", "wealist"), ("Environment", "prod")})
    h = head(Tags=[{"Key": "Environment", "Value": "prod"}, {"Key": "Project", "Value": "wealist"}])
    assert prove_flat(h, flat_expected(tags=tags))[0].ok
    h = head(
        Tags=[
            {"Key": "Environment", "Value": "dev"},
            {"Key": "Project", "Value": "wealist"},
            {"Key": "Owner", "Value": "x"},
        ]
    )
    assert (
        refused(prove_flat(h, flat_expected(tags=tags))[0]) == "its tags differ from this deploy's (Environment, Owner)"
    )
    assert (
        refused(prove_flat(head(), flat_expected(tags=tags))[0]) == "its tags differ from this deploy's "
        "(Environment, Project)"
    )
    # not compared when the deploy does not say
    assert prove_flat(h, flat_expected(tags=None))[0].ok


def test_an_import_row_at_the_root_is_refused_by_its_logical_id():
    rows = [
        {
            "Type": "Resource",
            "ResourceChange": {"Action": "Modify", "LogicalResourceId": "Topic", "ResourceType": "AWS::SNS::Topic"},
        },
        {
            "Type": "Resource",
            "ResourceChange": {"Action": "Import", "LogicalResourceId": "Bucket", "ResourceType": "AWS::S3::Bucket"},
        },
    ]
    assert (
        refused(prove_flat(head(Changes=rows))[0]) == "it imports Bucket (Action Import), which this deploy never does"
    )


def test_a_change_set_without_include_nested_stacks_is_refused():
    for value in (False, None):
        h = (
            head(IncludeNestedStacks=value)
            if value is not None
            else {k: v for k, v in head().items() if k != "IncludeNestedStacks"}
        )
        assert refused(prove_flat(h)[0]) == (
            "it was made without IncludeNestedStacks, so what its nested stacks "
            "would run cannot be read (executing still updates them)"
        )


def test_a_change_set_of_another_stack_is_refused_naming_it():
    other = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/other/9"
    assert refused(prove_flat(head(StackId=other))[0]) == f"it belongs to another stack ({other})"


@pytest.mark.parametrize(
    "stack_role, said",
    [
        (None, "the stack has no role associated"),
        (f"arn:aws:iam::{ACCOUNT}:role/other", f"the stack's role is arn:aws:iam::{ACCOUNT}:role/other"),
    ],
)
def test_a_stack_whose_role_is_not_the_service_role_is_refused(stack_role, said):
    assert refused(prove_flat(stack_role=stack_role)[0]) == (
        f"{said}, not the service role {ROLE} this deploy passes; a change set runs with the stack's role when it "
        f"was made without one"
    )


def test_without_a_service_role_to_pass_the_stacks_role_is_not_compared():
    assert prove_flat(stack_role=None, expected=flat_expected(role_arn=None))[0].ok


@pytest.mark.parametrize(
    "params, said",
    [
        ([{"ParameterKey": "Zones", "ParameterValue": "a,b"}], "parameter Size is missing from the change set"),
        (
            [
                {"ParameterKey": "Zones", "ParameterValue": "a,b"},
                {"ParameterKey": "Size", "ParameterValue": "small"},
                {"ParameterKey": "Extra", "ParameterValue": "x"},
            ],
            "parameter Extra is not in the parameter file",
        ),
        (
            [{"ParameterKey": "Zones", "ParameterValue": "a,c"}, {"ParameterKey": "Size", "ParameterValue": "small"}],
            "parameter Zones differs from the parameter file",
        ),
        (
            [{"ParameterKey": "Zones", "ParameterValue": "a,b"}, {"ParameterKey": "Size", "ParameterValue": "small "}],
            "parameter Size differs from the parameter file",
        ),
        (
            [{"ParameterKey": "Zones", "ParameterValue": "a,b"}, {"ParameterKey": "Size"}],
            "parameter Size differs from the parameter file",
        ),
    ],
)
def test_each_parameter_is_compared_and_the_first_difference_named_without_its_value(params, said):
    assert refused(prove_flat(head(Parameters=params))[0]) == said


def test_a_list_parameter_is_compared_item_by_item_and_an_empty_value_reads_alike_given_or_not():
    h = head(Parameters=[{"ParameterKey": "Zones", "ParameterValue": " a , b"}, {"ParameterKey": "Size"}])
    assert prove_flat(h, flat_expected(parameters={"Zones": "a,b", "Size": ""}))[0].ok
    h = head(
        Parameters=[
            {"ParameterKey": "Zones", "ParameterValue": "['a', 'b']"},
            {"ParameterKey": "Size", "ParameterValue": ""},
        ]
    )
    assert prove_flat(h, flat_expected(parameters={"Zones": "a,b", "Size": ""}))[0].ok
    # the same spaces in a parameter that is not a list are a difference
    assert not prove_flat(h, flat_expected(parameters={"Zones": "a,b", "Size": ""}, list_parameters=frozenset()))[0].ok


def test_a_masked_no_echo_parameter_cannot_be_proven_and_a_masked_other_one_is_just_different():
    h = head(
        Parameters=[
            {"ParameterKey": "Zones", "ParameterValue": "a,b"},
            {"ParameterKey": "Size", "ParameterValue": "****"},
        ]
    )
    assert refused(prove_flat(h, flat_expected(no_echo=frozenset({"Size"})))[0]) == (
        "parameter Size is NoEcho and comes back masked (****): its value cannot be proven"
    )
    assert refused(prove_flat(h)[0]) == "parameter Size differs from the parameter file"


def test_the_list_parameters_of_a_template_are_its_list_and_comma_delimited_ones():
    root = {
        "Parameters": {
            "A": {"Type": "CommaDelimitedList"},
            "B": {"Type": "List<AWS::EC2::Subnet::Id>"},
            "C": {"Type": "String"},
            "D": {"Type": "AWS::SSM::Parameter::Value<List<String>>"},
            "E": "not a mapping",
            "F": {},
        }
    }
    assert verify.list_parameters(root) == frozenset({"A", "B"})
    assert verify.list_parameters({}) == frozenset() and verify.list_parameters({"Parameters": None}) == frozenset()


def test_resolved_ssm_values_are_reported_by_where_they_are():
    h = head(
        Parameters=[
            {"ParameterKey": "Zones", "ParameterValue": "a,b"},
            {"ParameterKey": "Size", "ParameterValue": "/wealist/size", "ResolvedValue": "small"},
        ]
    )
    v, _ = prove_flat(h, flat_expected(parameters={"Zones": "a,b", "Size": "/wealist/size"}))
    assert v.ok and v.resolved == {"Size": "small"}


def test_every_page_of_changes_is_read_and_the_first_page_is_the_head():
    pages = {
        None: head(NextToken="t1", Changes=[]),
        "t1": {
            "ChangeSetId": CS,
            "NextToken": "t2",
            "Changes": [
                {
                    "Type": "Resource",
                    "ResourceChange": {
                        "Action": "Import",
                        "LogicalResourceId": "Late",
                        "ResourceType": "AWS::S3::Bucket",
                    },
                }
            ],
        },
        "t2": {"ChangeSetId": CS, "Capabilities": [], "Changes": []},
    }
    aws, calls = make_aws(
        {
            "describe_change_set": lambda ChangeSetName, NextToken=None: pages[NextToken],  # noqa: N803
            "get_template": {"TemplateBody": tpl.dump(FLAT)},
        }
    )
    v = verify.prove(aws, CS, flat_expected(), stack_id=ROOT, stack_role=ROLE)
    assert v.difference == "it imports Late (Action Import), which this deploy never does"
    assert [kw for op, kw in calls if op == "describe_change_set"] == [
        {"ChangeSetName": CS},
        {"ChangeSetName": CS, "NextToken": "t1"},
        {"ChangeSetName": CS, "NextToken": "t2"},
    ]


# -- rollback triggers ------------------------------------------------------------------------------

ALARMS = frozenset({"wealist-prod-5xx", "wealist-prod-unhealthy"})


def trig(*arns, minutes=None, type_="AWS::CloudWatch::Alarm"):
    cfg = {"RollbackTriggers": [{"Arn": a, "Type": type_} for a in arns]}
    if minutes is not None:
        cfg["MonitoringTimeInMinutes"] = minutes
    return head(RollbackConfiguration=cfg)


def with_alarms(**over):
    return flat_expected(rollback_alarms=ALARMS, monitoring_minutes=10, **over)


def test_triggers_on_all_of_this_stacks_alarms_are_proven_and_the_review_says_how_many():
    v, _ = prove_flat(trig(alarm("wealist-prod-5xx"), alarm("wealist-prod-unhealthy"), minutes=10), with_alarms())
    assert v.ok and v.notes == [
        "rollback triggers: 2 of this stack's 2 critical alarms, watched 10 min after the update"
    ]


def test_a_subset_is_proven_and_each_alarm_left_out_is_named():
    v, _ = prove_flat(trig(alarm("wealist-prod-5xx"), minutes=10), with_alarms())
    assert v.ok and v.notes == [
        "rollback triggers: 1 of this stack's 2 critical alarms, watched 10 min after the update",
        "rollback trigger left out of this change set: wealist-prod-unhealthy (it did not exist or was in ALARM "
        "when the change set was made)",
    ]


def test_no_triggers_is_proven_and_said_apart_from_an_empty_list():
    v, _ = prove_flat(head(), with_alarms())
    assert v.ok and v.notes == [
        "rollback triggers: none in this change set (none sent: executing keeps the "
        "stack's previous ones, if any); a plan has none when its alarms did not exist or "
        "were all in ALARM when it was made"
    ]
    v, _ = prove_flat(head(RollbackConfiguration={"RollbackTriggers": []}), with_alarms())
    assert v.ok and v.notes[0].startswith(
        "rollback triggers: none in this change set (an empty list: executing removes any the stack has);"
    )
    # without triggers of its own the deploy says nothing of them
    assert prove_flat(head())[0].notes == []


@pytest.mark.parametrize(
    "arn, type_",
    [
        (alarm("wealist-prod-5xx", account="999999999999"), "AWS::CloudWatch::Alarm"),
        (alarm("wealist-prod-5xx", region="us-east-1"), "AWS::CloudWatch::Alarm"),
        (alarm("wealist-prod-5xx", partition="aws-cn"), "AWS::CloudWatch::Alarm"),
        (alarm("someone-elses-alarm"), "AWS::CloudWatch::Alarm"),
        (alarm("wealist-prod-5xx"), "AWS::CloudWatch::CompositeAlarm"),
        (alarm("wealist-prod-5xx") + ":extra", "AWS::CloudWatch::Alarm"),
        (f"arn:aws:sns:{REGION}:{ACCOUNT}:alarm:wealist-prod-5xx", "AWS::CloudWatch::Alarm"),
        (f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:dashboard:wealist-prod-5xx", "AWS::CloudWatch::Alarm"),
        (f"xarn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:wealist-prod-5xx", "AWS::CloudWatch::Alarm"),
    ],
)
def test_a_trigger_that_is_not_one_of_this_stacks_alarms_is_refused_naming_it(arn, type_):
    d = refused(prove_flat(trig(arn, minutes=10, type_=type_), with_alarms())[0])
    assert d == (
        f"its rollback trigger {arn} ({type_}) is not one of this stack's critical alarms in {ACCOUNT} "
        f"{REGION}; this deploy names only those"
    )


def test_a_trigger_is_refused_naming_the_account_even_when_the_stack_id_is_not_an_arn():
    # the head names the stack by its ARN; without one nothing can match
    h = trig(alarm("wealist-prod-5xx"), minutes=10)
    del h["StackId"]
    v, _ = prove_flat(h, with_alarms(), stack_id="wealist-prod")
    # neither an account nor a region is made up
    assert refused(v) == (
        f"its rollback trigger {alarm('wealist-prod-5xx')} (AWS::CloudWatch::Alarm) is not one of "
        f"this stack's critical alarms in its account ; this deploy names only those"
    )


def test_triggers_where_this_deploy_sends_none_are_refused():
    assert refused(prove_flat(trig(alarm("wealist-prod-5xx"), minutes=10))[0]) == (
        "it sets rollback triggers (RollbackConfiguration), which this deploy does not (--no-rollback-triggers)"
    )


def test_a_trigger_named_twice_is_refused():
    assert (
        refused(prove_flat(trig(alarm("wealist-prod-5xx"), alarm("wealist-prod-5xx"), minutes=10), with_alarms())[0])
        == "it names rollback trigger wealist-prod-5xx twice"
    )


@pytest.mark.parametrize("minutes", [0, 5, None])
def test_triggers_watched_for_another_time_are_refused(minutes):
    assert refused(prove_flat(trig(alarm("wealist-prod-5xx"), minutes=minutes), with_alarms())[0]) == (
        f"its rollback triggers are watched {minutes or 0} min after the update; this deploy computes 10 "
        f"(triggers.monitoring_minutes)"
    )


@pytest.mark.parametrize("expected", [with_alarms(), flat_expected()])
def test_a_monitoring_time_without_triggers_is_refused(expected):
    h = head(RollbackConfiguration={"MonitoringTimeInMinutes": 30})
    assert refused(prove_flat(h, expected)[0]) == (
        "it holds the update 30 min before cleaning up "
        "(MonitoringTimeInMinutes) with no rollback trigger, which this "
        "deploy never does"
    )


# -- templates --------------------------------------------------------------------------------------


def test_the_root_template_is_compared_as_data_and_the_first_difference_named():
    other = {**FLAT, "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}, "Extra": {"Type": "AWS::SQS::Queue"}}}
    assert refused(prove_flat(body=tpl.dump(other))[0]) == (
        "root template differs from what this checkout builds (Resources.Extra (only in the change set))"
    )
    # a JSON body, decoded by botocore, is compared alike
    assert prove_flat(body=dict(FLAT))[0].ok


@pytest.mark.parametrize(
    "body, said",
    [
        (
            "a: &x 1\nb: *x\n",
            "root template holds an anchor &x (line 1), which CloudFormation does not read as this comparison would",
        ),
        ("Resources: {\n", "root template is not readable (ParserError)"),
        ("- a\n", "root template is not readable (ValueError)"),
    ],
)
def test_a_root_that_cannot_be_read_as_cloudformation_does_is_refused(body, said):
    assert refused(prove_flat(body=body)[0]) == said


def test_a_missing_template_body_is_refused():
    aws, _ = make_aws({"describe_change_set": head(), "get_template": {}})
    v = verify.prove(aws, CS, flat_expected(), stack_id=ROOT, stack_role=ROLE)
    assert refused(v) == "GetTemplate returned no template body for the root template"


@pytest.mark.parametrize(
    "theirs, ours, where",
    [
        ({"a": 1}, {"a": 1}, None),
        ({"a": 1}, {"a": True}, "a"),
        ({"a": 1.0}, {"a": 1}, "a"),
        ({"a": {"b": [1, 2]}}, {"a": {"b": [1, 3]}}, "a.b[1]"),
        ({"a": [1]}, {"a": [1, 2]}, "a (1 items in the change set, 2 here)"),
        ([1], [1, 2], "(top) (1 items in the change set, 2 here)"),
        ({"b": 1, "a": 2}, {"b": 2, "a": 3}, "a"),
        ({"a": 1}, {"b": 1}, "a (only in the change set)"),
        ({"b": 1}, {"a": 1, "b": 1}, "a (missing from the change set)"),
        ("x", "y", "(top)"),
        ({"a": {"b": 1}}, {"a": {"b": 1}}, None),
        ({"a": [{"b": 1}]}, {"a": [{"b": 2}]}, "a[0].b"),
        (["x"], "x", "(top)"),  # a list where a string is expected is a difference
        ({"a": "x"}, {"a": ["x"]}, "a"),
        ({1: "a", "b": 1}, {1: "a", "b": 2}, "b"),  # YAML keys need not be strings
    ],
)
def test_first_difference_names_the_first_place_in_key_order(theirs, ours, where):
    assert verify.first_difference(theirs, ours) == where


@pytest.mark.parametrize(
    "text, what",
    [
        ("a: 1\na: 2\n", "the duplicate key a (line 2)"),
        ("base: &b {x: 1}\n", "an anchor &b (line 1)"),
        ("a: !!binary aGk=\n", "the tag tag:yaml.org,2002:binary (line 1)"),
        ("a: !Custom x\n", "the tag !Custom (line 1)"),
        ("a:\n  <<: {x: 1}\n", "a merge key << (line 2)"),
        ("a: 1\nb: *x\n", "an alias *x (line 2)"),
    ],
)
def test_the_strict_loader_refuses_what_cloudformation_reads_otherwise(text, what):
    with pytest.raises(verify.StrictYamlError) as e:
        verify.strict_load(text)
    assert str(e.value) == what


def test_the_strict_loader_reads_short_forms_and_plain_tags_and_wants_a_mapping():
    assert verify.strict_load("a: !Ref X\nb: ! plain\n") == {"a": {"Ref": "X"}, "b": "plain"}
    with pytest.raises(ValueError) as e:
        verify.strict_load("- 1\n")
    assert str(e.value) == "a template must be a mapping"


# -- nested stacks ----------------------------------------------------------------------------------


def url(key, version=None, bucket="artifacts"):
    return f"https://{bucket}.s3.{REGION}.amazonaws.com/{key}" + (f"?versionId={version}" if version else "")


def parent(child_url):
    return {
        "Resources": {
            "Net": {"Type": NESTED, "Properties": {"TemplateURL": child_url}},
            "Other": {"Type": NESTED, "Properties": {"TemplateURL": "https://elsewhere/x.yaml"}},
        }
    }


PINNED = url("deploy/wealist-prod/net.abc.yaml", "v9")


def nested_expected(**over):
    kw = dict(
        root_name="root.yaml",
        templates={"root.yaml": parent(PINNED), "net.yaml": LEAF},
        child_files={"Net": "net.yaml"},
        parameters={},
        capabilities=CAPS,
        role_arn=None,
        texts={"net.yaml": tpl.dump(LEAF)},
        bucket="artifacts",
    )
    kw.update(over)
    return verify.Expected(**kw)


def nested_aws(
    root_url=PINNED,
    rows=None,
    object_bytes=None,
    child_body=None,
    nested_head=None,
    stack_resource=None,
    deployed_root=None,
    get_object=None,
    endpoint_url=None,
):
    """The root change set names Net by ``root_url``; Net is changed through
    a nested change set when ``rows`` say so, else left as deployed."""
    rows = rows if rows is not None else []
    heads = {
        CS: head(Parameters=[], Changes=rows),
        NESTED_CS: nested_head
        if nested_head is not None
        else {"ChangeSetId": NESTED_CS, "StackId": CHILD, "IncludeNestedStacks": True, "Changes": []},
    }
    leaf_text = tpl.dump(LEAF)
    bodies = {
        ("cs", CS): tpl.dump(parent(root_url)),
        ("cs", NESTED_CS): child_body if child_body is not None else leaf_text,
        ("stack", CHILD): child_body if child_body is not None else leaf_text,
        ("stack", ROOT): deployed_root if deployed_root is not None else tpl.dump(parent("https://deployed/net")),
    }

    def get_template(TemplateStage, ChangeSetName=None, StackName=None):  # noqa: N803 - boto3's names
        assert TemplateStage == "Original"
        b = bodies[("cs", ChangeSetName) if ChangeSetName else ("stack", StackName)]
        return b if isinstance(b, BaseException) else {"TemplateBody": b}

    def obj(**kw):
        if get_object is not None:
            return get_object
        return {"Body": Body((object_bytes if object_bytes is not None else leaf_text).encode())}

    return make_aws(
        {
            "describe_change_set": lambda ChangeSetName, NextToken=None: heads[ChangeSetName],  # noqa: N803
            "get_template": get_template,
            "describe_stack_resource": stack_resource
            if stack_resource is not None
            else {"StackResourceDetail": {"PhysicalResourceId": CHILD}},
        },
        {"get_object": obj},
        endpoint_url=endpoint_url,
    )


def nested_row(action="Modify", change_set=NESTED_CS, lid="Net", type_="Resource"):
    rc = {"Action": action, "LogicalResourceId": lid, "ResourceType": NESTED}
    if change_set:
        rc["ChangeSetId"] = change_set
    return {"Type": type_, "ResourceChange": rc}


def prove_nested(expected=None, **kw):
    aws, calls = nested_aws(**kw)
    return verify.prove(aws, CS, expected or nested_expected(), stack_id=ROOT, stack_role=None), calls


def test_a_child_left_as_deployed_is_read_from_its_stack_and_its_pinned_bytes_checked():
    v, calls = prove_nested()
    assert v.ok and v.read == ["root", "Net"]
    assert (
        "get_object",
        {
            "Bucket": "artifacts",
            "Key": "deploy/wealist-prod/net.abc.yaml",
            "VersionId": "v9",
            "ExpectedBucketOwner": ACCOUNT,
        },
    ) in calls
    assert ("describe_stack_resource", {"StackName": ROOT, "LogicalResourceId": "Net"}) in calls
    assert ("get_template", {"StackName": CHILD, "TemplateStage": "Original"}) in calls


def test_a_changed_child_is_read_from_its_nested_change_set_and_checked_the_same_way():
    v, calls = prove_nested(rows=[nested_row()])
    assert v.ok and v.read == ["root", "Net"]
    assert ("get_template", {"ChangeSetName": NESTED_CS, "TemplateStage": "Original"}) in calls
    assert not [c for c in calls if c[0] == "describe_stack_resource"]


def test_a_nested_change_set_made_without_include_nested_stacks_or_importing_is_refused():
    v, _ = prove_nested(
        rows=[nested_row()],
        nested_head={"ChangeSetId": NESTED_CS, "StackId": CHILD, "IncludeNestedStacks": False, "Changes": []},
    )
    assert refused(v) == (
        "its nested change set for Net was made without IncludeNestedStacks, so what its nested "
        "stacks would run cannot be read (executing still updates them)"
    )
    v, _ = prove_nested(
        rows=[nested_row()],
        nested_head={
            "ChangeSetId": NESTED_CS,
            "StackId": CHILD,
            "IncludeNestedStacks": True,
            "Changes": [
                {
                    "Type": "Resource",
                    "ResourceChange": {"Action": "Import", "LogicalResourceId": "Q", "ResourceType": "AWS::SQS::Queue"},
                }
            ],
        },
    )
    assert refused(v) == "it imports Net/Q (Action Import), which this deploy never does"


def test_a_changed_child_without_a_nested_change_set_is_not_proven():
    v, _ = prove_nested(rows=[nested_row(action="Modify", change_set=None)])
    assert refused(v) == (
        "nested stack Net is changed (Modify) but names no nested change set, so the template it "
        "would run cannot be read"
    )


def test_a_row_that_is_not_a_resource_row_or_not_a_nested_stack_is_not_a_child():
    # a hook row or a row of another type does not stand for the child: it is read as left as deployed
    queue_row = {
        "Type": "Resource",
        "ResourceChange": {"Action": "Modify", "LogicalResourceId": "Net", "ResourceType": "AWS::SQS::Queue"},
    }
    v, calls = prove_nested(rows=[nested_row(type_="HookInvocation"), queue_row])
    assert v.ok and ("describe_stack_resource", {"StackName": ROOT, "LogicalResourceId": "Net"}) in calls
    v, calls = prove_nested(
        rows=[
            {
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "Net",
                    "ResourceType": NESTED,
                    "ChangeSetId": NESTED_CS,
                }
            }
        ]
    )
    assert v.ok and ("get_template", {"ChangeSetName": NESTED_CS, "TemplateStage": "Original"}) in calls


def test_a_child_with_no_stack_yet_and_no_nested_change_set_is_not_proven():
    v, _ = prove_nested(stack_resource={"StackResourceDetail": {}})
    assert refused(v) == "nested stack Net has no stack yet and no nested change set"
    v, _ = prove_nested(stack_resource=client_error("ValidationError", "Resource Net does not exist"))
    assert refused(v) == (
        f"describe_stack_resource (StackName={ROOT}, LogicalResourceId=Net): ValidationError: "
        f"Resource Net does not exist"
    )


def test_a_leaf_child_must_come_back_byte_for_byte():
    v, _ = prove_nested(child_body=tpl.dump(LEAF) + "# a comment\n")
    assert refused(v) == (
        "nested template Net is not byte for byte the net.yaml this checkout uploads (equal as "
        "data: formatting or comments differ)"
    )
    v, _ = prove_nested(child_body=tpl.dump({"Resources": {"Queue": {"Type": "AWS::SNS::Topic"}}}))
    assert refused(v) == "nested template Net differs from what this checkout builds (Resources.Queue.Type)"


@pytest.mark.parametrize(
    "child_url",
    [
        url("deploy/wealist-prod/net.abc.yaml"),  # no version
        url("deploy/wealist-prod/net.abc.yaml", "v9", bucket="someone-else"),
        url("deploy/wealist-prod/net.abc.yaml", "v9") + "&x=1",
        url("deploy/wealist-prod/net.abc.yaml") + "?versionId=a&versionId=b",
    ],
)
def test_a_child_url_whose_bytes_can_still_change_is_refused(child_url):
    v, calls = prove_nested(
        root_url=child_url, expected=nested_expected(templates={"root.yaml": parent(child_url), "net.yaml": LEAF})
    )
    assert refused(v) == (
        "nested stack Net's TemplateURL is neither the deployed one nor an object version "
        "(?versionId=) in the artifact bucket artifacts: what it points at could change after this "
        "proof"
    )
    assert not [c for c in calls if c[0] == "get_object"]


def test_the_null_version_is_refused_as_a_version_a_later_upload_replaces():
    child_url = url("deploy/wealist-prod/net.abc.yaml", "null")
    v, calls = prove_nested(root_url=child_url)
    assert refused(v) == (
        "nested stack Net's TemplateURL names the null version (versionId=null) of the artifact "
        "bucket artifacts, which a later upload replaces: what it points at could change after this "
        "proof"
    )
    assert not [c for c in calls if c[0] == "get_object"]


def test_without_an_artifact_bucket_only_the_deployed_url_is_accepted():
    v, _ = prove_nested(expected=nested_expected(bucket=""))
    assert refused(v).endswith("in the artifact bucket (none): what it points at could change after this proof")
    deployed = "https://deployed/net"
    v, _ = prove_nested(root_url=deployed, expected=nested_expected(bucket=""))
    assert v.ok


def test_the_url_the_deployed_parent_names_is_accepted_as_text_and_read_once():
    deployed = "https://deployed/net"
    v, calls = prove_nested(root_url=deployed)
    assert v.ok
    assert [kw for op, kw in calls if op == "get_template" and kw.get("StackName") == ROOT] == [
        {"StackName": ROOT, "TemplateStage": "Original"}
    ]
    # a deployed root that cannot be read accepts nothing by text
    for broken in ("Resources: {\n", client_error("ValidationError", "Stack does not exist")):
        v, _ = prove_nested(root_url=deployed, deployed_root=broken)
        assert not v.ok and "neither the deployed one" in v.difference


def test_a_deployed_root_given_as_json_is_read_as_it_is():
    v, _ = prove_nested(root_url="https://deployed/net", deployed_root=parent("https://deployed/net"))
    assert v.ok


def test_a_pinned_version_holding_other_bytes_or_gone_is_refused():
    v, _ = prove_nested(object_bytes="Resources: {}\n")
    assert refused(v) == (
        "nested stack Net's TemplateURL names an object version whose bytes are not the net.yaml this checkout packages"
    )
    v, _ = prove_nested(expected=nested_expected(texts={}))
    assert refused(v).startswith("nested stack Net's TemplateURL names an object version whose bytes are not")
    for code in ("NoSuchKey", "NoSuchVersion", "404"):
        v, _ = prove_nested(get_object=client_error(code, "gone"))
        assert refused(v) == (
            f"get_object (Bucket=artifacts, Key=deploy/wealist-prod/net.abc.yaml, VersionId=v9): {code}: gone"
        )


def test_a_local_endpoint_names_the_bucket_in_the_path():
    endpoint = "http://127.0.0.1:5000"
    local = "http://localhost:5000/artifacts/deploy/wealist-prod/net.abc.yaml?versionId=v9"
    v, calls = prove_nested(
        root_url=local,
        endpoint_url=endpoint,
        expected=nested_expected(templates={"root.yaml": parent(local), "net.yaml": LEAF}),
    )
    assert v.ok
    assert [kw["Key"] for op, kw in calls if op == "get_object"] == ["deploy/wealist-prod/net.abc.yaml"]


def test_an_api_error_is_exit_1_naming_the_call_never_a_refusal():
    for error, said in (
        (client_error("Throttling", "Rate exceeded"), "Throttling: Rate exceeded"),
        (
            botocore.exceptions.EndpointConnectionError(endpoint_url="https://x"),
            'Could not connect to the endpoint URL: "https://x"',
        ),
    ):
        aws, _ = make_aws({"describe_change_set": error})
        with pytest.raises(CommandError) as e:
            verify.prove(aws, CS, flat_expected(), stack_id=ROOT, stack_role=ROLE)
        assert e.value.exit_code == EXIT_FAILED
        assert str(e.value) == (
            f"proving the change set: describe_change_set (ChangeSetName={CS}) failed: {said}; nothing was executed"
        )


def test_an_object_read_error_leaves_the_owner_out_of_the_message():
    with pytest.raises(CommandError) as e:
        prove_nested(get_object=client_error("AccessDenied", "no"))
    assert "ExpectedBucketOwner" not in str(e.value) and "Bucket=artifacts" in str(e.value)


def test_a_botocore_without_a_member_the_proof_reads_proves_nothing(monkeypatch):
    class Shape:
        members = {m: None for m in verify.READ_MEMBERS if m not in ("DeploymentMode", "OnStackFailure")}

    class Model:
        @staticmethod
        def operation_model(name):
            assert name == "DescribeChangeSet"
            return type("Op", (), {"output_shape": Shape})

    aws, calls = make_aws({})
    aws._clients["cloudformation"].meta = type("Meta", (), {"service_model": Model})
    v = verify.prove(aws, CS, flat_expected(), stack_id=ROOT, stack_role=ROLE)
    assert refused(v) == (
        "the installed botocore's DescribeChangeSet model lacks DeploymentMode, OnStackFailure, "
        "which its parser would drop: they cannot be read, so nothing is proven (upgrade botocore)"
    )
    assert (v.name, v.change_set_id) == (CS, CS)
    assert (
        calls == []
        and verify.missing_members(
            boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
        )
        == []
    )


def test_the_normalised_template_sets_aside_only_the_packaged_childrens_urls():
    t = parent(PINNED)
    t["Resources"]["Bad"] = "not a mapping"
    t["Resources"]["NoProps"] = {"Type": NESTED}
    out = verify._normalised(t, {"Net", "Bad", "NoProps", "Other"})
    assert out["Resources"]["Net"]["Properties"]["TemplateURL"] == "<TemplateURL: checked on its own>"
    assert out["Resources"]["Other"]["Properties"]["TemplateURL"] == "<TemplateURL: checked on its own>"
    assert (
        verify._normalised(t, {"Net"})["Resources"]["Other"]["Properties"]["TemplateURL"] == "https://elsewhere/x.yaml"
    )
    assert out["Resources"]["Bad"] == "not a mapping" and out["Resources"]["NoProps"] == {"Type": NESTED}
    assert t["Resources"]["Net"]["Properties"]["TemplateURL"] == PINNED  # the input is not changed
    queue = {"Resources": {"Net": {"Type": "AWS::SQS::Queue", "Properties": {"TemplateURL": "u"}}}}
    assert verify._normalised(queue, {"Net"}) == queue
    assert verify._normalised(["x"], {"Net"}) == ["x"]


def test_a_refused_change_set_carries_no_review_notes():
    h = trig(alarm("wealist-prod-5xx"), minutes=10)
    h["Parameters"] = [
        {"ParameterKey": "Zones", "ParameterValue": "a,b"},
        {"ParameterKey": "Size", "ParameterValue": "large"},
    ]
    v, _ = prove_flat(h, with_alarms())
    assert v.difference == "parameter Size differs from the parameter file" and v.notes == []


def test_a_root_is_never_held_to_its_bytes_even_when_they_are_known():
    body = tpl.dump(FLAT) + "# reformatted\n"
    assert prove_flat(body=body, expected=flat_expected(texts={"root.yaml": tpl.dump(FLAT)}))[0].ok


def test_a_leaf_child_returned_as_json_is_not_its_bytes():
    v, _ = prove_nested(child_body=dict(LEAF))
    assert refused(v) == (
        "nested template Net is not byte for byte the net.yaml this checkout uploads (equal as "
        "data: formatting or comments differ)"
    )


def test_a_childs_resolved_ssm_value_is_reported_under_its_path():
    v, _ = prove_nested(
        rows=[nested_row()],
        nested_head={
            "ChangeSetId": NESTED_CS,
            "StackId": CHILD,
            "IncludeNestedStacks": True,
            "Changes": [],
            "Parameters": [
                {"ParameterKey": "Ami", "ParameterValue": "/aws/ami", "ResolvedValue": "ami-1"},
                {"ParameterKey": "Plain", "ParameterValue": "x"},
            ],
        },
    )
    assert v.ok and v.resolved == {"Net/Ami": "ami-1"}


def test_without_a_known_account_the_object_is_read_without_an_expected_owner():
    aws, calls = nested_aws()
    aws.account = None
    assert verify.prove(aws, CS, nested_expected(), stack_id=ROOT, stack_role=None).ok
    [(_, kw)] = [c for c in calls if c[0] == "get_object"]
    assert "ExpectedBucketOwner" not in kw


def test_a_nested_stack_this_checkout_does_not_package_is_compared_by_its_url_as_written():
    changed = parent(PINNED)
    changed["Resources"]["Other"]["Properties"]["TemplateURL"] = "https://elsewhere/y.yaml"
    aws, _ = nested_aws()
    aws._clients["cloudformation"].answers["get_template"] = lambda TemplateStage, ChangeSetName=None, StackName=None: (  # noqa: N803 - boto3's names
        {"TemplateBody": tpl.dump(changed if ChangeSetName == CS else LEAF)}
    )
    v = verify.prove(aws, CS, nested_expected(), stack_id=ROOT, stack_role=None)
    assert refused(v) == (
        "root template differs from what this checkout builds (Resources.Other.Properties.TemplateURL)"
    )


@pytest.mark.parametrize("head_id, stack_id", [(None, ROOT), (ROOT, "")])
def test_the_stacks_arn_is_taken_from_the_change_set_or_else_from_the_stack(head_id, stack_id):
    h = trig(alarm("wealist-prod-5xx"), alarm("wealist-prod-unhealthy"), minutes=10)
    if head_id is None:
        del h["StackId"]
    v, _ = prove_flat(h, with_alarms(), stack_id=stack_id)
    assert v.ok


def test_the_nested_stack_resource_is_compared_whole_but_for_its_url():
    for change in (
        lambda r: r.__setitem__("DeletionPolicy", "Retain"),
        lambda r: r["Properties"].__setitem__("Parameters", {"Size": "large"}),
    ):
        theirs = parent(PINNED)
        change(theirs["Resources"]["Net"])
        aws, _ = nested_aws()
        aws._clients["cloudformation"].answers["get_template"] = (
            lambda TemplateStage, ChangeSetName=None, StackName=None, t=theirs: (  # noqa: N803 - boto3's names
                {"TemplateBody": tpl.dump(t if ChangeSetName == CS else LEAF)}
            )
        )
        v = verify.prove(aws, CS, nested_expected(), stack_id=ROOT, stack_role=None)
        assert refused(v).startswith("root template differs from what this checkout builds (Resources.Net.")


@pytest.mark.parametrize(
    "child_url, said",
    [
        ({"Fn::Sub": "https://artifacts.s3.${AWS::Region}.amazonaws.com/net.yaml"}, "neither the deployed one"),
        (url("deploy/wealist-prod/net.abc.yaml", "null", bucket="someone-else"), "neither the deployed one"),
    ],
)
def test_a_child_url_that_is_not_a_pinned_string_of_the_artifact_bucket_is_refused(child_url, said):
    v, _ = prove_nested(
        root_url=child_url, expected=nested_expected(templates={"root.yaml": parent(child_url), "net.yaml": LEAF})
    )
    assert said in refused(v)


@pytest.mark.parametrize("key", ["Xdeploy/net.yaml", "artifacts/net.yaml"])
def test_a_pinned_key_is_read_as_written(key):
    child_url = url(key, "v9")
    v, calls = prove_nested(
        root_url=child_url, expected=nested_expected(templates={"root.yaml": parent(child_url), "net.yaml": LEAF})
    )
    assert v.ok and [kw["Key"] for op, kw in calls if op == "get_object"] == [key]


def test_a_changed_child_row_without_an_action_still_says_it_is_changed():
    r = nested_row(change_set=None)
    del r["ResourceChange"]["Action"]
    v, _ = prove_nested(rows=[r])
    assert refused(v) == (
        "nested stack Net is changed (?) but names no nested change set, so the template it would run cannot be read"
    )


def test_a_stack_resource_answer_without_detail_is_no_stack_yet():
    v, _ = prove_nested(stack_resource={})
    assert refused(v) == "nested stack Net has no stack yet and no nested change set"


# -- three levels: root -> Net (which nests Sub) -> Sub -----------------------------------------------

GRAND = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/wealist-prod-Net-Sub/3"
SUB_URL = url("deploy/wealist-prod/sub.abc.yaml", "v7")


def middle():
    return {
        "Resources": {
            "Sub": {"Type": NESTED, "Properties": {"TemplateURL": SUB_URL}},
            "Topic": {"Type": "AWS::SNS::Topic"},
        }
    }


def three_levels(net_changed: bool, net_body=None, sub_body=None):
    expected = verify.Expected(
        root_name="root.yaml",
        templates={"root.yaml": parent(PINNED), "net.yaml": middle(), "sub.yaml": LEAF},
        child_files={"Net": "net.yaml", "Net/Sub": "sub.yaml"},
        parameters={},
        capabilities=CAPS,
        role_arn=None,
        texts={"net.yaml": tpl.dump(middle()), "sub.yaml": tpl.dump(LEAF)},
        bucket="artifacts",
    )
    rows = [nested_row()] if net_changed else []
    heads = {
        CS: head(Parameters=[], Changes=rows),
        NESTED_CS: {"ChangeSetId": NESTED_CS, "StackId": CHILD, "IncludeNestedStacks": True, "Changes": []},
    }
    net_text = net_body if net_body is not None else tpl.dump(middle())
    bodies = {
        ("cs", CS): tpl.dump(parent(PINNED)),
        ("cs", NESTED_CS): net_text,
        ("stack", CHILD): net_text,
        ("stack", GRAND): sub_body if sub_body is not None else tpl.dump(LEAF),
    }
    details = {(ROOT, "Net"): CHILD, (CHILD, "Sub"): GRAND}

    def get_object(Key, **kw):  # noqa: N803 - boto3's names
        return {"Body": Body((tpl.dump(middle()) if "net" in Key else tpl.dump(LEAF)).encode())}

    aws, calls = make_aws(
        {
            "describe_change_set": lambda ChangeSetName, NextToken=None: heads[ChangeSetName],  # noqa: N803
            "get_template": lambda TemplateStage, ChangeSetName=None, StackName=None: {  # noqa: N803
                "TemplateBody": bodies[("cs", ChangeSetName) if ChangeSetName else ("stack", StackName)]
            },
            "describe_stack_resource": lambda StackName, LogicalResourceId: {  # noqa: N803
                "StackResourceDetail": {"PhysicalResourceId": details[(StackName, LogicalResourceId)]}
            },
        },
        {"get_object": get_object},
    )
    return verify.prove(aws, CS, expected, stack_id=ROOT, stack_role=None), calls


@pytest.mark.parametrize("net_changed", [True, False])
def test_a_grandchild_left_as_deployed_is_read_from_the_stack_its_parent_names(net_changed):
    v, calls = three_levels(net_changed)
    assert v.ok and v.read == ["root", "Net", "Net/Sub"]
    assert ("describe_stack_resource", {"StackName": CHILD, "LogicalResourceId": "Sub"}) in calls
    assert ("get_template", {"StackName": GRAND, "TemplateStage": "Original"}) in calls


@pytest.mark.parametrize("net_changed", [True, False])
def test_a_difference_below_the_root_is_named_by_its_nested_path(net_changed):
    other = middle()
    other["Resources"]["Topic"]["Type"] = "AWS::SQS::Queue"
    v, _ = three_levels(net_changed, net_body=tpl.dump(other))
    assert refused(v) == "nested template Net differs from what this checkout builds (Resources.Topic.Type)"
    v, _ = three_levels(net_changed, sub_body=tpl.dump({"Resources": {"Queue": {"Type": "AWS::SNS::Topic"}}}))
    assert refused(v) == "nested template Net/Sub differs from what this checkout builds (Resources.Queue.Type)"
