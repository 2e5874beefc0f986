"""``cost --refresh`` against botocore's Stubber: GetProducts responses
shaped like the Price List API reference (PriceList is a list of JSON
strings, each a product with ``product.attributes``, ``product.sku`` and
``terms.OnDemand.<term>.priceDimensions.<rate>.pricePerUnit.USD``, paged by
NextToken; https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html).
moto does not implement the pricing service. The figures below are test
values, not prices."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from helpers.prices import (
    _product,
)
from wealist_cfn.errors import CommandError
from wealist_cfn.preflight import cost, pricing

pytestmark = pytest.mark.stubbed


@pytest.fixture
def client():
    c = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(c) as stub:
        c.stub = stub
        yield c


def test_instance_price_is_read_with_its_product(client):
    """The on-demand price, its unit and the SKU it came from."""
    service, filters, _ = pricing.query_for("ec2:t3.medium", "ap-northeast-2")
    client.stub.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": [_product("SKU1", "APN2-BoxUsage:t3.medium", "1.2345000000")]},
        {"ServiceCode": service, "Filters": filters, "FormatVersion": "aws_v1", "MaxResults": 100},
    )
    entry = pricing.fetch(client, "ec2:t3.medium", "ap-northeast-2")
    assert entry["usd"] == 1.2345 and entry["unit"] == "USD per Hrs"
    assert "sku SKU1" in entry["source"] and entry["product"] == "AmazonEC2 APN2-BoxUsage:t3.medium"
    assert {"Type": "TERM_MATCH", "Field": "instanceType", "Value": "t3.medium"} in filters
    assert {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "ap-northeast-2"} in filters


def test_pages_are_followed_and_the_usage_type_picks_the_product(client):
    """NAT hours and NAT bytes share a product family: the usage type tells
    them apart, across pages; a tiered price takes its first tier."""
    client.stub.add_response(
        "get_products", {"PriceList": [_product("B", "APN2-NatGateway-Bytes", "9.0")], "NextToken": "t1"}, None
    )
    client.stub.add_response(
        "get_products",
        {"PriceList": [_product("H", "APN2-NatGateway-Hours", "", tiers=(("10", "0.5"), ("0", "0.75")))]},
        {"ServiceCode": "AmazonEC2", "Filters": ANY, "FormatVersion": "aws_v1", "MaxResults": 100, "NextToken": "t1"},
    )
    entry = pricing.fetch(client, "nat:hour", "ap-northeast-2")
    assert entry["usd"] == 0.75 and "sku H" in entry["source"]


def test_no_matching_product_is_an_error_naming_the_key(client):
    client.stub.add_response("get_products", {"PriceList": []}, None)
    with pytest.raises(CommandError, match=r"no on-demand product for elasticache:cache.zz9.huge in ap-northeast-2"):
        pricing.fetch(client, "elasticache:cache.zz9.huge", "ap-northeast-2")


def test_refresh_reports_progress_and_writes_a_table_the_estimate_reads(client, tmp_path):
    """Progress is (done, total, key) per price; the written file loads."""
    keys = ["ec2:t3.medium", "alb:lcu"]
    client.stub.add_response("get_products", {"PriceList": [_product("E", "APN2-BoxUsage:t3.medium", "2.0")]}, None)
    client.stub.add_response("get_products", {"PriceList": [_product("L", "APN2-LCUUsage", "3.0", "LCU-Hrs")]}, None)
    progress = list(pricing.refresh(client, "ap-northeast-2", keys))
    assert [(d, t, k) for d, t, k, _ in progress] == [(1, 2, "ec2:t3.medium"), (2, 2, "alb:lcu")]
    path = pricing.write("ap-northeast-2", {k: e for _, _, k, e in progress}, tmp_path)
    table = cost.load_prices("ap-northeast-2", tmp_path)
    assert path.exists() and table.get("alb:lcu").usd == 3.0 and table.get("alb:lcu").unit == "USD per LCU-Hrs"


def test_every_committed_key_has_a_query():
    """Each key of the committed tables maps to a Price List query."""
    for region in ("ap-northeast-2", "us-east-1"):
        for key in cost.load_prices(region).entries:
            if key in pricing.NO_QUERY:
                continue
            service, filters, _ = pricing.query_for(key, region)
            assert service.startswith(("Amazon", "AWS")) and filters


def test_refresh_command_prints_progress_and_writes_the_table(client, tmp_path, monkeypatch, capsys):
    """The command: credentials checked, one progress line per price, the
    table written (here into a temporary directory)."""
    from wealist_cfn.cli import main
    from wealist_cfn.cli import preflight as pcli

    class FakeAws:
        def __init__(self, region, profile=None, endpoint_url=None):
            assert region == "us-east-1"  # the Price List API's region, whatever the table's

        def check_credentials(self):
            return "123456789012"

        def client(self, service):
            assert service == "pricing"
            return client

    monkeypatch.setattr(pcli, "Aws", FakeAws)
    monkeypatch.setattr(
        pricing, "keys_to_refresh", lambda region: ["ec2:t3.small", "logs:ingest", "cloudwatch:detailed-monitoring"]
    )
    real_write = pricing.write
    monkeypatch.setattr(pricing, "write", lambda region, entries: real_write(region, entries, tmp_path))
    client.stub.add_response("get_products", {"PriceList": [_product("S", "APN2-BoxUsage:t3.small", "0.5")]}, None)
    client.stub.add_response(
        "get_products", {"PriceList": [_product("G", "APN2-DataProcessing-Bytes", "0.25", "GB")]}, None
    )
    assert main(["cost", "--refresh", "--region", "ap-northeast-2"]) == 0
    out = capsys.readouterr().out
    assert "[1/3] ec2:t3.small: $0.5 USD per Hrs" in out and "[2/3] logs:ingest: $0.25 USD per GB" in out
    assert "[3/3] cloudwatch:detailed-monitoring: kept as it was" in out
    assert f"wrote {tmp_path / 'ap-northeast-2.json'} (3 prices)" in out
    written = json.loads((tmp_path / "ap-northeast-2.json").read_text())["prices"]
    assert set(written) == {"ec2:t3.small", "logs:ingest", "cloudwatch:detailed-monitoring"}
    from wealist_cfn.preflight import cost

    committed = cost.load_prices("ap-northeast-2").entries["cloudwatch:detailed-monitoring"]
    assert written["cloudwatch:detailed-monitoring"] == committed  # the committed entry, kept as it is


@pytest.mark.parametrize(
    "key, usagetype, unit",
    [
        ("cloudwatch:alarm", "APN2-CW:AlarmMonitorUsage", "Alarms"),
        ("logs:storage", "APN2-TimedStorage-ByteHrs", "GB-Mo"),
        ("logs:vended-ingest", "APN2-VendedLog-Bytes", "GB"),
        ("s3:put", "APN2-Requests-Tier1", "Requests"),
    ],
)
def test_observability_prices_pick_their_usage_type(client, key, usagetype, unit):
    """The usage types of the CloudWatch user guide's cost page ("Analyzing,
    optimizing, and reducing CloudWatch costs"): among the products of one
    regional query, the one whose usage type ends so is the price; its
    neighbours (infrequent-access storage, other vended logs, Tier2
    requests) are not."""
    neighbours = {
        "logs:storage": "APN2-TimedStorage-IA-ByteHrs",
        "logs:vended-ingest": "APN2-VendedLog-Bytes-WAFLogs",
        "s3:put": "APN2-Requests-Tier2",
        "cloudwatch:alarm": "APN2-CW:HighResAlarmMonitorUsage",
    }
    service, filters, _ = pricing.query_for(key, "ap-northeast-2")
    assert {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "ap-northeast-2"} in filters
    client.stub.add_response(
        "get_products",
        {"PriceList": [_product("N", neighbours[key], "9.0", unit), _product("Y", usagetype, "0.5", unit)]},
        {"ServiceCode": service, "Filters": filters, "FormatVersion": "aws_v1", "MaxResults": 100},
    )
    entry = pricing.fetch(client, key, "ap-northeast-2")
    assert entry["usd"] == 0.5 and "sku Y" in entry["source"] and entry["unit"] == f"USD per {unit}"


def test_the_dashboard_price_is_global_and_chosen_by_its_metric_tier():
    """Dashboard products carry no regionCode (one price for every region):
    the query names the usage type itself, the -Basic one for up to 50 metrics."""
    for key, usagetype in (
        ("cloudwatch:dashboard:basic", "DashboardsUsageHour-Basic"),
        ("cloudwatch:dashboard", "DashboardsUsageHour"),
    ):
        service, filters, suffix = pricing.query_for(key, "ap-northeast-2")
        assert (service, filters, suffix) == (
            "AmazonCloudWatch",
            [{"Type": "TERM_MATCH", "Field": "usagetype", "Value": usagetype}],
            "",
        )
    assert "cloudwatch:alarm" not in pricing.NO_QUERY
