"""Errors that say what to do next: missing credentials, an expired token,
a local endpoint that is not running. One error line, then the steps.

What the real services and SDK do, which these stand-ins follow:
- botocore raises NoCredentialsError ("Unable to locate credentials") when
  its credential chain finds nothing, before any request is sent.
- An expired session token: HTTP 403 ``ExpiredToken`` ("The security token
  included in the request is expired") from STS and most services; STS also
  models ``ExpiredTokenException`` (botocore reference, STS client
  exceptions, ExpiredTokenException: "The web identity token that was
  passed is expired or is not valid").
- An expired IAM Identity Center session: botocore's TokenRetrievalError,
  "Error when retrieving token from sso: Token has expired and refresh
  failed" (boto/boto3#4119, aws/aws-cli#7692); `aws sso login --profile X`
  renews it.
- Nothing listening on a local port: the connect is refused at once; boto3
  retries EndpointConnectionError / ConnectionError in every retry mode
  (boto3 guide, "Retries": "General socket/connection errors"), with
  exponential backoff, up to 8 attempts in all (total_max_attempts, aws.py).
"""

from __future__ import annotations

import socket

import botocore.client
import botocore.exceptions
import pytest
from botocore.stub import Stubber

from helpers.deploy import run_cli
from wealist_cfn.aws import Aws


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
@pytest.mark.parametrize("command", ["status", "plan", "bootstrap", "drift"])
def test_a_refused_local_endpoint_fails_at_once_and_names_local_up(host, command, monkeypatch, prod_params):
    """A closed port on this machine: no API call is even attempted (so no
    retries), one line says the local endpoint is not running and how to
    start it."""
    sent: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(self, operation_name, api_params):
        sent.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    url = f"http://{host}:{_closed_port()}"
    argv = [command, "--params", prod_params, "--endpoint-url", url]
    if command == "plan":
        argv.append("--skip-preflight")
    code, _, err = run_cli(*argv)
    assert code == 1
    assert err.splitlines()[-1] == (
        f"error: nothing answers at {url} (connection refused): the local endpoint is "
        f"not running; start it with `python build.py local up` and use --local"
    )
    assert sent == []


def test_a_refused_remote_endpoint_keeps_its_own_message():
    """A host that is not this machine may be a network problem worth
    botocore's retries: the probe leaves it alone."""
    from wealist_cfn.aws import describe_error

    failure = describe_error(botocore.exceptions.EndpointConnectionError(endpoint_url="https://example.com/"))
    assert failure.message == 'cannot reach the endpoint: Could not connect to the endpoint URL: "https://example.com/"'


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    """No keys in the environment, and a config file with one profile that has none."""
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
    ):
        monkeypatch.delenv(var, raising=False)
    cfg = tmp_path / "config"
    cfg.write_text("[profile ops]\nregion = ap-northeast-2\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(cfg))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return cfg


@pytest.mark.parametrize(
    "how, argv, env, named",
    [
        ("flag", ["--profile", "ops"], None, "profile ops (--profile)"),
        ("environment", [], "ops", "profile ops (AWS_PROFILE)"),
    ],
)
def test_missing_credentials_name_the_profile_and_the_ways_in(
    how, argv, env, named, no_credentials, monkeypatch, settled_prod_params
):
    """botocore's own credential chain, no request sent: the profile exists
    and holds no credentials."""
    if env:
        monkeypatch.setenv("AWS_PROFILE", env)
    code, _, err = run_cli("status", "--params", settled_prod_params, *argv)
    assert code == 2
    assert err.splitlines() == [
        f"error: AWS credentials: Unable to locate credentials; looked with {named}",
        "  IAM Identity Center (SSO): aws sso login --profile ops",
        "  access keys: aws configure --profile ops",
        "  no AWS at all: python build.py local up, then add --local to this command",
    ]


@pytest.mark.stubbed
def test_an_expired_sso_session_says_sign_in_then_status(monkeypatch, no_credentials, settled_prod_params):
    """Stand-in: GetCallerIdentity raises TokenRetrievalError, as botocore's
    SSO token provider does when the cached token expired and cannot be
    refreshed."""

    def client(self, service):
        raise botocore.exceptions.TokenRetrievalError(provider="sso", error_msg="Token has expired and refresh failed")

    monkeypatch.setattr(Aws, "client", client)
    monkeypatch.setenv("AWS_PROFILE", "ops")
    code, _, err = run_cli("status", "--params", settled_prod_params)
    assert code == 2
    assert err.splitlines() == [
        "error: AWS credentials expired: Error when retrieving token from sso: Token has expired and refresh failed",
        "  sign in again: aws sso login --profile ops (with profile ops (AWS_PROFILE)), or export fresh keys",
        f"  then look whether an operation of an earlier command still runs: python build.py status --params "
        f"{settled_prod_params}",
    ]


@pytest.mark.stubbed
@pytest.mark.parametrize("code_", ["ExpiredToken", "ExpiredTokenException"])
def test_a_token_that_expires_mid_command_says_sign_in_then_status(code_, monkeypatch, settled_prod_params):
    """Stubber: STS accepts the credentials, then the first CloudFormation
    call answers 400 ExpiredToken (the session ran out between the two).
    `outputs` turns that error into a line of its own (daytwo/tree.py); the
    expired token under it still decides the message."""
    original = Aws.client

    def client(self, service):
        if service not in self._clients:
            c = original(self, service)
            stub = Stubber(c)
            if service == "sts":
                stub.add_response(
                    "get_caller_identity",
                    {"UserId": "AIDA", "Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/ops"},
                )
            else:
                stub.add_client_error(
                    "describe_stacks",
                    service_error_code=code_,
                    service_message="The security token included in the request is expired",
                    http_status_code=400,
                )
            stub.activate()
        return self._clients[service]

    monkeypatch.setattr(Aws, "client", client)
    code, _, err = run_cli("outputs", "--params", settled_prod_params)
    lines = err.splitlines()
    assert code == 2, err
    assert lines[0] == (
        f"error: AWS credentials rejected ({code_}): The security token included in the request is expired"
    )
    assert lines[-1] == (
        f"  then look whether an operation of an earlier command still runs: python build.py status "
        f"--params {settled_prod_params}"
    )
