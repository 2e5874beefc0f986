#!/usr/bin/env python3
"""Benchmark of the main job: prints the wall time of building the templates
alone, of linting them (one process and in parallel), and of the whole
`python build.py` as a user runs it. Not a test: it prints figures.

Usage: python benchmarks/build_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wealist_cfn import lint, synth  # noqa: E402
from wealist_cfn.settings import TEMPLATES_DIR  # noqa: E402

# Measured on a 2-core machine of the same kind (see the README): an
# equivalent AWS CDK app (root + 7 nested stacks) and cfn-lint on its output.
CDK_SYNTH_S, CDK_LINT_S = 3.7, 2.4


def _median(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    paths = sorted(TEMPLATES_DIR.glob("*.yaml"))

    # Import and first build pay for module loading; report both.
    start = time.perf_counter()
    synth.synthesize()
    first = time.perf_counter() - start
    synth_med, synth_min = _median(synth.synthesize, max(args.runs, 20))
    cold = []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from wealist_cfn import synth; synth.synthesize()"], cwd=ROOT,
                       check=True)
        cold.append(time.perf_counter() - start)
    lint1, _ = _median(lambda: lint.lint(paths, workers=1), args.runs)
    lint2, _ = _median(lambda: lint.lint(paths, workers=os.cpu_count()), args.runs)
    whole = []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "build.py"], cwd=ROOT, check=True, capture_output=True)
        whole.append(time.perf_counter() - start)
    resources = sum(r.resource_count for r in synth.synthesize())

    print(f"templates: {len(paths)} ({resources} resources), cores: {os.cpu_count()}, runs: {args.runs}")
    print(f"synth, in process (median of {max(args.runs, 20)}): {synth_med:.3f} s (min {synth_min:.3f} s, "
          f"first build {first:.3f} s)")
    print(f"synth, new process incl. imports (median): {statistics.median(cold):.3f} s")
    print(f"cfn-lint, 1 process (median): {lint1:.2f} s")
    print(f"cfn-lint, {os.cpu_count()} processes (median): {lint2:.2f} s")
    print(f"python build.py, build + validate + lint (median): {statistics.median(whole):.2f} s "
          f"(min {min(whole):.2f} s)")
    print(f"reference, cdk synth + cfn-lint on the same machine kind: {CDK_SYNTH_S + CDK_LINT_S:.1f} s")


if __name__ == "__main__":
    main()
