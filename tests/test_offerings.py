"""Build-time check of instance types, node types, RDS classes and engine
versions against the offline per-region tables cfn-lint ships. No AWS
stand-in: the check reads files only. What AWS enforces: CreateLaunchTemplate
accepts any string, the instance launch fails (InvalidParameterValue /
Unsupported) when the Auto Scaling group starts it; CreateReplicationGroup
and CreateDBInstance refuse a node type or class the region or engine does
not offer (ElastiCache and RDS API references, errors InvalidParameterValue
and InvalidDBInstanceClass / "DB Instance class ... does not support")."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from wealist_cfn import cli, config, offerings
from wealist_cfn.core.settings import PARAMS_DIR
from wealist_cfn.lint import buildjob

PROD = PARAMS_DIR / "prod.json"


def _params(tmp_path: Path, **values) -> Path:
    entries = [e for e in json.loads(PROD.read_text()) if e["ParameterKey"] not in values]
    entries += [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]
    p = tmp_path / "typo.json"
    p.write_text(json.dumps(entries))
    return p


def test_committed_parameter_files_name_what_their_region_offers():
    for p in sorted(PARAMS_DIR.glob("*.json")):
        offerings.check(config.load(p))


def test_an_instance_type_typo_fails_the_build_in_one_line_naming_file_key_and_value(tmp_path, capsys):
    """`t3.lrge` matches the parameter's pattern, so the file validation
    alone passes it (it did before this check); the build now stops before
    writing anything, with one line and the closest real type."""
    bad = _params(tmp_path, BackendInstanceType="t3.lrge")
    config.load(bad)  # the pattern check alone lets it through
    out_dir = tmp_path / "templates"
    with pytest.raises(config.ConfigError):
        buildjob.run([bad], directory=out_dir, lint=False)
    assert not out_dir.exists()
    code = cli.main(["--no-lint", "--params", str(bad)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0] == (
        f"error: {bad}: BackendInstanceType: 't3.lrge' is not in cfn-lint "
        f"{offerings.cfn_lint_version()}'s table of ap-northeast-2 EC2 instance types; did you mean "
        "t3.large? (preflight asks the account; a type newer than this table passes the build with "
        "WEALIST_CFN_UNLISTED_TYPES=t3.lrge)"
    )


@pytest.mark.parametrize(
    "key,value,words",
    [
        ("MonitoringInstanceType", "t3.smal", "table of ap-northeast-2 EC2 instance types; did you mean t3.small?"),
        (
            "CacheNodeType",
            "cache.t3.mcro",
            "table of ap-northeast-2 ElastiCache node types; did you mean cache.t3.micro?",
        ),
        (
            "DbInstanceClass",
            "db.t3.mirco",
            "table of ap-northeast-2 RDS instance classes for postgres; did you mean db.t3.micro?",
        ),
    ],
)
def test_each_sized_parameter_is_checked(tmp_path, key, value, words):
    """The words say the pinned cfn-lint's table refused it, not AWS (it
    read "is not an EC2 instance type", which is false for a type newer
    than the table)."""
    cfg = config.load(_params(tmp_path, **{key: value}))
    with pytest.raises(config.ConfigError) as info:
        offerings.check(cfg)
    assert str(info.value).startswith(
        f"{cfg.path}: {key}: {value!r} is not in cfn-lint "
        f"{offerings.cfn_lint_version()}'s {words} (preflight asks the account"
    )


def test_a_type_newer_than_the_table_passes_when_named_in_the_environment(tmp_path, monkeypatch):
    """A well-formed type the table lacks (as one launched after this
    cfn-lint would be) is refused by default, and passes the build when its
    value is named in WEALIST_CFN_UNLISTED_TYPES; a typo in another key is
    still refused, since the value, not the check, is named."""
    cfg = config.load(_params(tmp_path, BackendInstanceType="t3.xhuge"))
    with pytest.raises(config.ConfigError, match="WEALIST_CFN_UNLISTED_TYPES=t3.xhuge"):
        offerings.check(cfg)
    monkeypatch.setenv("WEALIST_CFN_UNLISTED_TYPES", "m9z.large, t3.xhuge")
    offerings.check(cfg)
    typo = config.load(_params(tmp_path, BackendInstanceType="t3.xhuge", CacheNodeType="cache.t3.mcro"))
    with pytest.raises(config.ConfigError, match="CacheNodeType"):
        offerings.check(typo)


def test_a_region_without_a_table_names_the_zones_that_chose_it(tmp_path, monkeypatch):
    """The region is the zones' (Config.region): the error names
    AvailabilityZones, the region, the key it cannot check and the way
    around."""
    cfg = config.load(PROD)
    monkeypatch.setattr(offerings, "ec2_instance_types", lambda region: None)
    with pytest.raises(config.ConfigError) as info:
        offerings.check(cfg)
    text = str(info.value)
    assert text.startswith(f"{cfg.path}: AvailabilityZones: ") and "are in ap-northeast-2, for which cfn-lint " in text
    assert "no table of EC2 instance types to check BackendInstanceType 't3.medium'" in text
    assert text.endswith("WEALIST_CFN_UNLISTED_TYPES=t3.medium")


def test_a_type_that_exists_elsewhere_but_not_in_the_region_says_where(tmp_path):
    """Picked from the table itself: an EC2 type us-east-1 offers and
    ap-northeast-2 does not."""
    missing = sorted(offerings.ec2_instance_types("us-east-1") - offerings.ec2_instance_types("ap-northeast-2"))
    assert missing, "the tables no longer differ; pick another pair of regions"
    cfg = config.load(_params(tmp_path, BackendInstanceType=missing[0]))
    with pytest.raises(
        config.ConfigError,
        match=r"table of ap-northeast-2 EC2 instance types.*\(the tables of .*"
        r"us-east-1.* have it\)",
    ):
        offerings.check(cfg)


def test_a_pinned_engine_version_the_engine_lacks_names_the_setting():
    cfg = config.load(PROD)
    bad = dataclasses.replace(offerings.DEFAULT_SETTINGS, postgres_engine_version="17.99")
    with pytest.raises(
        config.ConfigError,
        match=r"^wealist_cfn/core/settings.py: postgres_engine_version: '17.99' is "
        r"not a postgres version RDS offers$",
    ):
        offerings.check(cfg, bad)
    bad = dataclasses.replace(offerings.DEFAULT_SETTINGS, redis_engine_version="9.9")
    with pytest.raises(config.ConfigError, match=r"redis_engine_version: '9.9' is not a redis version"):
        offerings.check(cfg, bad)
