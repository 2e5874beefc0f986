"""bootstrap's value rules (check_values) for each parameter they cover: the
Parameter Store rules for every parameter, and the rules of the service that
reads each of the three values RDS and ElastiCache take from Parameter
Store. No endpoint, no AWS call: the rules and their sources are in
wealist_cfn/rehearsal/strict.py (CreateDBInstance MasterUsername / MasterUserPassword,
CreateReplicationGroup AuthToken, API references).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from wealist_cfn.ops import bootstrap
from wealist_cfn.ops.bootstrap import PARAMETERS, PARAMS_BY_NAME, SECRET, SERVICE_RULES


def _with(monkeypatch, name, **changes):
    monkeypatch.setattr(
        bootstrap, "PARAMETERS", tuple(replace(p, **changes) if p.name == name else p for p in PARAMETERS)
    )


def test_every_service_rule_names_a_parameter_bootstrap_writes():
    """A rule keyed by a name bootstrap does not write would never run."""
    assert set(SERVICE_RULES) <= set(PARAMS_BY_NAME)
    assert set(SERVICE_RULES) == {"db/postgres_superuser", "db/postgres_superuser_password", "redis/auth_token"}


def test_the_committed_values_pass(prod_cfg, dev_cfg):
    bootstrap.check_values(prod_cfg)
    bootstrap.check_values(dev_cfg)


@pytest.mark.parametrize(
    "value,words",
    [
        ("1-admin", "MasterUsername"),
        ("postgres", "reserved"),
        ("a" * 64, "MasterUsername"),
        ("", "at least 1 character"),
    ],
)
def test_the_master_user_name_gets_rds_rules(prod_cfg, monkeypatch, value, words):
    _with(monkeypatch, "db/postgres_superuser", value=lambda c: value)
    with pytest.raises(bootstrap.InvalidValue, match=rf"/wealist/prod/db/postgres_superuser: .*{words}"):
        bootstrap.check_values(prod_cfg)


@pytest.mark.parametrize(
    "name,length,words",
    [
        ("db/postgres_superuser_password", 7, "8 to 128"),
        ("db/postgres_superuser_password", 129, "8 to 128"),
        ("redis/auth_token", 15, "16 to 128"),
        ("redis/auth_token", 129, "16 to 128"),
    ],
)
def test_each_generated_secret_gets_its_services_length_rule(prod_cfg, monkeypatch, name, length, words):
    assert PARAMS_BY_NAME[name].kind == SECRET
    _with(monkeypatch, name, length=length)
    with pytest.raises(bootstrap.InvalidValue, match=rf"/wealist/prod/{name}: .*{words}"):
        bootstrap.check_values(prod_cfg)


@pytest.mark.parametrize("name", [p.name for p in PARAMETERS if p.kind != SECRET])
def test_every_written_value_gets_parameter_stores_rules(prod_cfg, monkeypatch, name):
    """Each plain parameter, one at a time, with a value Parameter Store
    refuses (PutParameter Value: "{{" and "}}" are not allowed)."""
    _with(monkeypatch, name, value=lambda c: "x {{ y }}")
    with pytest.raises(bootstrap.InvalidValue, match=rf"/wealist/prod/{name}: "):
        bootstrap.check_values(prod_cfg)
