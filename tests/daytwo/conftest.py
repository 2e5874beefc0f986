"""Fixtures for the day-two tests: a stack deployed on moto's server with the
local compat layer (what ``deploy --local`` runs on), from a copy of the
committed templates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from wealist_cfn import config
from wealist_cfn.aws import Aws
from wealist_cfn.deploy import local
from wealist_cfn.settings import PARAMS_DIR, TEMPLATES_DIR

REGION = "ap-northeast-2"


@pytest.fixture
def templates_copy(tmp_path) -> Path:
    dest = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, dest)
    return dest


@pytest.fixture
def deployed(moto_endpoint, templates_copy):
    """``(endpoint, templates dir, params file, stack name)`` of a prod-parameter
    deployment named wealist-rehearsal (not the production name)."""
    from daytwo_helpers import run_cli

    params = PARAMS_DIR / "prod.json"
    with local.compat():
        local.seed_ssm(Aws(REGION, endpoint_url=moto_endpoint), templates_copy, config.load(params).values)
        # The endpoint answers as the rehearsal (tests/conftest.py), where preflight blocks
        # as on AWS; nothing is bootstrapped here (seed_ssm makes only what the templates resolve).
        code, out, err = run_cli("deploy", "--skip-preflight", "--stack-name", "wealist-rehearsal",
                                 "--force-stack-name", "--params", params, "--endpoint-url", moto_endpoint,
                                 "--templates", templates_copy, "--yes")
        assert code == 0, err + out
        yield moto_endpoint, templates_copy, params, "wealist-rehearsal"
