"""-q, -v, --debug and colour.

moto (the compat_endpoint fixture: with the strict layer, wealist_cfn/rehearsal/strict.py,
which evaluates bucket policies as IAM does over TLS, so the deploy bucket's
TLS-only policy does not refuse the plain-http local calls):
``bootstrap`` against moto's server generates the stack's secrets and
stores them as SecureString parameters (PutParameter); the test reads them
back (GetParameter WithDecryption) and proves that neither ``-v`` (one line
per call) nor ``--debug`` (botocore's wire log, redacted) ever shows one.
moto's SSM stores SecureString values and returns them decrypted as the
real service does (SSM API reference, GetParameter: "WithDecryption ...
Return decrypted values for secure string parameters").
"""

from __future__ import annotations

import io
import logging
import re

import boto3
import pytest

from helpers.deploy import REGION, run_cli
from wealist_cfn.aws import log as awslog
from wealist_cfn.cli import options as cliopts


def _secrets(endpoint: str) -> list[str]:
    ssm = boto3.client("ssm", region_name=REGION, endpoint_url=endpoint)
    values = []
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path="/", Recursive=True, WithDecryption=True):
        values += [p["Value"] for p in page["Parameters"] if p["Type"] == "SecureString"]
    return values


@pytest.mark.moto
@pytest.mark.parametrize("flag", ["-v", "--debug"])
def test_no_secret_value_ever_reaches_the_output(flag, compat_endpoint, settled_prod_params):
    moto_endpoint = compat_endpoint
    code, out, err = run_cli("bootstrap", "--params", settled_prod_params, "--endpoint-url", moto_endpoint, flag)
    assert code == 0, err
    secrets = _secrets(moto_endpoint)
    assert len(secrets) >= 4 and all(len(s) >= 16 for s in secrets)  # the passwords bootstrap generated
    for secret in secrets:
        assert secret not in out and secret not in err
    # Each AWS call on a line of its own, with its timing.
    calls = re.findall(r"^aws (\w+) (\w+): (\d{3})(?: \w+)? in (\d+\.\d{3})s", err, re.M)
    assert ("ssm", "PutParameter", "200") in {c[:3] for c in calls}
    assert ("sts", "GetCallerIdentity", "200") in {c[:3] for c in calls}
    if flag == "--debug":
        # botocore's wire log is there, and the PutParameter bodies in it are blanked.
        assert "Making request for OperationModel(name=PutParameter)" in err
        assert '"Value": "[redacted]"' in err
        assert "Signature=[redacted]" in err
    else:
        assert "Making request" not in err


@pytest.mark.moto
def test_without_v_no_call_is_shown(compat_endpoint, settled_prod_params):
    code, out, err = run_cli("bootstrap", "--params", settled_prod_params, "--endpoint-url", compat_endpoint)
    assert code == 0, err
    assert not re.search(r"^aws \w+ \w+:", out + err, re.M)


def test_the_redactor_blanks_every_form_a_wire_log_prints():
    """No AWS call: the text of botocore's DEBUG lines for a JSON (SSM), a
    query (STS, RDS) and an XML (ElastiCache) protocol request and response."""
    secret = "p@ss w/rd+'\"x"
    awslog.configure(verbose=True)
    try:
        awslog._remember(params={"Name": "/wealist/prod/db/pw", "Value": secret, "Overwrite": True})
        lines = [
            f'Making request with params: {{\'body\': b\'{{"Name": "/x", "Value": "{secret}"}}\'}}',
            'Response body: b\'{"Parameter": {"Name": "/x", "Type": "SecureString", "Value": "other-1"}}\'',
            "Request body: Action=ModifyDBInstance&MasterUserPassword=abc123%21&DBInstanceIdentifier=db",
            "Response body: <AuthToken>tok-value</AuthToken><Other>kept</Other>",
            "{'MasterUserPassword': 'hunter22', 'SecretString': b'zzz', 'DBInstanceIdentifier': 'db'}",
            # IAM Identity Center, as botocore logs a token refresh and a role's credentials (aws/aws-cli#5971).
            '\'body\': b\'{"grantType": "refresh_token", "clientSecret": "eyJraWQi", "refreshToken": "rt-1"}\'',
            'Response body: b\'{"roleCredentials":{"accessKeyId":"ASIA1","secretAccessKey":"sak-2",'
            '"sessionToken":"st-3","expiration":1}}\'',
            "headers={'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261207/ap-northeast-2/ssm/"
            "aws4_request, SignedHeaders=host, Signature=0123abcdef', 'X-Amz-Security-Token': b'FwoGZX...'}",
        ]
        record = logging.LogRecord("botocore.endpoint", logging.DEBUG, __file__, 1, "%s", ("\n".join(lines),), None)
        assert awslog.Redactor().filter(record)
        text = record.getMessage()
    finally:
        awslog.configure()
    for leaked in (
        secret,
        "other-1",
        "abc123",
        "tok-value",
        "hunter22",
        "zzz",
        "AKIAEXAMPLE",
        "0123abcdef",
        "FwoGZX",
        "eyJraWQi",
        "rt-1",
        "sak-2",
        "st-3",
    ):
        assert leaked not in text, leaked
    # What is no secret stays readable: names, identifiers, types.
    for kept in (
        '"Name": "/x"',
        "DBInstanceIdentifier=db",
        "<Other>kept</Other>",
        "'DBInstanceIdentifier': 'db'",
        '"Type": "SecureString"',
        '"grantType": "refresh_token"',
        '"accessKeyId":"ASIA1"',
    ):
        assert kept in text, kept


def test_quiet_verbose_and_debug_exclude_each_other(capsys):
    from wealist_cfn.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["plan", "--env", "prod", "-q", "-v"])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_the_shared_options_work_before_and_after_the_command(no_aws_client):
    """`build.py -v plan ...` and `build.py plan -v ...` mean the same: the
    parent parser's defaults are SUPPRESS, so the command's parser does not
    reset a flag given before it."""
    from wealist_cfn.cli import _parser

    parser = _parser()
    before = cliopts.fill_defaults(parser.parse_args(["-v", "--no-color", "plan", "--env", "dev"]))
    after = cliopts.fill_defaults(parser.parse_args(["plan", "--env", "dev", "-v", "--no-color"]))
    assert (
        (before.verbose, before.no_color, before.env)
        == (after.verbose, after.no_color, after.env)
        == (True, True, "dev")
    )
    plain = cliopts.fill_defaults(parser.parse_args(["plan", "--env", "dev"]))
    assert (plain.verbose, plain.quiet, plain.debug, plain.no_color) == (False, False, False, False)


class _Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    "tty, no_color_env, flag, expected",
    [
        (True, None, False, True),
        (False, None, False, False),  # a log or a pipe: never
        (True, "1", False, False),  # NO_COLOR set to anything non-empty (no-color.org)
        (True, "", False, True),  # NO_COLOR empty does not count
        (True, None, True, False),  # --no-color
    ],
)
def test_colour_only_on_a_terminal_and_never_with_no_color(tty, no_color_env, flag, expected, monkeypatch):
    import argparse

    if no_color_env is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color_env)
    assert cliopts.color_enabled(argparse.Namespace(no_color=flag), _Stream(tty)) is expected


@pytest.mark.moto
def test_quiet_deploy_prints_the_result_only():
    """moto, one-shot in this process: a first create with -q --yes prints
    the final state and the outputs on stdout and nothing else anywhere
    (no endpoint line, no preflight, no review, no events, no health note)."""
    code, out, err = run_cli("deploy", "--env", "dev", "--local-oneshot", "--yes", "-q")
    assert code == 0, err
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == "final state: CREATE_COMPLETE"
    assert len(lines) > 5 and all(line.startswith("output ") for line in lines[1:])


@pytest.mark.moto
def test_quiet_plan_prints_the_review_and_where_the_change_set_is():
    code, out, err = run_cli("plan", "--env", "dev", "--local-oneshot", "-q")
    assert code == 0, err
    assert err == ""
    assert out.startswith("Change set deploy-")  # the review is a plan's result
    assert "change set deploy-" in out and "left for review (not executed)" in out
    assert "local endpoint:" not in out and "preflight" not in out
