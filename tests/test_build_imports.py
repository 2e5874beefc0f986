"""What a plain build loads: neither boto3 nor moto, and cfn-lint only when
something is linted. Each build runs in a fresh interpreter (``sys.modules``
starts empty) in a copy of the project, so the repository's templates and
lint cache are left alone. No endpoint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from wealist_cfn.core.settings import ROOT_DIR

COPIED = ("wealist_cfn", "templates", "params", "build.py", ".cfnlintrc.yaml")
HEAVY = ("boto3", "botocore", "moto", "cfnlint")

# Runs build.py's main in-process and reports the top-level packages loaded.
# With "prefill", it first stores a clean lint result for every committed
# template under its true key (what an earlier full build leaves behind),
# so the build that follows has nothing to lint.
SCRIPT = """
import contextlib, io, json, sys
sys.path.insert(0, ".")
if sys.argv[1] == "prefill":
    from pathlib import Path
    from wealist_cfn.lint import buildjob
    from wealist_cfn import lint
    cache = lint.LintCache()
    for path in sorted(Path("templates").glob("*.yaml")):
        cache.put(path, cache.key(path), [])
    buildjob._write_stamp(cache.directory)
from wealist_cfn import cli
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = cli.main(sys.argv[2:])
print(json.dumps({"code": code, "output": out.getvalue(), "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    work = tmp_path_factory.mktemp("imports") / "project"
    work.mkdir()
    for name in COPIED:
        src = ROOT_DIR / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, work / name)
    return work


def _count(project) -> int:
    return len(list((project / "templates").glob("*.yaml")))


def _build(project, *args: str, prefill: bool = False) -> dict:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(project)}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, "prefill" if prefill else "-", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["code"] == 0, result["output"]
    return result


def test_no_lint_build_loads_neither_boto3_nor_moto_nor_cfn_lint(project):
    result = _build(project, "--no-lint")
    assert f"built {_count(project)} templates" in result["output"]
    assert {"troposphere", "wealist_cfn"} <= set(result["modules"])  # it did build
    assert [m for m in HEAVY if m in result["modules"]] == []


def test_build_with_nothing_to_lint_loads_no_cfn_lint(project):
    result = _build(project, "--params", "params/prod.json", prefill=True)
    n = _count(project)
    assert f"lint: {n} templates ({n} cached, 0 to lint" in result["output"]
    assert [m for m in HEAVY if m in result["modules"]] == []
