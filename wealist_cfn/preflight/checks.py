"""Preflight: what the stack assumes about the account, checked with
read-only calls before a change set is made.

Each check is a small function ``check(ctx) -> Result`` that returns data;
:func:`run` runs them all at once on a thread pool (boto3 clients are
thread-safe once made, so every client is made before the pool starts) and
returns a :class:`Report`. Nothing here prints.

Where a check's inputs come from:

* SSM dynamic references, resource properties, nested-stack parameters:
  the committed templates, resolved for the parameter file by the
  project's own resolver (:mod:`wealist_cfn.cfn.model`), so a reference
  inside a false Condition is not demanded.
* Values instances read at boot and the images they pull:
  :data:`wealist_cfn.ops.bootstrap.PARAMETERS`, the one table bootstrap
  writes from (only its public names: ``PARAMETERS``, ``SECRET``,
  ``RELEASE``, ``UNRELEASED``, ``parameter_prefix``, ``local_files``).
* Stack state: :mod:`wealist_cfn.deploy.stackstate`, the deploy command's
  own decisions.
* The trust stack (``<stack>-github``, templates/github-oidc.yaml): its
  parameters, and the permissions boundary it creates, against AWS only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import botocore.exceptions
import botocore.parsers

from wealist_cfn.cfn import model as cfnmodel
from wealist_cfn.cfn import templates as tpl
from wealist_cfn.core.parameters import deploy_bucket_name
from wealist_cfn.core.rules import DYNAMIC_REFERENCE
from wealist_cfn.core.settings import TEMPLATES_DIR

from ..aws import Aws, error_code, error_message, log_groups
from ..config import Config, ConfigError
from ..deploy import stackstate
from ..errors import CommandError
from ..ops import bootstrap
from ..stacks import alarms
from . import capability as capability_mod

OK, FAIL, WARN = "ok", "fail", "warn"
# The endpoint does not answer a call the check needs (see capability.py):
# named, never a failure, never blocking.
NOT_CHECKABLE = "not checkable here"

# CloudFormation's dynamic reference syntax: {{resolve:ssm:name[:version]}},
# {{resolve:ssm-secure:name[:version]}} (core/rules.py, with its source).
_DYNAMIC = DYNAMIC_REFERENCE
# "ssm" resolves String and StringList parameters; SecureString needs "ssm-secure"
# (same page: "ssm-secure" is the only pattern for SecureString).
_REFERENCE_TYPES = {"ssm": ("String", "StringList"), "ssm-secure": ("SecureString",)}

CERT_MIN_DAYS = 30


@dataclass
class Result:
    name: str
    status: str  # ok | fail | warn | not checkable here
    finding: str
    fix: str = ""
    details: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status == FAIL


@dataclass
class Report:
    region: str
    stack_name: str
    results: list[Result]
    seconds: float = 0.0
    state: stackstate.StackState | None = None  # the stack as preflight found it (None: not read)

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.failed]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def not_checkable(self) -> list[Result]:
        return [r for r in self.results if r.status == NOT_CHECKABLE]

    def to_dict(self) -> dict:
        return {
            "region": self.region,
            "stack": self.stack_name,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "checks": [asdict(r) for r in self.results],
        }


@dataclass
class Context:
    config: Config
    aws: Aws
    stack_name: str
    resolved: dict[str, cfnmodel.Stack]
    files_dir: Path = bootstrap.INSTANCE_FILES_DIR
    replace_failed: bool = False
    params_arg: str = ""
    state: stackstate.StackState | None = None
    capability: capability_mod.Capability = capability_mod.AWS

    @property
    def region(self) -> str:
        return self.aws.region

    @property
    def zones(self) -> list[str]:
        return self.config.availability_zones

    def resources(self, type_: str) -> dict[str, dict]:
        return {k: v for k, v in cfnmodel.all_resources(self.resolved).items() if v["Type"] == type_}

    @property
    def bootstrap_fix(self) -> str:
        return f"python build.py bootstrap --params {self.params_arg or self.config.path}"


def resolve_templates(config: Config, templates_dir: Path = TEMPLATES_DIR) -> dict[str, cfnmodel.Stack]:
    """The committed templates as they would exist for this parameter file."""
    ts = tpl.read(templates_dir)
    parsed = {name: ts.parsed(name) for name in ts.texts}
    return cfnmodel.resolve_set(parsed, config.values, root_name=ts.root_name, region=config.region)


def current_config(cfg: Config, current: dict[str, str]) -> Config:
    """``cfg`` with a stack's current parameter values; a value the file
    check refuses stays at the file's (moto reports a List parameter as
    "['a', 'b']"; such a key then shows no difference)."""
    values = {k: v for k, v in current.items() if k in cfg.values}
    while True:
        try:
            return cfg.with_values(**values)
        except ConfigError as exc:
            if exc.key not in values:
                raise
            del values[exc.key]


def make_context(
    config: Config,
    aws: Aws,
    *,
    stack_name: str | None = None,
    templates_dir: Path = TEMPLATES_DIR,
    files_dir: Path = bootstrap.INSTANCE_FILES_DIR,
    replace_failed: bool = False,
    params_arg: str = "",
    capability: capability_mod.Capability = capability_mod.AWS,
) -> Context:
    return Context(
        config=config,
        aws=aws,
        stack_name=stack_name or config.name_prefix,
        resolved=resolve_templates(config, templates_dir),
        files_dir=files_dir,
        replace_failed=replace_failed,
        params_arg=params_arg,
        capability=capability,
    )


# -- helpers ----------------------------------------------------------------------------------


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def dynamic_references(resolved: dict[str, cfnmodel.Stack]) -> list[tuple[str, str, str]]:
    """(kind, name, where) of every SSM dynamic reference the resolved
    resources use, in template order, each name once."""
    out: dict[str, tuple[str, str, str]] = {}
    for where, res in cfnmodel.all_resources(resolved).items():
        for text in _strings(res.get("Properties", {})):
            for kind, name, _version in _DYNAMIC.findall(text):
                out.setdefault(name, (kind, name, where))
    return list(out.values())


def _get_parameters(ssm, names: list[str]) -> tuple[dict[str, dict], list[str]]:
    """Name -> metadata (``Type`` included) of the parameters that exist, by
    DescribeParameters: metadata only, never a value, so a role that may not
    read a secret (the pull-request plan role) can still check that it
    exists. A ``Name``/``Equals`` filter takes at most 50 values (API
    reference, DescribeParameters, ParameterStringFilter: "Values ... Maximum
    number of 50 items"); results come in pages."""
    found: dict[str, dict] = {}
    pages = ssm.get_paginator("describe_parameters")
    for i in range(0, len(names), 50):
        chunk = names[i : i + 50]
        for page in pages.paginate(ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": chunk}]):
            found.update({p["Name"]: p for p in page.get("Parameters", []) if p.get("Name") in chunk})
    return found, [n for n in names if n not in found]


def _get_values(ssm, names: list[str]) -> dict[str, dict]:
    """Name -> parameter, value included, for plain (never secret) values.
    GetParameters takes at most 10 names per call (API reference,
    GetParameters: "Names ... Maximum number of 10 items")."""
    found = {}
    for i in range(0, len(names), 10):
        resp = ssm.get_parameters(Names=names[i : i + 10], WithDecryption=False)
        found.update({p["Name"]: p for p in resp.get("Parameters", [])})
    return found


# -- checks -----------------------------------------------------------------------------------


def check_ssm_references(ctx: Context) -> Result:
    refs = dynamic_references(ctx.resolved)
    if not refs:
        return Result("ssm-references", OK, "the templates use no SSM dynamic references")
    found, _ = _get_parameters(ctx.aws.client("ssm"), [n for _, n, _ in refs])
    problems = []
    for kind, name, where in refs:
        p = found.get(name)
        if p is None:
            problems.append(f"{name}: missing (used by {where} as {{{{resolve:{kind}:...}}}})")
        elif p["Type"] not in _REFERENCE_TYPES[kind]:
            problems.append(
                f"{name}: is a {p['Type']}, {{{{resolve:{kind}:...}}}} in {where} needs "
                f"{' or '.join(_REFERENCE_TYPES[kind])}"
            )
    if problems:
        return Result(
            "ssm-references",
            FAIL,
            f"{len(problems)} of {len(refs)} dynamic references cannot resolve in {ctx.region}",
            fix=ctx.bootstrap_fix,
            details=problems,
        )
    return Result("ssm-references", OK, f"{len(refs)} dynamic references exist with the right type in {ctx.region}")


def check_boot_parameters(ctx: Context) -> Result:
    prefix = bootstrap.parameter_prefix(ctx.config)
    want = {
        f"{prefix}/{p.name}": ("SecureString" if p.kind == bootstrap.SECRET else "String") for p in bootstrap.PARAMETERS
    }
    found, _ = _get_parameters(ctx.aws.client("ssm"), list(want))
    problems = []
    for name, type_ in want.items():
        p = found.get(name)
        if p is None:
            problems.append(f"{name}: missing")
        elif p["Type"] != type_:
            problems.append(f"{name}: is a {p['Type']}, instances expect a {type_}")
    if problems:
        return Result(
            "boot-parameters",
            FAIL,
            f"{len(problems)} of {len(want)} values instances read at boot are missing or of the wrong type",
            fix=ctx.bootstrap_fix,
            details=problems,
        )
    return Result("boot-parameters", OK, f"{len(want)} values instances read at boot exist under {prefix}/")


def _holds(s3, bucket: str, key: str, body: bytes, owner: dict) -> str | None:
    """None when the object holds exactly ``body``; else why not. A
    single-part SSE-S3 object's ETag is the MD5 of its bytes; any other ETag
    (KMS, multipart) is settled by reading the object."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key, **owner)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return "missing"
        raise
    if head.get("ETag", "").strip('"') == hashlib.md5(body, usedforsecurity=False).hexdigest():
        return None
    if s3.get_object(Bucket=bucket, Key=key, **owner)["Body"].read() == body:
        return None
    return f"stale ({head.get('ContentLength', '?')} bytes stored, {len(body)} in instance-files/)"


def check_deploy_bucket(ctx: Context) -> Result:
    account = ctx.aws.account or ctx.aws.check_credentials()
    s3, bucket = ctx.aws.client("s3"), ctx.config.deploy_bucket_name(account)
    owner = {"ExpectedBucketOwner": account}
    try:
        s3.head_bucket(Bucket=bucket, **owner)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return Result("deploy-bucket", FAIL, f"s3://{bucket} does not exist", fix=ctx.bootstrap_fix)
        if error_code(exc) in ("403", "AccessDenied"):
            return Result(
                "deploy-bucket",
                FAIL,
                f"s3://{bucket} exists but is not owned by this account ({account}) or is not readable",
                fix="choose another DeployBucketName in the parameter file, then " + ctx.bootstrap_fix,
            )
        raise
    location = s3.get_bucket_location(Bucket=bucket, **owner).get("LocationConstraint") or "us-east-1"
    if location == "EU":  # the legacy name S3 still answers for eu-west-1
        location = "eu-west-1"
    if location != ctx.region:
        return Result(
            "deploy-bucket",
            FAIL,
            f"s3://{bucket} is in {location}, the stack in {ctx.region}",
            fix="instances fetch their files from a bucket in their own region: choose another "
            "DeployBucketName and run " + ctx.bootstrap_fix,
        )
    files = bootstrap.local_files(ctx.files_dir)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            verdicts = dict(zip(files, pool.map(lambda k: _holds(s3, bucket, k, files[k].read_bytes(), owner), files)))
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) not in ("403", "AccessDenied") or not ctx.aws.plain_http:
            raise
        return Result(
            "deploy-bucket",
            FAIL,
            f"could not read the instance files: {exc.operation_name}: 403 "
            "(the bucket's TLS-only policy denies every call made over plain http://)",
        )
    bad = [f"s3://{bucket}/{k}: {why}" for k, why in verdicts.items() if why]
    if bad:
        stale = sum(1 for k, why in verdicts.items() if why and why.startswith("stale"))
        return Result(
            "deploy-bucket",
            FAIL,
            f"{len(bad)} of {len(files)} instance files are missing or stale ({stale} stale)",
            fix=ctx.bootstrap_fix,
            details=bad,
        )
    return Result(
        "deploy-bucket",
        OK,
        f"s3://{bucket} in {ctx.region}, owned by {account}, holds all {len(files)} instance files byte for byte",
    )


def check_certificate(
    ctx: Context, now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)
) -> Result:
    arn = ctx.config.values["CertificateArn"]
    if not arn:
        return Result("certificate", OK, "no CertificateArn: the load balancer listens on HTTP only")
    cert_region = arn.split(":")[3]
    if cert_region != ctx.region:
        return Result(
            "certificate",
            FAIL,
            f"{arn} is in {cert_region}, the load balancer in {ctx.region}",
            fix=f"request or import a certificate in {ctx.region}: aws acm request-certificate "
            f"--region {ctx.region} --domain-name <name> --validation-method DNS",
        )
    try:
        cert = ctx.aws.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return Result(
                "certificate",
                FAIL,
                f"{arn} does not exist in this account",
                fix=f"aws acm list-certificates --region {ctx.region}",
            )
        raise
    names = [cert.get("DomainName", "")] + [
        n for n in cert.get("SubjectAlternativeNames", []) if n != cert.get("DomainName")
    ]
    shown = ", ".join(n for n in names if n)
    if cert.get("Status") != "ISSUED":
        fix = (
            f"complete its DNS validation: aws acm describe-certificate --certificate-arn {arn} --query "
            f"Certificate.DomainValidationOptions"
            if cert.get("Status") == "PENDING_VALIDATION"
            else "request a new certificate and set CertificateArn to it"
        )
        return Result("certificate", FAIL, f"certificate for {shown} is {cert.get('Status')}, not ISSUED", fix=fix)
    not_after = cert.get("NotAfter")
    if not_after is None:
        return Result("certificate", FAIL, f"certificate for {shown} reports no expiry date")
    days = (not_after - now()).total_seconds() / 86400
    if days <= CERT_MIN_DAYS:
        renew = (
            "ACM renews it automatically only while its DNS validation records exist: aws acm "
            f"describe-certificate --certificate-arn {arn} --query Certificate.RenewalSummary"
            if cert.get("Type") == "AMAZON_ISSUED"
            else f"import a renewed certificate: aws acm import-certificate --certificate-arn {arn} ..."
        )
        return Result(
            "certificate",
            FAIL,
            f"certificate for {shown} expires in {days:.0f} days "
            f"({not_after:%Y-%m-%d}); at least {CERT_MIN_DAYS} are required",
            fix=renew,
        )
    return Result(
        "certificate", OK, f"ISSUED in {ctx.region} for {shown}, expires {not_after:%Y-%m-%d} ({days:.0f} days)"
    )


def check_zones(ctx: Context) -> Result:
    resp = ctx.aws.client("ec2").describe_availability_zones(
        Filters=[{"Name": "zone-name", "Values": ctx.zones}], AllAvailabilityZones=True
    )
    states = {z["ZoneName"]: z.get("State", "") for z in resp.get("AvailabilityZones", [])}
    problems = [f"{z}: not a zone of {ctx.region}" for z in ctx.zones if z not in states]
    problems += [f"{z}: {states[z]}" for z in ctx.zones if z in states and states[z] != "available"]
    if problems:
        return Result(
            "zones",
            FAIL,
            f"{len(problems)} of the zones cannot be used",
            details=problems,
            fix=f"choose zones from: aws ec2 describe-availability-zones --region {ctx.region} "
            f"--query 'AvailabilityZones[?State==`available`].ZoneName'",
        )
    return Result("zones", OK, f"{', '.join(ctx.zones)} are available")


def check_instance_types(ctx: Context) -> Result:
    types = sorted(
        {
            v["Properties"].get("LaunchTemplateData", {}).get("InstanceType")
            for v in ctx.resources("AWS::EC2::LaunchTemplate").values()
        }
        - {None}
    )
    offered: set[tuple[str, str]] = set()
    paginator = ctx.aws.client("ec2").get_paginator("describe_instance_type_offerings")
    for page in paginator.paginate(
        LocationType="availability-zone",
        Filters=[{"Name": "instance-type", "Values": types}, {"Name": "location", "Values": ctx.zones}],
    ):
        offered |= {(o["InstanceType"], o["Location"]) for o in page.get("InstanceTypeOfferings", [])}
    missing = [f"{t} is not offered in {z}" for t in types for z in ctx.zones if (t, z) not in offered]
    if missing:
        return Result(
            "instance-types",
            FAIL,
            f"{len(missing)} instance type / zone pairs are not offered",
            details=missing,
            fix=f"aws ec2 describe-instance-type-offerings --region {ctx.region} "
            f"--location-type availability-zone --filters Name=instance-type,Values={','.join(types)}",
        )
    return Result("instance-types", OK, f"{', '.join(types)} offered in all {len(ctx.zones)} zones")


def check_database(ctx: Context) -> Result:
    ((where, db),) = ctx.resources("AWS::RDS::DBInstance").items()
    p = db["Properties"]
    engine, version, cls = p["Engine"], str(p["EngineVersion"]), p["DBInstanceClass"]
    multi = str(p.get("MultiAZ", False)).lower() == "true"
    # A major version alone ("17": RDS creates its default minor) matches no
    # offering's EngineVersion exactly, so it filters by prefix here.
    major_only = "." not in version
    query = dict(Engine=engine, DBInstanceClass=cls, Vpc=True, **({} if major_only else {"EngineVersion": version}))
    options = [
        o
        for page in ctx.aws.client("rds").get_paginator("describe_orderable_db_instance_options").paginate(**query)
        for o in page.get("OrderableDBInstanceOptions", [])
    ]
    if major_only:
        options = [o for o in options if str(o.get("EngineVersion", "")).split(".")[0] == version]
    storage = p.get("StorageType")
    if storage:
        options = [o for o in options if o.get("StorageType") == storage]
    fix = (
        f"aws rds describe-orderable-db-instance-options --region {ctx.region} --engine {engine} "
        f"--engine-version {version} --query 'OrderableDBInstanceOptions[].DBInstanceClass'"
    )
    what = f"{cls} {engine} {version}" + (f" ({storage})" if storage else "")
    if not options:
        return Result("database", FAIL, f"{what} cannot be ordered in {ctx.region}", fix=fix)
    zones = {z["Name"] for o in options for z in o.get("AvailabilityZones", [])}
    missing = [z for z in ctx.zones if zones and z not in zones]
    if missing:
        return Result("database", FAIL, f"{what} cannot be ordered in {', '.join(missing)}", fix=fix)
    if multi and not any(o.get("MultiAZCapable") for o in options):
        return Result("database", FAIL, f"{what} cannot run Multi-AZ", fix=fix)
    return Result("database", OK, f"{what} orderable in {', '.join(ctx.zones)}" + (", Multi-AZ" if multi else ""))


def check_cache(ctx: Context) -> Result:
    ((where, rg),) = ctx.resources("AWS::ElastiCache::ReplicationGroup").items()
    p = rg["Properties"]
    engine, version, node = p["Engine"], str(p["EngineVersion"]), p["CacheNodeType"]
    ec = ctx.aws.client("elasticache")
    versions = [
        v
        for page in ec.get_paginator("describe_cache_engine_versions").paginate(Engine=engine, EngineVersion=version)
        for v in page.get("CacheEngineVersions", [])
    ]
    if not versions:
        return Result(
            "cache",
            FAIL,
            f"{engine} {version} is not offered in {ctx.region}",
            fix=f"aws elasticache describe-cache-engine-versions --region {ctx.region} --engine {engine} "
            f"--query 'CacheEngineVersions[].EngineVersion'",
        )
    # ElastiCache has no "orderable node types" call; the reserved-node
    # offerings are the per-region list of node types it sells (API
    # reference, DescribeReservedCacheNodesOfferings, CacheNodeType filter).
    offers = ec.describe_reserved_cache_nodes_offerings(CacheNodeType=node, MaxRecords=20)
    if not offers.get("ReservedCacheNodesOfferings"):
        return Result(
            "cache",
            FAIL,
            f"{node} is not offered in {ctx.region}",
            fix=f"aws elasticache describe-reserved-cache-nodes-offerings --region {ctx.region} "
            f"--query 'ReservedCacheNodesOfferings[].CacheNodeType'",
        )
    return Result("cache", OK, f"{node} and {engine} {version} offered in {ctx.region}")


def redis_alarm_members(group_id: str) -> list[str]:
    """The member cluster IDs the Redis alarms take their MAX over
    (stacks/alarms.py REDIS_MEMBERS): ``<group>-001`` .. ``<group>-00N``."""
    return [f"{group_id}-{i:03d}" for i in range(1, alarms.REDIS_MEMBERS + 1)]


def check_redis_members(ctx: Context) -> Result:
    """Every member of the replication group is one the Redis alarms
    watch. The alarms read each node by its CacheClusterId (node-level
    metrics: ElastiCache user guide, "Metrics for Redis OSS", dimension
    CacheClusterId) for the IDs ``-001`` .. ``-00N`` only, with missing data
    not breaching, so a member with another ID (``-004`` after repeated
    failovers and replica replacements, or a replica added by hand under a
    name of its own) would run unwatched and no alarm would say so.
    DescribeReplicationGroups lists the group's ``MemberClusters``
    (ElastiCache API reference, ReplicationGroup: "The names of all the
    cache clusters that are part of this replication group"); a group that
    does not exist yet answers ReplicationGroupNotFoundFault."""
    groups = ctx.resources("AWS::ElastiCache::ReplicationGroup")
    if not groups:
        return Result("redis-members", OK, "the templates make no replication group")
    ((where, rg),) = groups.items()
    group_id = str(rg["Properties"]["ReplicationGroupId"])
    try:
        found = ctx.aws.client("elasticache").describe_replication_groups(ReplicationGroupId=group_id)[
            "ReplicationGroups"
        ]
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) != "ReplicationGroupNotFoundFault":
            raise
        return Result(
            "redis-members",
            OK,
            f"{group_id} does not exist yet: its first members are {', '.join(redis_alarm_members(group_id)[:2])}",
        )
    members = [m for g in found for m in g.get("MemberClusters", [])]
    watched = redis_alarm_members(group_id)
    unwatched = [m for m in members if m not in watched]
    if not unwatched:
        return Result(
            "redis-members",
            OK,
            f"{group_id}: every member ({', '.join(members) or 'none'}) is one the "
            f"Redis alarms watch ({watched[0]} .. {watched[-1]})",
        )
    # The next ID beyond the alarms' range that covers every numbered member.
    numbers = [int(m.rsplit("-", 1)[1]) for m in unwatched if re.fullmatch(re.escape(group_id) + r"-\d{3}", m)]
    raise_to = (
        f"raise REDIS_MEMBERS in wealist_cfn/stacks/alarms.py to {max(numbers)}, rebuild and deploy"
        if numbers and len(numbers) == len(unwatched)
        else (
            f"replace it with a replica ElastiCache names itself: aws elasticache decrease-replica-count "
            f"--replication-group-id {group_id} --replicas-to-remove {unwatched[0]} --apply-immediately, then "
            f"increase-replica-count --new-replica-count <as before> --apply-immediately, and run preflight again"
        )
    )
    return Result(
        "redis-members",
        WARN,
        f"{group_id} has {len(unwatched)} member(s) the Redis alarms do not watch "
        f"({', '.join(unwatched)}; the alarms read {watched[0]} .. {watched[-1]} only): its CPU, memory "
        "and evictions page nobody",
        fix=raise_to,
        details=[f"{m}: not among the alarms' CacheClusterId values" for m in unwatched],
    )


def check_ami(ctx: Context) -> Result:
    paths = sorted(
        {
            str(s.params[name])
            for s in ctx.resolved.values()
            for name, decl in s.template.get("Parameters", {}).items()
            if decl.get("Type", "").startswith("AWS::SSM::Parameter::Value<") and name in s.params
        }
    )
    ssm, problems, shown = ctx.aws.client("ssm"), [], []
    for path in paths:
        try:
            value = ssm.get_parameter(Name=path)["Parameter"]["Value"]
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "ParameterNotFound":
                raise
            problems.append(f"{path}: not found in {ctx.region}")
            continue
        shown.append(f"{path} = {value}")
    if problems:
        # The AMI is AWS's public parameter; any other SSM-typed parameter
        # would be one of bootstrap's (the release tags no longer are: deploy
        # reads them itself, ops/releasestate.py).
        if any(not p.startswith("/aws/") for p in problems):
            return Result(
                "ami",
                FAIL,
                "SSM-typed template parameter does not resolve",
                details=problems,
                fix=f"python build.py bootstrap --params {ctx.params_arg} (it writes the release tags)",
            )
        return Result(
            "ami",
            FAIL,
            "public parameter path does not resolve",
            details=problems,
            fix=f"aws ssm get-parameters-by-path --region {ctx.region} "
            f"--path /aws/service/ami-amazon-linux-latest --query 'Parameters[].Name'",
        )
    return Result("ami", OK, "; ".join(shown) or "no SSM-typed template parameters")


# Service Quotas codes and the defaults AWS documents for them, used when the
# Service Quotas API cannot answer (no permission, or an endpoint without it).
# EC2 Elastic IPs: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/elastic-ip-addresses-eip.html
#   ("5 Elastic IP addresses per Region"), quota L-0263D0A3.
# VPC: https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html
#   VPCs per Region 5 (L-F678F1CE), NAT gateways per Availability Zone 5
#   (L-FE5A380F), VPC security groups per Region 2,500 (L-E79EC296).
QUOTAS = {
    "eips": ("ec2", "L-0263D0A3", 5.0, "Elastic IPs per region"),
    "nat": ("vpc", "L-FE5A380F", 5.0, "NAT gateways per zone"),
    "vpcs": ("vpc", "L-F678F1CE", 5.0, "VPCs per region"),
    "sgs": ("vpc", "L-E79EC296", 2500.0, "security groups per region"),
}


def _quota(ctx: Context, key: str) -> tuple[float, str]:
    service, code, default, _ = QUOTAS[key]
    try:
        quota = ctx.aws.client("service-quotas").get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]
        return float(quota["Value"]), "Service Quotas"
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        why = error_code(exc) if isinstance(exc, botocore.exceptions.ClientError) else type(exc).__name__
        return default, f"documented default; Service Quotas: {why}"


def _needed(ctx: Context) -> dict:
    """What the template set adds for these parameters: EIPs, NAT gateways
    per zone, VPCs, security groups. On an update, what the stack already
    has (the same set resolved for its current parameters) is subtracted."""

    def count(resolved):
        res = cfnmodel.all_resources(resolved)
        nat_zone: dict[str, int] = {}
        for v in res.values():
            if v["Type"] == "AWS::EC2::NatGateway":
                subnet = res.get(str(v["Properties"].get("SubnetId")), {})
                zone = subnet.get("Properties", {}).get("AvailabilityZone", "?")
                nat_zone[zone] = nat_zone.get(zone, 0) + 1
        types = [v["Type"] for v in res.values()]
        return {
            "eips": types.count("AWS::EC2::EIP"),
            "vpcs": types.count("AWS::EC2::VPC"),
            "sgs": types.count("AWS::EC2::SecurityGroup"),
            "nat": nat_zone,
        }

    new = count(ctx.resolved)
    state = ctx.state
    if state and state.status and state.change_set_type == "UPDATE" and state.parameters:
        try:
            old = count(
                cfnmodel.resolve_set(
                    {n: s.template for n, s in _templates_by_file(ctx).items()},
                    current_config(ctx.config, state.parameters).values,
                    region=ctx.region,
                )
            )
        except (KeyError, ValueError):  # ConfigError is a ValueError
            old = None
        if old:
            return {
                **{k: new[k] - old[k] for k in ("eips", "vpcs", "sgs")},
                "nat": {z: n - old["nat"].get(z, 0) for z, n in new["nat"].items()},
            }
    return new


def _templates_by_file(ctx: Context) -> dict[str, cfnmodel.Stack]:
    root = ctx.resolved["Root"]
    out = {"root.yaml": root}
    for lid, res in root.template.get("Resources", {}).items():
        if res.get("Type") == cfnmodel.NESTED and lid in ctx.resolved:
            out[res["Properties"]["TemplateURL"]] = ctx.resolved[lid]
    return out


def check_quotas(ctx: Context) -> Result:
    ec2 = ctx.aws.client("ec2")
    need = _needed(ctx)
    with ThreadPoolExecutor(max_workers=4) as pool:
        quotas = dict(zip(QUOTAS, pool.map(lambda k: _quota(ctx, k), QUOTAS)))
        eips_f = pool.submit(
            lambda: len(ec2.describe_addresses(Filters=[{"Name": "domain", "Values": ["vpc"]}]).get("Addresses", []))
        )
        vpcs_f = pool.submit(lambda: sum(len(p["Vpcs"]) for p in ec2.get_paginator("describe_vpcs").paginate()))
        sgs_f = pool.submit(
            lambda: sum(len(p["SecurityGroups"]) for p in ec2.get_paginator("describe_security_groups").paginate())
        )
        nats_f = pool.submit(
            lambda: [
                n
                for p in ec2.get_paginator("describe_nat_gateways").paginate(
                    Filter=[{"Name": "state", "Values": ["pending", "available"]}]
                )
                for n in p.get("NatGateways", [])
            ]
        )
        used = {"eips": eips_f.result(), "vpcs": vpcs_f.result(), "sgs": sgs_f.result()}
        nats = nats_f.result()
    subnet_ids = sorted({n["SubnetId"] for n in nats if n.get("SubnetId")})
    zone_of = {}
    if subnet_ids:
        zone_of = {
            s["SubnetId"]: s["AvailabilityZone"] for s in ec2.describe_subnets(SubnetIds=subnet_ids).get("Subnets", [])
        }
    nat_used: dict[str, int] = {}
    for n in nats:
        z = zone_of.get(n.get("SubnetId"), "?")
        nat_used[z] = nat_used.get(z, 0) + 1

    lines, over = [], []

    def judge(key: str, label: str, used_n: int, need_n: int):
        limit, source = quotas[key]
        line = f"{label}: {used_n} used + {max(need_n, 0)} needed of {limit:g} ({source})"
        lines.append(line)
        if used_n + max(need_n, 0) > limit:
            over.append((key, line))

    judge("eips", "Elastic IPs", used["eips"], need["eips"])
    judge("vpcs", "VPCs", used["vpcs"], need["vpcs"])
    judge("sgs", "security groups", used["sgs"], need["sgs"])
    for zone, n in sorted(need["nat"].items()):
        judge("nat", f"NAT gateways in {zone}", nat_used.get(zone, 0), n)
    mode = "multi-AZ" if ctx.config.multi_az else "single-AZ"
    if over:
        keys = sorted({k for k, _ in over})
        fixes = [
            f"aws service-quotas request-service-quota-increase --region {ctx.region} --service-code "
            f"{QUOTAS[k][0]} --quota-code {QUOTAS[k][1]} --desired-value <n>"
            for k in keys
        ]
        return Result(
            "quotas",
            FAIL,
            f"{len(over)} quota(s) too small for the {mode} stack",
            details=[line for _, line in over],
            fix="; ".join(fixes),
        )
    return Result("quotas", OK, f"room for the {mode} stack", details=lines)


def check_images(ctx: Context) -> Result:
    prefix = bootstrap.parameter_prefix(ctx.config)
    names = {p.name for p in bootstrap.PARAMETERS}
    pairs = [
        (p.name.replace("_image_tag", "_repository"), p.name)
        for p in bootstrap.PARAMETERS
        if p.kind == bootstrap.RELEASE and p.name.replace("_image_tag", "_repository") in names
    ]
    found = _get_values(ctx.aws.client("ssm"), [f"{prefix}/{n}" for pair in pairs for n in pair])
    ecr = ctx.aws.client("ecr")
    first = ctx.state is None or ctx.state.change_set_type == "CREATE"
    missing, unreleased, present = [], [], []
    for repo_param, tag_param in pairs:
        repo = found.get(f"{prefix}/{repo_param}", {}).get("Value")
        tag = found.get(f"{prefix}/{tag_param}", {}).get("Value")
        if not repo or not tag or tag == bootstrap.UNRELEASED:
            unreleased.append(f"{repo or repo_param}: no release yet ({prefix}/{tag_param} is {tag or 'missing'})")
            continue
        try:
            ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])
            present.append(f"{repo}:{tag}")
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) not in ("ImageNotFoundException", "RepositoryNotFoundException"):
                raise
            missing.append(f"{repo}:{tag}: {error_message(exc)}")
    if missing and not first:
        return Result(
            "images",
            FAIL,
            f"{len(missing)} image(s) the instances will pull are not in ECR",
            details=missing + unreleased,
            fix="run the release workflow for the service, or set the tag parameter back to a pushed tag",
        )
    if missing or unreleased:
        why = (
            "first deploy: the services start after their first release"
            if first
            else "instances leave an unreleased service out until the release workflow sets its tag"
        )
        return Result(
            "images",
            WARN,
            f"{len(missing) + len(unreleased)} of {len(pairs)} services have no image to pull yet ({why})",
            details=missing + unreleased,
        )
    return Result("images", OK, f"{', '.join(present)} exist in ECR")


def check_stack_state(ctx: Context) -> Result:
    state = ctx.state or stackstate.describe(ctx.aws, ctx.stack_name)
    n = ctx.stack_name
    if state.status is None:
        return Result("stack-state", OK, f"{n} does not exist yet: the deploy creates it")
    if state.status.endswith("_IN_PROGRESS") and state.status != "REVIEW_IN_PROGRESS":
        return Result(
            "stack-state",
            WARN,
            f"{n} is {state.status}: the deploy waits for it to settle",
            fix=f"python build.py status --stack-name {n} --params {ctx.params_arg or ctx.config.path}",
        )
    try:
        verdict = stackstate.check_deployable(ctx.aws, state, replace_failed=ctx.replace_failed)
    except CommandError as exc:
        return Result(
            "stack-state",
            FAIL,
            str(exc),
            fix=" ".join(d.strip() for d in exc.details[-2:]),
            details=[d.strip() for d in exc.details],
        )
    if verdict == "replace":
        return Result("stack-state", WARN, f"{n} is ROLLBACK_COMPLETE: --replace-failed deletes and creates it again")
    return Result("stack-state", OK, f"{n} is {state.status}: an update can start")


# Where the way out of a log group made outside the stack is written down.
LOG_GROUPS_DOC = "docs/deploy.md, 'Before the first deploy with managed log groups'"
# The calls check_log_groups makes, as IAM actions; the preflight roles of
# github-oidc.yaml must hold each (tests/ops/test_iam_policies.py).
LOG_GROUP_ACTIONS = ("logs:DescribeLogGroups", "cloudformation:DescribeStacks", "cloudformation:ListStackResources")


def _named_log_groups(ctx: Context) -> dict[str, str]:
    """Log group name -> ``Child/LogicalId`` of every log group the resolved
    templates give a fixed name (an unnamed one cannot collide)."""
    return {
        str(res["Properties"]["LogGroupName"]): where
        for where, res in ctx.resources("AWS::Logs::LogGroup").items()
        if isinstance(res["Properties"].get("LogGroupName"), str)
    }


def _existing_log_groups(logs, names: list[str]) -> dict[str, dict]:
    """Name -> DescribeLogGroups entry of the names that exist."""
    return {g["logGroupName"]: g for name in names for g in log_groups(logs, name, exact=True)}


def _stack_log_groups(ctx: Context, state: stackstate.StackState, children: set[str]) -> set[str]:
    """Names of the log groups the deployed stack's nested ``children``
    already manage (their physical IDs)."""
    cfn = ctx.aws.client("cloudformation")

    def resources(stack: str) -> list[dict]:
        return [
            r
            for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
            for r in page.get("StackResourceSummaries", [])
        ]

    nested = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for r in resources(state.stack_id or ctx.stack_name)
        if r["ResourceType"] == cfnmodel.NESTED
    }
    return {
        r.get("PhysicalResourceId", "")
        for child in sorted(children)
        if nested.get(child)
        for r in resources(nested[child])
        if r["ResourceType"] == "AWS::Logs::LogGroup"
    }


def check_log_groups(ctx: Context, now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)) -> Result:
    """A named log group the stack would create must not exist outside it:
    CloudFormation's create of AWS::Logs::LogGroup fails with AlreadyExists
    (CreateLogGroup: ResourceAlreadyExistsException, CloudWatch Logs API
    reference), half-way through the update. RDS makes the groups of its log
    exports itself when they are missing, so every database deployed before
    the stack made them has them."""
    wanted = _named_log_groups(ctx)
    if not wanted:
        return Result("log-groups", OK, "the templates name no log group")
    existing = _existing_log_groups(ctx.aws.client("logs"), sorted(wanted))
    if not existing:
        return Result(
            "log-groups", OK, f"none of the {len(wanted)} named log groups exists yet: the deploy creates them"
        )
    state = ctx.state or stackstate.describe(ctx.aws, ctx.stack_name)
    update = state.change_set_type == "UPDATE"
    managed = _stack_log_groups(ctx, state, {wanted[n].split("/")[0] for n in existing}) if update else set()
    strays = sorted(n for n in existing if n not in managed)
    if not strays:
        return Result(
            "log-groups", OK, f"{len(wanted)} named log groups: {len(existing)} exist, all managed by {ctx.stack_name}"
        )
    retention = ctx.config.values.get("LogRetentionDays", "")
    details = []
    for n in strays:
        g = existing[n]
        created = dt.datetime.fromtimestamp(g.get("creationTime", 0) / 1000, dt.timezone.utc)
        age = (now() - created).days
        kept = f"retention {g['retentionInDays']} days" if g.get("retentionInDays") else "never expires"
        details.append(
            f"{n}: for {wanted[n]}, created {created:%Y-%m-%d} ({age} days ago), "
            f"{g.get('storedBytes', 0)} bytes stored, {kept}"
            + (
                f"; events older than LogRetentionDays ({retention}) go once the stack sets it"
                if retention and age > int(retention)
                else ""
            )
        )
    first = strays[0]
    if update:
        fix = (
            f"import {first}{' and the others' if len(strays) > 1 else ''} into the {wanted[first].split('/')[0]} "
            f"nested stack (an IMPORT change set), then deploy: {LOG_GROUPS_DOC}"
        )
    else:
        fix = (
            f"the new stack cannot adopt it: export what you need, then aws logs delete-log-group "
            f"--log-group-name {first}: {LOG_GROUPS_DOC}"
        )
    return Result(
        "log-groups",
        FAIL,
        f"{first} exists outside {ctx.stack_name}"
        + (f" (and {len(strays) - 1} more)" if len(strays) > 1 else "")
        + ": creating it would fail with AlreadyExists",
        fix=fix,
        details=details,
    )


# The trust stack (templates/github-oidc.yaml): one per account and
# environment, named <root stack>-github (docs/operations.md, section 2;
# github_oidc.TRUST_STACK). Its roles and the permissions boundary name the
# deploy bucket, the repositories and the stacks from its own parameters.
TRUST_STACK_SUFFIX = "-github"
TRUST_TEMPLATE = "github-oidc.yaml"


def _trust_stack_command(ctx: Context, overrides: str = "GitHubRepository=OWNER/REPO ...") -> str:
    # On an existing stack, `aws cloudformation deploy` keeps every
    # parameter it is not given (UsePreviousValue: awscli
    # customizations/cloudformation/deployer.py, aws-cli PR 2659), so the
    # one override is the whole fix.
    return (
        f"aws cloudformation deploy --template-file templates/{TRUST_TEMPLATE} --stack-name "
        f"{ctx.stack_name}{TRUST_STACK_SUFFIX} --capabilities CAPABILITY_NAMED_IAM --parameter-overrides "
        f"{overrides} (docs/operations.md, section 2)"
    )


def _without_service_role(ctx: Context) -> Result | None:
    # An endpoint without IAM roles gets no service role (deploy/flow.py
    # service_role_arn): nothing there uses the trust stack.
    if ctx.capability.runs_under_roles:
        return None
    return Result("", OK, f"not used: against {ctx.capability.name} the deploy runs without the service role")


def check_trust_stack(ctx: Context) -> Result:
    """The trust stack's parameters are the params file's. A second
    environment that overrode only Project, Environment and StackName got a
    boundary naming prod's deploy bucket and repositories: its instances
    could neither fetch their boot files nor pull an image. DescribeStacks
    lists the stack's parameters with the values in use; a parameter it
    leaves out has the template's default (CloudFormation API reference,
    Parameter: "If you don't specify a key and value for a particular
    parameter, CloudFormation uses the default value")."""
    skipped = _without_service_role(ctx)
    if skipped:
        return skipped
    name = ctx.stack_name + TRUST_STACK_SUFFIX
    try:
        stack = ctx.aws.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    except botocore.exceptions.ClientError as exc:
        if "does not exist" not in error_message(exc):
            raise
        return Result(
            "trust-stack",
            FAIL,
            f"trust stack {name} does not exist: the service role and the roles' boundary come from it",
            fix=_trust_stack_command(ctx),
        )
    defaults = {
        k: str(v.get("Default", ""))
        for k, v in tpl.load((TEMPLATES_DIR / TRUST_TEMPLATE).read_text(encoding="utf-8"))["Parameters"].items()
    }
    have = {**defaults, **{p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}}
    cfg = ctx.config
    account = ctx.aws.account or ctx.aws.check_credentials()
    # Both sides compare as the bucket each names: an empty value is the
    # account-unique name, which the trust template computes from its own
    # Project and Environment, checked equal to the file's before this key.
    have["DeployBucketName"] = have.get("DeployBucketName") or deploy_bucket_name(
        cfg.project, cfg.environment, account, cfg.region
    )
    want = {
        "Project": cfg.project,
        "Environment": cfg.environment,
        "StackName": ctx.stack_name,
        "DeployBucketName": cfg.deploy_bucket_name(account),
        "EcrRepositoryPrefix": cfg.values.get("EcrRepositoryPrefix", ""),
    }
    for key, value in want.items():
        if have.get(key) != value:
            source = "--stack-name" if key == "StackName" else f"{ctx.params_arg or cfg.path} {key}"
            given = cfg.values[key] if key == "DeployBucketName" else value
            return Result(
                "trust-stack",
                FAIL,
                f"trust stack {name} has {key}={have.get(key)!r} but {source} is "
                f"{value!r}: the boundary and the roles would name the wrong resources",
                fix=_trust_stack_command(ctx, f"{key}={given}" if given else f'{key}=""'),
            )
    return Result("trust-stack", OK, f"{name}'s parameters match {ctx.params_arg or cfg.path}")


def check_role_boundary(ctx: Context) -> Result:
    """The permissions boundary the stacks' roles name exists. Without it
    the deploy fails on PutRolePermissionsBoundary / CreateRole with
    NoSuchEntity and rolls back (IAM API reference,
    PutRolePermissionsBoundary, Errors: NoSuchEntity; GetPolicy answers
    NoSuchEntity for a policy that does not exist). deploy.yml runs on every push to
    main, so the trust stack goes first, before the merge."""
    skipped = _without_service_role(ctx)
    if skipped:
        return skipped
    cfg = ctx.config
    account = ctx.aws.account or ctx.aws.check_credentials()
    partition = ctx.aws.session.get_partition_for_region(ctx.region)
    arn = f"arn:{partition}:iam::{account}:policy/{cfg.name_prefix}-role-boundary"
    try:
        ctx.aws.client("iam").get_policy(PolicyArn=arn)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        return Result(
            "role-boundary",
            FAIL,
            f"{arn} does not exist: the stacks' roles name it and the deploy "
            "would fail on PutRolePermissionsBoundary; deploy the trust stack first",
            fix=_trust_stack_command(ctx),
        )
    return Result("role-boundary", OK, f"{cfg.name_prefix}-role-boundary exists")


def check_registries(ctx: Context) -> Result:
    """Before a first create: no ECR repository of a name the templates fix
    may exist. The repositories are kept when a stack is deleted
    (DeletionPolicy RetainExceptOnCreate: retained except on a failed
    create), with their images and names, so the next create of the stack
    fails on them (CreateRepository: RepositoryAlreadyExistsException, ECR
    API reference) half-way through. An update: the stack holds them.

    A stack that never completed a create (CREATE_FAILED after
    --no-rollback, ROLLBACK_*) is followed by a create (--replace-failed):
    checked as one. A repository the CREATE_FAILED stack made itself is not
    in the way: --replace-failed rolls that stack back with
    RetainExceptOnCreate, which deletes it (stackstate.delete_failed)."""
    state = ctx.state
    if state is not None and not state.never_created:
        return Result("registries", OK, f"{ctx.stack_name} exists: it holds its repositories")
    own = set()
    if state is not None and state.status == "CREATE_FAILED" and state.stack_id:
        own = {phys for _, _, phys, _ in stackstate.resources_in(ctx.aws, state.stack_id, {"CREATE_COMPLETE"})}
    wanted = {
        str(res["Properties"]["RepositoryName"]): where
        for where, res in ctx.resources("AWS::ECR::Repository").items()
        if isinstance(res["Properties"].get("RepositoryName"), str)
    }
    if not wanted:
        return Result("registries", OK, "the templates name no ECR repository")
    ecr = ctx.aws.client("ecr")
    existing = []
    for name in sorted(set(wanted) - own):
        try:
            ecr.describe_repositories(repositoryNames=[name])
            existing.append(name)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "RepositoryNotFoundException":
                raise
    if not existing:
        return Result("registries", OK, f"none of the {len(wanted)} named ECR repositories exists yet")
    first = existing[0]
    return Result(
        "registries",
        FAIL,
        f"ECR repository {first} exists outside {ctx.stack_name}"
        + (f" (and {len(existing) - 1} more)" if len(existing) > 1 else "")
        + ": the create would fail with AlreadyExists",
        fix=f"delete them with their images: aws ecr delete-repository --repository-name {first} "
        f"--force; or keep them and give the stack other names (EcrRepositoryPrefix): "
        f"{REGISTRIES_DOC}",
        details=[f"{n}: for {wanted[n]}" for n in existing],
    )


# Where the way out of a kept repository is written down.
REGISTRIES_DOC = "docs/deploy.md, 'After a destroy: the kept ECR repositories'"


CHECKS: tuple[tuple[str, Callable[[Context], Result]], ...] = (
    ("stack-state", check_stack_state),
    ("ssm-references", check_ssm_references),
    ("boot-parameters", check_boot_parameters),
    ("deploy-bucket", check_deploy_bucket),
    ("certificate", check_certificate),
    ("zones", check_zones),
    ("instance-types", check_instance_types),
    ("database", check_database),
    ("cache", check_cache),
    ("redis-members", check_redis_members),
    ("ami", check_ami),
    ("quotas", check_quotas),
    ("images", check_images),
    ("log-groups", check_log_groups),
    ("trust-stack", check_trust_stack),
    ("role-boundary", check_role_boundary),
    ("registries", check_registries),
)


def _guard(name: str, fn: Callable[[Context], Result], ctx: Context) -> Result:
    start = time.perf_counter()
    missing = ctx.capability.missing(name)
    if missing:
        # Not run: the endpoint's answer would be its gap, not the account's.
        why = "; ".join(f"{call}: {ctx.capability.unanswered[call]}" for call in missing)
        return Result(
            name, NOT_CHECKABLE, f"{ctx.capability.name} does not answer {why}; preflight against AWS checks it"
        )
    try:
        result = fn(ctx)
    except botocore.exceptions.ClientError as exc:
        op = getattr(exc, "operation_name", "") or "call"
        result = Result(
            name,
            FAIL,
            f"could not check: {op}: {error_code(exc)}: {error_message(exc)}",
            fix="grant the caller read access for this call"
            if error_code(exc) in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")
            else "",
        )
    except botocore.parsers.ResponseParserError as exc:
        # An endpoint that does not implement the call answers an HTML 500
        # (moto for DescribeCacheEngineVersions, for one).
        result = Result(
            name,
            FAIL,
            "could not check: the endpoint answered without an AWS response "
            f"({str(exc).splitlines()[0].split(', invalid')[0][:80]}); it may not implement the call",
        )
    except (botocore.exceptions.BotoCoreError, ValueError, KeyError, TypeError) as exc:
        result = Result(name, FAIL, f"could not check: {type(exc).__name__}: {exc}")
    result.name = name
    result.seconds = time.perf_counter() - start
    return result


def run(ctx: Context, checks=CHECKS, *, workers: int | None = None) -> Report:
    """Run every check at once (``workers=1``: one after another, for the
    benchmark's comparison); results in the order of ``checks``. Credentials
    are checked first: missing or rejected ones are one CommandError (exit
    2), not a failure of every check."""
    start = time.perf_counter()
    undeclared = [name for name, _ in checks if name not in capability_mod.NEEDS]
    if undeclared:
        raise CommandError(
            f"preflight: check {undeclared[0]} does not declare the calls it needs "
            "(wealist_cfn/preflight/capability.py NEEDS)"
        )
    if not ctx.aws.account:
        ctx.aws.check_credentials()
    if ctx.state is None:
        try:
            ctx.state = stackstate.describe(ctx.aws, ctx.stack_name)
        except CommandError:
            ctx.state = None
    with ThreadPoolExecutor(max_workers=workers or len(checks)) as pool:
        results = list(pool.map(lambda item: _guard(item[0], item[1], ctx), checks))
    return Report(ctx.region, ctx.stack_name, results, time.perf_counter() - start, ctx.state)
