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
    readers = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests").rglob("*.py")
        if re.search(r"""(environ|getenv)(\.get)?\W+["']CI["']""", p.read_text())
    ]
    assert readers == ["tests/ops/tools.py"]


# Every way a test can skip: pytest.skip(...), pytest.importorskip(...),
# @pytest.mark.skip / skipif, and pytest.xfail (a failure that passes).
SKIPS = re.compile(r"\b(importorskip|skip|skipif|xfail)\s*\(|mark\.(skip|skipif|xfail)\b")


def skips_outside_tools(root: Path) -> list[str]:
    """Lines under ``root`` that can skip a test without going through
    tools.missing (which fails under CI=true)."""
    found = []
    for p in sorted(root.rglob("*.py")):
        rel = p.relative_to(root).as_posix()
        if rel in ("ops/tools.py", "test_no_silent_skips.py"):
            continue
        for n, line in enumerate(p.read_text().splitlines(), 1):
            if SKIPS.search(line.split("#", 1)[0]):
                found.append(f"{rel}:{n}: {line.strip()}")
    return found


def test_no_test_skips_except_through_tools_missing():
    """A skip CI can hit is a check that silently does not run: an optional
    import, a version that is too old and a checker that is absent all go
    through tools.missing, which fails under CI=true."""
    assert skips_outside_tools(ROOT / "tests") == []


@pytest.mark.parametrize(
    "line",
    [
        'parliament = pytest.importorskip("parliament")',
        '    pytest.skip(f"PostgreSQL {major}: too old")',
        '@pytest.mark.skipif(sys.version_info < (3, 12), reason="old")',
        "@pytest.mark.skip",
        "pytest.xfail('flaky')",
    ],
)
def test_every_kind_of_skip_is_noticed(tmp_path, line):
    (tmp_path / "test_x.py").write_text(f"import pytest\n{line}\n")
    assert skips_outside_tools(tmp_path) == [f"test_x.py:2: {line.strip()}"]
