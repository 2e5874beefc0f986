"""A price-table refresh (cost --refresh) recorded against a Stubber: shared by
tests/iamtrace/test_cost_refresh_calls.py and the story's report (test_story.py)."""

from __future__ import annotations

import json

from botocore.stub import Stubber

from wealist_cfn.aws import Aws, calltrace

from . import check


def record_refresh(tmp_path, monkeypatch) -> list[dict]:
    """``cost --refresh`` of one price, Stubbed, as the operator's job; its recorded calls."""
    import contextlib
    import io

    from wealist_cfn.cli import main
    from wealist_cfn.cli import preflight as pcli
    from wealist_cfn.preflight import pricing

    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv(calltrace.ENV, str(trace))
    monkeypatch.setenv(calltrace.JOB_ENV, "cost --refresh")
    monkeypatch.setenv(calltrace.PRINCIPAL_ENV, check.OPERATOR)
    monkeypatch.setattr("sys.argv", ["build.py", "cost"])
    aws = Aws("us-east-1")
    sts, prices = aws.client("sts"), aws.client("pricing")
    product = json.dumps(
        {
            "product": {"productFamily": "x", "sku": "S", "attributes": {"usagetype": "APN2-BoxUsage:t3.small"}},
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {
                    "S.T": {
                        "offerTermCode": "T",
                        "sku": "S",
                        "priceDimensions": {
                            "S.T.R": {
                                "unit": "Hrs",
                                "beginRange": "0",
                                "endRange": "Inf",
                                "pricePerUnit": {"USD": "0.5"},
                            }
                        },
                    }
                }
            },
        }
    )
    monkeypatch.setattr(pcli, "Aws", lambda region, profile=None, endpoint_url=None: aws)
    monkeypatch.setattr(pricing, "keys_to_refresh", lambda region: ["ec2:t3.small"])
    monkeypatch.setattr(pricing, "write", lambda region, entries: tmp_path / "prices.json")
    with Stubber(sts) as s, Stubber(prices) as p:
        s.add_response(
            "get_caller_identity",
            {"UserId": "AIDA", "Account": check.ACCOUNT, "Arn": f"arn:aws:iam::{check.ACCOUNT}:user/operator"},
        )
        p.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": [product]}, None)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["cost", "--refresh", "--region", "ap-northeast-2"]) == 0
    assert "ec2:t3.small: $0.5" in out.getvalue()
    return calltrace.read(trace)
