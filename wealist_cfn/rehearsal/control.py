"""Start, find, describe and stop the background local endpoint.

The endpoint is one process (:mod:`.server`) per project folder. Its PID
file (``endpoint.json``), log (``endpoint.log``) and request recording
(``recording.jsonl``, which ``up --restore`` replays) live in ``.local/`` at
the project root (git-ignored; ``WEALIST_CFN_LOCAL_DIR`` moves it, which the
tests use). Only a process whose command line runs :mod:`.server` with this
folder is ever signalled.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from wealist_cfn.core.settings import PACKAGE_DIR, ROOT_DIR
from wealist_cfn.errors import EXIT_FAILED, CommandError

STATE_FILE = "endpoint.json"
LOG_FILE = "endpoint.log"
RECORDED_PORT_FILE = "recorded-port"  # the port the recording was made on
# Seen in /proc/<pid>/cmdline: ``local down`` signals only a process that runs this module.
MODULE = "wealist_cfn.rehearsal.server"
REGION = "ap-northeast-2"  # only for the status listing; commands use their params file's region


def state_dir() -> Path:
    return Path(os.environ.get("WEALIST_CFN_LOCAL_DIR") or ROOT_DIR / ".local").resolve()


@dataclass
class Endpoint:
    pid: int
    port: int
    url: str
    started: float
    layers: list[str] = field(default_factory=list)
    replayed: int = 0  # requests replayed from the previous endpoint's recording (up --restore)

    @property
    def uptime(self) -> float:
        return max(0.0, time.time() - self.started)


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _is_ours(pid: int, folder: Path) -> bool:
    """The PID runs this project's server for this folder (not a recycled PID)."""
    args = _cmdline(pid)
    return MODULE in args and str(folder) in args


def running(folder: Path | None = None) -> Endpoint | None:
    """The endpoint this folder's PID file names, if that process still runs it."""
    folder = folder or state_dir()
    try:
        data = json.loads((folder / STATE_FILE).read_text())
        ep = Endpoint(
            int(data["pid"]),
            int(data["port"]),
            str(data["url"]),
            float(data["started"]),
            list(data.get("layers", [])),
            int(data.get("replayed", 0)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return ep if _is_ours(ep.pid, folder) else None


def up(port: int = 0, *, restore: bool = False, timeout: float = 120.0) -> tuple[Endpoint, bool]:
    """Start the endpoint unless it runs; ``(endpoint, started_now)``."""
    folder = state_dir()
    ep = running(folder)
    if ep:
        return ep, False
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STATE_FILE).unlink(missing_ok=True)  # stale: its process is gone
    if restore and not port:
        port = _recorded_port(folder)
    log_path = folder / LOG_FILE
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                MODULE,
                "--state-dir",
                str(folder),
                "--port",
                str(port),
                *(["--restore"] if restore else []),
            ],
            cwd=ROOT_DIR,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env=dict(
                os.environ,
                PYTHONPATH=os.pathsep.join(filter(None, [str(PACKAGE_DIR.parent), os.environ.get("PYTHONPATH")])),
            ),
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ep = running(folder)
        if ep and ep.pid == proc.pid:
            return ep, True
        if proc.poll() is not None:
            raise CommandError(
                f"the local endpoint exited at start (code {proc.returncode}); see {log_path}", EXIT_FAILED
            )
        time.sleep(0.05)
    _stop(proc.pid, folder)
    raise CommandError(f"the local endpoint was not ready after {timeout:.0f}s; see {log_path}", EXIT_FAILED)


def _recorded_port(folder: Path) -> int:
    """The port the recording was made on (0: none known). Its requests name
    it (a nested stack's TemplateURL is http://localhost:PORT/...), so a
    restore listens there again, or the restored stack differs from the
    templates by that address alone."""
    try:
        port = int((folder / RECORDED_PORT_FILE).read_text())
    except (OSError, ValueError):
        return 0
    with socket.socket() as probe:
        # As the server binds (SO_REUSEADDR): the last endpoint's closed
        # connections may still wait out TIME_WAIT on that port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise CommandError(
                f"port {port}, which the recorded requests name, is in use: free it and run "
                f"`python build.py local up --restore` again",
                EXIT_FAILED,
            ) from None
    return port


def _stop(pid: int, folder: Path, timeout: float = 10.0) -> None:
    if not _is_ours(pid, folder):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.05)
    if _is_ours(pid, folder):
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        # Reap it if it is our child (the tests start it in-process); harmless otherwise.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    try:
        return state.read_text().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return False


def down() -> Endpoint | None:
    """Stop the endpoint by its PID; the one stopped, or None when none ran."""
    folder = state_dir()
    ep = running(folder)
    if ep:
        _stop(ep.pid, folder)
    (folder / STATE_FILE).unlink(missing_ok=True)
    return ep


# Public parameters AWS publishes for everyone (Systems Manager user guide,
# "Discovering public parameters"); not the endpoint's holdings.
PUBLIC_PARAMETER_PREFIX = "/aws/service/"


@dataclass
class Holdings:
    stacks: list[dict]  # {"name", "status", "parameters": {key: value}}
    ssm: list[dict]  # {"name", "type"}; never a value


def holdings(ep: Endpoint, region: str = REGION) -> Holdings:
    """The root stacks (with their parameters) and the Parameter Store names
    the endpoint holds in ``region``."""
    from wealist_cfn.aws import Aws

    aws = Aws(region, endpoint_url=ep.url, local_credentials=True)
    found = [s for page in aws.cfn.get_paginator("describe_stacks").paginate() for s in page["Stacks"]]
    # moto sets no ParentId: a nested stack is named <root>-<LogicalId>-<suffix>.
    names = {s["StackName"] for s in found}
    stacks = [
        {
            "name": s["StackName"],
            "status": s["StackStatus"],
            "parameters": {p["ParameterKey"]: p.get("ParameterValue", "") for p in s.get("Parameters", [])},
        }
        for s in found
        if not s.get("ParentId") and not any(s["StackName"].startswith(n + "-") for n in names if n != s["StackName"])
    ]
    ssm = []
    for page in aws.client("ssm").get_paginator("describe_parameters").paginate():
        # moto lists AWS's public parameters (/aws/service/ami-...) as the
        # account's own; DescribeParameters on AWS lists only the account's.
        ssm += [
            {"name": p["Name"], "type": p["Type"]}
            for p in page["Parameters"]
            if not p["Name"].startswith(PUBLIC_PARAMETER_PREFIX)
        ]
    return Holdings(stacks, sorted(ssm, key=lambda p: p["name"]))
