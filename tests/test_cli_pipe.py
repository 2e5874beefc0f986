"""A reader that closes the output pipe (`deploy ... | head`): the commands
that watch a stack operation say on stderr that only the watching stopped,
since CloudFormation runs the operation on its own. No AWS stand-in: the
command itself is replaced by one that meets the closed pipe."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

import pytest

from wealist_cfn import cli
from wealist_cfn.cli import daytwo as daytwo_cli
from wealist_cfn.cli import deploy as deploy_cli
from wealist_cfn.core.settings import PARAMS_DIR

PROD = str(PARAMS_DIR / "prod.json")


class _Out(io.StringIO):
    def fileno(self) -> int:
        return 1


def _closed_pipe(monkeypatch, module, name, *argv):
    def meets_closed_pipe(args):
        raise BrokenPipeError

    meets_closed_pipe.__name__, meets_closed_pipe.__module__ = name, module.__name__
    monkeypatch.setattr(module, name, meets_closed_pipe)
    # The handler points stdout at /dev/null; here there is no real pipe to replace.
    monkeypatch.setattr(cli.os, "dup2", lambda *a: None)
    err = io.StringIO()
    with redirect_stdout(_Out()), redirect_stderr(err):
        code = cli.main(list(argv))
    return code, err.getvalue()


@pytest.mark.parametrize(
    "module,name,argv,command",
    [
        (deploy_cli, "cmd_deploy", ("deploy", "--params", PROD, "--local"), "deploy"),
        (deploy_cli, "cmd_status", ("status", "--params", PROD, "--local"), "status"),
        (daytwo_cli, "cmd_destroy", ("destroy", "--params", PROD, "--local"), "destroy"),
    ],
)
def test_watching_stops_and_the_operation_goes_on(monkeypatch, module, name, argv, command):
    """It ended with exit 141 and nothing on stderr before: a user could
    take the stack operation for cancelled."""
    code, err = _closed_pipe(monkeypatch, module, name, *argv)
    assert code == cli.EXIT_SIGPIPE
    assert err.strip() == (
        f"{command}: output stopped (the reader closed the pipe); a stack operation already "
        "started goes on in AWS (closing the pipe does not cancel it); follow it with: "
        f"python build.py status --params {PROD} --local"
    )


def test_plan_and_other_commands_stay_quiet(monkeypatch):
    """plan starts no operation; `local status | head -1` stays quiet."""
    code, err = _closed_pipe(monkeypatch, deploy_cli, "cmd_deploy", "plan", "--params", PROD, "--local")
    assert code == cli.EXIT_SIGPIPE and err == ""
    from wealist_cfn.cli import local as local_cli

    code, err = _closed_pipe(monkeypatch, local_cli, "cmd_status", "local", "status")
    assert code == cli.EXIT_SIGPIPE and err == ""
