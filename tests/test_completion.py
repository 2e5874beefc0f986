"""``build.py completion bash|zsh``: the generated script, run by bash
itself with COMP_WORDS / COMP_CWORD as bash sets them for a Tab press. No
AWS involved."""

from __future__ import annotations

import subprocess
import sys

import pytest
from ops.tools import require

from wealist_cfn.core.settings import ROOT_DIR


@pytest.fixture(scope="module")
def script(tmp_path_factory) -> str:
    require("bash")  # fails under CI=true, like every checker the suite needs
    proc = subprocess.run(
        [sys.executable, "build.py", "completion", "bash"],
        cwd=ROOT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    path = tmp_path_factory.mktemp("completion") / "build.bash"
    path.write_text(proc.stdout)
    return str(path)


def _complete(script: str, *words: str) -> list[str]:
    """What Tab offers after ``words`` (the last one is the word being completed)."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = (
        f"source '{script}'; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; "
        "_wealist_build_py; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    proc = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        cwd=ROOT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [line for line in proc.stdout.splitlines() if line]


def test_commands_complete(script):
    assert _complete(script, "build.py", "de") == ["deploy", "destroy"]
    assert {"plan", "status", "completion", "local", "--env", "--check"} <= set(_complete(script, "build.py", ""))


def test_flags_of_the_command_complete(script):
    assert _complete(script, "./build.py", "deploy", "--no-r") == ["--no-rollback-triggers", "--no-rollback"]
    flags = _complete(script, "build.py", "plan", "--")
    assert {"--env", "--params", "--parameter", "--quiet", "--verbose", "--debug", "--no-color", "--discard"} <= set(
        flags
    )
    assert "--yes" not in flags  # deploy's, not plan's


def test_python_build_py_completes_too(script):
    assert _complete(script, ".venv/bin/python", "build.py", "sta") == ["status"]
    # Another script than build.py: left alone (file names).
    assert "status" not in _complete(script, "python", "other.py", "sta")


def test_values_complete(script):
    assert _complete(script, "build.py", "deploy", "--output", "") == ["text", "json", "markdown"]
    assert _complete(script, "build.py", "deploy", "--env", "") == ["dev", "prod"]
    assert "BackendMinSize=" in _complete(script, "build.py", "plan", "--parameter", "Backend")
    assert _complete(script, "build.py", "local", "")[:3] == ["up", "status", "down"]
    assert _complete(script, "build.py", "completion", "")[:2] == ["bash", "zsh"]


def test_zsh_script_loads_bash_completion_first():
    proc = subprocess.run(
        [sys.executable, "build.py", "completion", "zsh"],
        cwd=ROOT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert proc.stdout.startswith("autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n")
    assert "complete -F _wealist_build_py build.py" in proc.stdout
