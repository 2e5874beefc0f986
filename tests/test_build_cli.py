"""`build.py` as a newcomer and a terminal see it: a Python without the
dependencies, and the live lint line on a terminal against plain lines in a
log. Real subprocesses, real cfn-lint; no AWS endpoint involved."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import time

import pytest

from wealist_cfn.core.settings import ROOT_DIR

SUMMARY = re.compile(r"built 11 templates \(\d+ resources\) in [\d.]+s; lint [\d.]+s; 0 findings")


@pytest.mark.parametrize(
    "args, shown",
    [
        ([], "`.venv/bin/python build.py`"),
        (["deploy", "--stack-name", "wealist prod"], "`.venv/bin/python build.py deploy --stack-name 'wealist prod'`"),
    ],
)
def test_build_py_without_dependencies_says_what_to_run(args, shown):
    """-I -S: no site-packages, no user site, no PYTHON* variables; the
    interpreter a newcomer has before `make build`."""
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "build.py", *args], cwd=ROOT_DIR, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == f"dependencies missing: run `make build`, then {shown}\n"


def _run_in_terminal(args: list[str], timeout: float = 300) -> str:
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "build.py", *args], cwd=ROOT_DIR, stdin=child, stdout=child, stderr=child, close_fds=True
    )
    os.close(child)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=max(1, deadline - time.monotonic()))
    os.close(main)
    assert proc.returncode == 0
    return b"".join(chunks).decode()


@pytest.mark.slow
def test_a_terminal_gets_a_live_lint_line_and_the_same_summary():
    out = _run_in_terminal(["--no-cache", "--params", "params/prod.json"])
    assert re.search(r"lint: 11 templates \(0 cached, 11 to lint, \d workers; cache off: --no-cache\)", out)
    # Redrawn in place while linting, then cleared.
    frames = re.findall(r"\r\x1b\[Klint     \[[#.]{24}\] (\d+)/11 ", out)
    assert frames and frames[-1] != "0"
    assert [int(n) for n in frames] == sorted(int(n) for n in frames)
    assert frames[-1] == "11"
    # What the terminal shows last: the live line was erased before it.
    last = out.replace("\r\n", "\n").split("\n")[-2].split("\r\x1b[K")[-1]
    assert SUMMARY.fullmatch(last), repr(last)


@pytest.mark.slow
def test_a_log_gets_plain_lines():
    proc = subprocess.run(
        [sys.executable, "build.py", "--no-cache", "--params", "params/prod.json"],
        cwd=ROOT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "\x1b" not in proc.stdout and "\r" not in proc.stdout
    lines = proc.stdout.splitlines()
    linted = [line for line in lines if re.fullmatch(r"lint     templates/\S+\.yaml: 0 findings \([\d.]+s\)", line)]
    assert len(linted) == 11
    plan = lines.index(next(line for line in lines if line.startswith("lint: 11 templates (0 cached, 11 to lint")))
    assert lines.index(linted[0]) > plan > max(i for i, line in enumerate(lines) if line.startswith("template "))
    assert SUMMARY.fullmatch(lines[-1])


def test_each_command_is_registered_by_the_module_command_of_names():
    """No AWS: COMMAND_OF, which picks the one module a command line
    imports, names for every command the module that registers it, and
    every module's commands are in it."""
    import argparse
    import importlib

    from wealist_cfn import cli

    registered = {}
    for name in cli.COMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(name).register(sub)
        registered.update(dict.fromkeys(sub.choices, name))
    assert cli.COMMAND_OF == registered


@pytest.mark.parametrize(
    "argv, module",
    [
        (["local", "up"], "wealist_cfn.cli.local"),
        (["--params", "params/prod.json", "deploy", "--local"], "wealist_cfn.cli.deploy"),  # after a build option
        (["destroy", "--params", "params/dev.json"], "wealist_cfn.cli.daytwo"),
        (["--help"], None),
        (["nonsense"], None),
    ],
)
def test_a_command_line_imports_its_module_alone(argv, module):
    """No AWS: the module a command line needs; None (every module) for
    --help and for words that are not commands, so the parser can list
    them all."""
    from wealist_cfn import cli

    assert cli._command_module(argv) == module


def test_local_status_does_not_import_the_deploy_engine():
    """A fresh interpreter parsing `local status` imports neither the
    deploy command module nor the day-two one."""
    import subprocess
    import sys

    code = (
        "import sys; from wealist_cfn import cli; cli._parser(only=cli._command_module(['local', 'status']))"
        ".parse_args(['local', 'status']); print(sorted(m for m in ('wealist_cfn.cli.deploy', "
        "'wealist_cfn.cli.daytwo', 'wealist_cfn.cli.ops') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT_DIR).stdout
    assert out.strip() == "[]"
