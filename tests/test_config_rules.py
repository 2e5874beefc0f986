"""Every value rule the parameter spec declares, for every field that
declares it (wealist_cfn/core/parameters.py ROOT_PARAMETERS, checked by
wealist_cfn/config.py), and the cross-field rules for each field they name.
The cases are derived from the spec, so a field added with a rule is
covered without a new line here. No endpoint.

The rules mirror CloudFormation's own parameter constraints (AllowedValues,
AllowedPattern, MaxLength, MinValue/MaxValue; "Parameters" in the
CloudFormation User Guide), which CloudFormation enforces only when a
change set is created; here they are found before anything is uploaded.
"""

from __future__ import annotations

import re

import pytest

from wealist_cfn import config
from wealist_cfn.core.parameters import ROOT_PARAMETERS
from wealist_cfn.core.settings import DEFAULT_SETTINGS, PARAMS_DIR

PROD = config.load(PARAMS_DIR / "prod.json")


def _refused(key: str, value: str) -> str:
    with pytest.raises(config.ConfigError) as exc:
        PROD.with_values(**{key: value})
    assert exc.value.key == key, str(exc.value)
    assert "\n" not in str(exc.value)
    return exc.value.message


def _pattern_breaker(pattern: str, valid: str) -> str:
    """A value the pattern refuses that no earlier rule (length) refuses."""
    for candidate in ("!", " " + valid, valid + " ", "UPPER", "a b", "\u00e9", valid + "!"):
        if not re.fullmatch(pattern, candidate):
            return candidate
    raise AssertionError(f"no value breaks {pattern}")


CASES = []
for spec in ROOT_PARAMETERS:
    if spec.allowed_values:
        CASES.append((spec.name, "not-a-choice", "is not one of"))
    if spec.type == "Number" and not spec.allowed_values:
        CASES.append((spec.name, "12a", "not a whole number"))
    if spec.min_value is not None:
        CASES.append((spec.name, str(spec.min_value - 1), f"below the minimum {spec.min_value}"))
    if spec.max_value is not None:
        CASES.append((spec.name, str(spec.max_value + 1), f"above the maximum {spec.max_value}"))
    if spec.max_length is not None:
        CASES.append((spec.name, "a" * (spec.max_length + 1), f"longer than {spec.max_length} characters"))
    if spec.allowed_pattern:
        CASES.append((spec.name, _pattern_breaker(spec.allowed_pattern, PROD.values[spec.name]), "must be"))


def test_every_kind_of_rule_has_cases():
    kinds = {words.split()[0] for _, _, words in CASES}
    assert kinds >= {"is", "not", "below", "above", "longer", "must"}
    assert len({key for key, _, _ in CASES}) >= len(ROOT_PARAMETERS) - 1  # AvailabilityZones: cross-field only


@pytest.mark.parametrize("key,value,words", CASES, ids=[f"{k}-{w.split()[0]}" for k, _, w in CASES])
def test_each_declared_rule_refuses_for_its_own_field(key, value, words):
    assert words in _refused(key, value)


@pytest.mark.parametrize("spec", [s for s in ROOT_PARAMETERS if s.min_value is not None], ids=lambda s: s.name)
def test_the_bounds_themselves_are_accepted(spec):
    values = {spec.name: str(spec.min_value)}
    if spec.name == "BackendMaxSize":
        values["BackendMinSize"] = str(spec.min_value)
    PROD.with_values(**values)
    if spec.name not in ("BackendMinSize", "SubnetBits", "UserServicePort", "BoardServicePort"):
        PROD.with_values(**{spec.name: str(spec.max_value)})


@pytest.mark.parametrize("key", ["UserServicePort", "BoardServicePort"])
@pytest.mark.parametrize(
    "port",
    sorted({DEFAULT_SETTINGS.grafana_port, DEFAULT_SETTINGS.prometheus_port, DEFAULT_SETTINGS.node_exporter_port}),
)
def test_each_service_port_is_refused_each_monitoring_port(key, port):
    assert "taken by the monitoring stack" in _refused(key, str(port))


@pytest.mark.parametrize(
    "key,value",
    [
        ("VpcCidr", "10.1.0.0/33"),
        ("MonitoringAccessCidr", "203.0.113.0/33"),
        ("VpcCidr", "10.1.2.0/16"),
        ("MonitoringAccessCidr", "203.0.113.7/24"),
    ],
)
def test_each_cidr_field_gets_each_cidr_rule(key, value):
    assert re.search("must be an IPv4 CIDR block|host bits set", _refused(key, value))


@pytest.mark.parametrize("bucket", ["wealist..scripts", "192.168.1.1", "xn--wealist-scripts"])
def test_each_bucket_name_rule(bucket):
    assert "not a name S3 accepts" in _refused("DeployBucketName", bucket)


@pytest.mark.parametrize(
    "azs,words",
    [
        ("ap-northeast-2a,ap-northeast-2c", "exactly 3"),
        ("ap-northeast-2a,ap-northeast-2c,ap-northeast-2d,ap-northeast-2b", "exactly 3"),
        ("ap-northeast-2a,ap-northeast-2a,ap-northeast-2c", "twice"),
        ("ap-northeast-2a,ap-northeast-2c,ap-northeast-1a", "several regions"),
    ],
)
def test_each_zone_rule(azs, words):
    assert words in _refused("AvailabilityZones", azs)
