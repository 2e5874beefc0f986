"""Parameter files: every way one can be wrong gets one line naming the file
and the key, exit status 2, and nothing written. No AWS endpoint involved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.config_cases import BAD_CASES, set_value
from wealist_cfn import cli, config
from wealist_cfn.core.parameters import ROOT_PARAMETERS
from wealist_cfn.lint import buildjob

PROD = Path("params/prod.json")


def _entries(path=PROD):
    return json.loads(path.read_text())


def _write(tmp_path, entries, name="bad.json"):
    p = tmp_path / name
    p.write_text(entries if isinstance(entries, str) else json.dumps(entries))
    return p


def test_committed_files_are_valid():
    for path in config.param_files():
        cfg = config.load(path)
        assert cfg.project == "wealist"
        assert cfg.region == "ap-northeast-2"


def test_prod_values_match_the_spec():
    cfg = config.load(PROD)
    assert cfg.values["VpcCidr"] == "10.1.0.0/16"
    assert cfg.availability_zones == ["ap-northeast-2a", "ap-northeast-2c", "ap-northeast-2d"]
    assert cfg.multi_az is False
    # Empty: the account-unique name (the original's wealist-deploy-scripts
    # is a global S3 name, almost surely another account's).
    assert cfg.values["DeployBucketName"] == ""
    assert cfg.deploy_bucket_name("123456789012") == "wealist-prod-deploy-123456789012-ap-northeast-2"


def test_file_is_in_cloudformation_native_format():
    """The shape `aws cloudformation create-change-set --parameters file://` takes."""
    for path in config.param_files():
        data = json.loads(path.read_text())
        assert isinstance(data, list)
        for e in data:
            assert set(e) == {"ParameterKey", "ParameterValue"} and isinstance(e["ParameterValue"], str)


def test_cfn_parameters_cover_every_root_parameter():
    cfg = config.load(PROD)
    assert [p["ParameterKey"] for p in cfg.cfn_parameters()] == [p.name for p in ROOT_PARAMETERS]
    assert [p["ParameterKey"] for p in cfg.cfn_parameters(only_given=True)] == [e["ParameterKey"] for e in _entries()]


@pytest.mark.parametrize("breaker,key,words", [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_bad_file_gets_one_line_naming_file_and_key(tmp_path, breaker, key, words):
    path = _write(tmp_path, breaker(_entries()))
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith(f"{path}: ")
    if key:
        assert line.startswith(f"{path}: {key}: "), line
    assert words in line


def test_missing_file(tmp_path):
    with pytest.raises(config.ConfigError, match="no such file"):
        config.load(tmp_path / "nope.json")


def test_cli_exit_2_and_nothing_written(tmp_path, capsys):
    bad = _write(tmp_path, set_value(_entries(), "VpcCidr", "10.1.0.0/33"))
    out_dir = tmp_path / "templates"
    with pytest.raises(config.ConfigError):
        buildjob.run([bad], directory=out_dir)
    assert not out_dir.exists()

    committed = {p: p.stat().st_mtime_ns for p in Path("templates").glob("*.yaml")}
    code = cli.main(["--params", str(bad)])
    assert {p: p.stat().st_mtime_ns for p in Path("templates").glob("*.yaml")} == committed
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith(f"error: {bad}: VpcCidr: '10.1.0.0/33' must be an IPv4 CIDR block")


def test_second_environment_file_validates_without_code_change(tmp_path):
    entries = set_value(
        set_value(set_value(_entries(), "Environment", "stage"), "VpcCidr", "10.20.0.0/20"),
        "DeployBucketName",
        "wealist-stage-deploy-scripts",
    )
    cfg = config.load(_write(tmp_path, entries, "stage.json"))
    assert cfg.name_prefix == "wealist-stage"
    assert cfg.values["VpcCidr"] == "10.20.0.0/20"


def test_with_values_revalidates():
    cfg = config.load(PROD)
    assert cfg.with_values(EnableMultiAZ="true").multi_az
    with pytest.raises(config.ConfigError, match="EnableMultiAZ"):
        cfg.with_values(EnableMultiAZ="maybe")


def test_region_for_follows_the_zones():
    cfg = config.load(PROD)
    assert cfg.region_for(None) == cfg.region_for("ap-northeast-2") == "ap-northeast-2"
    with pytest.raises(config.ConfigError, match=r"params/prod.json: AvailabilityZones: .* --region us-east-1"):
        cfg.region_for("us-east-1")
