"""The standalone local endpoint process that ``python build.py local up``
starts: moto's server on 127.0.0.1 with the project's compatibility layer
(:func:`wealist_cfn.rehearsal.compat.compat`), the local change-set model
(:mod:`.changemodel`) and the local instance-refresh answer
(:mod:`.refresh`) installed for the life of the process, plus the strict
layer that :func:`install_strict` plugs in.

Run as ``python -m wealist_cfn.rehearsal.server --state-dir DIR [--port N]``.
When the socket is bound it writes ``DIR/endpoint.json`` (PID, port,
start time); a parent waits for that file. SIGTERM or SIGINT stops it and
removes the file. Everything the endpoint holds lives in this process's
memory and goes with it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from wealist_cfn.rehearsal.control import MODULE, RECORDED_PORT_FILE, STATE_FILE

_HELD: list = []


def install_strict() -> str | None:
    """The hook for the strict layer of documented AWS rules over moto
    (:mod:`wealist_cfn.rehearsal.strict`): when that module exists, its ``install()``
    is called once, before the first request, and held for the process's
    life (it may be a plain call or a context manager). Returns what was
    installed (for the log and ``local status``), None without it."""
    try:
        from wealist_cfn.rehearsal import strict  # type: ignore[attr-defined]
    except ImportError:
        return None
    install = getattr(strict, "install", None)
    if install is None:
        return None
    result = install()
    if hasattr(result, "__enter__"):
        _HELD.append(result)
        result.__enter__()
    return "strict"


def install_layers() -> list[str]:
    """Every layer this endpoint runs with, installed for the process's life."""
    from wealist_cfn.rehearsal import changemodel, refresh
    from wealist_cfn.rehearsal import compat as local

    # Held for the process's life: a context manager that is collected would
    # close its generator and take the patches off again.
    _HELD.append(local.compat())
    _HELD[-1].__enter__()
    installed = ["compat", changemodel.install(), refresh.install()]
    strict = install_strict()
    # Without the strict layer (which evaluates bucket policies itself, over
    # TLS), the TLS-only Deny is at least not misread as applying.
    installed.append(strict or secure_transport())
    return installed


def _insecure_deny(statement: dict) -> bool:
    cond = statement.get("Condition") or {}
    values = {
        str(v).lower()
        for op in ("Bool", "BoolIfExists")
        for k, v in (cond.get(op) or {}).items()
        if k.lower() == "aws:securetransport"
    }
    return statement.get("Effect") == "Deny" and values == {"false"}


def secure_transport() -> str:
    """Evaluate bucket policies as for a request over TLS.

    The endpoint speaks plain HTTP on loopback, standing in for the HTTPS
    every SDK and CLI uses against S3; moto evaluates ``aws:SecureTransport``
    as false, so the standard TLS-only Deny (``Bool aws:SecureTransport
    false``) would refuse every object call, which AWS never does over HTTPS
    (IAM User Guide, "AWS global condition context keys": aws:SecureTransport).
    Such statements are left out of moto's evaluation; the stored policy is
    unchanged. Installed only where the strict layer is not, which evaluates
    every statement itself with ``aws:SecureTransport`` true."""
    from moto.s3.models import FakeBucket

    original = FakeBucket.get_permission

    def get_permission(self, action, resource):
        if self.policy is None:
            return original(self, action, resource)
        saved = self.policy
        doc = json.loads(saved)
        kept = [s for s in doc.get("Statement", []) if not _insecure_deny(s)]
        if len(kept) == len(doc.get("Statement", [])):
            return original(self, action, resource)
        self.policy = json.dumps(dict(doc, Statement=kept)).encode() if kept else None
        try:
            return original(self, action, resource)
        finally:
            self.policy = saved

    FakeBucket.get_permission = get_permission
    return "tls-as-https"


RECORDING_FILE = "recording.jsonl"
# moto's IDs (stacks, change sets, VPCs ...) come from its seeded generator: the
# same seed and the same requests give the same IDs, which a replay needs.
SEED = 20240601


def _seed() -> None:
    from moto.moto_api._internal import mock_random

    mock_random.seed(SEED)


def record_fresh(recording: Path) -> int:
    """Start with nothing, and record every request from now on (the
    recording holds request bodies, local secrets included: owner-only)."""
    from moto.moto_api import recorder

    _seed()
    recording.unlink(missing_ok=True)
    recording.touch(mode=0o600)
    recorder.start_recording()
    return 0


def restore(recording: Path, url: str) -> int:
    """Replay the recording of the previous server, then go on recording."""
    from moto.moto_api import recorder

    _seed()
    count = sum(1 for _ in recording.open()) if recording.exists() else 0
    if count:
        recorder.stop_recording()
        recorder.replay_recording(target_host=url)
    else:
        recording.touch(mode=0o600)
    recorder.start_recording()
    return count


def _write_state(state_dir: Path, data: dict) -> None:
    tmp = state_dir / f".{STATE_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(data))
    os.replace(tmp, state_dir / STATE_FILE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--restore", action="store_true")
    args = parser.parse_args(argv)
    recording = args.state_dir / RECORDING_FILE
    # moto's recorder reads its file's path when moto is imported.
    os.environ["MOTO_RECORDER_FILEPATH"] = str(recording)
    os.environ.pop("MOTO_ENABLE_RECORDING", None)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The access log is kept (it is the log file's point); moto's warnings
    # about types without CloudFormation support are not.
    logging.getLogger("moto").setLevel(logging.ERROR)

    from moto.moto_server.threaded_moto_server import MotoRequestHandler
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    layers = install_layers()
    dispatcher = DomainDispatcherApplication(create_backend_app)
    one_at_a_time = threading.Lock()

    def app(environ, start_response):
        # Requests are handled one at a time, so the recording's order is the
        # order moto drew its IDs in, and a replay draws the same ones even
        # when a client sent requests at once (preflight's checks do).
        with one_at_a_time:
            return list(dispatcher(environ, start_response))

    # Loopback only: this endpoint accepts any credentials.
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_address[1]
    if not args.restore:
        # The recording names this port (TemplateURLs point at the endpoint):
        # `up --restore` listens on it again, so a replayed stack matches.
        (args.state_dir / RECORDED_PORT_FILE).write_text(str(port))

    def stop(signum, _frame):
        logging.info("signal %s: stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    url = f"http://localhost:{port}"
    replayed = restore(recording, url) if args.restore else record_fresh(recording)
    state = {
        "pid": os.getpid(),
        "port": port,
        "url": url,
        "started": time.time(),
        "layers": layers,
        "replayed": replayed,
    }
    _write_state(args.state_dir, state)
    logging.info(
        "local endpoint on 127.0.0.1:%s (PID %s), layers: %s; %s requests replayed",
        port,
        os.getpid(),
        ", ".join(layers),
        replayed,
    )
    try:
        while serving.is_alive():
            serving.join(0.5)
    finally:
        server.server_close()
        path = args.state_dir / STATE_FILE
        try:
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass
        logging.info("stopped; everything it held is gone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
