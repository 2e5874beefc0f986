"""Preflight benchmark against the local endpoint (moto's server in this process).

The account is first given what ``bootstrap`` makes (every parameter of its
table, the deploy bucket holding instance-files/), then the whole preflight
runs five times as ``build.py preflight`` does it: a fresh AWS session and
clients, the credential check, the templates read and resolved, the twelve
checks run at once. Prints each run, the median, API calls per run and the
sum of the checks' own times (what running them one after another would
cost). Target: median at most 3 s. Not a test: figures, no thresholds.

    .venv/bin/python benchmarks/preflight_bench.py
"""

from __future__ import annotations

import logging
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wealist_cfn import config  # noqa: E402
from wealist_cfn.aws import Aws  # noqa: E402
from wealist_cfn.cli import preflight as preflight_cli  # noqa: E402
from wealist_cfn.ops import bootstrap  # noqa: E402
from wealist_cfn.preflight import checks  # noqa: E402

PARAMS = ROOT / "params" / "prod.json"
RUNS = 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(aws: Aws, cfg: config.Config) -> int:
    """What bootstrap leaves behind, without its TLS-only bucket policy
    (moto's S3 reads every request as insecure; see FIELD-NOTES)."""
    ssm, s3 = aws.client("ssm"), aws.client("s3")
    prefix = bootstrap.parameter_prefix(cfg)
    for p in bootstrap.PARAMETERS:
        secure = p.kind == bootstrap.SECRET
        ssm.put_parameter(
            Name=f"{prefix}/{p.name}",
            Type="SecureString" if secure else "String",
            Value="bench-secret" if secure else p.value(cfg),
        )
    bucket = cfg.deploy_bucket_name(aws.account or aws.check_credentials())
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": cfg.region})
    files = bootstrap.local_files()
    for key, path in files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    return len(files)


def main() -> None:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://localhost:{port}"
    try:
        cfg = config.load(PARAMS)
        n_files = seed(Aws(cfg.region, endpoint_url=url, local_credentials=True), cfg)
        print(f"local endpoint {url}; seeded {len(bootstrap.PARAMETERS)} parameters and {n_files} instance files")
        times, calls, serial = [], [], []
        report = None
        for i in range(RUNS):
            start = time.perf_counter()
            aws = Aws(cfg.region, endpoint_url=url, local_credentials=True)
            report = preflight_cli.run_preflight(cfg, aws, stack_name=None)
            times.append(time.perf_counter() - start)
            calls.append(aws.total_calls())
            serial.append(sum(r.seconds for r in report.results))
            print(
                f"run {i + 1}: {times[-1]:.3f}s wall, {calls[-1]} API calls, checks' own times summed "
                f"{serial[-1]:.3f}s, {len(report.failed)} failed"
            )
        print(
            f"median of {RUNS}: {statistics.median(times):.3f}s (target <= 3 s); "
            f"median sum of check times {statistics.median(serial):.3f}s"
        )
        # The checks alone (templates resolved, clients made beforehand), at
        # once and one after another. moto answers in about a millisecond
        # from this process; against AWS each call waits on the network,
        # which is what running them at once hides.
        for label, workers in (("at once", None), ("one after another", 1)):
            runs = []
            for _ in range(RUNS):
                aws = Aws(cfg.region, endpoint_url=url, local_credentials=True)
                ctx = checks.make_context(cfg, aws)
                aws.check_credentials()
                start = time.perf_counter()
                checks.run(ctx, workers=workers)
                runs.append(time.perf_counter() - start)
            print(f"checks only, {label}: median {statistics.median(runs):.3f}s")
        slow = sorted(report.results, key=lambda r: -r.seconds)[:3]
        print("slowest checks (last run): " + ", ".join(f"{r.name} {r.seconds:.3f}s" for r in slow))
        for r in report.failed:
            print(f"failed on moto (last run): {r.name}: {r.finding}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
