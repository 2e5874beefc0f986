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
def local_s3_over_http(monkeypatch):
    """moto's server speaks plain HTTP, where the bucket's TLS-only statement
    rightly denies every object call (aws:SecureTransport is false). Over
    HTTPS, as with AWS, it allows them. The stored policy is asserted as it
    is; only moto's evaluation of that one statement is left out."""
    from moto.s3.models import FakeBucket

    from wealist_cfn.ops.bootstrap import TLS_SID

    original = FakeBucket.get_permission

    def get_permission(self, action, resource):
        import json

        if self.policy is None:
            return original(self, action, resource)
        saved = self.policy
        doc = json.loads(saved)
        doc["Statement"] = [s for s in doc.get("Statement", []) if s.get("Sid") != TLS_SID]
        self.policy = json.dumps(doc).encode() if doc["Statement"] else None
        try:
            return original(self, action, resource)
        finally:
            self.policy = saved

    monkeypatch.setattr(FakeBucket, "get_permission", get_permission)


@pytest.fixture
def target(moto_endpoint, local_s3_over_http, prod_cfg):
    return Aws(region=prod_cfg.region, endpoint_url=moto_endpoint)
