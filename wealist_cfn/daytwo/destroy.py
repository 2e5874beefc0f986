"""``destroy``: delete a stack and its nested stacks, saying first what goes
and what stays, and afterwards what remains in the account.

What stays follows the deployed templates' DeletionPolicy (Retain and
RetainExceptOnCreate keep the resource; Snapshot leaves a final snapshot of
the database and the cache, DeletionPolicy attribute reference), plus what
the stack never owned: the deploy bucket and log groups the instances write.

Protections are read, not assumed: the root's termination protection
(DescribeStacks EnableTerminationProtection), the database's
DeletionProtection (DescribeDBInstances) and the load balancer's
``deletion_protection.enabled`` attribute (DescribeLoadBalancerAttributes).
Each one makes DeleteStack fail in AWS; they are only turned off when asked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import botocore.exceptions

from wealist_cfn.core.parameters import deploy_bucket_name
from wealist_cfn.core.settings import PARAMS_DIR

from .. import config
from ..aws import Aws, error_message, log_groups
from ..errors import EXIT_FAILED, CommandError
from .diff import fetch_deployed
from .tree import pmap
from .tree import resources as list_resources

RETAIN = ("Retain", "RetainExceptOnCreate")
# How a retained resource is measured and priced (see monthly_cost): the
# access-log bucket like any bucket, the flow-log group as a log group.
RETAINED_KINDS = {"AWS::ECR::Repository": "ecr", "AWS::S3::Bucket": "bucket", "AWS::Logs::LogGroup": "log-group"}
SNAPSHOT_TYPES = {
    "AWS::RDS::DBInstance": "database",
    "AWS::ElastiCache::ReplicationGroup": "cache",
    "AWS::ElastiCache::CacheCluster": "cache",
}


@dataclass
class Kept:
    kind: str  # retained | snapshot | ecr | log-group | bucket
    what: str  # "DatabaseStack/Database (AWS::RDS::DBInstance)"
    physical_id: str
    note: str = ""


@dataclass
class Protection:
    kind: str  # termination | database | load-balancer
    where: str
    physical_id: str


@dataclass
class DestroyPlan:
    stack_name: str
    stack_id: str
    status: str
    deleted: list[tuple[str, str, str]] = field(default_factory=list)  # (where, type, physical ID)
    kept: list[Kept] = field(default_factory=list)
    protections: list[Protection] = field(default_factory=list)
    nested: dict[str, str] = field(default_factory=dict)  # nested path -> stack ID


@dataclass
class Waiting:
    status: str
    waited: float
    nested_done: int  # nested stacks already DELETE_COMPLETE
    nested_total: int


def production_prefix() -> str | None:
    """The name prefix of params/prod.json: a stack named like it is production."""
    try:
        return config.load(PARAMS_DIR / "prod.json").name_prefix
    except (config.ConfigError, OSError):
        return None


def is_production(stack_name: str) -> bool:
    prefix = production_prefix()
    return bool(prefix) and (stack_name == prefix or stack_name.startswith(prefix + "-"))


def _ecr_images(aws: Aws, repo: str) -> int | None:
    try:
        return sum(
            len(p.get("imageIds", []))
            for p in aws.client("ecr").get_paginator("list_images").paginate(repositoryName=repo)
        )
    except botocore.exceptions.ClientError:
        return None


def _db_protected(aws: Aws, ident: str) -> bool:
    try:
        dbs = aws.client("rds").describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"]
    except botocore.exceptions.ClientError:
        return False
    return bool(dbs and dbs[0].get("DeletionProtection"))


def _lb_protected(aws: Aws, arn: str) -> bool:
    try:
        attrs = aws.client("elbv2").describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    except botocore.exceptions.ClientError:
        return False
    return any(a["Key"] == "deletion_protection.enabled" and a["Value"] == "true" for a in attrs)


def _log_groups(aws: Aws, prefix: str) -> list[str]:
    try:
        return [g["logGroupName"] for g in log_groups(aws.client("logs"), prefix)]
    except botocore.exceptions.ClientError:
        return []


def plan(aws: Aws, stack_name: str) -> DestroyPlan:
    """What a DeleteStack of the root deletes and keeps; nothing is changed."""
    root, tree, templates = fetch_deployed(aws, stack_name)
    p = DestroyPlan(
        stack_name, root["StackId"], root["StackStatus"], nested={path: sid for path, sid in tree.items() if path}
    )
    if root.get("EnableTerminationProtection"):
        p.protections.append(Protection("termination", "root stack", stack_name))
    listed = dict(zip(tree, pmap(lambda sid: list_resources(aws, sid), tree.values())))
    params = {x["ParameterKey"]: x.get("ParameterValue", "") for x in root.get("Parameters", [])}
    for path, res in listed.items():
        decl = templates.get(path, {}).get("Resources") or {}
        for r in res:
            lid, rtype = r["LogicalResourceId"], r["ResourceType"]
            pid = r.get("PhysicalResourceId", "") or ""
            where = f"{path}/{lid}" if path else lid
            if rtype == "AWS::CloudFormation::Stack" or r.get("ResourceStatus") == "DELETE_COMPLETE" or not lid:
                continue
            policy = decl.get(lid, {}).get("DeletionPolicy", "Delete")
            if policy in RETAIN:
                note = ""
                if rtype == "AWS::ECR::Repository":
                    n = _ecr_images(aws, pid)
                    note = "" if n is None else f"{n} image(s) kept"
                p.kept.append(Kept(RETAINED_KINDS.get(rtype, "retained"), f"{where} ({rtype})", pid, note))
                continue
            p.deleted.append((where, rtype, pid))
            if policy == "Snapshot" and rtype in SNAPSHOT_TYPES:
                p.kept.append(
                    Kept(
                        "snapshot",
                        f"final snapshot of the {SNAPSHOT_TYPES[rtype]} {where}",
                        pid,
                        "CloudFormation names it when it deletes the resource; "
                        "the name is listed when the deletion ends",
                    )
                )
            if rtype == "AWS::RDS::DBInstance" and _db_protected(aws, pid):
                p.protections.append(Protection("database", where, pid))
            if rtype == "AWS::ElasticLoadBalancingV2::LoadBalancer" and _lb_protected(aws, pid):
                p.protections.append(Protection("load-balancer", where, pid))
    project, env = params.get("Project"), params.get("Environment")
    if project and env:
        # The instance groups the stack makes go with it; a group under the
        # prefix that the stack does not hold (made by hand, or by an older
        # release) stays.
        owned = {pid for _, rtype, pid in p.deleted if rtype == "AWS::Logs::LogGroup"}
        owned |= {k.physical_id for k in p.kept if k.kind == "log-group"}
        for g in _log_groups(aws, f"/{project}/{env}/"):
            if g not in owned:
                p.kept.append(Kept("log-group", "log group (not owned by the stack)", g))
    if project and env and "DeployBucketName" in params:
        # Empty: the account-unique name the root template computes.
        bucket = params["DeployBucketName"] or deploy_bucket_name(
            project, env, aws.account or aws.check_credentials(), aws.region
        )
        p.kept.append(Kept("bucket", "deploy bucket (not owned by the stack)", bucket))
    return p


class DeleteFailed(CommandError):
    """DeleteStack ended DELETE_FAILED: the stack and some resources remain."""


def restore_command(pr: Protection, stack_id: str) -> str:
    """The AWS CLI command that switches one protection back on."""
    return {
        "termination": f"aws cloudformation update-termination-protection --stack-name {stack_id} "
        f"--enable-termination-protection",
        "database": f"aws rds modify-db-instance --db-instance-identifier {pr.physical_id} "
        f"--deletion-protection --apply-immediately",
        "load-balancer": f"aws elbv2 modify-load-balancer-attributes --load-balancer-arn {pr.physical_id} "
        f"--attributes Key=deletion_protection.enabled,Value=true",
    }[pr.kind]


def _gone_resource(exc: botocore.exceptions.ClientError) -> bool:
    from ..aws import error_code

    return error_code(exc) in (
        "DBInstanceNotFound",
        "DBInstanceNotFoundFault",
        "LoadBalancerNotFound",
    ) or "does not exist" in error_message(exc)


def _set_protection(aws: Aws, p: DestroyPlan, pr: Protection, on: bool) -> None:
    """Switch one protection on or off: the stack's termination protection,
    the database's or the load balancer's deletion protection."""
    if pr.kind == "termination":
        aws.cfn.update_termination_protection(StackName=p.stack_id, EnableTerminationProtection=on)
    elif pr.kind == "database":
        aws.client("rds").modify_db_instance(
            DBInstanceIdentifier=pr.physical_id, DeletionProtection=on, ApplyImmediately=True
        )
    elif pr.kind == "load-balancer":
        aws.client("elbv2").modify_load_balancer_attributes(
            LoadBalancerArn=pr.physical_id,
            Attributes=[{"Key": "deletion_protection.enabled", "Value": "true" if on else "false"}],
        )


def restore_protections(aws: Aws, p: DestroyPlan, turned_off: list[Protection]) -> list[str]:
    """After a deletion that failed (DELETE_FAILED) or a turn-off that failed
    half-way: switch back on what this run turned off, on whatever still
    exists. One line each: put back, already deleted, or still off with the
    command that puts it back. Never raises."""
    lines = []
    for pr in turned_off:
        try:
            _set_protection(aws, p, pr, True)
        except botocore.exceptions.ClientError as exc:
            if _gone_resource(exc):
                lines.append(f"{pr.kind} protection of {pr.where}: the resource is already deleted")
                continue
            lines.append(
                f"{pr.kind} protection of {pr.where} is still OFF ({error_message(exc)}); put it back: "
                f"{restore_command(pr, p.stack_id)}"
            )
            continue
        except Exception as exc:  # noqa: BLE001 - an error path: report, never hide the first error
            lines.append(
                f"{pr.kind} protection of {pr.where} is still OFF ({type(exc).__name__}); put it back: "
                f"{restore_command(pr, p.stack_id)}"
            )
            continue
        lines.append(f"{pr.kind} protection of {pr.where} switched back on")
    return lines


def disable_protections(aws: Aws, p: DestroyPlan) -> list[str]:
    """Turn off each protection that would make DeleteStack fail. When one
    cannot be turned off, those already turned off are switched back on
    before the error is raised: nothing is left half-unprotected."""
    done: list[str] = []
    off: list[Protection] = []
    for pr in p.protections:
        try:
            _set_protection(aws, p, pr, False)
        except botocore.exceptions.ClientError as exc:
            raise CommandError(
                f"turning off {pr.kind} protection of {pr.where}: {error_message(exc)}",
                details=("nothing was deleted",) + tuple(restore_protections(aws, p, off)),
            ) from None
        off.append(pr)
        done.append(f"{pr.kind} protection of {pr.where} turned off")
    return done


def delete(
    aws: Aws,
    p: DestroyPlan,
    *,
    sleep: Callable[[float], None] = time.sleep,
    interval: float = 10.0,
    timeout: float = 3 * 3600,
) -> Iterator[Waiting]:
    """DeleteStack on the root (its nested stacks go with it); yield progress until it is gone."""
    try:
        aws.cfn.delete_stack(StackName=p.stack_id)
    except botocore.exceptions.ClientError as exc:
        raise CommandError(f"DeleteStack {p.stack_name}: {error_message(exc)}") from None
    waited = 0.0
    while True:
        try:
            st = aws.cfn.describe_stacks(StackName=p.stack_id)["Stacks"][0]
        except botocore.exceptions.ClientError as exc:
            if "does not exist" in error_message(exc):
                return
            raise CommandError(f"DescribeStacks {p.stack_name}: {error_message(exc)}") from None
        status = st["StackStatus"]
        if status == "DELETE_COMPLETE":
            return
        if status == "DELETE_FAILED":
            raise DeleteFailed(
                f"deleting {p.stack_name} failed: {st.get('StackStatusReason', '')}",
                EXIT_FAILED,
                details=(
                    f"see `python build.py events --stack-name {p.stack_name} --since 1h` for the resource that failed",
                ),
            )
        if waited >= timeout:
            raise CommandError(f"{p.stack_name} still {status} after {int(waited)}s; the deletion goes on in AWS")
        yield Waiting(status, waited, sum(pmap(lambda sid: _gone(aws, sid), p.nested.values())), len(p.nested))
        sleep(interval)
        waited += interval


def _gone(aws: Aws, stack_id: str) -> bool:
    try:
        return aws.cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    except botocore.exceptions.ClientError as exc:
        return "does not exist" in error_message(exc)


def remaining(aws: Aws, p: DestroyPlan) -> list[Kept]:
    """What is left in the account: each kept item that still exists, and the
    final snapshots by their real names."""
    out = []
    for k in p.kept:
        if k.kind != "snapshot":
            out.append(k)
            continue
        names = []
        try:
            if "database" in k.what:
                names = [
                    s["DBSnapshotIdentifier"]
                    for s in aws.client("rds")
                    .describe_db_snapshots(DBInstanceIdentifier=k.physical_id, SnapshotType="manual")
                    .get("DBSnapshots", [])
                ]
            else:
                names = [
                    s["SnapshotName"]
                    for s in aws.client("elasticache")
                    .describe_snapshots(ReplicationGroupId=k.physical_id)
                    .get("Snapshots", [])
                ]
        except botocore.exceptions.ClientError:
            pass
        out.append(
            Kept(
                "snapshot",
                k.what,
                k.physical_id,
                ("snapshot " + ", ".join(names)) if names else "no final snapshot found",
            )
        )
    return out


GIB = 1024**3


@dataclass
class KeptCost:
    kept: Kept
    usd: float | None  # a month; None: not priced (the reason is in basis)
    basis: str


def _db_snapshot_gb(aws: Aws, instance: str) -> float:
    snaps = aws.client("rds").describe_db_snapshots(DBInstanceIdentifier=instance, SnapshotType="manual")
    return float(sum(s.get("AllocatedStorage", 0) for s in snaps.get("DBSnapshots", [])))


def _image_gb(aws: Aws, repo: str) -> float:
    pages = aws.client("ecr").get_paginator("describe_images").paginate(repositoryName=repo)
    return sum(d.get("imageSizeInBytes", 0) for page in pages for d in page.get("imageDetails", [])) / GIB


def _bucket_gb(aws: Aws, bucket: str) -> float:
    pages = aws.client("s3").get_paginator("list_object_versions").paginate(Bucket=bucket)
    return sum(v.get("Size", 0) for page in pages for v in page.get("Versions", [])) / GIB


def _log_group_gb(aws: Aws, group: str) -> float:
    return sum(g.get("storedBytes", 0) for g in log_groups(aws.client("logs"), group, exact=True)) / GIB


# What a kept item is billed for, a month: its stored GB, measured, at a price
# of the region's table (wealist_cfn/preflight/prices). RDS: after the instance
# is gone there is no free backup allowance, and a final snapshot is billed for
# at most its allocated storage; ECR: the images' stored (compressed) size; S3:
# every object version, since the deploy and access-log buckets are versioned;
# a log group: the bytes DescribeLogGroups reports it stores (storedBytes).
_STORED = {
    "snapshot": ("rds:backup", _db_snapshot_gb, "at most {gb:.1f} GB of snapshot storage"),
    "ecr": ("ecr:storage", _image_gb, "{gb:.2f} GB of images"),
    "bucket": ("s3:standard", _bucket_gb, "{gb:.3f} GB of object versions"),
    "log-group": ("logs:storage", _log_group_gb, "{gb:.3f} GB of log events stored"),
}


def monthly_cost(aws: Aws, left: list[Kept], region: str) -> list[KeptCost]:
    """The monthly cost of what remains after a destroy, item by item; an
    item the price table cannot price says why, and never counts as $0."""
    from ..preflight.cost import load_prices

    table = load_prices(region)
    out = []
    for k in left:
        how = _STORED.get(k.kind)
        if how is None or (k.kind == "snapshot" and "database" not in k.what):
            why = {"snapshot": "ElastiCache snapshot storage is not in the price table"}.get(
                k.kind, "a retained resource: priced by what it is, which the table does not cover"
            )
            out.append(KeptCost(k, None, why))
            continue
        key, measure, basis = how
        price = table.get(key)
        try:
            gb = measure(aws, k.physical_id)
        except botocore.exceptions.ClientError as exc:
            out.append(KeptCost(k, None, f"could not measure it: {error_message(exc)}"))
            continue
        if price.usd is None:
            out.append(KeptCost(k, None, f"{basis.format(gb=gb)}; {key} has no sourced price"))
            continue
        out.append(
            KeptCost(k, gb * price.usd, f"{basis.format(gb=gb)} at ${price.usd}/GB-month ({key}, read {price.read})")
        )
    return out
