"""Shared fixtures: a local AWS endpoint (moto's server over HTTP) and fake
credentials, so no test can reach a real AWS account."""

from __future__ import annotations

import os
import socket

import pytest

# Set before boto3 is imported anywhere: no test may find real credentials.
for _key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_key, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "ap-northeast-2"
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# moto's own request dispatch, before the rehearsal's capability answer is added.
_MOTO_DISPATCH: dict = {}


@pytest.fixture(scope="session")
def moto_server():
    """moto's server on 127.0.0.1, shared by the session. Yields the endpoint
    URL; it uses ``localhost`` because moto misreads ``127.0.0.1`` in a nested
    stack's TemplateURL as a bucket name.

    It answers the local rehearsal's capability document
    (rehearsal/compat.py answering_target, wealist_cfn/aws/target.py), as every
    endpoint `local up` and `deploy --local-oneshot` start does: the tests
    that use it stand in for the rehearsal. ``undeclared_endpoint`` is the
    same server without that answer."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.server import ThreadedMotoServer

    from wealist_cfn.rehearsal import compat as local

    _MOTO_DISPATCH["call"] = DomainDispatcherApplication.__call__
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        with local.answering_target():
            yield f"http://localhost:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_endpoint(moto_server):
    """The shared server, emptied before the test (POST /moto-api/reset)."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).read()
    return moto_server


@pytest.fixture
def undeclared_endpoint(moto_endpoint, monkeypatch):
    """The shared server, emptied, as a plain moto server: it does not answer
    the rehearsal's capability request, so the product treats it as an
    unknown custom endpoint (wealist_cfn/aws/target.py)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    monkeypatch.setattr(DomainDispatcherApplication, "__call__", _MOTO_DISPATCH["call"])
    return moto_endpoint
