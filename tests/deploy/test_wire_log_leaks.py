"""What ``--debug`` prints when botocore really signs a request.

A real botocore signing (SigV4, with fake temporary credentials) against a
refused loopback port: no moto, no Stubber. The request never leaves the
machine; botocore still logs the canonical request, the string to sign, the
signature and the request body at DEBUG before it tries to connect. The
temporary credentials' session token travels in the ``X-Amz-Security-Token``
header (SigV4 documentation, "Add the signature to the HTTP request": "If
you are using temporary security credentials ... include the session token
... X-Amz-Security-Token"), which the canonical request lists lower-cased.
"""

from __future__ import annotations

import io
import socket

import boto3
import pytest
from botocore.config import Config

from wealist_cfn.aws import log as awslog

TOKEN = "FwoGZXIvYXdzSESSIONTOKENVALUE"


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def wire_log():
    buf = io.StringIO()
    awslog.configure(verbose=True, debug=True, stream=buf)
    session = boto3.session.Session(
        aws_access_key_id="AKIAEXAMPLEKEYID1234",
        aws_secret_access_key="secretkeyexample",
        aws_session_token=TOKEN,
        region_name="us-east-1",
    )
    awslog.attach(session)
    endpoint = f"http://127.0.0.1:{_refused_port()}"
    config = Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1)

    def call(service, operation, **params):
        client = session.client(service, endpoint_url=endpoint, config=config)
        with pytest.raises(Exception):  # the port refuses (whichever error botocore raises); the log matters
            getattr(client, operation)(**params)
        return buf.getvalue()

    try:
        yield call
    finally:
        awslog.configure()


def test_debug_never_prints_the_session_token_or_the_signature(wire_log):
    out = wire_log("ssm", "get_parameter", Name="/x/y")
    assert "Making request for OperationModel(name=GetParameter)" in out  # the wire log is on
    assert TOKEN not in out
    assert "AKIAEXAMPLEKEYID1234" not in out and "secretkeyexample" not in out
    assert "Signature:\n" not in out or "Signature:\n[redacted]" in out


@pytest.mark.parametrize("value", ['head"TAILSECRET', "head\\TAILSECRET", "h\u00e9ad'\"TAILSECRET", 'a\\"TAILSECRET'])
def test_a_secret_with_quotes_or_backslashes_never_shows_its_tail(wire_log, value):
    out = wire_log("ssm", "put_parameter", Name="/x/db/pw", Value=value, Type="SecureString", Overwrite=True)
    assert "'body': b'{" in out
    assert "TAILSECRET" not in out


def test_a_response_body_value_with_an_escaped_quote_is_blanked_whole():
    """No AWS call: botocore's ``Response body`` line, the bytes repr of a
    GetParameter answer whose value (never sent by this command) holds a quote."""
    line = "Response body:\n" + repr(b'{"Parameter": {"Name": "/x", "Value": "ab\\"TAIL\\\\", "Version": 1}}')
    text = awslog.redact(line)
    assert "TAIL" not in text
    assert '"Version": 1' in text and '"Name": "/x"' in text


def test_the_canonical_request_lines_are_blanked_even_if_logged():
    """No AWS call: the lines botocore.auth logs at DEBUG (kept at INFO by
    ``--debug``, in case another logger config lowers it again)."""
    text = awslog.redact(
        "CanonicalRequest:\nGET\n/\n\nhost:127.0.0.1\nx-amz-security-token:"
        + TOKEN
        + "\n\nStringToSign:\nAWS4-HMAC-SHA256\nSignature:\n"
        + "ab12" * 16
    )
    assert TOKEN not in text and "ab12ab12" not in text
    assert "host:127.0.0.1" in text
