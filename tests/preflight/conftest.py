"""Fixtures for the preflight and cost tests: the prod parameter file, the
committed templates resolved once, and an :class:`Aws` on moto's server."""

from __future__ import annotations

import copy

import pytest

from wealist_cfn import config
from wealist_cfn.aws import Aws
from wealist_cfn.core.settings import PARAMS_DIR
from wealist_cfn.preflight import checks

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"  # moto's account


@pytest.fixture(scope="session")
def prod_cfg() -> config.Config:
    return config.load(PARAMS_DIR / "prod.json")


@pytest.fixture(scope="session")
def _resolved(prod_cfg):
    return checks.resolve_templates(prod_cfg)


@pytest.fixture
def aws(moto_endpoint) -> Aws:
    a = Aws(REGION, endpoint_url=moto_endpoint, local_credentials=True)
    a.account = ACCOUNT
    return a


@pytest.fixture
def ctx(prod_cfg, _resolved, aws, tmp_path) -> checks.Context:
    """A context on a fresh moto server; instance files come from a small
    directory of the test's own (``ctx.files_dir``)."""
    files = tmp_path / "instance-files"
    (files / "config").mkdir(parents=True)
    (files / "config" / "a.txt").write_text("alpha\n")
    (files / "config" / "b.txt").write_text("beta\n")
    return checks.Context(
        config=prod_cfg,
        aws=aws,
        stack_name="wealist-prod",
        resolved=copy.deepcopy(_resolved),
        files_dir=files,
        params_arg="params/prod.json",
    )
