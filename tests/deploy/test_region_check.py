"""A region the access-log delivery map does not hold is refused where the
commands resolve the region (``Config.region_for``), before anything is
uploaded or written.

Stand-in: moto's server, pointed at with ``--endpoint-url`` (or ``--local``)
as a safety net: even a wrong call could not reach AWS. "Nothing happened"
is proved twice: creating any botocore client fails the test, and moto's S3
holds no bucket afterwards.

What real AWS enforces and moto does not: in a region the mapping lacks,
CloudFormation fails the load balancer stack on ``Fn::FindInMap`` ("Mapping
... does not contain key", Fn::FindInMap in the CloudFormation template
reference) only once the nested stacks are being created, after the
templates were uploaded and the network stack was built. moto does not get
that far in a meaningful way, which is why the refusal is made before any
call, from the same data the mapping is built from.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from helpers.deploy import _one_line, run_cli
from wealist_cfn import config
from wealist_cfn.core.regions import ELB_LOG_DELIVERY_ACCOUNTS, ELB_LOG_DELIVERY_SERVICE_REGIONS
from wealist_cfn.errors import EXIT_USAGE

# Opened after the guide's lists were written (Asia Pacific (Thailand)): no
# principal is known for it here.
UNMAPPED = "ap-southeast-7"
COMMANDS = ["deploy", "plan", "package", "status", "preflight"]


def _params_in(tmp_path: Path, prod_params: Path, region: str) -> Path:
    data = json.loads(prod_params.read_text())
    for entry in data:
        if entry["ParameterKey"] == "AvailabilityZones":
            entry["ParameterValue"] = ",".join(f"{region}{z}" for z in "abc")
    path = tmp_path / "params.json"
    path.write_text(json.dumps(data))
    return path


def _argv(command: str, params: Path, *extra: str) -> list[str]:
    argv = [command, "--params", str(params), *extra]
    if command != "package":
        argv += ["--stack-name", "wealist-prod"]
    return argv


@pytest.mark.moto
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("where", ["endpoint", "local"])
def test_unmapped_region_is_refused_before_anything_is_uploaded(
    command, where, moto_endpoint, prod_params, tmp_path, no_aws_client, monkeypatch
):
    """moto: zones in a region without a known ELB log delivery principal are
    one line naming the file, the key and the region, exit 2, no AWS client,
    no local endpoint, and no bucket or object on the endpoint."""
    bad = _params_in(tmp_path, prod_params, UNMAPPED)
    extra = ("--endpoint-url", moto_endpoint) if where == "endpoint" else ("--local",)
    code, out, err = run_cli(*_argv(command, bad, *extra))
    assert code == EXIT_USAGE
    line = _one_line(err)
    assert line.startswith("error: ") and f"{bad}: AvailabilityZones: region {UNMAPPED} " in line
    assert "wealist_cfn/core/regions.py" in line  # where to add it
    assert out == ""
    assert no_aws_client == []
    monkeypatch.undo()  # clients may be made again: look at the endpoint
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_endpoint)
    assert s3.list_buckets()["Buckets"] == []


@pytest.mark.parametrize("region", ["ap-northeast-2", "us-east-1", "eu-central-2"])
def test_mapped_regions_pass_the_check(region, prod_params, tmp_path):
    """No stand-in: a region of either principal kind resolves."""
    cfg = config.load(_params_in(tmp_path, prod_params, region))
    assert cfg.region_for(None) == region


def test_every_region_of_the_map_passes_and_no_other():
    """No stand-in: the check reads the same data as the template's mapping,
    so they agree region by region."""
    cfg = config.load("params/prod.json")
    for region in (*ELB_LOG_DELIVERY_ACCOUNTS, *ELB_LOG_DELIVERY_SERVICE_REGIONS):
        zones = ",".join(f"{region}{z}" for z in "abc")
        assert cfg.with_values(AvailabilityZones=zones).region_for(None) == region
    with pytest.raises(config.ConfigError) as err:
        cfg.with_values(AvailabilityZones=f"{UNMAPPED}a,{UNMAPPED}b,{UNMAPPED}c").region_for(None)
    assert err.value.key == "AvailabilityZones"
