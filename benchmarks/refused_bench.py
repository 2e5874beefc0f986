"""How long a command takes to say that the local endpoint is not running.

``build.py status --params params/prod.json --endpoint-url URL`` with
nothing listening at URL (a port bound and closed again), inside this
process, for ``127.0.0.1`` and ``localhost``: with the connect probe of
:meth:`wealist_cfn.aws.Aws._probe_local` ("after") and with the probe
switched off, which is what the command did before it ("before": botocore's
standard retries on the refused connection). Dummy credentials, so the
credential check is not what fails. Prints each run and the medians. Not a
test: figures, no thresholds.

    .venv/bin/python benchmarks/refused_bench.py
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wealist_cfn import aws, cli  # noqa: E402

RUNS = 3


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(url: str) -> tuple[float, int, str]:
    err = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(["status", "--params", str(ROOT / "params" / "prod.json"), "--endpoint-url", url])
    return time.perf_counter() - started, code, err.getvalue().strip().splitlines()[-1]


def main() -> None:
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    probe = aws.Aws._probe_local
    for label, patched in (("before", lambda self: setattr(self, "_probed", True)), ("after", probe)):
        aws.Aws._probe_local = patched
        times = []
        for host in ("127.0.0.1", "localhost") * RUNS:
            seconds, code, line = _run(f"http://{host}:{_closed_port()}")
            times.append(seconds)
            print(f"{label:6} {host:9} exit {code} {seconds:6.2f}s  {line[:80]}")
        print(f"{label:6} median {statistics.median(times):.2f}s over {len(times)} runs")
    aws.Aws._probe_local = probe


if __name__ == "__main__":
    main()
