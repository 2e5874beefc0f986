"""Bootstrap: what must exist in an AWS account before the Wealist stack is
deployed, created from the project alone and safe to run again.

* Parameter Store, under ``/<project>/<env>/``: the SPEC's database
  parameters, the Redis AUTH token, Grafana's admin password and the release
  parameters (see :data:`PARAMETERS`). Secrets are generated with
  :mod:`secrets` and stored as SecureString; an existing value is never
  overwritten, except a secret named in ``rotate`` or a value the project
  itself owns (the repository names). Every value is checked against
  Parameter Store's rules (:mod:`wealist_cfn.core.rules`) before anything is
  written.
* The deploy bucket: created with default encryption, versioning, public
  access blocked, bucket-owner-enforced ownership, a TLS-only policy and
  expiry of old versions; then the files under ``instance-files/`` and the
  startup script (``boot/startup.sh``) are uploaded, each only when its
  content differs from the stored object's. The startup script is a file in
  the bucket, like everything else an instance fetches, and not a
  parameter: Parameter Store refuses values with ``{{ }}`` and caps them at
  4-8 KB, and a shell script should not have to avoid either.
* The CloudFormation artifact bucket (``<project>-cfn-artifacts-<account>-
  <region>``, made by the first deploy): when it exists, its lifecycle rules
  (:mod:`wealist_cfn.ops.artifacts`: ``plan/`` expires, old ``deploy/``
  versions go) are put in place, other rules kept.

:func:`run` returns a :class:`Report` of every change (created, updated,
rotated, unchanged, ...); no secret value is ever part of it, logged or
printed. With ``dry_run`` it reads and compares, and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from botocore.exceptions import ClientError

from wealist_cfn.core.paramstore import (  # noqa: F401 - re-exported: bootstrap's API
    DEFAULT,
    PARAMETERS,
    PARAMS_BY_NAME,
    RELEASE,
    SECRET,
    SECRET_NAMES,
    SYNCED,
    UNRELEASED,
    ParamDef,
    _sql_name,
)
from wealist_cfn.core.rules import (
    elasticache_auth_token_problem,
    parameter_problem,
    rds_master_password_problem,
    rds_master_username_problem,
)
from wealist_cfn.core.settings import PACKAGE_DIR, ROOT_DIR

from ..aws import Aws, error_code, error_message
from ..config import Config
from ..errors import EXIT_USAGE, CommandError
from . import artifacts

# The table of parameters (PARAMETERS, SECRET_NAMES, ...) lives in a leaf
# module, so that the templates name the secrets without importing boto3.
INSTANCE_FILES_DIR = ROOT_DIR / "instance-files"
STARTUP_SCRIPT = PACKAGE_DIR / "boot" / "startup.sh"
# Where UserData fetches the startup script (wealist_cfn/boot/userdata.sh).
STARTUP_SCRIPT_KEY = "boot/startup.sh"
# Where earlier versions stored the startup script; reported, never read.
OLD_STARTUP_PARAMETER = "startup-script"
MANAGED_BY = "wealist-cfn bootstrap"


class BootstrapError(CommandError, RuntimeError):
    """The account is not in a state bootstrap can fix by itself (exit 1).
    ``str()`` is the line to print."""


# ElastiCache AUTH: 16-128 printable characters without @ " / or spaces; RDS:
# 8-128 printable without / ' " @ or spaces. Letters and digits satisfy both,
# and survive env files and URLs unquoted; 32 of them carry 190 bits.
_ALPHABET = string.ascii_letters + string.digits


def generate_secret(length: int = 32) -> str:
    """A random password with at least one lower-case letter, upper-case letter and digit."""
    while True:
        value = "".join(secrets.choice(_ALPHABET) for _ in range(length))
        if any(c.islower() for c in value) and any(c.isupper() for c in value) and any(c.isdigit() for c in value):
            return value


@dataclass(frozen=True)
class Change:
    action: str  # created, updated, rotated, unchanged, kept, extra, warning, (would ...)
    what: str  # "parameter", "bucket", "object"
    name: str
    detail: str = ""


@dataclass
class Report:
    dry_run: bool
    changes: list[Change] = field(default_factory=list)
    follow_up: list[str] = field(default_factory=list)

    def add(self, action: str, what: str, name: str, detail: str = "") -> None:
        if self.dry_run and action in ("created", "updated", "rotated"):
            action = f"would be {action}"
        self.changes.append(Change(action, what, name, detail))

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def changed(self) -> bool:
        return any(c.action not in ("unchanged", "kept", "extra", "warning") for c in self.changes)


def parameter_prefix(cfg: Config) -> str:
    return f"/{cfg.project}/{cfg.environment}"


def resolve_rotate(cfg: Config, names: list[str]) -> list[str]:
    """Relative secret names from ``--rotate`` values (relative or full paths)."""
    prefix = parameter_prefix(cfg) + "/"
    out = []
    for raw in names:
        name = raw[len(prefix) :] if raw.startswith(prefix) else raw.lstrip("/")
        if name not in SECRET_NAMES:
            raise BootstrapError(
                f"--rotate {raw}: not a generated secret; one of: {', '.join(SECRET_NAMES)}", EXIT_USAGE
            )
        out.append(name)
    return out


class InvalidValue(BootstrapError):
    """A value bootstrap would write breaks a rule of Parameter Store: bad
    input (exit 2), found before anything is written."""

    exit_code = EXIT_USAGE


# Values another service reads (the templates resolve them into RDS and
# ElastiCache properties), with that service's own rules.
SERVICE_RULES = {
    "db/postgres_superuser": rds_master_username_problem,
    "db/postgres_superuser_password": rds_master_password_problem,
    "redis/auth_token": elasticache_auth_token_problem,
}


def check_values(cfg: Config) -> None:
    """Raise :class:`InvalidValue` for the first parameter whose name or
    value Parameter Store would refuse (the rules and their sources are in
    :mod:`wealist_cfn.core.rules`). Secrets are checked with a value of the
    shape :func:`generate_secret` makes; no AWS call is made."""
    prefix = parameter_prefix(cfg)
    for p in PARAMETERS:
        value = generate_secret(p.length) if p.kind == SECRET else p.value(cfg)
        problem = parameter_problem(
            f"{prefix}/{p.name}", value, "SecureString" if p.kind == SECRET else "String", "Standard", p.description
        )
        if not problem and p.name in SERVICE_RULES:
            problem = SERVICE_RULES[p.name](value)
        if problem:
            raise InvalidValue(f"parameter {prefix}/{p.name}: {problem}")


def run(
    cfg: Config, aws: Aws, *, rotate: list[str] = (), dry_run: bool = False, files_dir: Path = INSTANCE_FILES_DIR
) -> Report:
    """Raises :class:`~wealist_cfn.errors.CommandError` (exit 2) for
    missing or rejected credentials, and :class:`InvalidValue` for a value
    Parameter Store would refuse, before anything is read or written."""
    rotate = resolve_rotate(cfg, list(rotate))
    check_values(cfg)
    report = Report(dry_run=dry_run)
    account = aws.check_credentials()
    ssm, s3 = aws.client("ssm"), aws.client("s3")
    try:
        # A name another account holds stops the run before anything is
        # written; the bucket is made (or repaired) before any parameter is
        # written, so that a caller who may not create or configure it (its
        # policy, or an SCP) stops with no new secret in Parameter Store.
        exists = _bucket_exists(cfg, s3, account)
        bucket_exists = _bucket(cfg, s3, account, aws.region, report, exists)
        _parameters(cfg, ssm, report, rotate, account)
        _artifact_bucket(cfg, s3, account, aws.region, report)
        _files(cfg, s3, account, report, files_dir, bucket_exists)
    except ClientError as exc:
        hint = ""
        if error_code(exc) in ("403", "AccessDenied") and aws.plain_http:
            hint = " (the bucket's TLS-only policy denies every call made over plain http://)"
        raise BootstrapError(f"{exc.operation_name}: {error_code(exc)}: {error_message(exc)}{hint}") from None
    return report


# -- Parameter Store ----------------------------------------------------------


def secrets_key_alias(cfg: Config) -> str:
    return f"alias/{cfg.name_prefix}-secrets"


def _existing_parameters(ssm, prefix: str) -> dict[str, dict]:
    """Name -> {Type, Value}; SecureString values are not decrypted (only existence matters)."""
    out = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=prefix, Recursive=True, WithDecryption=False):
        for p in page["Parameters"]:
            out[p["Name"]] = p
    return out


def _parameters(cfg: Config, ssm, report: Report, rotate: list[str], account: str) -> None:
    prefix = parameter_prefix(cfg)
    existing = _existing_parameters(ssm, prefix)
    tags = [
        {"Key": "Project", "Value": cfg.project},
        {"Key": "Environment", "Value": cfg.environment},
        {"Key": "ManagedBy", "Value": MANAGED_BY},
    ]
    for p in PARAMETERS:
        path = f"{prefix}/{p.name}"
        have = existing.get(path)
        secure = p.kind == SECRET
        kw = {
            "Name": path,
            "Description": p.description,
            "Type": "SecureString" if secure else "String",
            "Tier": "Standard",
        }
        if secure:
            # The environment's key (templates/github-oidc.yaml): only the
            # roles that use a secret may decrypt it, unlike aws/ssm.
            kw["KeyId"] = secrets_key_alias(cfg)

        if have is None:
            value = generate_secret(p.length) if secure else p.value(cfg)
            if not report.dry_run:
                try:
                    ssm.put_parameter(**kw, Value=value, Overwrite=False, Tags=tags)
                except ClientError as exc:
                    # Another bootstrap created it a moment ago: theirs stays.
                    if error_code(exc) != "ParameterAlreadyExists":
                        raise
                    report.add("unchanged", "parameter", path, "created concurrently by another run")
                    continue
            report.add("created", "parameter", path, "SecureString, generated" if secure else kw["Type"])
            continue

        if secure:
            if p.name in rotate:
                if not report.dry_run:
                    ssm.put_parameter(**kw, Value=generate_secret(p.length), Overwrite=True)
                report.add(
                    "rotated",
                    "parameter",
                    path,
                    "SecureString, new value generated; previous version kept in the parameter's history",
                )
                report.follow_up.append(
                    f"{path}: " + p.after_rotate.format(prefix=cfg.name_prefix, path=path, params=cfg.path)
                )
            elif have["Type"] != "SecureString":
                report.add(
                    "warning",
                    "parameter",
                    path,
                    f"is a {have['Type']}, not a SecureString: anyone who "
                    f"may read parameters sees it; replace it with --rotate {p.name}",
                )
            else:
                report.add("unchanged", "parameter", path, "SecureString, exists")
            continue

        want = p.value(cfg)
        if p.kind == SYNCED and have["Value"] != want:
            if not report.dry_run:
                ssm.put_parameter(**kw, Value=want, Overwrite=True)
            report.add("updated", "parameter", path, "the project's content changed")
        elif have["Value"] != want:
            report.add("kept", "parameter", path, "exists with a value of its own; left as it is")
        else:
            report.add("unchanged", "parameter", path)

    old = f"{prefix}/{OLD_STARTUP_PARAMETER}"
    if old in existing:
        report.add(
            "extra",
            "parameter",
            old,
            f"no longer read (instances fetch s3://{cfg.deploy_bucket_name(account)}/"
            f"{STARTUP_SCRIPT_KEY}); remove it with aws ssm delete-parameter --name {old}",
        )


# -- Deploy bucket ------------------------------------------------------------

TLS_SID = "DenyInsecureTransport"
LIFECYCLE_ID = "wealist-expire-old-versions"


def _read(call: Callable[[], dict], missing: str, default):
    """``call()``, or ``default`` when S3 answers that the setting was never made (error code ``missing``)."""
    try:
        return call()
    except ClientError as exc:
        if error_code(exc) != missing:
            raise
        return default


def _bucket_policy_statement(bucket: str) -> dict:
    return {
        "Sid": TLS_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


# What bootstrap sets on the deploy bucket, in the order it sets them.
BUCKET_SETTINGS = (
    "ownership: bucket owner enforced",
    "public access blocked",
    "default encryption",
    "versioning",
    "policy: TLS only",
    "lifecycle: old versions expire after 90 days",
)


def taken_message(cfg: Config, bucket: str, account: str, how: str) -> str:
    """The one line for a deploy bucket name another account holds: what
    happened, and the name to use instead."""
    if cfg.values["DeployBucketName"]:
        fix = (
            f"leave DeployBucketName empty in {cfg.path} for the account-unique name "
            f"{cfg.with_values(DeployBucketName='').deploy_bucket_name(account)}, or set a name of your own"
        )
    else:
        fix = (
            f"the account-unique name is held elsewhere (made by hand in another account?): set DeployBucketName "
            f"in {cfg.path} to a name of your own"
        )
    return (
        f"deploy bucket {bucket}: {how}; S3 bucket names are global across all AWS accounts, so this "
        f"account ({account}) cannot use it: {fix}"
    )


def _bucket_exists(cfg: Config, s3, account: str) -> bool:
    """Whether this account's deploy bucket exists; :class:`BootstrapError`
    when its name is another account's.

    A name another account holds shows in two ways (S3 API reference,
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html and
    API_CreateBucket.html): HeadBucket with ``ExpectedBucketOwner`` fails
    with 403 Forbidden when "the account ID that you provide does not match
    the actual owner of the bucket" (and 403 is also its answer to a caller
    without s3:ListBucket), and CreateBucket fails with
    ``BucketAlreadyExists``: "The requested bucket name is not available.
    The bucket namespace is shared by all users of the system."
    ``BucketAlreadyOwnedByYou`` is this account's own bucket (every region
    but us-east-1, which answers 200). moto enforces the shared namespace
    on CreateBucket across its accounts, but not ExpectedBucketOwner on
    HeadBucket (it answers 200 for another account's bucket): the 403 path
    is tested with Stubber (tests/ops/test_bootstrap_bucket_name.py)."""
    bucket = cfg.deploy_bucket_name(account)
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
        return True
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return False
        if error_code(exc) in ("403", "AccessDenied"):
            raise BootstrapError(_forbidden_message(cfg, s3, bucket, account)) from None
        raise


def _forbidden_message(cfg: Config, s3, bucket: str, account: str) -> str:
    """The one line for HeadBucket's 403, which S3 gives both for another
    account's bucket (ExpectedBucketOwner) and for this account's bucket
    when the caller lacks s3:ListBucket on it or a policy (an SCP, the
    bucket's) denies it (S3 API reference, HeadBucket: without permission
    to access it, the request returns a generic 400, 403 or 404, and
    s3:ListBucket is the permission it needs). ListBuckets lists only the
    caller's account's buckets (S3 API reference, ListBuckets: "Returns a
    list of all buckets owned by the authenticated sender of the request";
    ``Prefix`` narrows it, s3:ListAllMyBuckets): the name in it is ours."""
    try:
        listed = s3.list_buckets(Prefix=bucket).get("Buckets", [])
    except ClientError as exc:
        if error_code(exc) not in ("403", "AccessDenied"):
            raise
        return (
            f"deploy bucket {bucket}: HeadBucket answered 403 and ListBuckets was refused too, so whether "
            f"the bucket is another account's or this account's ({account}) cannot be told: allow "
            f"s3:ListBucket on arn:aws:s3:::{bucket} and s3:ListAllMyBuckets to these credentials and run "
            f"bootstrap again"
        )
    if any(b.get("Name") == bucket for b in listed):
        return (
            f"deploy bucket {bucket}: the bucket is this account's ({account}), but HeadBucket answered 403: "
            f"these credentials may not s3:ListBucket on arn:aws:s3:::{bucket} (their policy, the bucket's "
            f"policy or an SCP denies it): allow it and run bootstrap again"
        )
    return taken_message(
        cfg,
        bucket,
        account,
        "HeadBucket answered 403 and this account's ListBuckets does not list it (owned by another account)",
    )


def _bucket(cfg: Config, s3, account: str, region: str, report: Report, exists: bool) -> bool:
    """Create or repair the deploy bucket; whether it exists (``False`` only
    in a dry run that would create it)."""
    bucket = cfg.deploy_bucket_name(account)
    owner = {"ExpectedBucketOwner": account}
    if not exists:
        if report.dry_run:
            # Counted as the real run counts a new bucket: one change, its
            # settings in the detail (see `applied` below).
            report.add("created", "bucket", bucket, ", ".join(BUCKET_SETTINGS))
            return False
        kw = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        try:
            s3.create_bucket(Bucket=bucket, ObjectOwnership="BucketOwnerEnforced", **kw)
        except ClientError as exc:
            if error_code(exc) == "BucketAlreadyExists":
                raise BootstrapError(
                    taken_message(
                        cfg, bucket, account, "CreateBucket answered BucketAlreadyExists (another account owns it)"
                    )
                ) from None
            if error_code(exc) != "BucketAlreadyOwnedByYou":
                raise
    # A bucket made just now is one change, whatever S3 already set on it
    # (new buckets differ by endpoint: AWS blocks public access and
    # encrypts by default, moto does neither), so the dry run's count,
    # which cannot read a bucket that does not exist yet, is the real one.
    applied: list[str] | None = None if exists else []

    def setting(name: str, current_ok: bool, apply: Callable[[], None]) -> None:
        if applied is not None:
            if not current_ok:
                apply()
            applied.append(name)
            return
        if current_ok:
            report.add("unchanged", "bucket", bucket, name)
            return
        if not report.dry_run:
            apply()
        report.add("updated", "bucket", bucket, name)

    # Ownership: ACLs disabled, every object belongs to the bucket owner.
    rules = _read(
        lambda: s3.get_bucket_ownership_controls(Bucket=bucket, **owner)["OwnershipControls"]["Rules"],
        "OwnershipControlsNotFoundError",
        [],
    )
    setting(
        "ownership: bucket owner enforced",
        rules == [{"ObjectOwnership": "BucketOwnerEnforced"}],
        lambda: s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}, **owner
        ),
    )

    block = {k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}
    current = _read(
        lambda: s3.get_public_access_block(Bucket=bucket, **owner)["PublicAccessBlockConfiguration"],
        "NoSuchPublicAccessBlockConfiguration",
        {},
    )
    setting(
        "public access blocked",
        all(current.get(k) for k in block),
        lambda: s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block, **owner),
    )

    rules = _read(
        lambda: s3.get_bucket_encryption(Bucket=bucket, **owner)["ServerSideEncryptionConfiguration"]["Rules"],
        "ServerSideEncryptionConfigurationNotFoundError",
        [],
    )
    algorithms = {r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules}
    # SSE-S3 is what bootstrap sets; a KMS key an operator chose is kept.
    setting(
        "default encryption",
        bool(algorithms & {"AES256", "aws:kms", "aws:kms:dsse"}),
        lambda: s3.put_bucket_encryption(
            Bucket=bucket,
            **owner,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        ),
    )

    status = s3.get_bucket_versioning(Bucket=bucket, **owner).get("Status")
    setting(
        "versioning",
        status == "Enabled",
        lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}, **owner),
    )

    # TLS only: added to whatever policy the bucket has, never replacing it.
    policy = _read(
        lambda: json.loads(s3.get_bucket_policy(Bucket=bucket, **owner)["Policy"]),
        "NoSuchBucketPolicy",
        {"Version": "2012-10-17", "Statement": []},
    )
    statements = policy.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    wanted = _bucket_policy_statement(bucket)
    others = [s for s in statements if s.get("Sid") != TLS_SID]
    policy["Statement"] = others + [wanted]
    setting(
        "policy: TLS only",
        wanted in statements,
        lambda: s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy), **owner),
    )

    # Old versions are kept for rollback for 90 days, then expire.
    lifecycle = _read(
        lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket, **owner).get("Rules", []),
        "NoSuchLifecycleConfiguration",
        [],
    )
    rule = {
        "ID": LIFECYCLE_ID,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
    }
    mine = [r for r in lifecycle if r.get("ID") == LIFECYCLE_ID]
    ok = bool(mine) and mine[0].get("NoncurrentVersionExpiration", {}).get("NoncurrentDays") == 90
    setting(
        "lifecycle: old versions expire after 90 days",
        ok,
        lambda: s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            **owner,
            LifecycleConfiguration={"Rules": [r for r in lifecycle if r.get("ID") != LIFECYCLE_ID] + [rule]},
        ),
    )
    if applied is not None:
        report.add("created", "bucket", bucket, ", ".join(applied))
    return True


def _artifact_bucket(cfg: Config, s3, account: str, region: str, report: Report) -> None:
    """The lifecycle rules of the CloudFormation artifact bucket, if it
    exists (a deploy makes it, with the rules, on first use)."""
    bucket = artifacts.bucket_name(cfg.project, account, region)
    owner = {"ExpectedBucketOwner": account}
    try:
        s3.head_bucket(Bucket=bucket, **owner)
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            report.add(
                "unchanged",
                "bucket",
                bucket,
                "artifact bucket not made yet: the first deploy makes it with its lifecycle rules",
            )
            return
        if error_code(exc) in ("403", "AccessDenied"):
            report.add(
                "warning",
                "bucket",
                bucket,
                "artifact bucket not readable with these credentials (or "
                "another account's): lifecycle rules not checked",
            )
            return
        raise
    detail = (
        f"lifecycle: current plan/ and deploy/ objects kept (a stack may name them), non-current versions "
        f"expire after {artifacts.DEPLOY_NONCURRENT_DAYS} days"
    )
    changed = artifacts.ensure_lifecycle(s3, bucket, owner, dry_run=report.dry_run)
    report.add("updated" if changed else "unchanged", "bucket", bucket, detail)


# -- Instance files -----------------------------------------------------------


def local_files(files_dir: Path = INSTANCE_FILES_DIR) -> dict[str, Path]:
    """Bucket key -> local file, for every file an instance fetches: the
    startup script and everything under ``instance-files/``."""
    out = {STARTUP_SCRIPT_KEY: STARTUP_SCRIPT}
    for path in sorted(files_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            out[path.relative_to(files_dir).as_posix()] = path
    return out


def _content_type(key: str) -> str:
    if key.endswith((".yml", ".yaml")):
        return "application/yaml"
    return mimetypes.guess_type(key)[0] or "text/plain"


def _holds(s3, bucket: str, key: str, head: dict, body: bytes, owner: dict) -> bool:
    """Whether the stored object has exactly these bytes. Its ETag is the MD5
    of a single-part upload under SSE-S3, which settles it without a
    download; otherwise (KMS, multipart) the object is read and compared. The
    sha256 metadata recorded at upload is not trusted: anyone who can write
    the object can write that too."""
    if head.get("ETag", "").strip('"') == hashlib.md5(body, usedforsecurity=False).hexdigest():
        return True
    return s3.get_object(Bucket=bucket, Key=key, **owner)["Body"].read() == body


def _files(cfg: Config, s3, account: str, report: Report, files_dir: Path, bucket_exists: bool) -> None:
    bucket = cfg.deploy_bucket_name(account)
    owner = {"ExpectedBucketOwner": account}
    files = local_files(files_dir)
    for key, path in files.items():
        body = path.read_bytes()
        head = None
        if bucket_exists:
            try:
                head = s3.head_object(Bucket=bucket, Key=key, **owner)
            except ClientError as exc:
                if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
                    raise
        if head is not None and _holds(s3, bucket, key, head, body, owner):
            report.add("unchanged", "object", f"s3://{bucket}/{key}")
            continue
        if not report.dry_run:
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ContentType=_content_type(key),
                Metadata={"sha256": hashlib.sha256(body).hexdigest()},
                **owner,
            )
        report.add("updated" if head is not None else "created", "object", f"s3://{bucket}/{key}", f"{len(body)} bytes")

    if not bucket_exists:
        return
    # Objects under the prefixes bootstrap manages that the project no longer
    # has: reported, not deleted (a running instance may still need them).
    prefixes = sorted({k.split("/", 1)[0] + "/" for k in files if "/" in k})
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, **owner):
            for obj in page.get("Contents", []):
                if obj["Key"] not in files:
                    report.add("extra", "object", f"s3://{bucket}/{obj['Key']}", "not in instance-files/; left alone")
