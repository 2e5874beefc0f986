"""Boot benchmark: how long a backend instance's cold boot takes, step by
step, as far as this machine can measure it, and the rest as named
assumptions; the sum against the backend group's health check grace period.

What runs: the boot rehearsal of tests/ops/test_boot_rehearsal.py, that is
the UserData as CloudFormation renders it and the startup script it fetches,
end to end: the real AWS CLI against moto's server (with the strict layer),
a real PostgreSQL for the database init, the Docker stand-in (``run`` runs
psql on the host; ``pull`` downloads nothing), dnf and systemctl recorders.
Each command the scripts run through the rehearsal's stand-ins (aws, docker,
dnf, systemctl, curl, python3) is timed by a wrapper; a step's figure is the
median over the runs of the time its commands took; "the scripts' own work"
is the rest of the boot (shell, the CloudWatch agent stand-in).

What cannot be measured here is written below as assumptions with their
sizes and the bandwidth they are divided by (ASSUMPTIONS): dnf installs,
the Compose download, image pulls of realistic sizes, launch to UserData,
the services' start and the target health checks. Change a size there when
a real image is known; the sum follows.

Figures only, never a test: they move with the machine's load (printed).

    .venv/bin/python benchmarks/boot_bench.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# -- What this machine cannot measure ----------------------------------------------------------

# t3.medium (BackendInstanceType's default): baseline network bandwidth
# 0.256 Gbps, bursting to 5 Gbps (EC2 User Guide, "Amazon EC2 instance
# network bandwidth" and the general purpose instances' network
# specifications table). The baseline is the figure used: a burst is not
# promised to a fresh instance.
NETWORK_MB_S = 0.256e9 / 8 / 1e6  # 32 MB/s
# gp3 root volume (the launch template's): baseline 125 MiB/s throughput
# (EBS User Guide, "General Purpose SSD volumes", gp3). Layers are written
# uncompressed.
DISK_MB_S = 125 * 1.048576  # 131 MB/s
# Compressed -> uncompressed size of an image layer: about 2.5x for these
# Alpine- and Debian-based images (assumption: gzip on binaries and text).
UNPACK = 2.5

# (step, megabytes over the network, megabytes written unpacked, fixed seconds, basis)
ASSUMPTIONS = (
    ("launch to UserData start (cloud-init)", 0, 0, 30.0, "assumption: Amazon Linux 2023 on a t3.medium"),
    (
        "dnf install docker (docker, containerd, runc; repo metadata)",
        75 + 30,
        0,
        15.0,
        "assumption: 75 MB of packages, 30 MB of metadata, 15 s rpm transaction",
    ),
    (
        "dnf install amazon-cloudwatch-agent",
        100,
        0,
        5.0,
        "assumption: 100 MB package (metadata cached), 5 s rpm transaction",
    ),
    ("Compose plugin download (GitHub release)", 70, 0, 1.0, "assumption: 70 MB binary, checksum 1 s"),
    ("pull postgres:17-alpine (db-init's psql)", 110, 110 * UNPACK, 0.0, "assumption: 110 MB compressed (ECR Public)"),
    (
        "pull user-service and board-service",
        2 * 250,
        2 * 250 * UNPACK,
        0.0,
        "assumption: 250 MB compressed each (ECR in the region)",
    ),
    ("pull node-exporter", 12, 12 * UNPACK, 0.0, "assumption: 12 MB compressed"),
    (
        "services start and answer",
        0,
        0,
        60.0,
        "upper bound: the compose health checks' start_period (docker-compose.prod.yml)",
    ),
    ("two passing target health checks", 0, 0, 30.0, "15 s interval x healthy threshold 2 (stacks/loadbalancer.py)"),
)


def assumed_seconds(network_mb: float, disk_mb: float, fixed: float) -> float:
    return network_mb / NETWORK_MB_S + disk_mb / DISK_MB_S + fixed


# -- Measured: the rehearsal's steps -----------------------------------------------------------

# Step of a recorded command: the first rule whose words start the command.
STEPS = (
    ("dnf installs (recorders here: no download)", ("dnf",)),
    ("systemctl", ("systemctl",)),
    ("IMDS (instance ID)", ("curl",)),
    ("S3 downloads (UserData: boot files; startup: config/)", ("aws", "s3")),
    ("Parameter Store reads", ("aws", "ssm")),
    ("STS and the ECR login", ("aws", "sts")),
    ("STS and the ECR login", ("aws", "ecr")),
    ("Parameter rendering (render.py)", ("python3",)),
    ("database init: two db-init runs against PostgreSQL", ("docker", "run")),
    ("Docker: info, login, pull, compose (stand-in)", ("docker",)),
    ("other aws calls", ("aws",)),
)
WRAPPED = ("aws", "docker", "dnf", "systemctl", "curl", "python3")


def step_of(command: str) -> str:
    words = command.split()
    for name, prefix in STEPS:
        if tuple(words[: len(prefix)]) == prefix:
            return name
    return "other"


def wrappers(directory: Path, real_bin: Path, times: Path) -> None:
    directory.mkdir(parents=True)
    for name in WRAPPED:
        path = directory / name
        path.write_text(f"""#!/bin/bash
start=$(date +%s.%N)
"{real_bin}/{name}" "$@"
rc=$?
printf '%s %s {name} %s\\n' "$start" "$(date +%s.%N)" "$*" >>"{times}"
exit $rc
""")
        path.chmod(0o755)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(prod_cfg, target, postgres) -> None:
    """What the rehearsal's ``account`` fixture writes: bootstrap's
    parameters and bucket, the endpoints the stacks publish, the RDS
    master's password, released image tags and the log groups."""
    import boto3

    from tests.ops import test_boot_rehearsal as rehearsal
    from wealist_cfn.ops import bootstrap

    bootstrap.run(prod_cfg, target)
    ssm = boto3.client("ssm", region_name=target.region, endpoint_url=target.endpoint_url)
    published = {
        "db/postgres_host": postgres.socket_dir,
        "db/postgres_port": str(postgres.port),
        "redis/host": "redis.wealist.internal",
        "redis/port": "6379",
    }
    for name, value in published.items():
        ssm.put_parameter(Name=f"{rehearsal.PREFIX}/{name}", Value=value, Type="String", Overwrite=True)
    for svc in ("user_service", "board_service"):
        ssm.put_parameter(
            Name=f"{rehearsal.PREFIX}/deploy/{svc}_image_tag", Value=f"{svc[:4]}1234", Type="String", Overwrite=True
        )
    logs = boto3.client("logs", region_name=target.region, endpoint_url=target.endpoint_url)
    for name in rehearsal._log_groups().values():
        logs.create_log_group(logGroupName=name)
    values = rehearsal._values(target)
    master_pw = values["db/postgres_superuser_password"].replace("'", "''")
    postgres.query(f"ALTER ROLE {values['db/postgres_superuser']} PASSWORD '{master_pw}'")


def one_boot(target, workdir: Path) -> tuple[float, dict[str, float]]:
    from tests.ops import test_boot_rehearsal as rehearsal

    times = workdir / "times.log"
    wrap = workdir / "wrap"
    wrappers(wrap, workdir / "bin", times)
    start = time.perf_counter()
    rc, log, _, _ = rehearsal._boot(workdir, target, PATH=f"{wrap}:{workdir / 'bin'}:/usr/bin:/bin")
    total = time.perf_counter() - start
    if rc != 0:
        raise SystemExit(f"the rehearsal's boot failed ({rc}):\n{log[-3000:]}")
    steps: dict[str, float] = defaultdict(float)
    for line in times.read_text().splitlines():
        began, ended, command = line.split(" ", 2)
        steps[step_of(command)] += float(ended) - float(began)
    # The rest of the boot. A pipe (aws ecr get-login-password | docker
    # login) runs two timed commands at once, so the steps can overlap and
    # add up to a little more than the whole; the rest is then 0.
    steps["the scripts' own work (shell, agent stand-in)"] = max(0.0, total - sum(steps.values()))
    return total, dict(steps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from moto.server import ThreadedMotoServer

    from tests.ops import postgres as pg
    from wealist_cfn import config
    from wealist_cfn.aws import Aws
    from wealist_cfn.core.settings import PARAMS_DIR
    from wealist_cfn.rehearsal import strict
    from wealist_cfn.stacks.compute import BACKEND_GRACE_SECONDS

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    pg_server, stop_pg = pg.start(master="wealist_admin", dbname="wealist")
    totals, runs = [], []
    try:
        with strict.install():
            prod_cfg = config.load(PARAMS_DIR / "prod.json")
            target = Aws(region=prod_cfg.region, endpoint_url=f"http://localhost:{port}")
            seed(prod_cfg, target, pg_server)
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory(prefix="wealist-boot-bench-") as tmp:
                    total, steps = one_boot(target, Path(tmp))
                totals.append(total)
                runs.append(steps)
    finally:
        stop_pg()
        server.stop()

    print(
        f"boot rehearsal, backend, {args.runs} runs on this machine (load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}); median seconds per step:"
    )
    names = sorted({n for r in runs for n in r}, key=lambda n: -statistics.median(r.get(n, 0.0) for r in runs))
    measured = 0.0
    for name in names:
        value = statistics.median(r.get(name, 0.0) for r in runs)
        measured += value
        print(f"  {value:7.1f}  {name}")
    print(
        f"  {statistics.median(totals):7.1f}  measured: the whole rehearsal boot (median of "
        f"{', '.join(f'{t:.1f}' for t in totals)})"
    )
    print(
        f"\nnot measurable here (network {NETWORK_MB_S:.0f} MB/s, t3.medium baseline; disk {DISK_MB_S:.0f} MB/s, "
        f"gp3 baseline; layers x{UNPACK} unpacked):"
    )
    assumed = 0.0
    for step, net, disk, fixed, basis in ASSUMPTIONS:
        seconds = assumed_seconds(net, disk, fixed)
        assumed += seconds
        print(f"  {seconds:7.1f}  {step} ({basis})")
    cold = statistics.median(totals) + assumed
    grace = BACKEND_GRACE_SECONDS
    print(
        f"\ncold boot: {statistics.median(totals):.1f} s measured + {assumed:.1f} s assumed = {cold:.0f} s; "
        f"grace period {grace} s: headroom {grace - cold:.0f} s ({(grace - cold) / cold:.0%} of the boot)"
    )
    print(
        json.dumps(
            {
                "measured_s": round(statistics.median(totals), 1),
                "assumed_s": round(assumed, 1),
                "cold_boot_s": round(cold),
                "grace_s": grace,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
