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
and the machine's load average beside them (they move with it). The stack
is made as a user makes it: ``bootstrap --local`` first (preflight stops a
deploy on an endpoint nothing was bootstrapped on).

    .venv/bin/python benchmarks/local_bench.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5


def run(env: dict, *args: str) -> float:
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "build.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return seconds


def median(env: dict, args: list[str], after: list[str] | None = None) -> tuple[float, list[float]]:
    times = []
    for _ in range(RUNS):
        times.append(run(env, *args))
        if after:
            run(env, *after)
    return statistics.median(times), times


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["WEALIST_CFN_LOCAL_DIR"] = str(Path(tmp) / "state")
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
            rows.append(("no-op deploy --local", 1.0,
                         *median(env, ["deploy", "--params", "params/prod.json", "--local", "--yes"])))
            rows.append(("plan --local of the multi-AZ switch", 1.5,
                         *median(env, ["plan", "--params", str(multiaz), "--local", "--discard"])))
        finally:
            subprocess.run([sys.executable, "build.py", "local", "down"], cwd=ROOT, env=env, capture_output=True)
    print(f"local endpoint benchmark, median of {RUNS} (load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores)")
    for name, goal, med, times in rows:
        verdict = "ok" if med <= goal else "OVER"
        print(f"  {name:<38} {med:5.2f}s  (goal {goal:g}s: {verdict}; runs "
              f"{', '.join(f'{t:.2f}' for t in times)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
