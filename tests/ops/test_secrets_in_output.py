"""No command prints any part of a generated secret.

Stand-in: moto's server (SSM Parameter Store, S3, and CloudFormation with
the local compat patches deploy --local uses). moto stores SecureString
values as given and decrypts them on request, as Parameter Store does
(GetParametersByPath with WithDecryption,
https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParametersByPath.html);
it does not encrypt them with KMS, which no assertion here relies on.

Every secret bootstrap generates is read back, and the output of every
command run against that environment (bootstrap, a rotation, plan, deploy,
package) is searched for every 6-character piece of every secret:
a secret shortened, masked in the middle or split over lines is caught as
well as a whole one. (A chance match of 6 letters and digits is about one
in 10^10 per pair of pieces.)
"""

from __future__ import annotations

import io
import logging
from contextlib import redirect_stderr, redirect_stdout

import boto3
import pytest

from helpers.secrets import (
    PIECE,
    _leaks,
    _pieces,
)
from wealist_cfn import cli
from wealist_cfn.ops.bootstrap import SECRET_NAMES
from wealist_cfn.rehearsal import compat as local

from .tools import ROOT

pytestmark = pytest.mark.moto

PARAMS = ROOT / "params" / "prod.json"


def _secrets(endpoint: str) -> list[str]:
    ssm = boto3.client("ssm", region_name="ap-northeast-2", endpoint_url=endpoint)
    values = []
    for page in ssm.get_paginator("get_parameters_by_path").paginate(
        Path="/wealist/prod/", Recursive=True, WithDecryption=True
    ):
        # By what bootstrap made them, not by their type: a secret stored as
        # a plain String is still a secret.
        values += [p["Value"] for p in page["Parameters"] if p["Name"].removeprefix("/wealist/prod/") in SECRET_NAMES]
    return values


def test_no_output_holds_a_piece_of_a_secret(moto_endpoint, local_s3_over_http, caplog):
    caplog.set_level(logging.DEBUG, logger="wealist_cfn")
    outputs: list[tuple[str, int, str]] = []

    def run(*argv):
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = cli.main([str(a) for a in argv])
        outputs.append((" ".join(map(str, argv[:1] + argv[-2:])), code, out.getvalue() + err.getvalue()))
        return code

    ep = ("--endpoint-url", moto_endpoint)
    assert run("bootstrap", "--params", PARAMS, *ep) == 0
    first = _secrets(moto_endpoint)
    assert len(first) == 5  # master password, Redis token, Grafana password, one per service
    assert run("bootstrap", "--params", PARAMS, "--dry-run", *ep) == 0
    assert run("bootstrap", "--params", PARAMS, "--rotate", "db/postgres_superuser_password", *ep) == 0
    deploy = ("--stack-name", "wealist-prod", "--params", PARAMS, *ep)
    with local.compat():
        for fmt in ("text", "json", "markdown"):
            assert run("plan", *deploy, "--output", fmt, "--discard") == 0
        assert run("deploy", *deploy, "--yes") == 0
        # The plan of the deployed stack must succeed: a failed one prints
        # less than the output this test claims to search.
        assert run("plan", *deploy, "--output", "json", "--discard") == 0, outputs[-1]
        assert run("package", "--params", PARAMS, *ep) == 0
    every = first + _secrets(moto_endpoint)
    assert len(set(every)) == 6  # the rotated one is new
    pieces = _pieces(every)
    for what, code, text in outputs + [("log", 0, caplog.text)]:
        assert text.strip() or what == "log", what
        assert not _leaks(text, pieces), f"{what} printed part of a secret"
    # The check can fail: a secret's piece in the output is found.
    assert _leaks(f"x{every[0][3 : 3 + PIECE]}y", pieces)
