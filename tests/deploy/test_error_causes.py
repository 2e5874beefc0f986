"""Which error a failed call met decides the line that explains it.

- A refused connect to the local endpoint, a local endpoint too slow to
  answer, and credentials that ran out or were never there each get their
  own line. The connection cases use a real botocore request to loopback
  ports (no moto, no Stubber): one refused (nothing listens), one where a
  listening socket accepts the connection and never answers (a read timeout).
- EC2 answers ``RequestExpired`` for a request signed too long ago (EC2 API
  reference, "Error codes for the Amazon EC2 API": "The request reached the
  service more than 15 minutes after the date stamp on the request ... or
  the date stamp on the request is more than 15 minutes in the future"):
  an expired session, or a clock that is off. Stubber, with that code.
- botocore raises SSOTokenLoadError when no cached IAM Identity Center token
  exists for the session ("Token for {session} does not exist",
  botocore/exceptions.py): never signed in or signed out, not expired.
"""

from __future__ import annotations

import socket

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from wealist_cfn import aws as aws_mod


def _client(port: int, read_timeout: float = 5):
    return boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2, read_timeout=read_timeout),
    )


def test_a_refused_local_connect_says_the_endpoint_is_not_running():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(botocore.exceptions.EndpointConnectionError) as caught:
        _client(port).get_caller_identity()
    f = aws_mod.describe_error(caught.value)
    assert "(connection refused): the local endpoint is not running" in f.message


def test_a_local_endpoint_that_does_not_answer_in_time_is_not_called_refused():
    """A socket that listens and never answers: botocore's ReadTimeoutError.
    Before, every connection error to loopback read "connection refused"."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        with pytest.raises(botocore.exceptions.ReadTimeoutError) as caught:
            _client(s.getsockname()[1], read_timeout=0.2).get_caller_identity()
    f = aws_mod.describe_error(caught.value)
    assert f is not None and "refused" not in f.message and "not running" not in f.message
    assert "is not answering in time" in f.message


def test_a_connect_timeout_to_loopback_is_not_called_refused():
    exc = botocore.exceptions.ConnectTimeoutError(endpoint_url="http://127.0.0.1:5000/")
    f = aws_mod.describe_error(exc)
    assert "refused" not in f.message and "is not answering in time" in f.message


@pytest.mark.stubbed
def test_request_expired_is_an_expired_session_or_a_clock_that_is_off(monkeypatch):
    ec2 = boto3.client("ec2", region_name="ap-northeast-2", aws_access_key_id="a", aws_secret_access_key="b")
    monkeypatch.setenv("AWS_PROFILE", "ops")  # named in the way out; no such profile is read
    with Stubber(ec2) as stub:
        stub.add_client_error("describe_instances", "RequestExpired", "Request has expired.", 400)
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            ec2.describe_instances()
    f = aws_mod.describe_error(caught.value)
    assert f.message == "AWS credentials rejected (RequestExpired): Request has expired."
    assert f.details[0].startswith("sign in again: aws sso login --profile ops")
    assert any("clock" in d for d in f.details)


def test_no_sso_token_at_all_says_sign_in_not_expired(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "ops")
    exc = botocore.exceptions.SSOTokenLoadError(error_msg="Token for ops does not exist")
    f = aws_mod.describe_error(exc)
    assert "expired" not in f.message.lower() and not any("expired" in d for d in f.details)
    assert "Token for ops does not exist" in f.message
    assert f.details == ("sign in: aws sso login --profile ops",)
    assert f.exit_code == 2


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_local_client_uses_no_proxy_even_when_one_is_set(monkeypatch, host):
    """No request: the client's HTTP session as botocore builds it. With
    HTTPS_PROXY/HTTP_PROXY set and no NO_PROXY, botocore takes the proxies
    from the environment for any host urllib's proxy_bypass does not skip
    (botocore/utils.py get_environ_proxies), 127.0.0.1 included; the probe
    of the local endpoint connects directly, so the calls must too."""
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(var, "http://proxy.invalid:3128")
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(aws_mod.Aws, "_probe_local", lambda self: None)
    local = aws_mod.Aws("ap-northeast-2", endpoint_url=f"http://{host}:5000")
    assert local.client("sts")._endpoint.http_session._proxy_config._proxies == {}
    remote = aws_mod.Aws("ap-northeast-2", endpoint_url="https://sts.ap-northeast-2.amazonaws.com")
    assert remote.client("sts")._endpoint.http_session._proxy_config._proxies  # a real endpoint keeps the proxy
