"""The standalone local endpoint process that ``python build.py local up``
starts: moto's server on 127.0.0.1 with the project's compatibility layer
(:func:`wealist_cfn.deploy.local.compat`), the local change-set model
(:mod:`.changemodel`) and the local instance-refresh answer
(:mod:`.refresh`) installed for the life of the process, plus whatever
:func:`install_strict` plugs in.

Run as ``python -m wealist_cfn.localenv.server --state-dir DIR [--port N]``.
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

from .control import MODULE, STATE_FILE

_HELD: list = []


def install_strict() -> str | None:
    """Hook for the strict layer of documented AWS rules over moto: when
    :mod:`wealist_cfn.strict` exists and offers ``install()``, it is called
    once, before the first request. Returns what was installed (for the log)."""
    try:
        from .. import strict  # type: ignore[attr-defined]
    except ImportError:
        return None
    install = getattr(strict, "install", None)
    if install is None:
        return None
    install()
    return "wealist_cfn.strict"


def install_layers() -> list[str]:
    """Every layer this endpoint runs with, installed for the process's life."""
    from ..deploy import local
    from . import changemodel, refresh

    # Held for the process's life: a context manager that is collected would
    # close its generator and take the patches off again.
    _HELD.append(local.compat())
    _HELD[-1].__enter__()
    installed = ["compat", changemodel.install(), refresh.install(), secure_transport()]
    strict = install_strict()
    if strict:
        installed.append(strict)
    return installed


def _insecure_deny(statement: dict) -> bool:
    cond = statement.get("Condition") or {}
    values = {str(v).lower() for op in ("Bool", "BoolIfExists") for k, v in (cond.get(op) or {}).items()
              if k.lower() == "aws:securetransport"}
    return statement.get("Effect") == "Deny" and values == {"false"}


def secure_transport() -> str:
    """Evaluate bucket policies as for a request over TLS.

    The endpoint speaks plain HTTP on loopback, standing in for the HTTPS
    every SDK and CLI uses against S3; moto evaluates ``aws:SecureTransport``
    as false, so the standard TLS-only Deny (``Bool aws:SecureTransport
    false``) would refuse every object call, which AWS never does over HTTPS
    (IAM User Guide, "AWS global condition context keys": aws:SecureTransport).
    Such statements are left out of moto's evaluation; the stored policy is
    unchanged. The strict layer, when installed after this, may evaluate
    them itself."""
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


def _write_state(state_dir: Path, data: dict) -> None:
    tmp = state_dir / f".{STATE_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(data))
    os.replace(tmp, state_dir / STATE_FILE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The access log is kept (it is the log file's point); moto's warnings
    # about types without CloudFormation support are not.
    logging.getLogger("moto").setLevel(logging.ERROR)

    from moto.moto_server.threaded_moto_server import MotoRequestHandler
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    layers = install_layers()
    app = DomainDispatcherApplication(create_backend_app)
    # Loopback only: this endpoint accepts any credentials.
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_address[1]

    def stop(signum, _frame):
        logging.info("signal %s: stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    state = {"pid": os.getpid(), "port": port, "url": f"http://localhost:{port}", "started": time.time(),
             "layers": layers}
    _write_state(args.state_dir, state)
    logging.info("local endpoint on 127.0.0.1:%s (PID %s), layers: %s", port, os.getpid(), ", ".join(layers))
    try:
        server.serve_forever()
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
