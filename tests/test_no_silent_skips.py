"""Under `make test` (CI=true) a missing checker fails the run; elsewhere it
skips with the command that installs it. CI is read in one place. No endpoint."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from ops import tools

ROOT = Path(__file__).resolve().parents[1]


def test_make_test_runs_pytest_with_ci_set():
    out = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    pytest_lines = [line for line in out.splitlines() if "-m pytest" in line]
    assert pytest_lines and all(line.startswith("CI=true ") for line in pytest_lines), out


@pytest.mark.parametrize("value,fails", [("true", True), ("TRUE", True), ("", False), ("false", False)])
def test_a_missing_checker_fails_only_in_ci(monkeypatch, value, fails):
    monkeypatch.setenv("CI", value)
    expected = pytest.fail.Exception if fails else pytest.skip.Exception
    with pytest.raises(expected):
        tools.require("no-such-checker-wealist")


def test_ci_is_read_in_one_place_only():
    readers = [str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("*.py")
               if re.search(r"""(environ|getenv)(\.get)?\W+["']CI["']""", p.read_text())]
    assert readers == ["tests/ops/tools.py"]
