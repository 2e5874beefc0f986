"""``preflight`` and ``cost`` with -q (the result and errors only) and the
parameter file and effective values in their ``--output json``, as the
deploy family's documents carry them.

Stand-ins: moto's server for preflight (nothing bootstrapped: its checks of
Parameter Store and the deploy bucket fail, its zone and instance-type
checks pass, as in test_preflight_hook.py); botocore's Stubber for the Price
List API of ``cost --refresh`` (moto does not implement it; responses shaped
as in test_price_refresh.py); the cost estimate itself makes no call."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout

import boto3
import pytest
from botocore.stub import Stubber

from wealist_cfn.cli import main
from wealist_cfn.cli import preflight as pcli
from wealist_cfn.core.settings import PARAMS_DIR
from wealist_cfn.preflight import pricing


def _run(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def _sources(doc: dict) -> dict[str, tuple[str, str]]:
    return {p["key"]: (p["value"], p["source"]) for p in doc["parameters"]}


@pytest.mark.moto
def test_quiet_preflight_prints_the_failures_and_the_verdict(moto_endpoint):
    """moto: with -q the passing checks are left out; every failed check
    (the errors), its fix and the verdict remain."""
    argv = ["preflight", "--params", PARAMS_DIR / "prod.json", "--endpoint-url", moto_endpoint]
    code, loud, _ = _run(*argv)
    assert code == 1 and any(line.startswith("ok  ") for line in loud.splitlines())
    code, quiet, _ = _run(*argv, "-q")
    assert code == 1
    lines = quiet.splitlines()
    assert not any(line.startswith(("ok  ", "n/a ")) for line in lines), quiet
    assert lines[-1].startswith("preflight failed: ")
    failed = [line for line in lines if line.startswith("FAIL")]
    assert {line.split()[1] for line in failed} >= {"boot-parameters", "deploy-bucket"}
    assert any("fix: python build.py bootstrap" in line for line in lines)
    # Every other line -q prints is one the plain run prints (the verdict holds the time taken).
    assert set(lines[:-1]) <= set(loud.splitlines())


@pytest.mark.moto
def test_preflight_json_carries_the_parameter_file_and_each_value_with_its_source(moto_endpoint):
    """moto: --env and --parameter reach the document as deploy's do."""
    code, out, err = _run(
        "preflight",
        "--env",
        "prod",
        "--parameter",
        "DbAllocatedStorage=40",
        "--endpoint-url",
        moto_endpoint,
        "--output",
        "json",
    )
    assert code == 1, err
    doc = json.loads(out)
    assert doc["checks"] and doc["paramsFile"]["from"] == "--env" and doc["paramsFile"]["env"] == "prod"
    assert doc["paramsFile"]["path"].endswith("params/prod.json")
    values = _sources(doc)
    assert values["DbAllocatedStorage"] == ("40", "--parameter")
    assert values["Project"] == ("wealist", "file")
    assert {s for _, s in values.values()} >= {"file", "--parameter", "default", "derived"}


def test_cost_json_carries_the_parameter_file_and_each_value_with_its_source():
    """No stand-in: the estimate makes no call."""
    code, out, err = _run(
        "cost",
        "--params",
        PARAMS_DIR / "prod.json",
        "--parameter",
        "DbAllocatedStorage=40",
        "--output",
        "json",
        "--mode",
        "single",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["modes"]["single"] and doc["paramsFile"]["from"] == "--params"
    assert _sources(doc)["DbAllocatedStorage"] == ("40", "--parameter")
    assert _sources(doc)["Environment"] == ("prod", "file")


def test_quiet_cost_prints_the_table_and_errors():
    """No stand-in: the table is cost's result, so -q prints all of it;
    a bad file is still one line on stderr."""
    code, loud, _ = _run("cost", "--params", PARAMS_DIR / "prod.json")
    assert code == 0
    code, quiet, err = _run("cost", "--params", PARAMS_DIR / "prod.json", "-q")
    assert code == 0 and err == "" and quiet == loud and "monthly total" in quiet
    code, out, err = _run("cost", "--params", PARAMS_DIR / "nope.json", "-q")
    assert code == 2 and out == "" and "nope.json: no such file" in err


@pytest.mark.stubbed
def test_quiet_cost_refresh_prints_the_file_written_not_each_price(tmp_path, monkeypatch):
    """Stubber: GetProducts (PriceList of JSON strings; API reference,
    pricing GetProducts). -q leaves out the line per price read."""
    from helpers.prices import _product

    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")

    class FakeAws:
        def __init__(self, region, profile=None, endpoint_url=None):
            pass

        def check_credentials(self):
            return "123456789012"

        def client(self, service):
            return client

    monkeypatch.setattr(pcli, "Aws", FakeAws)
    monkeypatch.setattr(pricing, "keys_to_refresh", lambda region: ["ec2:t3.small"])
    real_write = pricing.write
    monkeypatch.setattr(pricing, "write", lambda region, entries: real_write(region, entries, tmp_path))
    with Stubber(client) as stub:
        stub.add_response("get_products", {"PriceList": [_product("S", "APN2-BoxUsage:t3.small", "0.5")]}, None)
        code, out, err = _run("cost", "--refresh", "--region", "ap-northeast-2", "-q")
    assert code == 0, err
    assert out.splitlines() == [f"wrote {tmp_path / 'ap-northeast-2.json'} (1 prices)"]
