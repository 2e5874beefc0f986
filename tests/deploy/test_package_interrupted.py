"""Ctrl-C while the templates are being uploaded, before any change set.

moto: a real S3 (versioned bucket) and CloudFormation on the shared server.
The interrupt is injected where a person's Ctrl-C lands: inside the Nth
object's check-and-upload (``package._ensure_object``), so the objects before
it are in the bucket and the rest are not. What S3 and CloudFormation hold
afterwards is read back from the endpoint, not taken from the printout.
"""

from __future__ import annotations

import argparse
import io

import boto3
import pytest

from helpers.deploy import REGION, run_cli
from wealist_cfn.aws import Aws
from wealist_cfn.cli import deploy as deploy_cli
from wealist_cfn.deploy import flow
from wealist_cfn.deploy import package as package_mod

BUCKET = "wealist-cfn-artifacts-123456789012-ap-northeast-2"


def _interrupt_at(monkeypatch, n: int) -> list[str]:
    """Ctrl-C during the ``n``-th object; returns the names reached before it."""
    real = package_mod._ensure_object
    reached: list[str] = []

    def ensure(aws, bucket, key, name, body):
        if len(reached) + 1 == n:
            raise KeyboardInterrupt
        reached.append(name)
        return real(aws, bucket, key, name, body)

    monkeypatch.setattr(package_mod, "_ensure_object", ensure)
    return reached


def _stored_keys(endpoint: str) -> list[str]:
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


@pytest.mark.moto
def test_ctrl_c_at_the_third_upload_names_what_is_in_s3_and_that_nothing_changed(
    moto_endpoint, prod_params, real_templates, monkeypatch
):
    """A deploy stopped at the third upload: "interrupted:" and then the two
    templates uploaded (with their keys, which are exactly what the bucket
    holds), the seven not uploaded, and that no change set was made and
    nothing in the stack changed (the endpoint holds no stack)."""
    reached = _interrupt_at(monkeypatch, 3)
    dep = flow.Deployment(
        flow.Options(
            stack_name="wealist-prod", params=prod_params, endpoint_url=moto_endpoint, templates_dir=real_templates
        ),
        aws=Aws(REGION, endpoint_url=moto_endpoint),
    )
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    assert deploy_cli._print_until_interrupted(dep.prepare(), dep, io.StringIO(), argparse.Namespace()) is False
    lines = err.getvalue().splitlines()
    assert lines[:2] == ["", "interrupted:"]
    keys = _stored_keys(moto_endpoint)
    assert len(reached) == 2 and len(keys) == 2
    names = [n for n in dep.template_set.texts if n != dep.template_set.root_name]
    key_of = {n: next(k for k in keys if k.startswith(f"deploy/wealist-prod/{n.rsplit('.', 1)[0]}.")) for n in reached}
    assert lines[2] == f"  created S3 bucket {BUCKET} (it stays: the next run uses it)"
    assert lines[3] == f"  uploaded 2 template(s) to s3://{BUCKET}: " + ", ".join(f"{n} ({key_of[n]})" for n in reached)
    rest = [n for n in names if n not in reached]
    assert lines[4] == f"  not uploaded (7 of 9): {', '.join(rest)}"
    assert lines[-1] == "  no change set was made; nothing in stack wealist-prod changed"
    cfn = boto3.client("cloudformation", region_name=REGION, endpoint_url=moto_endpoint)
    assert cfn.describe_stacks()["Stacks"] == []


@pytest.mark.moto
def test_package_command_stopped_exits_130_and_says_what_it_uploaded(moto_endpoint, prod_params, monkeypatch):
    """``package`` stopped at its first upload (the bucket was just made):
    exit 130, and stderr says the bucket was created, no template was
    uploaded, which were not, and that the command makes no change set.
    Before, it exited 130 in silence."""
    _interrupt_at(monkeypatch, 1)
    code, out, err = run_cli("package", "--params", prod_params, "--endpoint-url", moto_endpoint)
    assert code == 130
    assert out.splitlines()[-1].startswith("created S3 bucket")  # printed before the interrupt
    lines = err.splitlines()
    assert lines[1:3] == ["interrupted:", f"  created S3 bucket {BUCKET} (it stays: the next run uses it)"]
    assert lines[3].startswith("  not uploaded (10 of 10): ") and "root.yaml" in lines[3]
    assert lines[-1] == "  the package command makes no change set; nothing in stack wealist-prod changed"
    assert _stored_keys(moto_endpoint) == []


def _interrupt_after_create_bucket(aws: Aws) -> None:
    """Ctrl-C right after CreateBucket was answered, before its settings."""

    def stop(**_kw):
        raise KeyboardInterrupt

    aws.s3.meta.events.register("after-call.s3.CreateBucket", stop)


@pytest.mark.moto
def test_ctrl_c_after_create_bucket_says_the_bucket_may_lack_its_settings(
    moto_endpoint, prod_params, real_templates, monkeypatch
):
    """moto: CreateBucket really creates the bucket, then the interrupt
    lands before PutPublicAccessBlock. The summary says CreateBucket was
    sent and the settings may be missing (before, it said only that no
    template was uploaded, as if nothing had been made); the next deploy
    finds the bucket bare and sets them (read back from moto)."""
    aws = Aws(REGION, endpoint_url=moto_endpoint)
    _interrupt_after_create_bucket(aws)
    dep = flow.Deployment(
        flow.Options(
            stack_name="wealist-prod", params=prod_params, endpoint_url=moto_endpoint, templates_dir=real_templates
        ),
        aws=aws,
    )
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    assert deploy_cli._print_until_interrupted(dep.prepare(), dep, io.StringIO(), argparse.Namespace()) is False
    text = err.getvalue()
    assert f"stopped while creating S3 bucket {BUCKET}: CreateBucket was sent" in text
    assert "the next deploy checks them and sets what is missing" in text
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint)
    assert s3.get_bucket_versioning(Bucket=BUCKET).get("Status") != "Enabled"  # left bare

    assert package_mod.ensure_bucket(Aws(REGION, endpoint_url=moto_endpoint), BUCKET, create=True) is False
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"].values())


@pytest.mark.moto
def test_a_bucket_with_its_settings_is_only_read(moto_endpoint):
    """moto: a bucket ensure_bucket made whole is checked with reads only on
    the next run (the deploy role may put the settings, but a run that
    rewrites them each time would hide who changed them)."""
    package_mod.ensure_bucket(Aws(REGION, endpoint_url=moto_endpoint), BUCKET, create=True)
    aws = Aws(REGION, endpoint_url=moto_endpoint)
    calls: list[str] = []
    aws.s3.meta.events.register("before-call.s3", lambda model, **_kw: calls.append(model.name))
    repaired: list[str] = []
    assert package_mod.ensure_bucket(aws, BUCKET, create=True, repaired=repaired) is False
    assert repaired == []
    assert calls and not [c for c in calls if not c.startswith(("Get", "Head"))], calls
