"""`bootstrap --rotate` against AWS: asked for on a terminal, refused
without one unless --yes, before any AWS client exists. No stand-in: the
refusal comes first (a client made at all fails the test)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

import botocore.session
import pytest

from wealist_cfn.cli import main
from wealist_cfn.core.settings import PARAMS_DIR
from wealist_cfn.errors import EXIT_REFUSED

PROD = str(PARAMS_DIR / "prod.json")


@pytest.fixture
def no_client(monkeypatch):
    def refuse(self, service_name, *a, **kw):
        raise AssertionError(f"an AWS client ({service_name}) was made before the rotation was confirmed")

    monkeypatch.setattr(botocore.session.Session, "create_client", refuse)


def _run(*argv, stdin_tty=False, answer=""):
    import sys

    out, err = io.StringIO(), io.StringIO()
    stdin = io.StringIO(answer + "\n")
    stdin.isatty = lambda: stdin_tty
    real = sys.stdin, sys.stdout.isatty
    sys.stdin = stdin
    try:
        with redirect_stdout(out), redirect_stderr(err):
            out.isatty = lambda: stdin_tty
            code = main(list(argv))
    finally:
        sys.stdin = real[0]
    return code, out.getvalue(), err.getvalue()


def test_rotation_without_a_terminal_is_refused_and_names_yes(no_client):
    code, _, err = _run("bootstrap", "--params", PROD, "--rotate", "db/user_db_password")
    assert code == EXIT_REFUSED
    assert err.strip() == (
        "error: refusing to rotate db/user_db_password of wealist-prod without a terminal to "
        "ask on: add --yes once you have read what must restart after it"
    )


def test_a_no_at_the_prompt_rotates_nothing(no_client):
    code, out, err = _run("bootstrap", "--params", PROD, "--rotate", "db/user_db_password", stdin_tty=True, answer="n")
    assert code == EXIT_REFUSED and "Rotate db/user_db_password of wealist-prod?" in out
    assert "not rotated: db/user_db_password keep their values" in err


def test_dry_run_needs_no_confirmation(monkeypatch):
    """A dry run rotates nothing: it goes on to the AWS calls (stopped here
    at the first client, which is what this test looks for)."""
    made = []

    def record(self, service_name, *a, **kw):
        made.append(service_name)
        raise RuntimeError("stop")

    monkeypatch.setattr(botocore.session.Session, "create_client", record)
    code, _, err = _run("bootstrap", "--params", PROD, "--rotate", "db/user_db_password", "--dry-run")
    assert made and code != EXIT_REFUSED and "refusing" not in err


def _run_raising(exc, *argv):
    """The prompt ends in ``exc`` (Ctrl-C raises KeyboardInterrupt inside
    input(), a closed stdin EOFError)."""
    import builtins
    import sys

    out, err = io.StringIO(), io.StringIO()
    real_input, real_stdin = builtins.input, sys.stdin

    def raising(prompt=""):
        raise exc

    stdin = io.StringIO()
    stdin.isatty = lambda: True
    builtins.input, sys.stdin = raising, stdin
    try:
        with redirect_stdout(out), redirect_stderr(err):
            out.isatty = lambda: True
            code = main(list(argv))
    finally:
        builtins.input, sys.stdin = real_input, real_stdin
    return code, err.getvalue()


def test_ctrl_c_at_the_prompt_says_nothing_was_rotated(no_client):
    """It exited 130 silently before."""
    code, err = _run_raising(KeyboardInterrupt, "bootstrap", "--params", PROD, "--rotate", "db/user_db_password")
    assert code == 130
    assert err.strip() == (
        "interrupted at the prompt: not rotated, db/user_db_password keep their values; nothing "
        "was read or changed in AWS"
    )


def test_end_of_input_at_the_prompt_is_a_no(no_client):
    """It reached the generic handler before ('unexpected EOFError')."""
    code, err = _run_raising(EOFError, "bootstrap", "--params", PROD, "--rotate", "db/user_db_password")
    assert code == EXIT_REFUSED and "unexpected" not in err
    assert err.strip() == (
        "no answer (end of input): not rotated, db/user_db_password keep their values; nothing "
        "was read or changed in AWS"
    )


@pytest.mark.moto
def test_an_endpoint_that_declares_nothing_is_asked_as_aws_is(no_client, undeclared_endpoint):
    """A plain moto server (no capability answer: an unknown endpoint,
    wealist_cfn/aws/target.py) may be AWS behind a proxy: the rotation is
    refused without a terminal, before any client. Any --endpoint-url let
    it through before."""
    code, _, err = _run(
        "bootstrap", "--params", PROD, "--rotate", "db/user_db_password", "--endpoint-url", undeclared_endpoint
    )
    assert code == EXIT_REFUSED and "refusing to rotate db/user_db_password" in err


@pytest.mark.moto
def test_the_rehearsal_rotates_without_asking(moto_endpoint, monkeypatch):
    """moto answering the rehearsal's capability document (holds_real_secrets
    false, tests/conftest.py moto_server): nothing real is rotated, so
    nothing is asked; the run goes on to its AWS calls (stopped at the
    first client here)."""
    made = []

    def record(self, service_name, *a, **kw):
        made.append(service_name)
        raise RuntimeError("stop")

    monkeypatch.setattr(botocore.session.Session, "create_client", record)
    code, _, err = _run(
        "bootstrap", "--params", PROD, "--rotate", "db/user_db_password", "--endpoint-url", moto_endpoint
    )
    assert made and code != EXIT_REFUSED and "refusing" not in err
