"""The Target: which endpoint the product talks to, learnt from what the
endpoint answers (wealist_cfn/aws/target.py).

Stand-ins: moto's server, answering the rehearsal's capability document
(tests/conftest.py moto_server, as `local up` and the one-shot endpoint do)
or not (undeclared_endpoint: a plain moto server), and tiny local servers
that answer some other JSON, a redirect, bytes that are not HTTP, late, or
a trickle. Real AWS is never asked: an Aws without an endpoint URL makes no
request, and neither does one whose endpoint is not on this machine (the
rehearsal binds 127.0.0.1 only).
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
        t = target.probe(f"http://localhost:{server.server_address[1]}", loopback=True)
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


def _serve(handle) -> tuple[str, callable]:
    """A one-thread TCP server on 127.0.0.1 calling ``handle(conn, n)`` for
    its n-th connection; its URL and a function that stops it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def run():
        n = 0
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            n += 1
            threading.Thread(target=_guarded, args=(handle, conn, n), daemon=True).start()

    threading.Thread(target=run, daemon=True).start()

    def close():
        stop.set()
        listener.close()

    return f"http://127.0.0.1:{listener.getsockname()[1]}", close


def _guarded(handle, conn, n):
    with conn:
        try:
            conn.recv(65536)
            handle(conn, n)
        except OSError:
            pass  # the probe gave up and closed: what the test wanted


def _document_response() -> bytes:
    body = json.dumps(local.target_document()).encode()
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body


def test_an_endpoint_elsewhere_is_never_asked(monkeypatch):
    """A VPC interface endpoint or a proxy in front of AWS gets no request
    it did not ask for (its answer, 403 Missing Authentication Token, would
    only say "not the rehearsal" anyway): unknown without a connection."""
    monkeypatch.setattr(target, "_ask_once", lambda *a: pytest.fail("a non-loopback endpoint was asked"))
    aws = Aws("ap-northeast-2", endpoint_url="https://vpce-0abc-xyz.cloudformation.ap-northeast-2.vpce.amazonaws.com")
    t = aws.target
    assert t.kind == "unknown" and set(t.capabilities().values()) == {None}


def test_a_redirect_to_a_document_is_not_followed():
    """The document counts only from the endpoint itself: a 302 to a server
    that serves it is an unknown endpoint, not the rehearsal."""
    doc_url, stop_doc = _serve(lambda conn, n: conn.sendall(_document_response()))
    moved = f"HTTP/1.1 302 Found\r\nLocation: {doc_url}{target.PATH}\r\nContent-Length: 0\r\n\r\n".encode()
    url, stop = _serve(lambda conn, n: conn.sendall(moved))
    try:
        assert target.probe(doc_url, loopback=True).kind == "rehearsal"  # the document itself is accepted
        assert target.probe(url, loopback=True).kind == "unknown"
    finally:
        stop(), stop_doc()


@pytest.mark.parametrize("answer", [b"-ERR unknown command 'GET'\r\n", b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000])
def test_bytes_that_are_not_http_make_an_unknown_endpoint_not_a_crash(answer):
    """--endpoint-url pointing at a Redis port, or a header longer than
    http.client reads: http.client raises BadStatusLine / LineTooLong through
    urllib unwrapped; the probe says unknown instead of ending the command
    with an unexpected error."""
    url, stop = _serve(lambda conn, n: conn.sendall(answer))
    try:
        assert target.probe(url, loopback=True, timeout=2, attempts=1).kind == "unknown"
    finally:
        stop()


def test_a_trickling_endpoint_is_bounded_as_a_whole():
    """A server that sends a byte every 0.1 s never lets a per-read timeout
    of 0.3 s fire; the probe's bound on the whole exchange does (without it
    this test would run into the suite's per-test timeout)."""
    import time

    def trickle(conn, n):
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        while True:
            conn.sendall(b"X")
            time.sleep(0.1)

    url, stop = _serve(trickle)
    try:
        assert target.probe(url, loopback=True, timeout=0.3, attempts=2).kind == "unknown"
    finally:
        stop()


def test_a_late_first_answer_is_asked_again_not_taken_for_unknown():
    """A busy `local up` server that misses the first wait answers the
    second: still the rehearsal (one slow answer must not switch off what
    the rehearsal stands in for)."""
    import time

    def late_once(conn, n):
        if n == 1:
            time.sleep(1.5)
        conn.sendall(_document_response())

    url, stop = _serve(late_once)
    try:
        assert target.probe(url, loopback=True, timeout=0.4, attempts=2).kind == "rehearsal"
        # One attempt only: the same late answer is an unknown endpoint (the retry is what holds it).
        url2, stop2 = _serve(late_once)
        try:
            assert target.probe(url2, loopback=True, timeout=0.4, attempts=1).kind == "unknown"
        finally:
            stop2()
    finally:
        stop()
