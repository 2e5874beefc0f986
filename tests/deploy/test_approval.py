"""Approval at the deploy prompt, and destroy's confirmation, with the
answer missing as well as wrong: only an explicit yes executes or deletes.
No endpoint: the deploy side drives the CLI's decisions on a prepared
deployment (tests/helpers/nested_review.py's stand-in, no AWS call); the destroy side is
refused before any AWS call (the endpoint 127.0.0.1:9 answers nothing).
"""

from __future__ import annotations

import argparse
import io
from contextlib import redirect_stderr, redirect_stdout

import pytest

from helpers.deploy import run_cli
from helpers.nested_review import _FakeDeployment, _nested_review
from wealist_cfn.cli import deploy as cli
from wealist_cfn.errors import EXIT_REFUSED


class Tty(io.StringIO):
    def isatty(self):
        return True


def _at_a_terminal(monkeypatch, answer):
    rev = _nested_review()
    rev.callouts = [c for c in rev.callouts if c.level != "guarded"]
    dep = _FakeDeployment(rev)

    def reply(prompt):
        if isinstance(answer, type) and issubclass(answer, BaseException):
            raise answer
        return answer

    monkeypatch.setattr("builtins.input", reply)
    monkeypatch.setattr(cli.sys.stdin, "isatty", lambda: True, raising=False)
    out, err = Tty(), io.StringIO()
    args = argparse.Namespace(
        output="text",
        no_execute=False,
        yes=False,
        params="params/prod.json",
        accept_conditional=False,
        discard=False,
        no_wait_healthy=True,
        local=False,
    )
    with redirect_stdout(out), redirect_stderr(err):
        code = cli._deploy(args, dep)
    return code, dep, err.getvalue()


@pytest.mark.parametrize("answer", ["", "   ", EOFError, KeyboardInterrupt, "n", "no", "yess", "ye", "ok", "1"])
def test_anything_but_yes_at_the_prompt_executes_nothing(monkeypatch, answer):
    """Enter alone, Ctrl-D and Ctrl-C are answers missing; the rest are wrong."""
    code, dep, err = _at_a_terminal(monkeypatch, answer)
    assert code == EXIT_REFUSED and not dep.executed and dep.cleaned, err


@pytest.mark.parametrize("answer", ["y", "Y", "yes", " YES "])
def test_yes_at_the_prompt_executes(monkeypatch, answer):
    code, dep, err = _at_a_terminal(monkeypatch, answer)
    assert dep.executed and code == 0, err


BASE = (
    "destroy",
    "--stack-name",
    "wealist-rehearsal",
    "--region",
    "ap-northeast-2",
    "--endpoint-url",
    "http://127.0.0.1:9",
)


@pytest.mark.parametrize(
    "extra",
    [
        ("--yes",),
        ("--yes", "--confirm-stack", ""),
        ("--yes", "--confirm-stack", "wealist-rehearsa"),
        ("--yes", "--confirm-stack", "wealist-prod"),
    ],
)
def test_destroy_with_yes_needs_the_stack_name_confirmed_exactly(extra):
    """--yes with the confirmation missing, empty or wrong: refused (exit 3)
    before any AWS call, naming what is needed."""
    code, out, err = run_cli(*BASE, *extra)
    assert code == EXIT_REFUSED and "--yes needs --confirm-stack wealist-rehearsal" in err and out == ""
