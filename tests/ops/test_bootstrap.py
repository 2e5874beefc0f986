"""Bootstrap against moto's server: parameters, secrets, the deploy bucket and
its files, idempotence, rotation, and that no secret reaches the output."""

from __future__ import annotations

import json
import shutil
import string

import boto3
import pytest

from wealist_cfn import cli, errors
from wealist_cfn.aws import Aws
from wealist_cfn.ops import bootstrap
from wealist_cfn.ops.bootstrap import PARAMETERS, SECRET, SECRET_NAMES

from .tools import ROOT

pytestmark = pytest.mark.moto

# moto's default account; params/prod.json leaves DeployBucketName empty,
# so the bucket is the account-unique name (docs/deploy.md).
BUCKET = "wealist-prod-deploy-123456789012-ap-northeast-2"


def _ssm(target):
    return boto3.client("ssm", region_name=target.region, endpoint_url=target.endpoint_url)


def _s3(target):
    return boto3.client("s3", region_name=target.region, endpoint_url=target.endpoint_url)


def _parameters(target, prefix="/wealist/prod"):
    """Name -> (Type, decrypted Value) of every parameter under the prefix."""
    out = {}
    for page in (
        _ssm(target).get_paginator("get_parameters_by_path").paginate(Path=prefix, Recursive=True, WithDecryption=True)
    ):
        for p in page["Parameters"]:
            out[p["Name"]] = (p["Type"], p["Value"])
    return out


def _versions(target, bucket):
    resp = _s3(target).list_object_versions(Bucket=bucket)
    return sorted((v["Key"], v["VersionId"]) for v in resp.get("Versions", []))


def test_first_run_creates_every_parameter_the_bucket_and_its_files(prod_cfg, target):
    """moto: every SPEC parameter exists, secrets as SecureString with strong
    generated values, the bucket is locked down and holds every instance file."""
    report = bootstrap.run(prod_cfg, target)

    params = _parameters(target)
    for p in PARAMETERS:
        kind, value = params[f"/wealist/prod/{p.name}"]
        if p.kind == SECRET:
            assert kind == "SecureString", p.name
            assert len(value) >= 32 and set(value) <= set(string.ascii_letters + string.digits), p.name
        else:
            assert kind == "String", p.name
    secrets_ = [params[f"/wealist/prod/{n}"][1] for n in SECRET_NAMES]
    assert len(set(secrets_)) == len(secrets_), "every secret is generated on its own"
    # The SPEC's names and the original's database names.
    assert params["/wealist/prod/db/user_db_name"][1] == "wealist_user_db"
    assert params["/wealist/prod/db/board_db_name"][1] == "wealist_board_db"
    assert params["/wealist/prod/db/postgres_superuser"][1] == "wealist_admin"
    assert params["/wealist/prod/deploy/user_service_repository"][1] == "user-service"
    assert params["/wealist/prod/deploy/board_service_image_tag"][1] == "unreleased"
    # The startup script is a file in the bucket, not a parameter (Parameter
    # Store refuses its `{{ }}` and caps its size).
    assert "/wealist/prod/startup-script" not in params
    # What the stacks write themselves is not bootstrap's to create.
    assert "/wealist/prod/db/postgres_host" not in params
    assert "/wealist/prod/redis/host" not in params

    s3 = _s3(target)
    bucket = BUCKET
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert enc[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block[k] for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"))
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    [tls] = [s for s in policy["Statement"] if s["Sid"] == "DenyInsecureTransport"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert f"arn:aws:s3:::{bucket}/*" in tls["Resource"]

    files = bootstrap.local_files()
    for key in (
        "boot/startup.sh",
        "config/docker-compose.prod.yml",
        "monitoring/docker-compose.yml",
        "monitoring/prometheus.yml",
    ):
        assert key in files
    for key, path in files.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == path.read_bytes(), key
    assert report.changed and report.count("created") >= len(PARAMETERS) + len(files)


def test_second_run_changes_nothing_and_keeps_every_secret(prod_cfg, target):
    """moto: a second run writes nothing (no new object versions, same secret
    values) and says so."""
    bootstrap.run(prod_cfg, target)
    params_before = _parameters(target)
    versions_before = _versions(target, BUCKET)

    report = bootstrap.run(prod_cfg, target)

    assert not report.changed
    assert {c.action for c in report.changes} == {"unchanged"}
    assert _parameters(target) == params_before
    assert _versions(target, BUCKET) == versions_before


def test_rotate_changes_only_the_named_secret_and_says_what_to_restart(prod_cfg, target):
    """moto: --rotate gives one secret a new value; every other value stays."""
    bootstrap.run(prod_cfg, target)
    before = _parameters(target)

    report = bootstrap.run(prod_cfg, target, rotate=["/wealist/prod/db/user_db_password"])

    after = _parameters(target)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"/wealist/prod/db/user_db_password"}
    assert after["/wealist/prod/db/user_db_password"][0] == "SecureString"
    assert [c.name for c in report.changes if c.action == "rotated"] == ["/wealist/prod/db/user_db_password"]
    assert len(report.follow_up) == 1 and "build.py rollout" in report.follow_up[0]


def test_rotate_refuses_what_is_not_a_generated_secret(prod_cfg):
    """No AWS call: only the generated secrets can be rotated."""
    with pytest.raises(bootstrap.BootstrapError, match="not a generated secret"):
        bootstrap.resolve_rotate(prod_cfg, ["db/user_db_name"])


def test_only_a_changed_file_is_uploaded_and_stray_objects_are_left_alone(prod_cfg, target, tmp_path):
    """moto: after one file changes, only it gets a new version; an object the
    project no longer has is reported and kept."""
    files = tmp_path / "instance-files"
    shutil.copytree(ROOT / "instance-files", files)
    bootstrap.run(prod_cfg, target, files_dir=files)
    _s3(target).put_object(Bucket=BUCKET, Key="config/old.yml", Body=b"x: 1\n")
    before = dict(_versions(target, BUCKET))

    prom = files / "monitoring" / "prometheus.yml"
    prom.write_text(prom.read_text() + "# changed\n")
    report = bootstrap.run(prod_cfg, target, files_dir=files)

    after = _versions(target, BUCKET)
    new_versions = {k for k, v in after if (k, v) not in before.items()}
    assert new_versions == {"monitoring/prometheus.yml"}
    assert [c.name for c in report.changes if c.action == "updated"] == [f"s3://{BUCKET}/monitoring/prometheus.yml"]
    assert [c.name for c in report.changes if c.action == "extra"] == [f"s3://{BUCKET}/config/old.yml"]


def test_an_object_changed_behind_bootstraps_back_is_put_right(prod_cfg, target):
    """moto: a file replaced in the bucket by other means, even one that
    copies the sha256 metadata bootstrap records, is uploaded again."""
    bootstrap.run(prod_cfg, target)
    s3, bucket, key = _s3(target), BUCKET, "monitoring/prometheus.yml"
    meta = s3.head_object(Bucket=bucket, Key=key)["Metadata"]
    s3.put_object(Bucket=bucket, Key=key, Body=b"scrape_configs: []\n", Metadata=meta)

    report = bootstrap.run(prod_cfg, target)

    assert [c.name for c in report.changes if c.action == "updated"] == [f"s3://{bucket}/{key}"]
    stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert stored == (ROOT / "instance-files" / key).read_bytes()


def test_existing_values_are_kept_and_a_plain_string_secret_is_flagged(prod_cfg, target, monkeypatch):
    """moto + strict layer: values an operator set first are never
    overwritten; a secret stored as a plain String is reported, not silently
    replaced. (AWS accepts a plain String secret; only the project's rule in
    the strict layer refuses it, so it is lifted while the operator writes.)"""
    import re

    from wealist_cfn.core import rules

    ssm = _ssm(target)
    ssm.put_parameter(Name="/wealist/prod/db/user_db_user", Value="users_app", Type="String")
    with monkeypatch.context() as m:
        m.setattr(rules, "SECRET_WORDS", re.compile("(?!)"))
        ssm.put_parameter(Name="/wealist/prod/redis/auth_token", Value="not-secret-enough-1234", Type="String")

    report = bootstrap.run(prod_cfg, target)

    params = _parameters(target)
    assert params["/wealist/prod/db/user_db_user"] == ("String", "users_app")
    assert params["/wealist/prod/redis/auth_token"] == ("String", "not-secret-enough-1234")
    actions = {c.name: c.action for c in report.changes}
    assert actions["/wealist/prod/db/user_db_user"] == "kept"
    assert actions["/wealist/prod/redis/auth_token"] == "warning"


def test_dry_run_reports_and_writes_nothing(prod_cfg, target):
    """moto: --dry-run on an empty account lists what it would create and creates nothing."""
    report = bootstrap.run(prod_cfg, target, dry_run=True)

    assert _parameters(target) == {}
    assert _s3(target).list_buckets()["Buckets"] == []
    assert report.count("would be created") >= len(PARAMETERS)


def test_dev_environment_gets_its_own_names(dev_cfg, moto_endpoint, local_s3_over_http):
    """moto: params/dev.json gives /wealist/dev/..., its bucket and its ECR prefix."""
    target = Aws(region=dev_cfg.region, endpoint_url=moto_endpoint)
    bootstrap.run(dev_cfg, target)

    params = _parameters(target, "/wealist/dev")
    assert params["/wealist/dev/deploy/user_service_repository"][1] == "dev/user-service"
    assert _s3(target).head_bucket(Bucket="wealist-dev-deploy-123456789012-ap-northeast-2")
    assert _parameters(target, "/wealist/prod") == {}


def test_cli_prints_a_summary_and_never_a_secret(target, capsys):
    """moto: `build.py bootstrap` twice and with --rotate; no secret value
    appears in anything it prints."""
    argv = ["bootstrap", "--params", str(ROOT / "params/prod.json"), "--endpoint-url", target.endpoint_url]
    assert cli.main(argv) == 0
    first = capsys.readouterr()
    assert cli.main(argv) == 0
    second = capsys.readouterr()
    assert cli.main(argv + ["--rotate", "redis/auth_token"]) == 0
    third = capsys.readouterr()
    assert cli.main(argv + ["--rotate", "db/user_db_name"]) == errors.EXIT_USAGE
    capsys.readouterr()

    assert "(changed)" in first.out
    assert "(nothing to change)" in second.out
    assert "next: /wealist/prod/redis/auth_token" in third.out
    printed = "".join(o.out + o.err for o in (first, second, third))
    for name, (kind, value) in _parameters(target).items():
        if kind == "SecureString":
            assert value not in printed, name


def test_no_value_bootstrap_writes_contains_double_braces(prod_cfg, target):
    """moto + strict layer: Parameter Store refuses a value with `{{ }}`
    (PutParameter API reference, Value); no value bootstrap writes has one."""
    bootstrap.run(prod_cfg, target)
    params = _parameters(target)
    assert len(params) == len(PARAMETERS)
    assert [name for name, (_, value) in params.items() if "{{" in value] == []


def test_a_value_parameter_store_refuses_stops_bootstrap_before_any_write(target, monkeypatch, capsys):
    """moto + strict layer: a value with `{{ }}` (the rule the startup script
    once broke) is found before any call: one line naming the parameter and
    the rule, exit 2, no parameter, no bucket."""
    bad = bootstrap.ParamDef(
        "deploy/banner", bootstrap.DEFAULT, "A value with braces.", value=lambda c: "started: {{.Names}}"
    )
    monkeypatch.setattr(bootstrap, "PARAMETERS", (*PARAMETERS, bad))
    argv = ["bootstrap", "--params", str(ROOT / "params/prod.json"), "--endpoint-url", target.endpoint_url]

    assert cli.main(argv) == errors.EXIT_USAGE

    out = capsys.readouterr()
    [line] = out.err.strip().splitlines()
    assert "/wealist/prod/deploy/banner" in line and "{{ }}" in line and "PutParameter" in line
    assert _parameters(target) == {}
    assert _s3(target).list_buckets()["Buckets"] == []


@pytest.mark.parametrize("value,rule", [("x" * 4097, "Standard tier's 4096"), ("", "at least 1 character")])
def test_check_values_names_the_size_rules(prod_cfg, monkeypatch, value, rule):
    """No AWS call: an over-long or empty value is refused by name."""
    bad = bootstrap.ParamDef("deploy/big", bootstrap.DEFAULT, "Too big.", value=lambda c: value)
    monkeypatch.setattr(bootstrap, "PARAMETERS", (*PARAMETERS, bad))
    with pytest.raises(bootstrap.InvalidValue, match=rf"parameter /wealist/prod/deploy/big: .*{rule}"):
        bootstrap.check_values(prod_cfg)


def test_an_old_startup_script_parameter_is_reported_not_read(prod_cfg, target):
    """moto: an account bootstrapped by an earlier version keeps its
    startup-script parameter; bootstrap says it is no longer read."""
    _ssm(target).put_parameter(Name="/wealist/prod/startup-script", Value="#!/bin/bash\n", Type="String")
    report = bootstrap.run(prod_cfg, target)
    [extra] = [c for c in report.changes if c.name == "/wealist/prod/startup-script"]
    assert extra.action == "extra" and "boot/startup.sh" in extra.detail


def test_a_value_rds_would_refuse_stops_bootstrap(prod_cfg, monkeypatch):
    """No AWS call: the master user name goes to RDS through the template's
    dynamic reference, so RDS's own rule (CreateDBInstance MasterUsername)
    is checked before anything is written."""
    params = tuple(
        bootstrap.ParamDef(p.name, p.kind, p.description, value=lambda c: "1-admin")
        if p.name == "db/postgres_superuser"
        else p
        for p in PARAMETERS
    )
    monkeypatch.setattr(bootstrap, "PARAMETERS", params)
    with pytest.raises(bootstrap.InvalidValue, match=r"/wealist/prod/db/postgres_superuser: .*MasterUsername"):
        bootstrap.check_values(prod_cfg)


def test_dry_run_counts_what_the_real_run_then_does(prod_cfg, target):
    """moto: on a fresh endpoint the dry run's counts are the real run's
    (they were 30 and 35: the real run counted each setting of the bucket it
    had just made, which the dry run cannot read). A new bucket is one
    change whose detail lists its settings, in both runs."""
    from collections import Counter

    dry = bootstrap.run(prod_cfg, target, dry_run=True)
    real = bootstrap.run(prod_cfg, target)
    assert Counter(c.action.removeprefix("would be ") for c in dry.changes) == Counter(c.action for c in real.changes)
    # The deploy bucket; the artifact bucket's lifecycle line is another.
    [made] = [c for c in real.changes if c.what == "bucket" and c.name == BUCKET]
    assert made.action == "created" and made.detail == ", ".join(bootstrap.BUCKET_SETTINGS)
