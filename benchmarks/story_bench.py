"""Story benchmark: the whole production story of tests/iamtrace/test_story.py
on the local endpoint (one moto server, every job a real CLI command or
workflow step, every call recorded), and the trace check over it in both
modes, timed from one pytest run.

Prints the story's wall time (its ten steps, the endpoint's start and stop
included) against the goal of 60 s on this 2-core machine, the check's
time beside it, and the load average (the figures move with it). Not a
test: figures only.

    .venv/bin/python benchmarks/story_bench.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 60.0


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        start = time.perf_counter()
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--junitxml={report}",
                "-k",
                "not test_13 and not test_14",
                "tests/iamtrace/test_story.py",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        wall = time.perf_counter() - start
        if r.returncode != 0:
            print(r.stdout[-2000:] + r.stderr[-2000:], file=sys.stderr)
            return 1
        cases = ET.parse(report).getroot().iter("testcase")
        times = {c.get("name"): float(c.get("time")) for c in cases}
    story = sum(t for name, t in times.items() if name.startswith(("test_0", "test_10")))
    check = sum(t for name, t in times.items() if name.startswith(("test_11", "test_12")))
    load = os.getloadavg()[0]
    verdict = "within" if story < GOAL else "OVER"
    print(f"story (10 steps on the local endpoint): {story:.1f} s, goal < {GOAL:.0f} s: {verdict}")
    print(f"trace check over it, both modes:         {check:.1f} s")
    print(f"pytest run in all:                       {wall:.1f} s (load average {load:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
