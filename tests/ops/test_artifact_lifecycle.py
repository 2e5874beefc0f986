"""The artifact bucket's lifecycle rules: made with the bucket by the first
deploy, put in place by bootstrap on a bucket that exists, other rules kept.

Stand-in: moto's server, which stores and returns lifecycle configurations
(Put/GetBucketLifecycleConfiguration) as S3 does. What it does not do is
run them: expiry by age happens in S3 only (S3 User Guide, "Managing the
lifecycle of objects": "Amazon S3 runs lifecycle rules once each day"), so
these tests prove the configuration, not the expiry.
"""

from __future__ import annotations

import boto3
import pytest

from wealist_cfn.deploy import package
from wealist_cfn.ops import artifacts, bootstrap

pytestmark = pytest.mark.moto


def _rules(target, bucket):
    s3 = boto3.client("s3", region_name=target.region, endpoint_url=target.endpoint_url)
    return {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}


def test_the_first_deploy_makes_the_bucket_with_its_rules(target):
    target.check_credentials()
    bucket = package.default_bucket("wealist", target.account, target.region)
    assert package.ensure_bucket(target, bucket, create=True)
    rules = _rules(target, bucket)
    plan = rules["wealist-artifacts-plan-noncurrent"]
    assert plan["Filter"]["Prefix"] == "plan/" and plan["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    # Current plan/ objects never expire either: CI executes a plan's change set, so a
    # production stack names plan/ URLs, read again by UsePreviousTemplate and rollbacks.
    assert "Expiration" not in plan
    deploy = rules["wealist-artifacts-deploy-noncurrent"]
    assert deploy["Filter"]["Prefix"] == "deploy/"
    assert deploy["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    # Current deploy/ objects never expire: an unchanged child's URL is read on every update.
    assert "Expiration" not in deploy
    assert rules["wealist-artifacts-plan-delete-markers"]["Expiration"] == {"ExpiredObjectDeleteMarker": True}


def test_bootstrap_puts_the_rules_on_an_existing_bucket_keeping_others_once(prod_cfg, target):
    """An artifact bucket made before the rules existed, with a rule of its
    owner's: bootstrap adds ours, keeps theirs, and a second run changes
    nothing."""
    account = target.check_credentials()
    bucket = artifacts.bucket_name(prod_cfg.project, account, target.region)
    s3 = boto3.client("s3", region_name=target.region, endpoint_url=target.endpoint_url)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": target.region})
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {"ID": "owners-rule", "Status": "Enabled", "Filter": {"Prefix": "other/"}, "Expiration": {"Days": 3}}
            ]
        },
    )
    first = bootstrap.run(prod_cfg, target)
    [change] = [c for c in first.changes if c.name == bucket]
    assert change.action == "updated" and "current plan/ and deploy/ objects kept" in change.detail
    assert set(_rules(target, bucket)) == {
        "owners-rule",
        "wealist-artifacts-plan-noncurrent",
        "wealist-artifacts-plan-delete-markers",
        "wealist-artifacts-deploy-noncurrent",
    }
    again = bootstrap.run(prod_cfg, target)
    [change] = [c for c in again.changes if c.name == bucket]
    assert change.action == "unchanged"


def test_bootstrap_without_an_artifact_bucket_says_the_deploy_makes_it(prod_cfg, target):
    report = bootstrap.run(prod_cfg, target, dry_run=True)
    [change] = [c for c in report.changes if "cfn-artifacts" in c.name]
    assert change.action == "unchanged" and "the first deploy makes it" in change.detail


def test_a_bucket_with_the_old_plan_expiry_loses_it():
    """The rule that expired current plan/ objects after 14 days is replaced
    (same prefix of rule IDs), not kept beside the new one: no rule of ours
    expires a current object anywhere."""
    from wealist_cfn.ops import artifacts as a

    old = {
        "ID": "wealist-artifacts-plan-expire",
        "Status": "Enabled",
        "Filter": {"Prefix": "plan/"},
        "Expiration": {"Days": 14},
    }

    class S3:
        put = None

        def get_bucket_lifecycle_configuration(self, **_kw):
            return {"Rules": [old]}

        def put_bucket_lifecycle_configuration(self, **kw):
            S3.put = kw["LifecycleConfiguration"]["Rules"]

    assert a.ensure_lifecycle(S3(), "b", {})
    assert "wealist-artifacts-plan-expire" not in {r["ID"] for r in S3.put}
    assert not any("Days" in (r.get("Expiration") or {}) for r in S3.put)
