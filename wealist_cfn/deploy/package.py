"""Packaging: upload the nested templates to S3 under content-addressed keys
and point the root's TemplateURLs at them, each pinned to the object version
that holds exactly those bytes.

* Key: ``<area>/<Project>-<Environment>/<name>.<sha256 of the bytes>.yaml``,
  where the area is ``deploy`` for ``deploy``/``package`` and ``plan`` for
  ``plan`` (:data:`AREAS`). A pull request's plan job writes only under
  ``plan/``; the deploy never reads from there, and IAM denies the plan role
  any write under ``deploy/``. The same bytes always
  land on the same key, so a repeat finds them and uploads nothing, and one
  changed child uploads exactly one object. An existing object is read and
  its hash checked before it is reused: anyone who may write to the bucket
  (a pull-request job's plan role, say) could otherwise put other bytes
  under a key that a later deploy from main would trust by its name. A child that
  itself has nested stacks is rewritten first, so its hash covers its
  children's URLs.
* Every nested TemplateURL carries ``?versionId=`` of the object version
  whose bytes were hashed (the version GetObject returned, or the one
  PutObject created). The artifact bucket is versioned, and a version's bytes
  never change, so a write under the same key after the check cannot change
  what CloudFormation reads. A bucket without versioning cannot be pinned:
  the package says so (:attr:`Packaged.unpinned`).
* Every S3 call to the bucket passes ``ExpectedBucketOwner`` (the caller's
  account): the default bucket name is predictable, and a bucket of that name
  in another account must be refused, not written to (S3 answers 403).
* The bucket must be in the stack's region: HeadBucket's
  ``x-amz-bucket-region`` (BucketRegion) is checked, and a bucket elsewhere is
  refused in one line before anything is uploaded (botocore would follow the
  redirect for the uploads, but the TemplateURLs would name the wrong region).
* The root goes inline (TemplateBody) unless it is over CloudFormation's
  51,200-byte limit for an inline body; then it is uploaded too and passed by
  URL.
* With no bucket given, ``<project>-cfn-artifacts-<account>-<region>`` is
  used, created on first use with default encryption, versioning and every
  public-access block on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import botocore.exceptions

from wealist_cfn.cfn import templates as tpl

from ..aws import Aws, error_code, error_message
from ..errors import EXIT_FAILED, EXIT_USAGE, CommandError
from ..ops import artifacts

INLINE_BODY_LIMIT = 51_200  # bytes; CreateChangeSet's TemplateBody maximum
AREAS = ("deploy", "plan")  # top-level key prefixes: what the deploy reads / what a plan writes


def key_prefix(name_prefix: str, area: str = "deploy") -> str:
    """``deploy/wealist-prod`` or ``plan/wealist-prod``."""
    if area not in AREAS:
        raise ValueError(f"unknown artifact area {area!r}")
    return f"{area}/{name_prefix}"


@dataclass
class Upload:
    name: str  # template file name, e.g. network.yaml
    key: str
    url: str
    uploaded: bool  # False: the object was already there, with these bytes
    replaced: bool = False  # the key held other bytes than its name promises; uploaded again
    version_id: str = ""  # the object version with these bytes ("" when the bucket is not versioned)


@dataclass
class Packaged:
    bucket: str
    root_body: str | None  # inline body, or None when root_url is used
    root_url: str | None
    objects: list[Upload] = field(default_factory=list)
    root_name: str = "root.yaml"
    templates: dict[str, dict] = field(default_factory=dict)  # filename -> parsed (packaged) template
    child_files: dict[str, str] = field(default_factory=dict)  # nested path ("DatabaseStack") -> filename

    @property
    def uploads(self) -> int:
        return sum(1 for o in self.objects if o.uploaded)

    @property
    def unpinned(self) -> list[Upload]:
        """Objects whose URL names no version (the bucket is not versioned)."""
        return [o for o in self.objects if not o.version_id]


def default_bucket(project: str, account: str, region: str) -> str:
    return artifacts.bucket_name(project, account, region)


def _owner(aws: Aws) -> dict:
    """``ExpectedBucketOwner`` for every call to the artifact bucket."""
    return {"ExpectedBucketOwner": aws.account} if aws.account else {}


def _bucket_region(resp: dict) -> str | None:
    region = resp.get("BucketRegion") or resp.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(
        "x-amz-bucket-region"
    )
    return region or None


def _check_region(aws: Aws, bucket: str, region: str | None) -> None:
    if region and region != aws.region:
        raise CommandError(
            f"S3 bucket {bucket} is in {region}, the stack in {aws.region}: CloudFormation would "
            f"be given URLs for the wrong region; use a bucket in {aws.region} or leave out --bucket",
            EXIT_USAGE,
        )


PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]}


def ensure_bucket(
    aws: Aws,
    bucket: str,
    *,
    create: bool,
    missing: str | None = None,
    sent: list[str] | None = None,
    repaired: list[str] | None = None,
) -> bool:
    """Make sure the bucket exists, belongs to the caller's account and is
    in the stack's region; create it (hardened) when ``create``. Returns True
    when it was created now. ``missing``: what to tell the user when the
    bucket does not exist and may not be created here.

    ``sent``: gets "CreateBucket" once that call is sent, so a Ctrl-C
    between it and the settings is told apart from one before it. An
    existing bucket this run may create (``create``) gets the settings a
    stopped create left out, read first and put only where they differ;
    ``repaired`` gets the name of each setting put."""
    try:
        resp = aws.s3.head_bucket(Bucket=bucket, **_owner(aws))
        _check_region(aws, bucket, _bucket_region(resp))
        exists = True
    except botocore.exceptions.ClientError as exc:
        exists = False
        code = error_code(exc)
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if code in ("301", "PermanentRedirect", "400") and headers.get("x-amz-bucket-region"):
            _check_region(aws, bucket, headers["x-amz-bucket-region"])
        if code in ("403", "AccessDenied", "Forbidden"):
            raise CommandError(
                f"S3 bucket {bucket} exists but is not account {aws.account}'s, or these "
                f"credentials may not use it (403)",
                EXIT_USAGE,
            ) from None
        if code not in ("404", "NoSuchBucket", "NotFound"):
            raise CommandError(f"S3 bucket {bucket}: {error_code(exc)}: {error_message(exc)}") from None
    if exists:
        if create:
            _repair(aws, bucket, repaired if repaired is not None else [])
        return False
    if not create:
        raise CommandError(
            missing
            or f"S3 bucket {bucket} does not exist; create it, or leave out --bucket to use "
            f"the default artifacts bucket",
            EXIT_USAGE,
        )
    kw = {"Bucket": bucket}
    if aws.region != "us-east-1":
        kw["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
    try:
        # CreateBucket takes no ExpectedBucketOwner; a name taken by another
        # account fails here with BucketAlreadyExists.
        if sent is not None:
            sent.append("CreateBucket")
        aws.s3.create_bucket(**kw)
        aws.s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK, **_owner(aws))
        aws.s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=ENCRYPTION, **_owner(aws))
        aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}, **_owner(aws))
        # Housekeeping of plan/ and old deploy/ versions (ops/artifacts.py).
        artifacts.ensure_lifecycle(aws.s3, bucket, _owner(aws))
    except botocore.exceptions.ClientError as exc:
        raise CommandError(
            f"creating S3 bucket {bucket}: {error_code(exc)}: {error_message(exc)}", EXIT_FAILED
        ) from None
    return True


def _repair(aws: Aws, bucket: str, repaired: list[str]) -> None:
    """Put back what :func:`ensure_bucket` sets on a new bucket and this one
    lacks: a run stopped right after CreateBucket left it bare, and HeadBucket
    alone would pass it for ever. Reads first; a setting already as wanted
    (or stricter: SSE-KMS for default encryption) is left alone."""
    s3, owner = aws.s3, _owner(aws)

    def absent(call, *codes):
        try:
            return call(Bucket=bucket, **owner)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in codes:
                return None
            raise

    try:
        # GetPublicAccessBlock: NoSuchPublicAccessBlockConfiguration when none is set (S3 API reference).
        block = absent(s3.get_public_access_block, "NoSuchPublicAccessBlockConfiguration")
        if (block or {}).get("PublicAccessBlockConfiguration") != PUBLIC_ACCESS_BLOCK:
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK, **owner)
            repaired.append("public access block")
        # GetBucketEncryption: ServerSideEncryptionConfigurationNotFoundError when none is set. Since
        # January 2023 S3 applies SSE-S3 to every new bucket, so this is rare against AWS.
        enc = absent(s3.get_bucket_encryption, "ServerSideEncryptionConfigurationNotFoundError")
        rules = ((enc or {}).get("ServerSideEncryptionConfiguration") or {}).get("Rules") or []
        if not any((r.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm") for r in rules):
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=ENCRYPTION, **owner)
            repaired.append("default encryption")
        if s3.get_bucket_versioning(Bucket=bucket, **owner).get("Status") != "Enabled":
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}, **owner)
            repaired.append("versioning")
        if artifacts.ensure_lifecycle(s3, bucket, owner):
            repaired.append("lifecycle rules")
    except botocore.exceptions.ClientError as exc:
        raise CommandError(
            f"checking the settings of S3 bucket {bucket}: {error_code(exc)}: {error_message(exc)}", EXIT_FAILED
        ) from None


def _stored(aws: Aws, bucket: str, key: str) -> tuple[str, str] | None:
    """(SHA-256 of the object's bytes, its version ID), or None when there is
    no such object. One GetObject: the version named is the one whose bytes
    were hashed."""
    try:
        resp = aws.s3.get_object(Bucket=bucket, Key=key, **_owner(aws))
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise CommandError(f"S3 s3://{bucket}/{key}: {error_code(exc)}: {error_message(exc)}") from None
    return hashlib.sha256(resp["Body"].read()).hexdigest(), _version(resp)


def _version(resp: dict) -> str:
    # "null" is the version ID of an object written while versioning was off: not a pin.
    v = resp.get("VersionId") or ""
    return "" if v == "null" else v


def _ensure_object(aws: Aws, bucket: str, key: str, name: str, body: bytes) -> Upload:
    """Upload ``body`` under ``key`` unless the key already holds exactly it."""
    stored = _stored(aws, bucket, key)
    if stored is not None and stored[0] == hashlib.sha256(body).hexdigest():
        return Upload(name=name, key=key, url=aws.s3_url(bucket, key, stored[1]), uploaded=False, version_id=stored[1])
    try:
        resp = aws.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-yaml", **_owner(aws))
    except botocore.exceptions.ClientError as exc:
        raise CommandError(f"uploading {name} to s3://{bucket}/{key}: {error_message(exc)}") from None
    version = _version(resp)
    return Upload(
        name=name,
        key=key,
        url=aws.s3_url(bucket, key, version),
        uploaded=True,
        replaced=stored is not None,
        version_id=version,
    )


def object_key(prefix: str, name: str, body: bytes) -> str:
    stem = name.rsplit(".", 1)[0]
    return f"{prefix}/{stem}.{hashlib.sha256(body).hexdigest()}.yaml"


def package(
    aws: Aws,
    template_set: tpl.TemplateSet,
    bucket: str,
    prefix: str,
    reuse_prefix: str | None = None,
    objects: list[Upload] | None = None,
) -> Packaged:
    """Upload what is missing, rewrite the URLs, return where the root is.

    ``reuse_prefix`` (a plan's): a template whose exact bytes are already
    stored there is referenced there, at the version whose bytes were
    checked, instead of being written under ``prefix``. Only new templates
    go to the plan's own area, so an unchanged nested stack keeps the URL the
    deployed stack names, and the review shows no change for it.

    ``objects``: the list each object is appended to as soon as it is in
    place, so a caller stopped half-way (Ctrl-C) can say which are."""
    result = Packaged(
        bucket=bucket,
        root_body=None,
        root_url=None,
        root_name=template_set.root_name,
        objects=objects if objects is not None else [],
    )
    urls: dict[str, str] = {}

    def put(name: str, body: bytes) -> str:
        if reuse_prefix:
            key = object_key(reuse_prefix, name, body)
            stored = _stored(aws, bucket, key)
            if stored is not None and stored[0] == hashlib.sha256(body).hexdigest() and stored[1]:
                upload = Upload(
                    name=name, key=key, url=aws.s3_url(bucket, key, stored[1]), uploaded=False, version_id=stored[1]
                )
                result.objects.append(upload)
                return upload.url
        upload = _ensure_object(aws, bucket, object_key(prefix, name, body), name, body)
        result.objects.append(upload)
        return upload.url

    def render(name: str, path: str) -> tuple[str, dict]:
        """The final text of one template, its local TemplateURLs rewritten."""
        text = template_set.texts[name]
        data = tpl.load(text)
        changed = False
        for lid, props in tpl.nested_stacks(data).items():
            child = props.get("TemplateURL")
            if tpl.is_local_url(child):
                child_path = f"{path}/{lid}" if path else lid
                result.child_files[child_path] = child
                if child not in urls:
                    child_text, child_data = render(child, child_path)
                    result.templates[child] = child_data
                    urls[child] = put(child, child_text.encode("utf-8"))
                props["TemplateURL"] = urls[child]
                changed = True
        # Bytes of an unchanged template are uploaded as they are, so their
        # hash is the hash of the committed file.
        return (tpl.dump(data) if changed else text), data

    root_text, root_data = render(template_set.root_name, "")
    result.templates[template_set.root_name] = root_data
    if len(root_text.encode("utf-8")) > INLINE_BODY_LIMIT:
        result.root_url = put(template_set.root_name, root_text.encode("utf-8"))
    else:
        result.root_body = root_text
    return result


def upload_root(aws: Aws, packaged: Packaged, prefix: str) -> str:
    """Upload the (small) root too, for ``package``, which prints its URL."""
    name, body = packaged.root_name, packaged.root_body.encode("utf-8")
    upload = _ensure_object(aws, packaged.bucket, object_key(prefix, name, body), name, body)
    packaged.objects.append(upload)
    return upload.url
