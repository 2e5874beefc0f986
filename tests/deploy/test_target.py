"""The Target: which endpoint the product talks to, learnt from what the
endpoint answers (wealist_cfn/aws/target.py).

Stand-ins: moto's server, answering the rehearsal's capability document
(tests/conftest.py moto_server, as `local up` and the one-shot endpoint do)
or not (undeclared_endpoint: a plain moto server), and a tiny HTTP server
that answers some other JSON. Real AWS answers no such request; an Aws
without an endpoint URL makes none.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import botocore.exceptions
import pytest

from wealist_cfn.aws import Aws, target
from wealist_cfn.rehearsal import compat as local


def test_aws_is_every_capability_and_asks_nothing(monkeypatch):
    monkeypatch.setattr(target, "probe", lambda *a, **kw: pytest.fail("AWS was asked for a document"))
    t = Aws("ap-northeast-2", local_credentials=True).target
    assert t.kind == "aws" and t.answers_known and t.unanswered == {}
    assert all(value is True for value in t.capabilities().values())


def test_the_rehearsal_declares_every_capability_by_name():
    """The document names each capability the product asks (none missing,
    none unknown to the product), and its preflight gaps are UNANSWERED."""
    assert set(local.TARGET_CAPABILITIES) == set(target.CAPABILITIES)
    t = target.from_document(local.target_document(), "http://localhost:1")
    assert t.kind == "rehearsal" and t.answers_known and t.unanswered == local.UNANSWERED
    assert t.capabilities() == local.TARGET_CAPABILITIES


@pytest.mark.moto
def test_the_rehearsal_is_known_by_its_answer(moto_endpoint):
    t = Aws("ap-northeast-2", endpoint_url=moto_endpoint, local_credentials=True).target
    assert t.kind == "rehearsal" and t.name == "the local endpoint"
    assert t.answers_drift is False and t.runs_under_roles is False and t.models_deletion_protection is True


@pytest.mark.moto
def test_a_plain_moto_server_is_an_unknown_endpoint(undeclared_endpoint):
    """The same server without the answer: an endpoint URL alone no longer
    makes it the rehearsal. Nothing is known; failures are shown, not blocking."""
    t = Aws("ap-northeast-2", endpoint_url=undeclared_endpoint, local_credentials=True).target
    assert t.kind == "unknown" and not t.answers_known and t.name == f"the endpoint at {undeclared_endpoint}"
    assert set(t.capabilities().values()) == {None}
    # Its messages are left as they are (an AWS CLI step may reach it).
    line = "delete it: aws cloudformation delete-change-set --change-set-name x"
    assert t.message(line) == line


class _OtherJson(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        body = json.dumps({"kind": "something else", "version": 1, "capabilities": {"answers_drift": True}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def test_an_endpoint_answering_other_json_is_unknown():
    server = HTTPServer(("127.0.0.1", 0), _OtherJson)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        t = target.probe(f"http://localhost:{server.server_address[1]}", direct=True)
    finally:
        server.shutdown()
        server.server_close()
    assert t.kind == "unknown" and t.answers_drift is None


def test_a_local_endpoint_that_is_not_running_is_said_so_not_taken_for_unknown():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    aws = Aws("ap-northeast-2", endpoint_url=f"http://localhost:{port}", local_credentials=True)
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        aws.target  # noqa: B018 - the property asks the endpoint
