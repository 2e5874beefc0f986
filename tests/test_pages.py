"""Paged reads go through botocore's paginators and read every page, within
a bound.

Stand-in: botocore's Stubber, two pages each, shaped like the API
references (CloudFormation DescribeChangeSet, DescribeStackEvents and
DescribeEvents answer ``NextToken`` while more remains and take it back as
the ``NextToken`` parameter; Price List GetProducts the same). What AWS
does and the stub does not: it decides the page size itself. Each test
queues the second page with ``NextToken`` as its expected parameter, so a
reader that stops after one page leaves it pending and fails.
"""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import Stubber

from wealist_cfn.aws import pages
from wealist_cfn.deploy import changeset, failures, flow
from wealist_cfn.errors import CommandError

STACK = "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/wealist-prod/1"
CS = "arn:aws:cloudformation:ap-northeast-2:123456789012:changeSet/deploy-1/1"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _cfn():
    return boto3.client(
        "cloudformation", region_name="ap-northeast-2", aws_access_key_id="x", aws_secret_access_key="x"
    )


def _change(lid: str) -> dict:
    return {
        "Type": "Resource",
        "ResourceChange": {"Action": "Modify", "LogicalResourceId": lid, "ResourceType": "AWS::S3::Bucket"},
    }


def _event(n: int, lid: str, status: str, rtype: str = "AWS::S3::Bucket", physical: str = "") -> dict:
    return {
        "StackId": STACK,
        "EventId": f"e{n}",
        "StackName": "wealist-prod",
        "LogicalResourceId": lid,
        "PhysicalResourceId": physical,
        "ResourceType": rtype,
        "Timestamp": T0,
        "ResourceStatus": status,
    }


def test_a_change_set_is_read_to_its_last_page():
    cfn = _cfn()
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_change_set",
            {"ChangeSetId": CS, "Status": "CREATE_COMPLETE", "Changes": [_change("A")], "NextToken": "t2"},
            {"ChangeSetName": CS, "IncludePropertyValues": True},
        )
        stub.add_response(
            "describe_change_set",
            {"ChangeSetId": CS, "Changes": [_change("B")]},
            {"ChangeSetName": CS, "IncludePropertyValues": True, "NextToken": "t2"},
        )
        first, changes = changeset._pages(SimpleNamespace(cfn=cfn), CS)
        stub.assert_no_pending_responses()
    assert first["Status"] == "CREATE_COMPLETE"
    assert [c["ResourceChange"]["LogicalResourceId"] for c in changes] == ["A", "B"]


def test_the_failure_reader_reads_both_pages_of_changes_and_of_failed_events():
    cfn = _cfn()
    with Stubber(cfn) as stub:
        stub.add_response("describe_change_set", {"Changes": [_change("A")], "NextToken": "t2"}, {"ChangeSetName": CS})
        stub.add_response("describe_change_set", {"Changes": [_change("B")]}, {"ChangeSetName": CS, "NextToken": "t2"})
        aws = SimpleNamespace(cfn=cfn)
        assert len(failures._describe(aws, CS)[1]) == 2
        filters = {"FailedEvents": True}
        stub.add_response(
            "describe_events",
            {"OperationEvents": [{"EventId": "a"}], "NextToken": "t2"},
            {"ChangeSetName": CS, "Filters": filters},
        )
        stub.add_response(
            "describe_events",
            {"OperationEvents": [{"EventId": "b"}]},
            {"ChangeSetName": CS, "Filters": filters, "NextToken": "t2"},
        )
        assert [e["EventId"] for e in failures._failed_events(aws, CS)] == ["a", "b"]
        stub.assert_no_pending_responses()


def test_the_operation_start_is_found_on_the_second_page_of_events():
    """A long rollback pushes the root's UPDATE_IN_PROGRESS off the first page."""
    cfn = _cfn()
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stack_events",
            {"StackEvents": [_event(3, "Bucket", "UPDATE_FAILED")], "NextToken": "t2"},
            {"StackName": STACK},
        )
        start = _event(1, "wealist-prod", "UPDATE_IN_PROGRESS", "AWS::CloudFormation::Stack", STACK)
        stub.add_response("describe_stack_events", {"StackEvents": [start]}, {"StackName": STACK, "NextToken": "t2"})
        assert flow.operation_start(SimpleNamespace(cfn=cfn), STACK, "wealist-prod") == start
        stub.assert_no_pending_responses()


def test_the_price_list_is_read_to_its_last_page():
    import json

    from wealist_cfn.preflight import pricing

    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    service, filters, suffix = pricing.query_for("ec2:t3.small", "ap-northeast-2")
    usage = "APN2-BoxUsage:t3.small"

    def product(sku: str, usd: str) -> str:
        return json.dumps(
            {
                "product": {"sku": sku, "attributes": {"usagetype": usage}},
                "terms": {
                    "OnDemand": {
                        f"{sku}.1": {"priceDimensions": {f"{sku}.1.1": {"unit": "Hrs", "pricePerUnit": {"USD": usd}}}}
                    }
                },
            }
        )

    base = {"ServiceCode": service, "Filters": filters, "FormatVersion": "aws_v1", "MaxResults": 100}
    with Stubber(client) as stub:
        stub.add_response("get_products", {"PriceList": [], "NextToken": "t2"}, base)
        stub.add_response("get_products", {"PriceList": [product("S", "0.026")]}, {**base, "NextToken": "t2"})
        entry = pricing.fetch(client, "ec2:t3.small", "ap-northeast-2")
        stub.assert_no_pending_responses()
    assert "0.026" in json.dumps(entry)


def test_more_pages_than_the_bound_stop_with_one_line():
    """An endpoint that keeps answering a new token is not read forever."""
    cfn = _cfn()
    with Stubber(cfn) as stub:
        for n in range(3):
            expected = {"StackName": STACK, **({"NextToken": f"t{n}"} if n else {})}
            stub.add_response("describe_stack_events", {"StackEvents": [], "NextToken": f"t{n + 1}"}, expected)
        with pytest.raises(CommandError) as err:
            list(pages.pages(cfn, "describe_stack_events", limit=2, StackName=STACK))
    assert str(err.value) == "describe_stack_events: still more pages after 2; stopped reading there"
