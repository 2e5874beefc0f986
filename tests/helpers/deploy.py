"""Helpers shared by the deploy tests (``from helpers.deploy import ...``)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import boto3

from wealist_cfn import cli as main_cli
from wealist_cfn.aws import Aws
from wealist_cfn.rehearsal import compat as local

REGION = "ap-northeast-2"


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main_cli.main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def client(service: str, endpoint: str):
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)


def seed_ssm(endpoint: str, templates: Path, values: dict[str, str]) -> None:
    """The SSM parameters the templates resolve (``bootstrap`` makes them in AWS)."""
    local.seed_ssm(Aws(REGION, endpoint_url=endpoint), templates, values)


def with_multi_az(params: Path, directory: Path) -> Path:
    """A copy of a parameter file with EnableMultiAZ set to "true" and
    CacheFailover "off": the first of the switch's two deploys (ElastiCache
    refuses the replica and failover in one update: cfn/updaterules.py)."""
    data = [e for e in json.loads(params.read_text()) if e["ParameterKey"] != "CacheFailover"]
    data.append({"ParameterKey": "CacheFailover", "ParameterValue": "off"})
    for entry in data:
        if entry["ParameterKey"] == "EnableMultiAZ":
            entry["ParameterValue"] = "true"
    out = directory / "multi.json"
    out.write_text(json.dumps(data))
    return out


def no_release_tags(client) -> None:
    """Answer every GetParameters of ``client`` (ssm) as for names that do
    not exist: no Parameters, each name in InvalidParameters (SSM API
    reference, GetParameters). The deploy reads the release tags before its
    change set (BackendHealthCheckType, ops/releasestate.py); with none
    released it asks nothing else, so a stubbed deploy test needs no more."""
    from botocore.awsrequest import AWSResponse

    asked: list[list[str]] = []
    client.meta.events.register(
        "before-parameter-build.ssm.GetParameters", lambda params, **kw: asked.append(list(params["Names"]))
    )
    client.meta.events.register(
        "before-call.ssm.GetParameters",
        lambda **kw: (AWSResponse(None, 200, {}, None), {"Parameters": [], "InvalidParameters": asked[-1]}),
    )


def stubbed_aws(region: str = REGION):
    """An :class:`Aws` whose CloudFormation and S3 clients are Stubbed, and
    whose SSM client finds no release tag (:func:`no_release_tags`)."""
    from botocore.stub import Stubber

    aws = Aws(region)
    aws.account = "123456789012"
    stubs = {}
    for service in ("cloudformation", "s3"):
        c = boto3.client(service, region_name=region)
        aws._clients[service] = c
        stubs[service] = Stubber(c)
        stubs[service].activate()
    ssm = boto3.client("ssm", region_name=region)
    no_release_tags(ssm)
    aws._clients["ssm"] = ssm
    return aws, stubs


def _one_line(err: str) -> str:
    """The one line an error leaves on stderr: no traceback, nothing else."""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]
