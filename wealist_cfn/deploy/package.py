"""Packaging: upload the nested templates to S3 under content-addressed keys
and point the root's TemplateURLs at them.

* Key: ``<prefix>/<name>.<sha256 of the bytes>.yaml``. The same bytes always
  land on the same key, so a repeat finds them and uploads nothing, and one
  changed child uploads exactly one object. An existing object is read and
  its hash checked before it is reused: anyone who may write to the bucket
  (a pull-request job's plan role, say) could otherwise put other bytes
  under a key that a later deploy from main would trust by its name. A child that
  itself has nested stacks is rewritten first, so its hash covers its
  children's URLs.
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

from ..aws import Aws, error_code, error_message
from ..errors import EXIT_FAILED, EXIT_USAGE, CommandError
from . import templates as tpl

INLINE_BODY_LIMIT = 51_200  # bytes; CreateChangeSet's TemplateBody maximum


@dataclass
class Upload:
    name: str  # template file name, e.g. network.yaml
    key: str
    url: str
    uploaded: bool  # False: the object was already there, with these bytes
    replaced: bool = False  # the key held other bytes than its name promises; uploaded again


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


def default_bucket(project: str, account: str, region: str) -> str:
    return f"{project}-cfn-artifacts-{account}-{region}"


def ensure_bucket(aws: Aws, bucket: str, *, create: bool) -> bool:
    """Make sure the bucket exists and is reachable; create it (hardened)
    when ``create``. Returns True when it was created now."""
    try:
        aws.s3.head_bucket(Bucket=bucket)
        return False
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        if code in ("403", "AccessDenied", "Forbidden"):
            raise CommandError(f"S3 bucket {bucket} exists but these credentials may not use it (403)",
                              EXIT_USAGE) from None
        if code not in ("404", "NoSuchBucket", "NotFound"):
            raise CommandError(f"S3 bucket {bucket}: {error_message(exc)}") from None
    if not create:
        raise CommandError(f"S3 bucket {bucket} does not exist; create it, or leave out --bucket to use "
                          f"the default artifacts bucket", EXIT_USAGE)
    kw = {"Bucket": bucket}
    if aws.region != "us-east-1":
        kw["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
    try:
        aws.s3.create_bucket(**kw)
        aws.s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
        aws.s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                       "BucketKeyEnabled": True}]})
        aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    except botocore.exceptions.ClientError as exc:
        raise CommandError(f"creating S3 bucket {bucket}: {error_code(exc)}: {error_message(exc)}",
                          EXIT_FAILED) from None
    return True


def _stored_hash(aws: Aws, bucket: str, key: str) -> str | None:
    """SHA-256 of the object's bytes, or None when there is no such object."""
    try:
        body = aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise CommandError(f"S3 s3://{bucket}/{key}: {error_code(exc)}: {error_message(exc)}") from None
    return hashlib.sha256(body).hexdigest()


def _ensure_object(aws: Aws, bucket: str, key: str, name: str, body: bytes) -> Upload:
    """Upload ``body`` under ``key`` unless the key already holds exactly it."""
    stored = _stored_hash(aws, bucket, key)
    if stored == hashlib.sha256(body).hexdigest():
        return Upload(name=name, key=key, url=aws.s3_url(bucket, key), uploaded=False)
    try:
        aws.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-yaml")
    except botocore.exceptions.ClientError as exc:
        raise CommandError(f"uploading {name} to s3://{bucket}/{key}: {error_message(exc)}") from None
    return Upload(name=name, key=key, url=aws.s3_url(bucket, key), uploaded=True, replaced=stored is not None)


def object_key(prefix: str, name: str, body: bytes) -> str:
    stem = name.rsplit(".", 1)[0]
    return f"{prefix}/{stem}.{hashlib.sha256(body).hexdigest()}.yaml"


def package(aws: Aws, template_set: tpl.TemplateSet, bucket: str, prefix: str) -> Packaged:
    """Upload what is missing, rewrite the URLs, return where the root is."""
    result = Packaged(bucket=bucket, root_body=None, root_url=None, root_name=template_set.root_name)
    urls: dict[str, str] = {}

    def put(name: str, body: bytes) -> str:
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
