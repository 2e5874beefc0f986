"""Fixtures for the operations tests: AWS access to moto's server for bootstrap."""

from __future__ import annotations

import pytest

from wealist_cfn import config
from wealist_cfn.aws import Aws

from .tools import ROOT


@pytest.fixture
def prod_cfg():
    return config.load(ROOT / "params" / "prod.json")


@pytest.fixture
def dev_cfg():
    return config.load(ROOT / "params" / "dev.json")


@pytest.fixture
def local_s3_over_http():
    """The strict layer over moto (wealist_cfn.rehearsal.strict): Parameter Store's
    value and name rules, and bucket policies evaluated as IAM does, with
    aws:SecureTransport true because moto's plain-HTTP server stands in for
    AWS's HTTPS endpoint (moto alone evaluates it as false and denies every
    object call of a TLS-only bucket)."""
    from wealist_cfn.rehearsal import strict

    with strict.install():
        yield


@pytest.fixture
def target(moto_endpoint, local_s3_over_http, prod_cfg):
    return Aws(region=prod_cfg.region, endpoint_url=moto_endpoint)


@pytest.fixture(scope="module")
def oidc():
    """github-oidc.yaml resolved for its default mode (own provider, plan
    role), as the IAM tests read it (tests/helpers/iam_policies.py)."""
    from helpers.iam_policies import OIDC_MODES, _oidc_stack

    return _oidc_stack(OIDC_MODES["own provider, plan role"])
