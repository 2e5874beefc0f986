"""The project installs as a package: `pip install .` gives `wealist-cfn`.

The install test builds and installs the wheel into a new virtualenv
(pip's build isolation fetches setuptools from the configured index, as
`make build` fetches every dependency), with this project's own virtualenv
on its path for the runtime dependencies. It then runs the installed
command in a folder that holds the project's files but no source code, so
the paths can only come from the working directory and the package data.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from wealist_cfn import __version__
from wealist_cfn.core import settings

ROOT = Path(__file__).resolve().parents[1]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins[re.sub(r"\[.*\]", "", name).lower()] = version
    return pins


def test_the_packages_extras_pin_what_the_requirement_files_pin():
    """One version per package: `pip install .[dev]` and `make build` install the same."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"] == {"file": ["requirements.txt"]}
    dev = _pins(ROOT / "requirements-dev.txt")
    extras = project["project"]["optional-dependencies"]
    for spec in extras["local"] + [s for s in extras["dev"] if not s.startswith("wealist-cfn")]:
        name, _, version = spec.partition("==")
        name = re.sub(r"\[.*\]", "", name).lower()
        assert dev.get(name) == version, f"pyproject.toml pins {spec}, requirements-dev.txt {dev.get(name)}"
    listed = {re.sub(r"\[.*\]", "", s.partition("==")[0]).lower() for s in extras["local"] + extras["dev"]}
    runtime = set(_pins(ROOT / "requirements.txt"))
    assert set(dev) - runtime <= listed, f"not in an extra: {sorted(set(dev) - runtime - listed)}"


def test_the_project_folder_is_found_from_the_working_directory(tmp_path):
    project = tmp_path / "checkout"
    (project / "params").mkdir(parents=True)
    (project / "templates").mkdir()
    (project / "docs" / "deep").mkdir(parents=True)
    assert settings.find_project_dir(project / "docs" / "deep", environ={}) == project
    assert settings.find_project_dir(tmp_path, environ={}) == settings.PACKAGE_DIR.parent, (
        "outside any project, the checkout the package runs from"
    )
    explicit = tmp_path / "elsewhere"
    explicit.mkdir()
    assert settings.find_project_dir(project, environ={settings.PROJECT_DIR_ENV: str(explicit)}) == explicit


@pytest.mark.slow
@pytest.mark.timeout(300)  # a wheel build and an install into a new virtualenv
def test_pip_install_gives_a_working_wealist_cfn_command(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    purelib = subprocess.run(
        [str(venv / "bin" / "python"), "-c", where], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    # The runtime dependencies come from the project's own virtualenv.
    Path(purelib, "project-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", ".lint-cache", ".local", "node_modules", "__pycache__", "*.egg-info", "build"
        ),
    )
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "--no-deps", str(source)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert install.returncode == 0, install.stderr[-2000:]

    # A project folder without the source: params, templates, instance files.
    project = tmp_path / "project"
    for name in ("params", "templates", "instance-files"):
        shutil.copytree(ROOT / name, project / name)
    shutil.copy(ROOT / ".cfnlintrc.yaml", project)
    command = str(venv / "bin" / "wealist-cfn")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", settings.PROJECT_DIR_ENV)}

    version = subprocess.run([command, "--version"], cwd=project, capture_output=True, text=True, env=env, timeout=60)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith(f"wealist-cfn {__version__}, commit ")

    check = subprocess.run(
        [command, "build", "--check"], cwd=project / "params", capture_output=True, text=True, env=env, timeout=120
    )
    assert check.returncode == 0, check.stdout + check.stderr
    (project / "templates" / "network.yaml").write_text("stale\n")
    stale = subprocess.run([command, "--check"], cwd=project, capture_output=True, text=True, env=env, timeout=120)
    assert stale.returncode != 0 and "network.yaml" in stale.stdout + stale.stderr, (
        "the installed command must read the templates of the folder it runs in"
    )
    built = subprocess.run(
        [command, "--project-dir", str(project), "build", "--no-lint"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert (project / "templates" / "network.yaml").read_text().startswith("AWSTemplateFormatVersion"), (
        "--project-dir must point the build at that folder"
    )


def test_project_dir_is_taken_before_anything_is_imported(tmp_path, monkeypatch):
    from wealist_cfn.__main__ import _take_project_dir

    # Set, so that monkeypatch takes it away again after the test.
    monkeypatch.setenv(settings.PROJECT_DIR_ENV, "unset-by-the-test")
    rest = _take_project_dir(["deploy", "--project-dir", str(tmp_path), "--params", "p.json", "--", "--project-dir"])
    assert rest == ["deploy", "--params", "p.json", "--", "--project-dir"]
    assert os.environ[settings.PROJECT_DIR_ENV] == str(tmp_path)
    assert _take_project_dir([f"--project-dir={tmp_path}", "status"]) == ["status"]


@pytest.mark.parametrize("argv", [["--project-dir"], ["--project-dir", "/nonexistent/folder"]])
def test_a_project_dir_that_is_not_a_folder_is_one_line_and_exit_2(argv):
    result = subprocess.run(
        [sys.executable, "-m", "wealist_cfn", *argv, "--no-lint"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--project-dir" in result.stderr and "not a folder" in result.stderr
    assert result.stdout == "", "nothing is built"
