"""Fixtures for the local-endpoint tests: a state folder of the test's own
(``WEALIST_CFN_LOCAL_DIR``), the CLI run as a user runs it, and a running
endpoint that is always stopped afterwards."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "build.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def port_is_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:port (connections the server closed may
    still sit in TIME_WAIT, which SO_REUSEADDR lets a new listener ignore)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return False


@pytest.fixture
def local_env(tmp_path) -> dict:
    """The environment of a user's shell with a state folder of this test's
    own; whatever endpoint the test starts in it is stopped at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env["WEALIST_CFN_LOCAL_DIR"] = str(tmp_path / "state")
    yield env
    state = tmp_path / "state" / "endpoint.json"
    if state.exists():
        run_cli("local", "down", env=env)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """One endpoint for the module, with wealist-prod created on it from params/prod.json."""
    folder = tmp_path_factory.mktemp("local")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env["WEALIST_CFN_LOCAL_DIR"] = str(folder / "state")
    up = run_cli("local", "up", env=env)
    assert up.returncode == 0, up.stderr
    try:
        # As a user does: preflight stops a deploy on an endpoint nothing was bootstrapped on.
        boot = run_cli("bootstrap", "--params", "params/prod.json", "--local", env=env)
        assert boot.returncode == 0, boot.stdout + boot.stderr
        first = run_cli("deploy", "--params", "params/prod.json", "--local", "--yes", env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        yield env, folder
    finally:
        run_cli("local", "down", env=env)


def params_with(folder: Path, **values: str) -> Path:
    """A copy of params/prod.json with some values changed (or added)."""
    data = json.loads((ROOT / "params" / "prod.json").read_text())
    for entry in data:
        if entry["ParameterKey"] in values:
            entry["ParameterValue"] = values[entry["ParameterKey"]]
    given = {e["ParameterKey"] for e in data}
    data += [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items() if k not in given]
    name = "-".join(f"{k}-{v}" for k, v in values.items()).replace("/", "_").replace(".", "_")
    path = folder / f"prod-{name}.json"
    path.write_text(json.dumps(data, indent=2))
    return path
