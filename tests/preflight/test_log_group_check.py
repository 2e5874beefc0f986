"""The log-groups preflight check: a log group the stack names must not
exist outside it.

Stand-ins:

* moto's server for CloudWatch Logs: the test creates the group the way RDS
  does when it exports to a group that is missing (CreateLogGroup with
  RDS's name, no retention) and the check finds it with DescribeLogGroups.
* botocore's Stubber for CloudFormation's DescribeStacks and
  ListStackResources, shaped like the API reference, for the deployed stack
  (the root and its nested DatabaseStack), which moto cannot hold here
  without deploying the whole set.

What AWS enforces that no stand-in here does: CloudFormation's create of an
AWS::Logs::LogGroup whose name exists fails the resource with the handler's
AlreadyExists, the stack event reading ``Resource handler returned message:
"Resource of type 'AWS::Logs::LogGroup' with identifier
'{"/properties/LogGroupName":"..."}' already exists." (... HandlerErrorCode:
AlreadyExists)``, and the update rolls back (CreateLogGroup answers
ResourceAlreadyExistsException: CloudWatch Logs API reference,
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html;
the event text as reported in aws-solutions/amazon-marketing-cloud-uploader-from-aws#167).
moto's CloudFormation (5.2.5) does refuse such a create, but not in that
shape: CreateStack itself answers the Logs JSON error, which botocore
cannot parse as a CloudFormation response, instead of a CREATE_FAILED
event (``test_motos_cloudformation_does_not_fail_the_way_aws_does``). So
the tests prove the check; the failure itself is only cited, and a Stubber
in its shape shows what a deploy that skipped the check would report
(``test_without_the_check_the_failure_is_named_as_aws_reports_it``).
"""

from __future__ import annotations

import datetime as dt
import json

import botocore.exceptions
import botocore.parsers
import pytest
from botocore.stub import Stubber

from wealist_cfn.deploy import stackstate
from wealist_cfn.preflight import checks
from wealist_cfn.stacks import database

UTC = dt.timezone.utc
ROOT_ID = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/wealist-prod/1"
DB_ID = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/wealist-prod-DatabaseStack-1AB/2"
PG = "/aws/rds/instance/wealist-prod-postgres/postgresql"
UPGRADE = "/aws/rds/instance/wealist-prod-postgres/upgrade"
T0 = dt.datetime(2026, 1, 1, tzinfo=UTC)

pytestmark = pytest.mark.moto


def _updating(ctx):
    ctx.state = stackstate.StackState("wealist-prod", "UPDATE_COMPLETE", ROOT_ID)


def _summary(lid, type_, physical):
    return {
        "LogicalResourceId": lid,
        "PhysicalResourceId": physical,
        "ResourceType": type_,
        "ResourceStatus": "UPDATE_COMPLETE",
        "LastUpdatedTimestamp": T0,
    }


def _stub_stack(stub, database_resources):
    """The root lists its nested stacks; DatabaseStack lists what it manages."""
    stub.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                _summary("NetworkStack", "AWS::CloudFormation::Stack", ROOT_ID.replace("wealist-prod/1", "n/3")),
                _summary("DatabaseStack", "AWS::CloudFormation::Stack", DB_ID),
            ]
        },
        {"StackName": ROOT_ID},
    )
    stub.add_response("list_stack_resources", {"StackResourceSummaries": database_resources}, {"StackName": DB_ID})


def _as_rds_makes_it(ctx, name=PG):
    """RDS creates a missing export group with CreateLogGroup and no
    retention, then writes to it."""
    logs = ctx.aws.client("logs")
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="wealist-prod-postgres")
    logs.put_log_events(
        logGroupName=name,
        logStreamName="wealist-prod-postgres",
        logEvents=[{"timestamp": 1767225600000, "message": "LOG:  database system is ready to accept connections"}],
    )


def test_the_templates_name_the_groups_rds_writes_to(ctx):
    """No endpoint: the check reads the names from the resolved templates,
    and they are the names RDS uses for this instance's exports."""
    names = checks._named_log_groups(ctx)
    assert names[PG] == "DatabaseStack/DatabasePostgresqlLogGroup"
    assert names[UPGRADE] == "DatabaseStack/DatabaseUpgradeLogGroup"
    [db] = ctx.resources("AWS::RDS::DBInstance").values()
    ident = db["Properties"]["DBInstanceIdentifier"]
    assert {f"/aws/rds/instance/{ident}/{e}" for e in db["Properties"]["EnableCloudwatchLogsExports"]} <= set(names)


def test_no_group_yet_passes_without_asking_cloudformation(ctx):
    """moto (Logs); Stubber with no responses (any CloudFormation call would
    fail the test): nothing exists, the deploy creates the groups."""
    _updating(ctx)
    with Stubber(ctx.aws.client("cloudformation")):
        r = checks.check_log_groups(ctx)
    assert r.status == checks.OK and "exists yet" in r.finding


def test_a_group_rds_made_before_the_stack_managed_it_fails_naming_it_and_the_import(ctx):
    """moto (Logs) + Stubber (CloudFormation): the database stack deployed
    before this change manages no log group; RDS made the postgresql group.
    One line names the group; the fix names the import and where it is
    written down; the details say what the group holds and that it never
    expires."""
    _as_rds_makes_it(ctx)
    _updating(ctx)
    with Stubber(ctx.aws.client("cloudformation")) as stub:
        _stub_stack(stub, [_summary("Database", "AWS::RDS::DBInstance", "wealist-prod-postgres")])
        r = checks.check_log_groups(ctx, now=lambda: dt.datetime(2026, 3, 1, tzinfo=UTC))
        stub.assert_no_pending_responses()
    assert r.status == checks.FAIL
    assert r.finding == f"{PG} exists outside wealist-prod: creating it would fail with AlreadyExists"
    assert "\n" not in r.finding and "\n" not in r.fix
    assert r.fix.startswith(f"import {PG} into the DatabaseStack nested stack (an IMPORT change set)")
    assert checks.LOG_GROUPS_DOC in r.fix
    [detail] = r.details
    assert detail.startswith(f"{PG}: for DatabaseStack/DatabasePostgresqlLogGroup, created ")
    assert "never expires" in detail and "bytes stored" in detail


def test_old_events_beyond_the_retention_are_named_not_lost_silently(ctx):
    """moto (Logs) + Stubber: a group older than LogRetentionDays loses its
    older events once the stack sets the retention; the detail says so."""
    _as_rds_makes_it(ctx)
    _updating(ctx)
    created = dt.datetime.fromtimestamp(
        ctx.aws.client("logs").describe_log_groups(logGroupNamePrefix=PG)["logGroups"][0]["creationTime"] / 1000, UTC
    )
    with Stubber(ctx.aws.client("cloudformation")) as stub:
        _stub_stack(stub, [])
        r = checks.check_log_groups(ctx, now=lambda: created + dt.timedelta(days=400))
    assert "(400 days ago)" in r.details[0]
    assert f"events older than LogRetentionDays ({ctx.config.values['LogRetentionDays']}) go" in r.details[0]


def test_groups_the_stack_manages_pass(ctx):
    """moto (Logs) + Stubber: after the import (or on a stack that made them),
    ListStackResources shows both groups as the nested stack's own."""
    _as_rds_makes_it(ctx, PG)
    _as_rds_makes_it(ctx, UPGRADE)
    _updating(ctx)
    with Stubber(ctx.aws.client("cloudformation")) as stub:
        _stub_stack(
            stub,
            [
                _summary("DatabasePostgresqlLogGroup", "AWS::Logs::LogGroup", PG),
                _summary("DatabaseUpgradeLogGroup", "AWS::Logs::LogGroup", UPGRADE),
            ],
        )
        r = checks.check_log_groups(ctx)
    assert r.status == checks.OK and "all managed by wealist-prod" in r.finding


def test_one_managed_one_not_fails_for_the_other(ctx):
    """moto (Logs) + Stubber: each group is judged by itself."""
    _as_rds_makes_it(ctx, PG)
    _as_rds_makes_it(ctx, UPGRADE)
    _updating(ctx)
    with Stubber(ctx.aws.client("cloudformation")) as stub:
        _stub_stack(stub, [_summary("DatabasePostgresqlLogGroup", "AWS::Logs::LogGroup", PG)])
        r = checks.check_log_groups(ctx)
    assert r.status == checks.FAIL and r.finding.startswith(f"{UPGRADE} exists outside")
    assert len(r.details) == 1


def test_a_longer_name_with_the_same_prefix_is_not_a_collision(ctx):
    """moto (Logs): DescribeLogGroups filters by prefix; only the exact name
    collides."""
    _as_rds_makes_it(ctx, PG + "-old")
    _updating(ctx)
    with Stubber(ctx.aws.client("cloudformation")):
        r = checks.check_log_groups(ctx)
    assert r.status == checks.OK


def test_before_a_first_create_the_way_out_is_export_then_delete(ctx):
    """moto (Logs), Stubber without responses: a new stack cannot adopt a
    group, and no CloudFormation call is needed to know it."""
    _as_rds_makes_it(ctx)
    ctx.state = stackstate.StackState("wealist-prod", None)
    with Stubber(ctx.aws.client("cloudformation")):
        r = checks.check_log_groups(ctx)
    assert r.status == checks.FAIL
    assert f"aws logs delete-log-group --log-group-name {PG}" in r.fix and "export" in r.fix


def test_the_check_makes_exactly_its_declared_calls(ctx):
    """moto (Logs) + Stubber: the calls the check makes are the actions
    LOG_GROUP_ACTIONS declares (the preflight roles are tested to hold
    those), DescribeStacks included when the context has no stack state."""
    _as_rds_makes_it(ctx)
    calls = set()
    for service in ("logs", "cloudformation"):
        client = ctx.aws.client(service)
        prefix = client.meta.service_model.signing_name
        # before-parameter-build: the Stubber answers on before-call, which
        # ends that event's chain before a recorder there would run.
        client.meta.events.register(
            "before-parameter-build", lambda model, prefix=prefix, **_: calls.add(f"{prefix}:{model.name}")
        )
    ctx.state = None
    with Stubber(ctx.aws.client("cloudformation")) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "wealist-prod",
                        "StackId": ROOT_ID,
                        "StackStatus": "UPDATE_COMPLETE",
                        "CreationTime": T0,
                    }
                ]
            },
            {"StackName": "wealist-prod"},
        )
        _stub_stack(stub, [])
        r = checks.check_log_groups(ctx)
    assert r.status == checks.FAIL
    assert calls == set(checks.LOG_GROUP_ACTIONS)


def test_the_check_runs_with_the_others(ctx):
    """It is registered, in the runner's order, and declares the calls it
    makes (its client is made on first use, under the Aws client lock)."""
    from wealist_cfn.preflight import capability

    assert ("log-groups", checks.check_log_groups) in checks.CHECKS
    assert set(capability.NEEDS["log-groups"]) == {"logs:DescribeLogGroups", "cloudformation:ListStackResources"}


def test_motos_cloudformation_does_not_fail_the_way_aws_does(ctx):
    """moto's CloudFormation: creating a stack whose log group exists is
    refused, but as an unparseable CreateStack answer rather than AWS's
    CREATE_FAILED event with HandlerErrorCode AlreadyExists (module
    docstring). If moto starts to answer AWS's way, this fails and the
    docstring above must change."""
    _as_rds_makes_it(ctx)
    body = json.dumps(
        {"Resources": {"G": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": PG, "RetentionInDays": 90}}}}
    )
    with pytest.raises((botocore.parsers.ResponseParserError, botocore.exceptions.ClientError)) as err:
        ctx.aws.client("cloudformation").create_stack(StackName="collide", TemplateBody=body)
    assert "already exists" in str(err.value)


def test_log_group_names_come_from_the_export_list():
    """No endpoint: a log type outside the export list has no group name."""
    assert database.log_group_name("postgresql").endswith("-postgres/postgresql")
    with pytest.raises(ValueError, match="iam-db-auth-error"):
        database.log_group_name("iam-db-auth-error")


def test_without_the_check_the_failure_is_named_as_aws_reports_it(ctx):
    """Stubber, ListStackResources shaped like the API reference, with the
    resource status reason in the shape CloudFormation reports a log group
    that exists (module docstring): after a deploy run with
    --skip-preflight, the deploy's own failure listing names the nested log
    group and the AlreadyExists reason."""
    reason = (
        "Resource handler returned message: \"Resource of type 'AWS::Logs::LogGroup' with identifier "
        f'\'{{"/properties/LogGroupName":"{PG}"}}\' already exists." (RequestToken: 1, '
        "HandlerErrorCode: AlreadyExists)"
    )
    failed = dict(
        _summary("DatabasePostgresqlLogGroup", "AWS::Logs::LogGroup", ""),
        ResourceStatus="CREATE_FAILED",
        ResourceStatusReason=reason,
    )
    del failed["PhysicalResourceId"]
    with Stubber(ctx.aws.client("cloudformation")) as stub:
        stub.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    dict(_summary("DatabaseStack", "AWS::CloudFormation::Stack", DB_ID), ResourceStatus="UPDATE_FAILED")
                ]
            },
            {"StackName": ROOT_ID},
        )
        stub.add_response(
            "list_stack_resources",
            {"StackResourceSummaries": [failed, _summary("Database", "AWS::RDS::DBInstance", "wealist-prod-postgres")]},
            {"StackName": DB_ID},
        )
        rows = stackstate.failed_resources(ctx.aws, ROOT_ID)
    assert rows == [("DatabaseStack/DatabasePostgresqlLogGroup", "AWS::Logs::LogGroup", reason)]
