"""What remains after ``destroy`` costs, recomputed by hand.

Stand-in: plain fakes of the RDS, ECR, S3 and CloudWatch Logs clients
answering in the shapes of DescribeDBSnapshots (AllocatedStorage, GiB),
DescribeImages (imageSizeInBytes), ListObjectVersions (Size, bytes) and
DescribeLogGroups (storedBytes; a name prefix also matches longer names);
prices are read from the committed price table itself."""

from __future__ import annotations

import json

import pytest

from wealist_cfn.daytwo import destroy
from wealist_cfn.preflight.cost import PRICES_DIR

GIB = 1024**3


class _Pages:
    def __init__(self, pages):
        self.pages = pages

    def paginate(self, **_kw):
        return iter(self.pages)


class _Rds:
    def describe_db_snapshots(self, DBInstanceIdentifier, SnapshotType):  # noqa: N803 - boto3's names
        assert SnapshotType == "manual"  # CloudFormation's final snapshot is a manual one
        return {"DBSnapshots": [{"DBSnapshotIdentifier": "final", "AllocatedStorage": 20}]}


class _Ecr:
    def get_paginator(self, name):
        assert name == "describe_images"
        return _Pages(
            [{"imageDetails": [{"imageSizeInBytes": 3 * GIB // 2}]}, {"imageDetails": [{"imageSizeInBytes": GIB // 2}]}]
        )


class _S3:
    def get_paginator(self, name):
        assert name == "list_object_versions"  # a versioned bucket keeps every version
        return _Pages([{"Versions": [{"Size": GIB // 4}, {"Size": GIB // 4}]}])


class _Logs:
    def get_paginator(self, name):
        assert name == "describe_log_groups"
        return _Pages(
            [
                {
                    "logGroups": [
                        {"logGroupName": "/wealist/prod/boot", "storedBytes": 3 * GIB},
                        {"logGroupName": "/wealist/prod/boot-old", "storedBytes": 5 * GIB},
                    ]
                }
            ]
        )


class _Aws:
    region = "ap-northeast-2"

    def client(self, name):
        return {"rds": _Rds(), "ecr": _Ecr(), "s3": _S3(), "logs": _Logs()}[name]


def test_what_remains_is_priced_by_its_stored_size_and_the_rest_is_named_not_zero():
    prices = json.loads((PRICES_DIR / "ap-northeast-2.json").read_text())["prices"]
    left = [
        destroy.Kept("snapshot", "final snapshot of the database DatabaseStack/Database", "wealist-prod-db"),
        destroy.Kept("snapshot", "final snapshot of the cache CacheStack/Redis", "wealist-prod-redis"),
        destroy.Kept("ecr", "RegistryStack/UserServiceRepository (AWS::ECR::Repository)", "user-service"),
        destroy.Kept("bucket", "deploy bucket (not owned by the stack)", "wealist-deploy-scripts"),
        destroy.Kept("log-group", "log group", "/wealist/prod/boot"),
    ]
    costs = {c.kept.physical_id: c for c in destroy.monthly_cost(_Aws(), left, "ap-northeast-2")}
    assert costs["wealist-prod-db"].usd == pytest.approx(20 * prices["rds:backup"]["usd"])
    assert costs["user-service"].usd == pytest.approx(2.0 * prices["ecr:storage"]["usd"])
    assert costs["wealist-deploy-scripts"].usd == pytest.approx(0.5 * prices["s3:standard"]["usd"])
    # Not in the table: named as not priced, never a silent $0.
    assert costs["wealist-prod-redis"].usd is None and "ElastiCache" in costs["wealist-prod-redis"].basis
    # A log group is measured by its own storedBytes only (not the longer
    # name its prefix also matches); the committed table has no sourced
    # figure for log storage yet, which the line says instead of $0.
    boot = costs["/wealist/prod/boot"]
    if prices["logs:storage"].get("usd") is None:
        assert boot.usd is None and boot.basis == "3.000 GB of log events stored; logs:storage has no sourced price"
    else:
        assert boot.usd == pytest.approx(3 * prices["logs:storage"]["usd"])
