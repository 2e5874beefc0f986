"""Fixtures for the day-two tests: a stack deployed on moto's server with the
local compat layer (what ``deploy --local`` runs on), from a copy of the
committed templates; one deployment of its own per test (``deployed``), or
one shared by the tests that only read the stack (``deployed_shared``)."""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

import pytest

from wealist_cfn import config
from wealist_cfn.aws import Aws
from wealist_cfn.core.settings import PARAMS_DIR, TEMPLATES_DIR
from wealist_cfn.rehearsal import compat as local

REGION = "ap-northeast-2"


@pytest.fixture
def templates_copy(tmp_path) -> Path:
    dest = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, dest)
    return dest


STACK = "wealist-rehearsal"


def _deploy(endpoint: str, templates: Path) -> None:
    from helpers.daytwo import run_cli

    params = PARAMS_DIR / "prod.json"
    local.seed_ssm(Aws(REGION, endpoint_url=endpoint), templates, config.load(params).values)
    # The endpoint answers as the rehearsal (tests/conftest.py), where preflight blocks
    # as on AWS; nothing is bootstrapped here (seed_ssm makes only what the templates resolve).
    code, out, err = run_cli(
        "deploy",
        "--skip-preflight",
        "--stack-name",
        STACK,
        "--force-stack-name",
        "--params",
        params,
        "--endpoint-url",
        endpoint,
        "--templates",
        templates,
        "--yes",
    )
    assert code == 0, err + out


@pytest.fixture
def deployed(moto_endpoint, templates_copy):
    """``(endpoint, templates dir, params file, stack name)`` of a prod-parameter
    deployment named wealist-rehearsal (not the production name), the test's
    own: for tests that change or delete the stack."""
    with local.compat():
        _deploy(moto_endpoint, templates_copy)
        yield moto_endpoint, templates_copy, PARAMS_DIR / "prod.json", STACK


# The stack ID of the shared deployment (moto draws a new one per CreateStack).
_shared: dict[str, str] = {}


def _untouched(endpoint: str, stack_id: str | None) -> bool:
    """The shared stack is still there as its deploy left it: no reset of
    the server (which empties it), no update, no delete since."""
    import boto3
    from botocore.exceptions import ClientError

    if stack_id is None:
        return False
    cfn = boto3.client("cloudformation", region_name=REGION, endpoint_url=endpoint)
    try:
        stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    except ClientError:
        return False
    return stack["StackId"] == stack_id and stack["StackStatus"] == "CREATE_COMPLETE" and "LastUpdatedTime" not in stack


@pytest.fixture
def deployed_shared(moto_server, templates_copy):
    """As ``deployed``, for tests that only read the stack (diff, plan
    --discard, outputs, events): one deployment (several seconds) serves
    them all until another test resets the server or changes the stack, then
    the next reader deploys again. Each test gets its own copy of the
    templates, which it may edit: the deployed stack matches the committed
    ones."""
    with local.compat():
        if not _untouched(moto_server, _shared.get("id")):
            urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).read()
            _deploy(moto_server, templates_copy)
            import boto3

            cfn = boto3.client("cloudformation", region_name=REGION, endpoint_url=moto_server)
            _shared["id"] = cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackId"]
        yield moto_server, templates_copy, PARAMS_DIR / "prod.json", STACK
