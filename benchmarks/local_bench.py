"""Local endpoint benchmark: the commands a user types, as a user types them.

Prints the median of 5 runs (wall time of the whole ``python build.py``
command, interpreter start included) of:

* ``local up`` until it returns with the endpoint ready (each run is
  followed by ``local down``);
* a no-op ``deploy --local --yes`` against a running endpoint that already
  holds wealist-prod from params/prod.json;
* ``plan --local --discard`` of the multi-AZ switch (params/prod.json with
  EnableMultiAZ=true) on that stack.

Goals on a 2-core machine: 1.5 s, 1 s and 1.5 s. Not a test: figures only,
and the machine's load average beside them (they move with it), with the
CPU seconds the command itself used (user + system), which move less with
the load than the wall time does. The commands run with Python's bytecode
cache on, as a user's Python has it: an environment that sets
PYTHONDONTWRITEBYTECODE would time the compiling of every module on every
run, which no user pays. The stack
is made as a user makes it: ``bootstrap --local`` first (preflight stops a
deploy on an endpoint nothing was bootstrapped on).

    .venv/bin/python benchmarks/local_bench.py
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5


def run(env: dict, *args: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command's own process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "build.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median(env: dict, args: list[str], after: list[str] | None = None) -> tuple[float, float, list[float]]:
    times, cpu = [], []
    for _ in range(RUNS):
        wall, used = run(env, *args)
        times.append(wall)
        cpu.append(used)
        if after:
            run(env, *after)
    return statistics.median(times), statistics.median(cpu), times


def main() -> int:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["WEALIST_CFN_LOCAL_DIR"] = str(Path(tmp) / "state")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        run(env, "--help")  # the bytecode cache, written once
        multiaz = Path(tmp) / "prod-multiaz.json"
        data = json.loads((ROOT / "params" / "prod.json").read_text())
        for entry in data:
            if entry["ParameterKey"] == "EnableMultiAZ":
                entry["ParameterValue"] = "true"
        multiaz.write_text(json.dumps(data, indent=2))
        rows = []
        try:
            rows.append(("local up to ready", 1.5, *median(env, ["local", "up"], after=["local", "down"])))
            run(env, "local", "up")
            run(env, "bootstrap", "--params", "params/prod.json", "--local")
            run(env, "deploy", "--params", "params/prod.json", "--local", "--yes")
            rows.append(
                (
                    "no-op deploy --local",
                    1.0,
                    *median(env, ["deploy", "--params", "params/prod.json", "--local", "--yes"]),
                )
            )
            rows.append(
                (
                    "plan --local of the multi-AZ switch",
                    1.5,
                    *median(env, ["plan", "--params", str(multiaz), "--local", "--discard"]),
                )
            )
        finally:
            subprocess.run([sys.executable, "build.py", "local", "down"], cwd=ROOT, env=env, capture_output=True)
    print(
        f"local endpoint benchmark, median of {RUNS} (load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores)"
    )
    for name, goal, med, cpu, times in rows:
        verdict = "ok" if med <= goal else "OVER"
        print(
            f"  {name:<38} {med:5.2f}s  (goal {goal:g}s: {verdict}; CPU {cpu:.2f}s; runs "
            f"{', '.join(f'{t:.2f}' for t in times)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
