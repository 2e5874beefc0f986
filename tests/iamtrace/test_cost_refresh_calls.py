"""``cost --refresh``, run by an operator, its calls recorded by
wealist_cfn/aws/calltrace.py and checked under docs/operator-policy.json.

Stand-in: botocore's Stubber behind the real command line (moto does not
implement the Price List API); GetProducts and GetCallerIdentity answers
shaped like their API references
(https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html).
GetProducts has no resource type: it is authorised on ``*`` (Service
Authorization Reference, AWS Price List); GetCallerIdentity needs no
permission (STS API reference)."""

from __future__ import annotations

from wealist_cfn.aws import iamcalls

from . import check
from .cost_refresh import record_refresh


def test_the_operator_policy_allows_every_call_of_a_price_refresh(tmp_path, monkeypatch):
    calls = record_refresh(tmp_path, monkeypatch)
    assert [(c["service"], c["operation"], c["job"]) for c in calls] == [
        ("sts", "GetCallerIdentity", "cost --refresh"),
        ("pricing", "GetProducts", "cost --refresh"),
    ]
    operator = check.principals()[check.OPERATOR]
    needs = [n for c in calls for n in iamcalls.needs(c, account=check.ACCOUNT)]
    assert [n.action for n in needs] == ["pricing:GetProducts"]
    assert [why for n in needs if (why := check.evaluate(operator, n, [])) is not None] == []
