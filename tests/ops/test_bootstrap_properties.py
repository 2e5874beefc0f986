"""What bootstrap writes, refuses and reports, case by case, without a server.

Stand-in: in-process fakes of STS, SSM and S3 that keep state and record
every call, answering in the shapes of the API references and failing with
the error codes AWS documents: PutParameter's ParameterAlreadyExists when
Overwrite is false
(https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html);
HeadBucket's 404/403 with no body (so botocore gives the HTTP status as the
code) and CreateBucket's BucketAlreadyExists / BucketAlreadyOwnedByYou
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html);
the "never set" codes of GetBucketOwnershipControls
(OwnershipControlsNotFoundError), GetPublicAccessBlock
(NoSuchPublicAccessBlockConfiguration), GetBucketEncryption
(ServerSideEncryptionConfigurationNotFoundError), GetBucketPolicy
(NoSuchBucketPolicy) and GetBucketLifecycleConfiguration
(NoSuchLifecycleConfiguration); HeadObject's 404; a single-part SSE-S3
object's ETag is the MD5 of its bytes, in double quotes
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html).
moto's server runs the same flows end to end in test_bootstrap.py; these
cases are the failure paths and the one-setting-wrong cases moto cannot be
made to produce, and they run in milliseconds, so the mutation run of
bootstrap.py uses them.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from botocore.exceptions import ClientError

from wealist_cfn import config
from wealist_cfn.core.settings import PARAMS_DIR
from wealist_cfn.ops import artifacts, bootstrap

ACCOUNT = "123456789012"
REGION = "ap-northeast-2"


def err(code: str, message: str = "", op: str = "Operation") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message or code}}, op)


@pytest.fixture
def cfg():
    return config.load(PARAMS_DIR / "prod.json")


class Pages:
    def __init__(self, fn):
        self.fn = fn

    def paginate(self, **kw):
        return iter(self.fn(**kw))


class Recorder:
    def __init__(self, service, calls, fail):
        self.service, self.calls, self.fail = service, calls, fail

    def _call(self, op, kw):
        self.calls.append((self.service, op, kw))
        f = self.fail.get(op)
        if callable(f) and not isinstance(f, BaseException):
            f = f(kw)
        if f is not None:
            raise f


class FakeSsm(Recorder):
    def __init__(self, calls, fail, params):
        super().__init__("ssm", calls, fail)
        self.params = params

    def get_paginator(self, name):
        assert name == "get_parameters_by_path"

        def pages(Path, Recursive, WithDecryption):  # noqa: N803 - boto3's names
            assert Recursive is True and WithDecryption is False
            items = [{"Name": k, **v} for k, v in self.params.items() if k.startswith(Path + "/")]
            return [{"Parameters": items[:2]}, {"Parameters": items[2:]}]

        return Pages(pages)

    def put_parameter(self, **kw):
        self._call("put_parameter", kw)
        if kw["Name"] in self.params and not kw.get("Overwrite"):
            raise err("ParameterAlreadyExists")
        self.params[kw["Name"]] = {"Type": kw["Type"], "Value": kw["Value"]}
        return {"Version": 1}


def good_bucket(name: str) -> dict:
    """A bucket as bootstrap leaves it."""
    return {
        "ownership": [{"ObjectOwnership": "BucketOwnerEnforced"}],
        "pab": {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")},
        "encryption": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}],
        "versioning": "Enabled",
        "policy": {"Version": "2012-10-17", "Statement": [bootstrap._bucket_policy_statement(name)]},
        "lifecycle": [
            {
                "ID": bootstrap.LIFECYCLE_ID,
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            }
        ],
        "objects": {},
    }


class FakeS3(Recorder):
    """Buckets by name: a dict of settings (a missing key: never set), or
    "foreign" for a bucket another account owns."""

    def __init__(self, calls, fail, buckets):
        super().__init__("s3", calls, fail)
        self.buckets = buckets

    def _b(self, op, kw):
        self._call(op, kw)
        assert kw.get("ExpectedBucketOwner") == ACCOUNT, (op, kw)  # every call names the owner it expects
        b = self.buckets.get(kw["Bucket"])
        if b is None:
            raise err("NoSuchBucket")
        if b == "foreign":
            raise err("403", "Forbidden")
        return b

    def head_bucket(self, **kw):
        self._call("head_bucket", kw)
        assert kw.get("ExpectedBucketOwner") == ACCOUNT
        b = self.buckets.get(kw["Bucket"])
        if b is None:
            raise err("404", "Not Found")
        if b == "foreign":
            raise err("403", "Forbidden")
        return {}

    def list_buckets(self, **kw):
        """This account's buckets (ListBuckets lists only the caller's own)."""
        self._call("list_buckets", kw)
        prefix = kw.get("Prefix", "")
        return {
            "Buckets": [{"Name": n} for n, b in sorted(self.buckets.items()) if b != "foreign" and n.startswith(prefix)]
        }

    def create_bucket(self, **kw):
        self._call("create_bucket", kw)
        self.buckets.setdefault(kw["Bucket"], {"objects": {}})
        return {}

    def _get(self, op, kw, key, missing):
        b = self._b(op, kw)
        if key not in b:
            raise err(missing)
        return b[key]

    def get_bucket_ownership_controls(self, **kw):
        return {
            "OwnershipControls": {
                "Rules": self._get("get_bucket_ownership_controls", kw, "ownership", "OwnershipControlsNotFoundError")
            }
        }

    def put_bucket_ownership_controls(self, **kw):
        self._b("put_bucket_ownership_controls", kw)["ownership"] = kw["OwnershipControls"]["Rules"]

    def get_public_access_block(self, **kw):
        return {
            "PublicAccessBlockConfiguration": self._get(
                "get_public_access_block", kw, "pab", "NoSuchPublicAccessBlockConfiguration"
            )
        }

    def put_public_access_block(self, **kw):
        self._b("put_public_access_block", kw)["pab"] = kw["PublicAccessBlockConfiguration"]

    def get_bucket_encryption(self, **kw):
        return {
            "ServerSideEncryptionConfiguration": {
                "Rules": self._get(
                    "get_bucket_encryption", kw, "encryption", "ServerSideEncryptionConfigurationNotFoundError"
                )
            }
        }

    def put_bucket_encryption(self, **kw):
        self._b("put_bucket_encryption", kw)["encryption"] = kw["ServerSideEncryptionConfiguration"]["Rules"]

    def get_bucket_versioning(self, **kw):
        b = self._b("get_bucket_versioning", kw)
        return {"Status": b["versioning"]} if "versioning" in b else {}

    def put_bucket_versioning(self, **kw):
        self._b("put_bucket_versioning", kw)["versioning"] = kw["VersioningConfiguration"]["Status"]

    def get_bucket_policy(self, **kw):
        return {"Policy": json.dumps(self._get("get_bucket_policy", kw, "policy", "NoSuchBucketPolicy"))}

    def put_bucket_policy(self, **kw):
        self._b("put_bucket_policy", kw)["policy"] = json.loads(kw["Policy"])

    def get_bucket_lifecycle_configuration(self, **kw):
        rules = self._get("get_bucket_lifecycle_configuration", kw, "lifecycle", "NoSuchLifecycleConfiguration")
        return {} if rules is None else {"Rules": rules}

    def put_bucket_lifecycle_configuration(self, **kw):
        self._b("put_bucket_lifecycle_configuration", kw)["lifecycle"] = kw["LifecycleConfiguration"]["Rules"]

    def head_object(self, **kw):
        o = self._b("head_object", kw)["objects"].get(kw["Key"])
        if o is None:
            raise err("404", "Not Found")
        if o.get("ETag") is False:
            return {}
        return {"ETag": o.get("ETag", '"' + hashlib.md5(o["Body"]).hexdigest() + '"')}

    def get_object(self, **kw):
        body = self._b("get_object", kw)["objects"][kw["Key"]]["Body"]

        class Stream:
            def read(self):
                return body

        return {"Body": Stream()}

    def put_object(self, **kw):
        self._b("put_object", kw)["objects"][kw["Key"]] = {
            "Body": kw["Body"],
            "ContentType": kw["ContentType"],
            "Metadata": kw["Metadata"],
        }

    def get_paginator(self, name):
        assert name == "list_objects_v2"

        def pages(Bucket, Prefix, ExpectedBucketOwner):  # noqa: N803 - boto3's names
            assert ExpectedBucketOwner == ACCOUNT
            keys = sorted(k for k in self.buckets[Bucket]["objects"] if k.startswith(Prefix))
            return [{"Contents": [{"Key": k} for k in keys]}, {}]

        return Pages(pages)


class FakeAws:
    def __init__(self, params=None, buckets=None, fail=None, region=REGION, endpoint_url=None):
        self.calls: list = []
        fail = fail or {}
        self.region, self.endpoint_url = region, endpoint_url
        self.ssm = FakeSsm(self.calls, fail, params if params is not None else {})
        self.s3 = FakeS3(self.calls, fail, buckets if buckets is not None else {})

    @property
    def plain_http(self):  # transport, as aws.Aws.plain_http
        return (self.endpoint_url or "").startswith("http://")

    def check_credentials(self):
        return ACCOUNT

    def client(self, name):
        return {"ssm": self.ssm, "s3": self.s3}[name]

    def writes(self, service=None):
        return [
            (s, o, kw)
            for s, o, kw in self.calls
            if o.startswith(("put_", "create_", "delete_")) and (service is None or s == service)
        ]


def _bucket(cfg) -> str:
    """The deploy bucket's name in the fake account."""
    return cfg.deploy_bucket_name(ACCOUNT)


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "instance-files"
    (d / "config").mkdir(parents=True)
    (d / "config" / "app.yaml").write_text("a: 1\n")
    (d / "config" / "__pycache__").mkdir()
    (d / "config" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (d / "config" / "__pycache__" / "notes.txt").write_text("cache\n")
    (d / "config" / "grafana").mkdir()
    (d / "config" / "grafana" / "board.json").write_text("{}\n")
    (d / "config" / "stale.pyc").write_bytes(b"\0")
    (d / "top.txt").write_text("top\n")
    return d


def artifact_bucket(cfg):
    return artifacts.bucket_name(cfg.project, ACCOUNT, REGION)


def settled(cfg, files):
    """An account bootstrap has already run on: every parameter, the deploy
    bucket as bootstrap leaves it with every file, and the artifact bucket
    with its rules."""
    aws = FakeAws(buckets={artifact_bucket(cfg): {"objects": {}}})
    bootstrap.run(cfg, aws, files_dir=files)
    aws.calls.clear()
    return aws


# -- secrets and names ------------------------------------------------------------------------------


def test_a_secret_missing_a_letter_case_or_a_digit_is_drawn_again(monkeypatch):
    drawn = iter("abcd" + "ABCD" + "1234" + "aB1c" + "aB1c" + "AB12" + "ab12" + "aBcD" + "aB1z")

    class Draw:
        @staticmethod
        def choice(_alphabet):
            return next(drawn)

    monkeypatch.setattr(bootstrap, "secrets", Draw)
    # lower only, upper only, digits only are refused; the first with all three is taken
    assert bootstrap.generate_secret(4) == "aB1c"
    assert bootstrap.generate_secret(4) == "aB1c"
    # no lower, no upper, no digit: each refused
    assert bootstrap.generate_secret(4) == "aB1z"


def test_generated_secrets_are_of_the_asked_length_from_letters_and_digits():
    values = [bootstrap.generate_secret() for _ in range(20)] + [bootstrap.generate_secret(64)]
    assert {len(v) for v in values[:-1]} == {32} and len(values[-1]) == 64
    assert all(v.isalnum() and v.isascii() for v in values) and len(set(values)) == len(values)


def test_rotate_takes_relative_names_full_paths_and_a_leading_slash(cfg):
    prefix = bootstrap.parameter_prefix(cfg)
    assert prefix == f"/{cfg.project}/{cfg.environment}"
    assert bootstrap.resolve_rotate(
        cfg, ["redis/auth_token", f"{prefix}/redis/auth_token", "/db/postgres_superuser_password"]
    ) == ["redis/auth_token", "redis/auth_token", "db/postgres_superuser_password"]
    assert bootstrap.resolve_rotate(cfg, []) == []


@pytest.mark.parametrize("raw", ["db/postgres_db", "/wealist/dev/redis/auth_token", "nothing", "Xredis/auth_token"])
def test_rotate_refuses_a_name_that_is_not_a_generated_secret_naming_it_and_the_choices(cfg, raw):
    with pytest.raises(bootstrap.BootstrapError) as e:
        bootstrap.resolve_rotate(cfg, ["redis/auth_token", raw])
    assert str(e.value) == f"--rotate {raw}: not a generated secret; one of: {', '.join(bootstrap.SECRET_NAMES)}"


def test_the_report_says_would_be_in_a_dry_run_and_counts_only_real_changes():
    r = bootstrap.Report(dry_run=True)
    for action in ("created", "updated", "rotated", "unchanged", "kept", "extra", "warning"):
        r.add(action, "parameter", "/p", "d")
    assert [c.action for c in r.changes] == [
        "would be created",
        "would be updated",
        "would be rotated",
        "unchanged",
        "kept",
        "extra",
        "warning",
    ]
    assert r.count("would be created") == 1 and r.count("created") == 0 and r.changed
    quiet = bootstrap.Report(dry_run=False)
    for action in ("unchanged", "kept", "extra", "warning"):
        quiet.add(action, "bucket", "b")
        assert not quiet.changed
    quiet.add("created", "bucket", "b")
    assert quiet.changed and quiet.changes[-1] == bootstrap.Change("created", "bucket", "b", "")


# -- parameters -------------------------------------------------------------------------------------


def test_a_first_run_creates_each_parameter_once_secrets_under_the_environments_key(cfg, files):
    aws = FakeAws()
    report = bootstrap.run(cfg, aws, files_dir=files)
    puts = [kw for s, o, kw in aws.calls if o == "put_parameter"]
    prefix = bootstrap.parameter_prefix(cfg)
    assert [kw["Name"] for kw in puts] == [f"{prefix}/{p.name}" for p in bootstrap.PARAMETERS]
    tags = [
        {"Key": "Project", "Value": cfg.project},
        {"Key": "Environment", "Value": cfg.environment},
        {"Key": "ManagedBy", "Value": "wealist-cfn bootstrap"},
    ]
    for p, kw in zip(bootstrap.PARAMETERS, puts):
        assert kw["Overwrite"] is False and kw["Tags"] == tags and kw["Tier"] == "Standard"
        assert kw["Description"] == p.description
        if p.kind == bootstrap.SECRET:
            assert kw["Type"] == "SecureString" and kw["KeyId"] == f"alias/{cfg.name_prefix}-secrets"
            assert len(kw["Value"]) == p.length
        else:
            assert kw["Type"] == "String" and "KeyId" not in kw and kw["Value"] == p.value(cfg)
    created = {c.name: c.detail for c in report.changes if c.what == "parameter"}
    assert {created[f"{prefix}/{p.name}"] for p in bootstrap.PARAMETERS if p.kind == bootstrap.SECRET} == {
        "SecureString, generated"
    }
    assert {created[f"{prefix}/{p.name}"] for p in bootstrap.PARAMETERS if p.kind != bootstrap.SECRET} == {"String"}
    assert all(c.action == "created" for c in report.changes if c.what == "parameter")


def test_a_dry_run_writes_nothing_anywhere_and_lists_what_it_would_do(cfg, files):
    aws = FakeAws()
    report = bootstrap.run(cfg, aws, dry_run=True, files_dir=files)
    assert aws.writes() == []
    assert {c.action for c in report.changes} <= {"would be created", "unchanged"}
    [bucket] = [c for c in report.changes if c.what == "bucket" and c.name == _bucket(cfg)]
    assert (bucket.action, bucket.detail) == ("would be created", ", ".join(bootstrap.BUCKET_SETTINGS))
    # the bucket does not exist: no object is looked up in it, and every file would be created
    assert not [o for _, o, _ in aws.calls if o in ("head_object", "get_object")]
    objects = [c for c in report.changes if c.what == "object"]
    assert {c.action for c in objects} == {"would be created"} and len(objects) == 4
    assert report.count("would be created") == len(bootstrap.PARAMETERS) + 1 + 4


def test_a_second_run_writes_nothing(cfg, files):
    aws = settled(cfg, files)
    report = bootstrap.run(cfg, aws, files_dir=files)
    assert aws.writes() == [] and not report.changed


def test_a_parameter_created_at_the_same_moment_by_another_run_is_theirs(cfg, files):
    prefix = bootstrap.parameter_prefix(cfg)
    target = f"{prefix}/redis/auth_token"
    aws = FakeAws(fail={"put_parameter": lambda kw: err("ParameterAlreadyExists") if kw["Name"] == target else None})
    report = bootstrap.run(cfg, aws, files_dir=files)
    [c] = [c for c in report.changes if c.name == target]
    assert (c.action, c.detail) == ("unchanged", "created concurrently by another run")
    # the parameters after it are still created
    assert report.count("created") > 1 and any(
        c.name == f"{prefix}/monitoring/grafana_admin_password" and c.action == "created" for c in report.changes
    )


def test_any_other_refusal_of_a_write_stops_bootstrap_with_the_call_code_and_message(cfg, files):
    aws = FakeAws(
        fail={
            "put_parameter": ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "PutParameter"
            )
        }
    )
    with pytest.raises(bootstrap.BootstrapError) as e:
        bootstrap.run(cfg, aws, files_dir=files)
    assert str(e.value) == "PutParameter: AccessDeniedException: not allowed"
    assert len([o for _, o, _ in aws.calls if o == "put_parameter"]) == 1


@pytest.mark.parametrize(
    "endpoint, code, hinted",
    [
        ("http://127.0.0.1:5000", "AccessDenied", True),
        ("http://127.0.0.1:5000", "403", True),
        ("https://s3.example", "AccessDenied", False),
        (None, "AccessDenied", False),
        ("http://127.0.0.1:5000", "AccessDeniedException", False),
    ],
)
def test_a_denial_over_plain_http_names_the_tls_only_policy(cfg, files, endpoint, code, hinted):
    aws = FakeAws(
        endpoint_url=endpoint,
        fail={"put_parameter": ClientError({"Error": {"Code": code, "Message": "Access Denied"}}, "PutParameter")},
    )
    with pytest.raises(bootstrap.BootstrapError) as e:
        bootstrap.run(cfg, aws, files_dir=files)
    hint = " (the bucket's TLS-only policy denies every call made over plain http://)"
    assert str(e.value) == f"PutParameter: {code}: Access Denied" + (hint if hinted else "")


def test_values_that_exist_are_kept_synced_ones_follow_the_project_and_rotate_writes_one_secret(cfg, files):
    aws = settled(cfg, files)
    prefix = bootstrap.parameter_prefix(cfg)
    synced = next(p for p in bootstrap.PARAMETERS if p.kind == bootstrap.SYNCED)
    default = next(p for p in bootstrap.PARAMETERS if p.kind == bootstrap.DEFAULT)
    release = next(p for p in bootstrap.PARAMETERS if p.kind == bootstrap.RELEASE)
    for p in (synced, default, release):
        aws.ssm.params[f"{prefix}/{p.name}"]["Value"] = "set-by-hand"
    before = dict(aws.ssm.params[f"{prefix}/redis/auth_token"])
    report = bootstrap.run(cfg, aws, rotate=["redis/auth_token"], files_dir=files)
    by = {c.name: c for c in report.changes}
    assert (by[f"{prefix}/{synced.name}"].action, by[f"{prefix}/{synced.name}"].detail) == (
        "updated",
        "the project's content changed",
    )
    assert aws.ssm.params[f"{prefix}/{synced.name}"]["Value"] == synced.value(cfg)
    for p in (default, release):
        assert (by[f"{prefix}/{p.name}"].action, by[f"{prefix}/{p.name}"].detail) == (
            "kept",
            "exists with a value of its own; left as it is",
        )
        assert aws.ssm.params[f"{prefix}/{p.name}"]["Value"] == "set-by-hand"
    rotated = by[f"{prefix}/redis/auth_token"]
    assert (rotated.action, rotated.detail) == (
        "rotated",
        "SecureString, new value generated; previous version kept in the parameter's history",
    )
    after = aws.ssm.params[f"{prefix}/redis/auth_token"]
    assert after["Value"] != before["Value"] and len(after["Value"]) == 64 and after["Type"] == "SecureString"
    [put] = [kw for _, o, kw in aws.calls if o == "put_parameter" and kw["Name"].endswith("auth_token")]
    assert put["Overwrite"] is True and put["KeyId"] == f"alias/{cfg.name_prefix}-secrets"
    redis = bootstrap.PARAMS_BY_NAME["redis/auth_token"]
    assert report.follow_up == [
        f"{prefix}/redis/auth_token: "
        + redis.after_rotate.format(prefix=cfg.name_prefix, path=f"{prefix}/redis/auth_token", params=cfg.path)
    ]
    # the other secrets are not written
    assert {kw["Name"] for _, o, kw in aws.calls if o == "put_parameter"} == {
        f"{prefix}/redis/auth_token",
        f"{prefix}/{synced.name}",
    }
    assert by[f"{prefix}/monitoring/grafana_admin_password"].detail == "SecureString, exists"


def test_a_dry_run_rotates_and_syncs_nothing(cfg, files):
    aws = settled(cfg, files)
    prefix = bootstrap.parameter_prefix(cfg)
    synced = next(p for p in bootstrap.PARAMETERS if p.kind == bootstrap.SYNCED)
    aws.ssm.params[f"{prefix}/{synced.name}"]["Value"] = "old"
    report = bootstrap.run(cfg, aws, rotate=["redis/auth_token"], dry_run=True, files_dir=files)
    assert aws.writes() == []
    assert {c.action for c in report.changes if c.what == "parameter" and c.action != "unchanged"} == {
        "would be rotated",
        "would be updated",
    }


def test_a_secret_stored_as_plain_string_is_flagged_with_how_to_replace_it(cfg, files):
    aws = settled(cfg, files)
    prefix = bootstrap.parameter_prefix(cfg)
    aws.ssm.params[f"{prefix}/redis/auth_token"]["Type"] = "String"
    report = bootstrap.run(cfg, aws, files_dir=files)
    [c] = [c for c in report.changes if c.name == f"{prefix}/redis/auth_token"]
    assert (c.action, c.detail) == (
        "warning",
        "is a String, not a SecureString: anyone who may read parameters "
        "sees it; replace it with --rotate redis/auth_token",
    )
    assert aws.writes() == []


def test_the_old_startup_script_parameter_is_reported_with_how_to_remove_it(cfg, files):
    aws = settled(cfg, files)
    old = f"{bootstrap.parameter_prefix(cfg)}/startup-script"
    aws.ssm.params[old] = {"Type": "String", "Value": "#!/bin/sh"}
    report = bootstrap.run(cfg, aws, files_dir=files)
    [c] = [c for c in report.changes if c.name == old]
    assert (c.action, c.detail) == (
        "extra",
        f"no longer read (instances fetch s3://{_bucket(cfg)}/"
        f"boot/startup.sh); remove it with aws ssm delete-parameter --name {old}",
    )
    assert aws.writes() == []


def test_check_values_reports_the_first_bad_value_with_its_full_name(cfg, monkeypatch):
    monkeypatch.setitem(cfg.values, "Project", "bad{{x}}")
    with pytest.raises(bootstrap.InvalidValue) as e:
        bootstrap.check_values(cfg)
    assert str(e.value).startswith("parameter /bad{{x}}/")


def test_a_value_only_the_service_refuses_is_named(cfg, monkeypatch):
    monkeypatch.setitem(bootstrap.SERVICE_RULES, "db/postgres_db", lambda v: f"{v} refused by the service")
    with pytest.raises(bootstrap.InvalidValue) as e:
        bootstrap.check_values(cfg)
    prefix = bootstrap.parameter_prefix(cfg)
    assert str(e.value) == f"parameter {prefix}/db/postgres_db: {bootstrap._sql_name(cfg)} refused by the service"


def test_a_value_refused_before_any_call_leaves_the_account_untouched(cfg, files, monkeypatch):
    monkeypatch.setitem(bootstrap.SERVICE_RULES, "db/postgres_db", lambda v: "no")
    aws = FakeAws()
    with pytest.raises(bootstrap.InvalidValue):
        bootstrap.run(cfg, aws, files_dir=files)
    assert aws.calls == []


# -- the deploy bucket ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "region, location", [(REGION, {"CreateBucketConfiguration": {"LocationConstraint": REGION}}), ("us-east-1", {})]
)
def test_a_new_bucket_is_made_with_ownership_enforced_in_its_region_and_counted_once(cfg, files, region, location):
    aws = FakeAws(region=region)
    report = bootstrap.run(cfg, aws, files_dir=files)
    [create] = [kw for _, o, kw in aws.calls if o == "create_bucket"]
    assert create == {"Bucket": _bucket(cfg), "ObjectOwnership": "BucketOwnerEnforced", **location}
    [c] = [c for c in report.changes if c.what == "bucket" and c.name == _bucket(cfg)]
    assert (c.action, c.detail) == ("created", ", ".join(bootstrap.BUCKET_SETTINGS))
    b = aws.s3.buckets[_bucket(cfg)]
    assert {k: v for k, v in b.items() if k != "objects"} == {
        k: v for k, v in good_bucket(_bucket(cfg)).items() if k != "objects"
    }


def test_a_new_bucket_with_settings_already_right_is_one_change_and_only_the_missing_ones_are_written(cfg, files):
    aws = FakeAws(fail={"create_bucket": err("BucketAlreadyOwnedByYou")}, buckets={})
    # created by us a moment ago (an earlier, interrupted run): HEAD said 404, create says ours
    good = good_bucket(_bucket(cfg))
    for k in ("pab", "encryption"):
        del good[k]
    original_head = aws.s3.head_bucket

    def head(**kw):
        if kw["Bucket"] == _bucket(cfg):
            aws.s3.buckets[_bucket(cfg)] = good
            aws.calls.append(("s3", "head_bucket", kw))
            raise err("404")
        return original_head(**kw)

    aws.s3.head_bucket = head
    report = bootstrap.run(cfg, aws, files_dir=files)
    [c] = [c for c in report.changes if c.what == "bucket" and c.name == _bucket(cfg)]
    assert (c.action, c.detail) == ("created", ", ".join(bootstrap.BUCKET_SETTINGS))
    assert [o for _, o, kw in aws.writes("s3") if kw.get("Bucket") == _bucket(cfg) and o != "put_object"] == [
        "create_bucket",
        "put_public_access_block",
        "put_bucket_encryption",
    ]


def test_a_bucket_name_taken_by_another_account_stops_with_a_name_to_use_instead(cfg, files):
    aws = FakeAws(fail={"create_bucket": err("BucketAlreadyExists")})
    with pytest.raises(bootstrap.BootstrapError) as e:
        bootstrap.run(cfg, aws, files_dir=files)
    message = str(e.value)
    assert _bucket(cfg) in message and "BucketAlreadyExists" in message, message
    assert "DeployBucketName" in message and ACCOUNT in message, "the way out and the account are named"
    assert [o for _, o, _ in aws.writes("s3")] == ["create_bucket"]


def test_another_refusal_to_create_the_bucket_is_reported_as_it_is(cfg, files):
    aws = FakeAws(
        fail={"create_bucket": ClientError({"Error": {"Code": "TooManyBuckets", "Message": "limit"}}, "CreateBucket")}
    )
    with pytest.raises(bootstrap.BootstrapError) as e:
        bootstrap.run(cfg, aws, files_dir=files)
    assert str(e.value) == "CreateBucket: TooManyBuckets: limit"


@pytest.mark.parametrize("code", ["403", "AccessDenied"])
def test_a_bucket_of_another_account_stops_bootstrap_before_it_writes_to_it(cfg, files, code):
    aws = FakeAws(fail={"head_bucket": lambda kw: err(code) if kw["Bucket"] == _bucket(cfg) else None})
    with pytest.raises(bootstrap.BootstrapError) as e:
        bootstrap.run(cfg, aws, files_dir=files)
    message = str(e.value)
    assert _bucket(cfg) in message and "DeployBucketName" in message, message
    assert aws.writes("s3") == [] and aws.writes("ssm") == [], "nothing is written before the bucket is settled"


@pytest.mark.parametrize("code", ["404", "NoSuchBucket", "NotFound"])
def test_each_way_s3_says_no_such_bucket_creates_it(cfg, files, code):
    aws = FakeAws(fail={"head_bucket": lambda kw: err(code) if kw["Bucket"] == _bucket(cfg) else None})
    bootstrap.run(cfg, aws, files_dir=files)
    assert ("create_bucket", _bucket(cfg)) in [(o, kw.get("Bucket")) for _, o, kw in aws.calls]


def test_a_head_bucket_that_fails_otherwise_stops_bootstrap(cfg, files):
    aws = FakeAws(fail={"head_bucket": ClientError({"Error": {"Code": "500", "Message": "Internal"}}, "HeadBucket")})
    with pytest.raises(bootstrap.BootstrapError) as e:
        bootstrap.run(cfg, aws, files_dir=files)
    assert str(e.value) == "HeadBucket: 500: Internal" and aws.writes("s3") == []


SETTING_BREAKS = {
    "ownership: bucket owner enforced": lambda b: b.__setitem__("ownership", [{"ObjectOwnership": "ObjectWriter"}]),
    "public access blocked": lambda b: b["pab"].__setitem__("RestrictPublicBuckets", False),
    "default encryption": lambda b: b.pop("encryption"),
    "versioning": lambda b: b.__setitem__("versioning", "Suspended"),
    "policy: TLS only": lambda b: b["policy"]["Statement"][0]["Condition"]["Bool"].__setitem__(
        "aws:SecureTransport", "true"
    ),
    "lifecycle: old versions expire after 90 days": lambda b: b["lifecycle"][0][
        "NoncurrentVersionExpiration"
    ].__setitem__("NoncurrentDays", 30),
}


@pytest.mark.parametrize("setting", list(SETTING_BREAKS))
def test_one_setting_changed_behind_bootstraps_back_is_the_one_put_right(cfg, files, setting):
    aws = settled(cfg, files)
    b = aws.s3.buckets[_bucket(cfg)]
    SETTING_BREAKS[setting](b)
    report = bootstrap.run(cfg, aws, files_dir=files)
    bucket_lines = [(c.action, c.detail) for c in report.changes if c.name == _bucket(cfg)]
    assert bucket_lines == [("updated" if s == setting else "unchanged", s) for s in bootstrap.BUCKET_SETTINGS]
    assert len(aws.writes("s3")) == 1
    assert {k: v for k, v in b.items() if k != "objects"} == {
        k: v for k, v in good_bucket(_bucket(cfg)).items() if k != "objects"
    }


@pytest.mark.parametrize("setting", list(SETTING_BREAKS))
def test_a_dry_run_names_the_setting_it_would_put_right_and_writes_nothing(cfg, files, setting):
    aws = settled(cfg, files)
    SETTING_BREAKS[setting](aws.s3.buckets[_bucket(cfg)])
    report = bootstrap.run(cfg, aws, dry_run=True, files_dir=files)
    assert [c.detail for c in report.changes if c.action == "would be updated"] == [setting]
    assert aws.writes() == []


@pytest.mark.parametrize(
    "key, missing",
    [("ownership", "never set"), ("pab", "never set"), ("policy", "never set"), ("lifecycle", "never set")],
)
def test_a_setting_never_made_on_an_existing_bucket_is_made(cfg, files, key, missing):
    aws = settled(cfg, files)
    del aws.s3.buckets[_bucket(cfg)][key]
    report = bootstrap.run(cfg, aws, files_dir=files)
    assert report.count("updated") == 1
    assert key in aws.s3.buckets[_bucket(cfg)]


@pytest.mark.parametrize("algorithm", ["aws:kms", "aws:kms:dsse"])
def test_a_kms_key_an_operator_chose_for_the_bucket_is_kept(cfg, files, algorithm):
    aws = settled(cfg, files)
    aws.s3.buckets[_bucket(cfg)]["encryption"] = [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": algorithm, "KMSMasterKeyID": "k"}}
    ]
    report = bootstrap.run(cfg, aws, files_dir=files)
    assert aws.writes("s3") == [] and ("unchanged", "default encryption") in [
        (c.action, c.detail) for c in report.changes
    ]


def test_a_setting_that_cannot_be_read_stops_bootstrap_rather_than_overwriting_it(cfg, files):
    aws = settled(cfg, files)
    aws.s3.fail["get_bucket_policy"] = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetBucketPolicy"
    )
    with pytest.raises(bootstrap.BootstrapError) as e:
        bootstrap.run(cfg, aws, files_dir=files)
    assert str(e.value) == "GetBucketPolicy: AccessDenied: no"
    assert not [o for _, o, _ in aws.calls if o == "put_bucket_policy"]


def test_the_tls_statement_is_added_to_the_bucket_policy_and_replaces_only_its_own_older_self(cfg, files):
    aws = settled(cfg, files)
    b = aws.s3.buckets[_bucket(cfg)]
    theirs = {
        "Sid": "AuditRead",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{_bucket(cfg)}/*",
    }
    stale = dict(bootstrap._bucket_policy_statement(_bucket(cfg)), Action="s3:GetObject")
    b["policy"] = {"Version": "2012-10-17", "Statement": [stale, theirs]}
    bootstrap.run(cfg, aws, files_dir=files)
    assert b["policy"] == {
        "Version": "2012-10-17",
        "Statement": [theirs, bootstrap._bucket_policy_statement(_bucket(cfg))],
    }
    # a policy whose Statement is one object, not a list
    b["policy"] = {"Version": "2012-10-17", "Statement": theirs}
    bootstrap.run(cfg, aws, files_dir=files)
    assert b["policy"]["Statement"] == [theirs, bootstrap._bucket_policy_statement(_bucket(cfg))]


def test_the_tls_statement_denies_every_call_over_plain_http_to_the_bucket_and_its_objects(cfg):
    s = bootstrap._bucket_policy_statement("b")
    assert s == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_the_lifecycle_rule_is_added_beside_other_rules_and_an_old_copy_of_it_replaced(cfg, files):
    aws = settled(cfg, files)
    b = aws.s3.buckets[_bucket(cfg)]
    theirs = {"ID": "logs-expire", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 3}}
    old = {
        "ID": bootstrap.LIFECYCLE_ID,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
    }
    b["lifecycle"] = [theirs, old]
    bootstrap.run(cfg, aws, files_dir=files)
    assert b["lifecycle"] == [theirs, good_bucket(_bucket(cfg))["lifecycle"][0]]
    b["lifecycle"] = [theirs]  # ours missing: put beside theirs
    bootstrap.run(cfg, aws, files_dir=files)
    assert b["lifecycle"] == [theirs, good_bucket(_bucket(cfg))["lifecycle"][0]]
    b["lifecycle"] = [theirs, {"ID": bootstrap.LIFECYCLE_ID, "Status": "Enabled"}]  # ours without the expiry
    bootstrap.run(cfg, aws, files_dir=files)
    assert b["lifecycle"][-1] == good_bucket(_bucket(cfg))["lifecycle"][0]


# -- the artifact bucket ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["404", "NoSuchBucket", "NotFound"])
def test_the_artifact_bucket_not_made_yet_is_left_to_the_first_deploy(cfg, files, code):
    aws = FakeAws(fail={"head_bucket": lambda kw: err(code) if kw["Bucket"] == artifact_bucket(cfg) else None})
    report = bootstrap.run(cfg, aws, files_dir=files)
    [c] = [c for c in report.changes if c.name == artifact_bucket(cfg)]
    assert (c.action, c.detail) == (
        "unchanged",
        "artifact bucket not made yet: the first deploy makes it with its lifecycle rules",
    )


@pytest.mark.parametrize("code", ["403", "AccessDenied"])
def test_an_artifact_bucket_that_cannot_be_read_is_a_warning_not_a_failure(cfg, files, code):
    aws = FakeAws(fail={"head_bucket": lambda kw: err(code) if kw["Bucket"] == artifact_bucket(cfg) else None})
    report = bootstrap.run(cfg, aws, files_dir=files)
    [c] = [c for c in report.changes if c.name == artifact_bucket(cfg)]
    assert (c.action, c.detail) == (
        "warning",
        "artifact bucket not readable with these credentials (or another account's): lifecycle rules not checked",
    )
    assert not [kw for _, _, kw in aws.writes("s3") if kw.get("Bucket") == artifact_bucket(cfg)]


def test_an_artifact_bucket_head_that_fails_otherwise_stops_bootstrap(cfg, files):
    aws = FakeAws(
        fail={
            "head_bucket": lambda kw: (
                ClientError({"Error": {"Code": "500", "Message": "x"}}, "HeadBucket")
                if kw["Bucket"] == artifact_bucket(cfg)
                else None
            )
        }
    )
    with pytest.raises(bootstrap.BootstrapError):
        bootstrap.run(cfg, aws, files_dir=files)


def test_the_artifact_buckets_rules_are_put_once_and_then_found_in_place(cfg, files):
    aws = FakeAws(buckets={artifact_bucket(cfg): {"objects": {}}})
    report = bootstrap.run(cfg, aws, files_dir=files)
    [c] = [c for c in report.changes if c.name == artifact_bucket(cfg)]
    detail = (
        f"lifecycle: current plan/ and deploy/ objects kept (a stack may name them), non-current versions "
        f"expire after {artifacts.DEPLOY_NONCURRENT_DAYS} days"
    )
    assert (c.action, c.detail) == ("updated", detail)
    assert aws.s3.buckets[artifact_bucket(cfg)]["lifecycle"] == artifacts.lifecycle_rules()
    report = bootstrap.run(cfg, aws, files_dir=files)
    [c] = [c for c in report.changes if c.name == artifact_bucket(cfg)]
    assert (c.action, c.detail) == ("unchanged", detail)
    dry = FakeAws(buckets={artifact_bucket(cfg): {"objects": {}}})
    bootstrap.run(cfg, dry, dry_run=True, files_dir=files)
    assert "lifecycle" not in dry.s3.buckets[artifact_bucket(cfg)]


# -- the files --------------------------------------------------------------------------------------


def test_the_files_are_the_startup_script_and_the_instance_files_without_bytecode(files):
    got = bootstrap.local_files(files)
    assert got == {
        "boot/startup.sh": bootstrap.STARTUP_SCRIPT,
        "config/app.yaml": files / "config" / "app.yaml",
        "config/grafana/board.json": files / "config" / "grafana" / "board.json",
        "top.txt": files / "top.txt",
    }
    assert bootstrap.local_files()[bootstrap.STARTUP_SCRIPT_KEY] == bootstrap.STARTUP_SCRIPT


@pytest.mark.parametrize(
    "key, ctype",
    [
        ("a.yml", "application/yaml"),
        ("a/b.yaml", "application/yaml"),
        ("a.json", "application/json"),
        ("a.txt", "text/plain"),
        ("a.unknownext", "text/plain"),
        ("README", "text/plain"),
    ],
)
def test_each_file_is_stored_with_the_content_type_its_name_says(key, ctype):
    assert bootstrap._content_type(key) == ctype


def test_a_new_file_is_uploaded_with_its_type_and_digest_into_the_accounts_bucket(cfg, files):
    aws = FakeAws()
    report = bootstrap.run(cfg, aws, files_dir=files)
    objects = aws.s3.buckets[_bucket(cfg)]["objects"]
    body = (files / "config" / "app.yaml").read_bytes()
    assert objects["config/app.yaml"] == {
        "Body": body,
        "ContentType": "application/yaml",
        "Metadata": {"sha256": hashlib.sha256(body).hexdigest()},
    }
    assert objects["boot/startup.sh"]["Body"] == bootstrap.STARTUP_SCRIPT.read_bytes()
    [c] = [c for c in report.changes if c.name == f"s3://{_bucket(cfg)}/config/app.yaml"]
    assert (c.action, c.detail) == ("created", f"{len(body)} bytes")


def test_a_file_whose_etag_matches_is_not_downloaded_and_one_that_differs_is_compared_by_content(cfg, files):
    aws = settled(cfg, files)
    objects = aws.s3.buckets[_bucket(cfg)]["objects"]
    # an object under a KMS key or uploaded in parts: the ETag is not the MD5, the bytes are the same
    objects["top.txt"]["ETag"] = '"0123456789abcdef0123456789abcdef-2"'
    report = bootstrap.run(cfg, aws, files_dir=files)
    assert [kw["Key"] for _, o, kw in aws.calls if o == "get_object"] == ["top.txt"]
    assert aws.writes() == [] and not report.changed


def test_a_file_changed_in_the_bucket_is_put_back_and_only_it(cfg, files):
    aws = settled(cfg, files)
    objects = aws.s3.buckets[_bucket(cfg)]["objects"]
    objects["config/app.yaml"] = {"Body": b"changed by hand\n"}
    report = bootstrap.run(cfg, aws, files_dir=files)
    assert [kw["Key"] for _, o, kw in aws.writes("s3")] == ["config/app.yaml"]
    [c] = [c for c in report.changes if c.action == "updated"]
    assert (c.name, c.detail) == (f"s3://{_bucket(cfg)}/config/app.yaml", "5 bytes")
    assert objects["config/app.yaml"]["Body"] == b"a: 1\n"


def test_a_file_changed_locally_is_uploaded_in_a_real_run_only(cfg, files):
    aws = settled(cfg, files)
    (files / "top.txt").write_text("new\n")
    report = bootstrap.run(cfg, aws, dry_run=True, files_dir=files)
    assert aws.writes() == [] and [c.name for c in report.changes if c.action == "would be updated"] == [
        f"s3://{_bucket(cfg)}/top.txt"
    ]
    bootstrap.run(cfg, aws, files_dir=files)
    assert aws.s3.buckets[_bucket(cfg)]["objects"]["top.txt"]["Body"] == b"new\n"


def test_an_object_that_cannot_be_looked_up_stops_bootstrap_before_it_is_overwritten(cfg, files):
    aws = settled(cfg, files)
    aws.s3.fail["head_object"] = ClientError({"Error": {"Code": "403", "Message": "Forbidden"}}, "HeadObject")
    with pytest.raises(bootstrap.BootstrapError) as e:
        bootstrap.run(cfg, aws, files_dir=files)
    assert str(e.value) == "HeadObject: 403: Forbidden" and aws.writes() == []


@pytest.mark.parametrize("code", ["404", "NoSuchKey", "NotFound"])
def test_each_way_s3_says_no_such_object_uploads_it(cfg, files, code):
    aws = settled(cfg, files)
    aws.s3.fail["head_object"] = lambda kw: err(code) if kw["Key"] == "top.txt" else None
    report = bootstrap.run(cfg, aws, files_dir=files)
    assert [(c.action, c.name) for c in report.changes if c.what == "object"] == [
        ("unchanged", f"s3://{_bucket(cfg)}/boot/startup.sh"),
        ("unchanged", f"s3://{_bucket(cfg)}/config/app.yaml"),
        ("unchanged", f"s3://{_bucket(cfg)}/config/grafana/board.json"),
        ("created", f"s3://{_bucket(cfg)}/top.txt"),
    ]


def test_objects_the_project_no_longer_has_are_reported_under_its_own_prefixes_only(cfg, files):
    aws = settled(cfg, files)
    objects = aws.s3.buckets[_bucket(cfg)]["objects"]
    for key in ("config/old.yaml", "config/grafana/old.json", "boot/old.sh", "other/x", "loose.txt"):
        objects[key] = {"Body": b"x"}
    report = bootstrap.run(cfg, aws, files_dir=files)
    extras = [(c.action, c.name, c.detail) for c in report.changes if c.action == "extra"]
    assert extras == [
        ("extra", f"s3://{_bucket(cfg)}/boot/old.sh", "not in instance-files/; left alone"),
        ("extra", f"s3://{_bucket(cfg)}/config/grafana/old.json", "not in instance-files/; left alone"),
        ("extra", f"s3://{_bucket(cfg)}/config/old.yaml", "not in instance-files/; left alone"),
    ]
    assert aws.writes() == []


def kind_of(name: str) -> str:
    return "object" if name.startswith("s3://") else "parameter" if name.startswith("/") else "bucket"


def test_every_line_of_the_report_names_what_kind_of_thing_it_is(cfg, files):
    """The printed report has a column for what changed (parameter, bucket,
    object); each line's must match the thing it names, in every state."""
    reports = []
    aws = FakeAws(fail={"head_bucket": lambda kw: err("403") if kw["Bucket"] == artifact_bucket(cfg) else None})
    reports.append(bootstrap.run(cfg, aws, files_dir=files))  # first run, artifact bucket unreadable
    aws = settled(cfg, files)
    reports.append(bootstrap.run(cfg, aws, files_dir=files))  # nothing to do
    prefix = bootstrap.parameter_prefix(cfg)
    synced = next(p for p in bootstrap.PARAMETERS if p.kind == bootstrap.SYNCED)
    default = next(p for p in bootstrap.PARAMETERS if p.kind == bootstrap.DEFAULT)
    aws.ssm.params[f"{prefix}/{synced.name}"]["Value"] = "x"
    aws.ssm.params[f"{prefix}/{default.name}"]["Value"] = "x"
    aws.ssm.params[f"{prefix}/redis/auth_token"]["Type"] = "String"
    aws.ssm.params[f"{prefix}/startup-script"] = {"Type": "String", "Value": "x"}
    del aws.ssm.params[f"{prefix}/monitoring/grafana_admin_password"]
    aws.ssm.fail["put_parameter"] = lambda kw: (
        err("ParameterAlreadyExists") if kw["Name"].endswith("grafana_admin_password") else None
    )
    SETTING_BREAKS["versioning"](aws.s3.buckets[_bucket(cfg)])
    aws.s3.buckets[_bucket(cfg)]["objects"]["config/old.yaml"] = {"Body": b"x"}
    aws.s3.buckets[_bucket(cfg)]["objects"]["top.txt"] = {"Body": b"x"}
    reports.append(bootstrap.run(cfg, aws, rotate=["db/postgres_superuser_password"], files_dir=files))
    aws = FakeAws()
    reports.append(bootstrap.run(cfg, aws, files_dir=files))  # artifact bucket not made yet
    changes = [c for r in reports for c in r.changes]
    assert {c.action for c in changes} >= {"created", "updated", "rotated", "unchanged", "kept", "extra", "warning"}
    assert [(c.what, c.name) for c in changes] == [(kind_of(c.name), c.name) for c in changes]
    assert all(c.name for c in changes)


def test_an_encryption_rule_without_a_default_is_no_default_encryption(cfg, files):
    aws = settled(cfg, files)
    aws.s3.buckets[_bucket(cfg)]["encryption"] = [{"BucketKeyEnabled": True}]
    report = bootstrap.run(cfg, aws, files_dir=files)
    assert ("updated", "default encryption") in [(c.action, c.detail) for c in report.changes]
    assert aws.s3.buckets[_bucket(cfg)]["encryption"] == good_bucket(_bucket(cfg))["encryption"]


def test_a_policy_without_statements_gets_the_tls_statement(cfg, files):
    aws = settled(cfg, files)
    aws.s3.buckets[_bucket(cfg)]["policy"] = {"Version": "2012-10-17"}
    bootstrap.run(cfg, aws, files_dir=files)
    assert aws.s3.buckets[_bucket(cfg)]["policy"]["Statement"] == [bootstrap._bucket_policy_statement(_bucket(cfg))]


def test_a_lifecycle_answer_without_rules_gets_the_rule(cfg, files):
    aws = settled(cfg, files)
    aws.s3.buckets[_bucket(cfg)]["lifecycle"] = None
    bootstrap.run(cfg, aws, files_dir=files)
    assert aws.s3.buckets[_bucket(cfg)]["lifecycle"] == good_bucket(_bucket(cfg))["lifecycle"]


def test_an_object_head_without_an_etag_is_compared_by_content(cfg, files):
    aws = settled(cfg, files)
    aws.s3.buckets[_bucket(cfg)]["objects"]["top.txt"]["ETag"] = False
    report = bootstrap.run(cfg, aws, files_dir=files)
    assert [kw["Key"] for _, o, kw in aws.calls if o == "get_object"] == ["top.txt"] and not report.changed


def _with_parameter(monkeypatch, extra):
    monkeypatch.setattr(bootstrap, "PARAMETERS", bootstrap.PARAMETERS + (extra,))


def test_check_values_refuses_a_description_parameter_store_refuses(cfg, monkeypatch):
    """PutParameter Description: at most 1024 characters."""
    _with_parameter(
        monkeypatch, bootstrap.ParamDef("db/extra_name", bootstrap.DEFAULT, "d" * 1025, value=lambda c: "x")
    )
    with pytest.raises(bootstrap.InvalidValue) as e:
        bootstrap.check_values(cfg)
    assert str(e.value) == (
        f"parameter {bootstrap.parameter_prefix(cfg)}/db/extra_name: a description is at most "
        f"1024 characters (PutParameter Description)"
    )


def test_check_values_checks_a_plain_value_as_the_plain_string_it_is_written_as(cfg, monkeypatch):
    """A parameter named like a secret but written as String is refused
    (project rule): checked as SecureString it would pass."""
    _with_parameter(monkeypatch, bootstrap.ParamDef("db/extra_password", bootstrap.DEFAULT, "d", value=lambda c: "x"))
    with pytest.raises(bootstrap.InvalidValue) as e:
        bootstrap.check_values(cfg)
    assert str(e.value) == (
        f"parameter {bootstrap.parameter_prefix(cfg)}/db/extra_password: a secret is stored as "
        f"SecureString, never in plain text (project rule)"
    )
