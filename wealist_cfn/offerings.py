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
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import json
import re
from pathlib import Path

from .config import Config, ConfigError
from .settings import DEFAULT_SETTINGS, BuildSettings

DB_ENGINE = "postgres"  # the database stack's Engine
CACHE_ENGINE = "redis"  # the cache stack's Engine


def _extensions_dir() -> Path:
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("cfn-lint", None, "not installed; `make install` brings it (it carries the offline "
                                            "tables of instance types per region)")
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
    path = {"rds": "aws_rds_dbinstance/engine_version.json",
            "elasticache": "aws_elasticache_cachecluster/engine_version.json"}[kind]
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
    return sorted(r for r in ("us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1", "ap-northeast-2")
                  if value in (table(r) or ()))


def _unknown(cfg: Config, key: str, what: str, region: str, table) -> ConfigError:
    value = cfg.values[key]
    offered = table(region) or frozenset()
    close = difflib.get_close_matches(value, sorted(offered), n=1)
    other = _elsewhere(value, table)
    hint = (f"; did you mean {close[0]}?" if close else "") + \
        (f" (it exists in {', '.join(other)})" if other else "")
    return ConfigError(cfg.path, key, f"{value!r} is not {what} in {region}{hint}")


def check(cfg: Config, settings: BuildSettings = DEFAULT_SETTINGS) -> None:
    """Raise :class:`ConfigError` (file, key, value) for the first value the
    region does not offer, or a pinned engine version the engine lacks."""
    region = cfg.region
    tables = (("BackendInstanceType", "an EC2 instance type", ec2_instance_types),
              ("MonitoringInstanceType", "an EC2 instance type", ec2_instance_types),
              ("CacheNodeType", "an ElastiCache node type", cache_node_types),
              ("DbInstanceClass", f"an RDS instance class for {DB_ENGINE}", db_instance_classes))
    for key, what, table in tables:
        offered = table(region)
        if offered is None:
            raise ConfigError(cfg.path, "AvailabilityZones", f"no offline table of {what}s for {region} in this "
                                                             f"cfn-lint; a newer cfn-lint may know the region")
        if cfg.values[key] not in offered:
            raise _unknown(cfg, key, what, region, table)
    # The engine versions are settings, not parameters: named by their field.
    pins = (("rds", DB_ENGINE, "postgres_engine_version", settings.postgres_engine_version),
            ("elasticache", CACHE_ENGINE, "redis_engine_version", settings.redis_engine_version))
    for kind, engine, field, version in pins:
        known = engine_versions(kind, engine)
        if known and version not in known:
            raise ConfigError("wealist_cfn/settings.py", field, f"{version!r} is not a {engine} version "
                                                                f"{'RDS' if kind == 'rds' else 'ElastiCache'} offers")
    classes = db_classes_for_version(DB_ENGINE, settings.postgres_engine_version)
    if classes is not None and cfg.values["DbInstanceClass"] not in classes:
        raise ConfigError(cfg.path, "DbInstanceClass", f"{cfg.values['DbInstanceClass']!r} does not run {DB_ENGINE} "
                                                       f"{settings.postgres_engine_version} (the version "
                                                       f"wealist_cfn/settings.py pins)")
