"""The denials the trace check found (tests/iamtrace/test_story.py), each
as the call that was refused, evaluated against the committed
github-oidc.yaml (tests/helpers/iam_eval.py ``decide`` through the check's
adapter). No stand-in runs.

Real rules relied on: GetParameters is authorised on every parameter it
names, so one name the caller may not read denies the whole call (Service
Authorization Reference, AWS Systems Manager, GetParameters: resource type
parameter*; https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html);
GetBucketLifecycleConfiguration and PutBucketLifecycleConfiguration are
authorised as s3:GetLifecycleConfiguration and s3:PutLifecycleConfiguration
on the bucket (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html).
"""

from __future__ import annotations

import pytest

from wealist_cfn.aws import iamcalls

from . import check

ARTIFACTS = check.ARTIFACTS


@pytest.fixture(scope="module")
def pols():
    return check.principals()


def _denials(pols, principal, call):
    call = {"region": check.REGION, "job": "t", "principal": principal, "command": "t", **call}
    return [
        why
        for need in iamcalls.needs(call, account=check.ACCOUNT)
        if (why := check.evaluate(pols[principal], need, [])) is not None
    ]


@pytest.mark.parametrize("principal", [check.PLAN, check.DEPLOY])
def test_preflights_images_check_may_read_the_repository_and_tag_together(pols, principal):
    """preflight (plan and deploy) reads each service's repository and
    tag in one GetParameters: the plan role was refused it, so every
    pull request's preflight failed."""
    names = [
        f"/wealist/prod/deploy/{s}_{k}" for s in ("user_service", "board_service") for k in ("repository", "image_tag")
    ]
    assert (
        _denials(
            pols,
            principal,
            {"service": "ssm", "operation": "GetParameters", "params": {"Names": names, "WithDecryption": False}},
        )
        == []
    )
    # Not a secret beside them.
    assert _denials(
        pols,
        principal,
        {
            "service": "ssm",
            "operation": "GetParameters",
            "params": {"Names": [*names, "/wealist/prod/db/user_db_password"]},
        },
    )


def test_the_first_deploy_may_put_the_artifact_buckets_lifecycle(pols):
    """ensure_bucket creates the bucket and puts its lifecycle rules; the
    deploy job's bootstrap reads and puts them on every run: the deploy
    role could create the bucket but not set its rules, so the first
    deploy stopped at "creating S3 bucket ...: AccessDenied"."""
    for op in ("CreateBucket", "GetBucketLifecycleConfiguration", "PutBucketLifecycleConfiguration"):
        assert (
            _denials(pols, check.DEPLOY, {"service": "s3", "operation": op, "params": {"Bucket": ARTIFACTS}}) == []
        ), op
    # A pull request still never sets them.
    assert _denials(
        pols,
        check.PLAN,
        {"service": "s3", "operation": "PutBucketLifecycleConfiguration", "params": {"Bucket": ARTIFACTS}},
    )
