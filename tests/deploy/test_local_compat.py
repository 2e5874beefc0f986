"""Each compat piece of :mod:`wealist_cfn.deploy.local` is still needed.

Every test here relies on moto's server. The scenario is the real one
(the committed templates: create, read the outputs, flip EnableMultiAZ,
check the database was modified in place); with one piece left out it must
go wrong. When a moto upgrade makes one of these fail, that piece can go.
"""

from __future__ import annotations

import json

import pytest

from wealist_cfn import config
from wealist_cfn.deploy import local

from deploy_helpers import client, run_cli, seed_ssm

pytestmark = pytest.mark.moto

PIECES = ["getatt", "outputs", "parameters", "nested_update", "cidr", "unmodelled", "yaml", "rds_windows",
          "ssm_tags", "rds_update"]


def _scenario(ep, params, templates, tmp_path) -> str:
    """'ok', or what went wrong."""
    seed_ssm(ep, templates, config.load(params).values)
    base = ("deploy", "--stack-name", "wealist-prod", "--endpoint-url", ep, "--templates", templates, "--yes")
    code, out, err = run_cli(*base, "--params", params)
    if code != 0:
        return f"create exit {code}: {err.strip().splitlines()[-1:]}"
    if "output VpcId = vpc-" not in out:
        return "no outputs after create"
    before = client("rds", ep).describe_db_instances()["DBInstances"]
    multi = tmp_path / "multi.json"
    data = json.loads(params.read_text())
    for entry in data:
        if entry["ParameterKey"] == "EnableMultiAZ":
            entry["ParameterValue"] = "true"
    multi.write_text(json.dumps(data))
    code, out, err = run_cli(*base, "--params", multi)
    if code != 0:
        return f"update exit {code}"
    after = client("rds", ep).describe_db_instances()["DBInstances"]
    if len(after) != 1 or not after[0]["MultiAZ"]:
        return "database not Multi-AZ after the flip"
    if after[0]["InstanceCreateTime"] != before[0]["InstanceCreateTime"]:
        return "database replaced by the update"
    return "ok"


@pytest.mark.parametrize("piece", PIECES)
def test_piece_is_still_needed(piece, moto_endpoint, real_templates, prod_params, tmp_path):
    """moto: the real scenario goes wrong without this one piece."""
    with local.compat(skip=frozenset({piece})):
        outcome = _scenario(moto_endpoint, prod_params, real_templates, tmp_path)
    assert outcome != "ok", f"moto no longer needs the {piece!r} compat piece"


def test_fn_cidr_matches_aws_documented_example():
    """No endpoint: Fn::Cidr ["192.168.0.0/24", 6, 5] as in AWS's documentation."""
    assert local.fn_cidr("192.168.0.0/24", 6, 5) == [
        "192.168.0.0/27", "192.168.0.32/27", "192.168.0.64/27", "192.168.0.96/27", "192.168.0.128/27",
        "192.168.0.160/27"]
