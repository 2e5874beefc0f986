"""What exists in each region, offline: the EC2 instance types, ElastiCache
node types and RDS instance classes (for the database's engine) that a
parameter file may name, and the engine versions the settings pin.

The templates take these values as parameters (``Ref``), so cfn-lint never
sees them; a typo such as ``t3.lrge`` would pass the build and fail only at
preflight, or at deploy time. The tables are the resource-schema extensions
cfn-lint ships (``cfnlint/data/schemas/extensions/...``), which it builds
from AWS's own per-region offerings; they are as current as the pinned
cfn-lint. This is a build-time check of what exists at all; preflight still
asks the account what it offers (``DescribeInstanceTypeOfferings``,
``DescribeOrderableDBInstanceOptions``), which can be less.

A type AWS launched after the pinned cfn-lint was built is not in its
table. Such a value is still refused by default (a well-formed typo such as
``t3.lrge`` looks the same, and catching it is the point of the check), and
the message says the table is the judge, not AWS; naming the value in
:data:`UNLISTED_ENV` (comma-separated) lets it through the build, where
preflight's question to the account still checks it before any change set.
The value is named, not a switch: a typo in another key still fails.

cfn-lint ships no node-type table for ``AWS::ElastiCache::ReplicationGroup``
(its extensions for that type cover transit encryption only); the cache
node type is checked against ``AWS::ElastiCache::CacheCluster``'s, which
lists the node types of the region for either resource.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import json
import os
import re
from pathlib import Path

from wealist_cfn.core.settings import DEFAULT_SETTINGS, BuildSettings

from .config import Config, ConfigError

# Values accepted though the pinned cfn-lint's table lacks them (see above).
UNLISTED_ENV = "WEALIST_CFN_UNLISTED_TYPES"

DB_ENGINE = "postgres"  # the database stack's Engine
CACHE_ENGINE = "redis"  # the cache stack's Engine


def _extensions_dir() -> Path:
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "cfn-lint",
            None,
            "not installed; `make install` brings it (it carries the offline tables of instance types per region)",
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "schemas" / "extensions"


@functools.lru_cache(maxsize=None)
def _load(relative: str) -> dict:
    return json.loads((_extensions_dir() / relative).read_text(encoding="utf-8"))


def ec2_instance_types(region: str) -> frozenset[str] | None:
    entry = _load("aws_ec2_instance/instancetype_enum.json").get(region)
    return frozenset(entry["enum"]) if entry else None


def cache_node_types(region: str) -> frozenset[str] | None:
    entry = _load("aws_elasticache_cachecluster/cachenodetype_enum.json").get(region)
    return frozenset(entry["enum"]) if entry else None


def db_instance_classes(region: str, engine: str = DB_ENGINE) -> frozenset[str] | None:
    """Classes RDS offers for ``engine`` in ``region`` (any license model)."""
    entry = _load("aws_rds_dbinstance/dbinstanceclass_enum.json").get(region)
    if not entry:
        return None
    out: set[str] = set()
    for rule in entry.get("allOf", []):
        if rule.get("if", {}).get("properties", {}).get("Engine", {}).get("const") == engine:
            out |= set(rule["then"]["properties"]["DBInstanceClass"]["enum"])
    return frozenset(out)


def engine_versions(kind: str, engine: str) -> frozenset[str]:
    """Versions of ``engine`` the schema allows; kind "rds" or "elasticache"."""
    path = {
        "rds": "aws_rds_dbinstance/engine_version.json",
        "elasticache": "aws_elasticache_cachecluster/engine_version.json",
    }[kind]
    for rule in _load(path).get("allOf", []):
        props = rule.get("if", {}).get("properties", {})
        if props.get("Engine", {}).get("const") == engine and "EngineVersion" in props:
            return frozenset(rule["then"]["properties"]["EngineVersion"]["enum"])
    return frozenset()


def db_classes_for_version(engine: str, version: str) -> frozenset[str] | None:
    """Classes that run ``engine`` at ``version`` (what cfn-lint's E3062
    checks when the class is written in the template, not passed in)."""
    found = None
    for rule in _load("aws_rds_dbinstance/db_instance_class.json").get("allOf", []):
        props = rule.get("if", {}).get("properties", {})
        pattern = props.get("EngineVersion", {}).get("pattern")
        if props.get("Engine", {}).get("const") == engine and pattern and re.match(pattern, version):
            found = (found or frozenset()) | frozenset(rule["then"]["properties"]["DBInstanceClass"]["enum"])
    return found


def _elsewhere(value: str, table) -> list[str]:
    return sorted(
        r
        for r in ("us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1", "ap-northeast-2")
        if value in (table(r) or ())
    )


def cfn_lint_version() -> str:
    from cfnlint.version import __version__

    return __version__


def unlisted() -> frozenset[str]:
    return frozenset(v.strip() for v in os.environ.get(UNLISTED_ENV, "").split(",") if v.strip())


def _unknown(cfg: Config, key: str, what: str, region: str, table) -> ConfigError:
    value = cfg.values[key]
    offered = table(region) or frozenset()
    close = difflib.get_close_matches(value, sorted(offered), n=1)
    other = _elsewhere(value, table)
    hint = (f"; did you mean {close[0]}?" if close else "") + (
        f" (the tables of {', '.join(other)} have it)" if other else ""
    )
    return ConfigError(
        cfg.path,
        key,
        f"{value!r} is not in cfn-lint {cfn_lint_version()}'s table of {region} "
        f"{what}{hint} (preflight asks the account; a type newer than this "
        f"table passes the build with {UNLISTED_ENV}={value})",
    )


def check(cfg: Config, settings: BuildSettings = DEFAULT_SETTINGS) -> None:
    """Raise :class:`ConfigError` (file, key, value) for the first value the
    region does not offer, or a pinned engine version the engine lacks."""
    region = cfg.region
    tables = (
        ("BackendInstanceType", "EC2 instance types", ec2_instance_types),
        ("MonitoringInstanceType", "EC2 instance types", ec2_instance_types),
        ("CacheNodeType", "ElastiCache node types", cache_node_types),
        ("DbInstanceClass", f"RDS instance classes for {DB_ENGINE}", db_instance_classes),
    )
    accepted = unlisted()
    for key, what, table in tables:
        if cfg.values[key] in accepted:
            continue
        offered = table(region)
        if offered is None:
            # The region is the zones' (Config.region): AvailabilityZones is
            # the key that chose it.
            raise ConfigError(
                cfg.path,
                "AvailabilityZones",
                f"{cfg.values['AvailabilityZones']} are in {region}, "
                f"for which cfn-lint {cfn_lint_version()} has no table of "
                f"{what} to check {key} {cfg.values[key]!r}; a newer "
                f"cfn-lint may know the region, or pass the value with "
                f"{UNLISTED_ENV}={cfg.values[key]}",
            )
        if cfg.values[key] not in offered:
            raise _unknown(cfg, key, what, region, table)
    # The engine versions are settings, not parameters: named by their field.
    pins = (
        ("rds", DB_ENGINE, "postgres_engine_version", settings.postgres_engine_version),
        ("elasticache", CACHE_ENGINE, "redis_engine_version", settings.redis_engine_version),
    )
    for kind, engine, field, version in pins:
        known = engine_versions(kind, engine)
        if known and version not in known:
            raise ConfigError(
                "wealist_cfn/core/settings.py",
                field,
                f"{version!r} is not a {engine} version {'RDS' if kind == 'rds' else 'ElastiCache'} offers",
            )
    classes = db_classes_for_version(DB_ENGINE, settings.postgres_engine_version)
    if classes is not None and cfg.values["DbInstanceClass"] not in classes:
        raise ConfigError(
            cfg.path,
            "DbInstanceClass",
            f"{cfg.values['DbInstanceClass']!r} does not run {DB_ENGINE} "
            f"{settings.postgres_engine_version} (the version "
            f"wealist_cfn/core/settings.py pins)",
        )
