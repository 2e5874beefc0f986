"""The CloudFormation artifact bucket's housekeeping: its name, and the
lifecycle rules that keep ``plan/`` and old ``deploy/`` versions from
growing for ever. ``deploy`` (package.ensure_bucket) applies them when it
creates the bucket; ``bootstrap`` applies them to a bucket that exists.

What S3 lifecycle can do here, and what it cannot (S3 User Guide, "Managing
the lifecycle of objects" and "Lifecycle configuration elements"): a rule
selects objects by key prefix (or tags, or size) and acts on age alone:
Expiration of current versions N days after they were written,
NoncurrentVersionExpiration N days after a version stopped being current
removal of expired
delete markers. It cannot see which object version a stack's template
names, so "expire what no stack references" is not expressible; these
rules are chosen so that nothing a deploy or a rollback needs is expired:

* ``plan/``: current objects never expire either. A pull request's plan
  writes here, and CI executes that plan's change set (``deploy
  --change-set``), so the deployed root then names ``plan/...?versionId=``
  URLs; CloudFormation reads them again for an update that reuses the
  template (``UsePreviousTemplate``: ``status``'s deletion-protection
  repair) and may for a rollback (serverless/serverless#2239: a rollback
  failing because its template's S3 object was gone). The keys are
  content-addressed and a repeat plan reuses the stored version, so the
  area grows only by distinct template contents, a few KB each, as
  ``deploy/`` does. Expiring them by age (14 days, before) deleted what
  production stacks named; lifecycle cannot tell which those are, and a
  housekeeping command that deletes only objects no stack's template names
  (ListStacks, GetTemplate of each root and child) is the way to reclaim
  them if that is ever worth it. Non-current versions (a key overwritten
  with other bytes) and the delete markers of removed objects still go.
* ``deploy/``: current objects never expire. A nested stack whose template
  did not change keeps its TemplateURL, and CloudFormation reads that URL
  again on every update of the root, however old the object is; the keys
  are content-addressed, so a current object is never stale, only perhaps
  unreferenced, which lifecycle cannot tell (they are a few KB each).
  Non-current versions (a key overwritten by someone else: packaging then
  uploads the right bytes again as a new version) expire after 90 days: a
  URL pinned to such a version (``?versionId=``) is only ever that of an
  earlier deploy, and the next deploy repackages. A rollback needs none of
  them: it happens within the operation, minutes after the versions were
  current.
* Incomplete multipart uploads are aborted after a day, everywhere.

Where they can still bite: an object deleted by hand (or a version
overwritten and expired after 90 days) that a stack names. ``status``'s
repair then fails and says to run a deploy, which packages the templates
again under ``deploy/``.
"""

from __future__ import annotations

import botocore.exceptions

DEPLOY_NONCURRENT_DAYS = 90  # plan/ alike
LIFECYCLE_PREFIX = "wealist-artifacts-"


def bucket_name(project: str, account: str, region: str) -> str:
    """``<project>-cfn-artifacts-<account>-<region>``: the default artifact bucket."""
    return f"{project}-cfn-artifacts-{account}-{region}"


def lifecycle_rules() -> list[dict]:
    """The artifact bucket's lifecycle rules (ours are named
    ``wealist-artifacts-*``; other rules on the bucket are kept)."""
    return [
        # No Expiration of current plan/ objects: a stack may name them (above).
        {
            "ID": f"{LIFECYCLE_PREFIX}plan-noncurrent",
            "Status": "Enabled",
            "Filter": {"Prefix": "plan/"},
            "NoncurrentVersionExpiration": {"NoncurrentDays": DEPLOY_NONCURRENT_DAYS},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },
        {
            "ID": f"{LIFECYCLE_PREFIX}plan-delete-markers",
            "Status": "Enabled",
            "Filter": {"Prefix": "plan/"},
            "Expiration": {"ExpiredObjectDeleteMarker": True},
        },
        {
            "ID": f"{LIFECYCLE_PREFIX}deploy-noncurrent",
            "Status": "Enabled",
            "Filter": {"Prefix": "deploy/"},
            "NoncurrentVersionExpiration": {"NoncurrentDays": DEPLOY_NONCURRENT_DAYS},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },
    ]


def ensure_lifecycle(s3, bucket: str, owner: dict, *, dry_run: bool = False) -> bool:
    """Put :func:`lifecycle_rules` on the bucket, keeping its other rules;
    True when something changed (or would, in a dry run). ``owner``:
    ``{"ExpectedBucketOwner": account}``."""
    try:
        current = s3.get_bucket_lifecycle_configuration(Bucket=bucket, **owner).get("Rules", [])
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
            raise
        current = []
    ours = {r["ID"]: r for r in current if str(r.get("ID", "")).startswith(LIFECYCLE_PREFIX)}
    wanted = lifecycle_rules()
    if len(ours) == len(wanted) and all(_same_rule(ours.get(r["ID"]), r) for r in wanted):
        return False
    if not dry_run:
        others = [r for r in current if not str(r.get("ID", "")).startswith(LIFECYCLE_PREFIX)]
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": others + wanted}, **owner)
    return True


def _same_rule(have: dict | None, want: dict) -> bool:
    """S3 echoes a rule back in its own shape (a ``Filter`` with ``Prefix``,
    or a legacy top-level ``Prefix``): compare what this tool sets."""
    if not have:
        return False
    keys = ("Status", "Expiration", "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload")
    prefix = (have.get("Filter") or {}).get("Prefix", have.get("Prefix"))
    return prefix == want["Filter"]["Prefix"] and all(have.get(k) == want.get(k) for k in keys)
