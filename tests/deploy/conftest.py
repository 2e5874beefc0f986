"""Fixtures for the deploy tests: moto's server with the local compat
patches installed, a CLI runner, and helpers for botocore's Stubber."""

from __future__ import annotations

import shutil
from pathlib import Path

import botocore.session
import pytest

from wealist_cfn.core.settings import PARAMS_DIR, TEMPLATES_DIR
from wealist_cfn.rehearsal import compat as local


@pytest.fixture
def compat_endpoint(moto_endpoint):
    """A fresh moto server with the compat patches and the strict layer
    (what ``deploy --local`` runs on)."""
    from wealist_cfn.rehearsal import strict

    with local.compat(), strict.install():
        yield moto_endpoint


@pytest.fixture
def real_templates(tmp_path) -> Path:
    """A copy of the committed templates (tests may edit the copy)."""
    assert (TEMPLATES_DIR / "root.yaml").exists(), "templates/ is committed; run `python build.py`"
    dest = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, dest)
    return dest


@pytest.fixture
def prod_params() -> Path:
    return PARAMS_DIR / "prod.json"


@pytest.fixture
def settled_prod_params(tmp_path) -> Path:
    """params/prod.json with its exposure accepted in AcceptedRisks: the
    shipped file leaves MonitoringAccessCidr and CertificateArn to the
    operator, and plan/deploy against AWS refuse it until they are settled
    (wealist_cfn/preflight/exposure.py). For tests that stand in for AWS
    without an endpoint and are about something else."""
    import json

    entries = json.loads((PARAMS_DIR / "prod.json").read_text())
    entries.append({"ParameterKey": "AcceptedRisks", "ParameterValue": "public-monitoring,plain-http"})
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(entries))
    return path


@pytest.fixture
def no_aws_client(monkeypatch):
    """Fail the test if any botocore client is created (by boto3 or botocore)."""
    created: list[str] = []

    def refuse(self, service_name, *args, **kwargs):
        created.append(service_name)
        raise AssertionError(f"an AWS client ({service_name}) was created before the input was validated")

    monkeypatch.setattr(botocore.session.Session, "create_client", refuse)

    def no_endpoint():
        raise AssertionError("the local endpoint was started before the input was validated")

    monkeypatch.setattr(local, "endpoint", no_endpoint)
    return created
