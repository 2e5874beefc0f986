"""Parameter files: every way one can be wrong gets one line naming the file
and the key, exit status 2, and nothing written. No AWS endpoint involved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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


def _set(entries, key, value):
    out = [e for e in entries if e["ParameterKey"] != key]
    out.append({"ParameterKey": key, "ParameterValue": value})
    return out


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


BAD_CASES = [
    # (id, how to break the file, key named in the message, words in the message)
    ("not-json", lambda e: "[{not json", None, "not valid JSON"),
    ("object-not-list", lambda e: {"Parameters": {}}, None, "must be a JSON list"),
    ("entry-not-object", lambda e: e + ["VpcCidr=10.1.0.0/16"], "[15]", "must be an object"),
    ("unknown-key", lambda e: _set(e, "VpcCIDR", "10.1.0.0/16"), "VpcCIDR", "did you mean VpcCidr"),
    (
        "duplicate-key",
        lambda e: e + [{"ParameterKey": "VpcCidr", "ParameterValue": "10.2.0.0/16"}],
        "VpcCidr",
        "set twice",
    ),
    (
        "duplicate-field",
        lambda e: '[{"ParameterKey": "Project", "ParameterKey": "Environment", "ParameterValue": "x"}]',
        "ParameterKey",
        "twice",
    ),
    (
        "extra-field",
        lambda e: e + [{"ParameterKey": "Project", "ParameterValue": "x", "UsePreviousValue": True}],
        "Project",
        "unexpected field",
    ),
    (
        "missing-required",
        lambda e: [x for x in e if x["ParameterKey"] != "Environment"],
        "Environment",
        "required and missing",
    ),
    (
        "missing-value",
        lambda e: [x for x in e if x["ParameterKey"] != "Project"] + [{"ParameterKey": "Project"}],
        "Project",
        "no ParameterValue",
    ),
    ("non-string-value", lambda e: _set(e, "BackendMinSize", 2), "BackendMinSize", "must be a string"),
    ("boolean-value", lambda e: _set(e, "EnableMultiAZ", True), "EnableMultiAZ", 'write "true"'),
    ("allowed-values", lambda e: _set(e, "EnableMultiAZ", "yes"), "EnableMultiAZ", "not one of"),
    ("pattern", lambda e: _set(e, "BackendInstanceType", "huge"), "BackendInstanceType", "must be"),
    ("number", lambda e: _set(e, "BackendMaxSize", "six"), "BackendMaxSize", "not a whole number"),
    ("number-range", lambda e: _set(e, "DbAllocatedStorage", "10"), "DbAllocatedStorage", "below the minimum"),
    ("min-over-max", lambda e: _set(e, "BackendMinSize", "7"), "BackendMinSize", "larger than BackendMaxSize"),
    ("cidr-malformed", lambda e: _set(e, "VpcCidr", "10.1.0.0/33"), "VpcCidr", "must be an IPv4 CIDR block"),
    ("cidr-octet", lambda e: _set(e, "VpcCidr", "10.300.0.0/16"), "VpcCidr", "must be an IPv4 CIDR block"),
    ("cidr-host-bits", lambda e: _set(e, "VpcCidr", "10.1.2.0/16"), "VpcCidr", "host bits set"),
    ("cidr-too-large", lambda e: _set(e, "VpcCidr", "10.0.0.0/8"), "VpcCidr", "/16 to /28"),
    (
        "cidr-too-small",
        lambda e: _set(e, "VpcCidr", "10.1.0.0/22"),
        "VpcCidr",
        "holds only 4 subnets of /24, 6 are needed",
    ),
    (
        "subnet-bigger-than-vpc",
        lambda e: _set(_set(e, "VpcCidr", "10.1.0.0/24"), "SubnetBits", "12"),
        "VpcCidr",
        "holds only 0 subnets of /20",
    ),
    ("cidr-not-cidr", lambda e: _set(e, "VpcCidr", "vpc"), "VpcCidr", "IPv4 CIDR block"),
    (
        "monitoring-cidr-malformed",
        lambda e: _set(e, "MonitoringAccessCidr", "203.0.113.0/33"),
        "MonitoringAccessCidr",
        "must be an IPv4 CIDR block",
    ),
    (
        "monitoring-cidr-octet",
        lambda e: _set(e, "MonitoringAccessCidr", "203.0.300.0/24"),
        "MonitoringAccessCidr",
        "must be an IPv4 CIDR block",
    ),
    (
        "monitoring-cidr-host-bits",
        lambda e: _set(e, "MonitoringAccessCidr", "203.0.113.7/24"),
        "MonitoringAccessCidr",
        "host bits set",
    ),
    (
        "monitoring-cidr-not-cidr",
        lambda e: _set(e, "MonitoringAccessCidr", "office"),
        "MonitoringAccessCidr",
        "IPv4 CIDR block",
    ),
    (
        "monitoring-cidr-ipv6",
        lambda e: _set(e, "MonitoringAccessCidr", "2001:db8::/32"),
        "MonitoringAccessCidr",
        "IPv4 CIDR block",
    ),
    (
        "certificate-not-acm",
        lambda e: _set(e, "CertificateArn", "arn:aws:iam::123456789012:server-certificate/x"),
        "CertificateArn",
        "ACM certificate ARN",
    ),
    (
        "certificate-other-region",
        lambda e: _set(
            e, "CertificateArn", "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
        ),
        "CertificateArn",
        "from its own region",
    ),
    ("name-uppercase", lambda e: _set(e, "Project", "Wealist"), "Project", "lower-case"),
    ("name-too-long", lambda e: _set(e, "Environment", "production-eu"), "Environment", "longer than 10"),
    ("name-double-hyphen", lambda e: _set(e, "Environment", "pr--od"), "Environment", "lower-case"),
    ("bucket-name", lambda e: _set(e, "DeployBucketName", "Wealist_Scripts"), "DeployBucketName", "S3 bucket"),
    ("bucket-ip", lambda e: _set(e, "DeployBucketName", "192.168.1.1"), "DeployBucketName", "not a name S3"),
    (
        "bucket-placeholder",
        lambda e: _set(e, "DeployBucketName", "wealist-deploy-scripts-{account_id}"),
        "DeployBucketName",
        "'{account_id}' is a placeholder nothing expands",
    ),
    (
        "bucket-cfn-placeholder",
        lambda e: _set(e, "DeployBucketName", "wealist-deploy-${AWS::AccountId}"),
        "DeployBucketName",
        "'${AWS::AccountId}' is a placeholder nothing expands",
    ),
    (
        "az-count",
        lambda e: _set(e, "AvailabilityZones", "ap-northeast-2a,ap-northeast-2c"),
        "AvailabilityZones",
        "exactly 3",
    ),
    (
        "az-regions",
        lambda e: _set(e, "AvailabilityZones", "ap-northeast-2a,ap-northeast-2c,us-east-1a"),
        "AvailabilityZones",
        "several regions",
    ),
    (
        "az-duplicate",
        lambda e: _set(e, "AvailabilityZones", "ap-northeast-2a,ap-northeast-2a,ap-northeast-2c"),
        "AvailabilityZones",
        "twice",
    ),
    ("port-clash", lambda e: _set(e, "UserServicePort", "9090"), "UserServicePort", "monitoring"),
]


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
    bad = _write(tmp_path, _set(_entries(), "VpcCidr", "10.1.0.0/33"))
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
    entries = _set(
        _set(_set(_entries(), "Environment", "stage"), "VpcCidr", "10.20.0.0/20"),
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
