#!/usr/bin/env python3
"""Benchmark of the build, side by side in one run with what it replaces.
Not a test: it prints figures (medians of --runs rounds, interleaved so that
every contender sees the same machine load):

- plain cfn-lint over the same ten templates, run as the README documents it
  (from inside templates/, with the project's .cfnlintrc.yaml);
- `python build.py` with an empty lint cache (cold), with nothing changed,
  and with one child changed (a new Description in the network stack's
  code, so its template and the root are linted again);
- peak memory of the whole cold build: main process and lint workers,
  sampled from /proc every 20 ms in a cold run of its own;
- time from start to the build's first line of output;
- the AWS CDK: `cdk synth` of benchmarks/cdk (the same root, nested and
  standalone stacks), then cfn-lint over what it wrote; skipped with a note
  when node or the npm packages are missing (`npm ci` in benchmarks/cdk).

The builds run in a temporary copy of the project, so the repository's
templates and lint cache are left alone.

Usage: python benchmarks/build_bench.py [--runs N] [--no-cdk]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CDK_DIR = ROOT / "benchmarks" / "cdk"
VENV_BIN = Path(sys.executable).parent
COPIED = ("wealist_cfn", "templates", "params", "build.py", ".cfnlintrc.yaml")
CHANGED_MODULE = Path("wealist_cfn/stacks/network.py")
CHANGED_TEXT = "Wealist network: VPC, public and private subnets in each AZ, internet and NAT gateways."


def _tree(pid: int) -> list[int]:
    out = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for child in f.read().split():
                    out += _tree(int(child))
    except OSError:
        pass
    return out


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB summed over a process and its descendants. PSS
    counts a page shared by n processes (a forked worker's) as 1/n each."""
    rss = pss = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


class Run:
    def __init__(self, cmd: list[str], cwd: Path, env: dict, sample: bool = False):
        self.peak_rss = self.peak_pss = 0
        self.first_line = None
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if sample:
            import threading

            def watch():
                while proc.poll() is None:
                    rss, pss = _memory(proc.pid)
                    self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
                    time.sleep(0.02)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
        first = proc.stdout.readline()
        self.first_line = time.perf_counter() - start
        self.output = (first + proc.stdout.read()).decode(errors="replace")
        proc.wait()
        self.seconds = time.perf_counter() - start
        if sample:
            watcher.join()
        self.code = proc.returncode


def _check(run: Run, what: str, codes=(0,)) -> Run:
    if run.code not in codes:
        sys.exit(f"{what} exited {run.code}:\n{run.output[-2000:]}")
    return run


def _machine() -> str:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                      if line.startswith("model name")), "")
    except OSError:
        pass
    mem = ""
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1))
        mem = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, AttributeError):
        pass
    load = os.getloadavg()[0]
    return (f"{os.cpu_count()} cores ({model or platform.processor() or 'unknown CPU'}){mem}, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"load average {load:.1f} at start")


def _cdk_ready() -> str | None:
    """None when the CDK app can run, else why not."""
    if not shutil.which("node"):
        return "node is not installed"
    if not (CDK_DIR / "node_modules" / ".bin" / "cdk").exists():
        return f"run `npm ci` in {CDK_DIR.relative_to(ROOT)} first"
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-cdk", action="store_true", help="leave out the AWS CDK comparison")
    args = ap.parse_args()
    cdk_missing = "left out (--no-cdk)" if args.no_cdk else _cdk_ready()

    # The builds measure the cache, so CI's switch must not turn it off here.
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    cdk_env = {**env, "CDK_DISABLE_CLI_TELEMETRY": "true", "CDK_DISABLE_VERSION_CHECK": "true"}
    times: dict[str, list[float]] = {k: [] for k in (
        "cfn-lint", "cold", "unchanged", "child", "first-line", "cdk synth", "cdk lint")}
    peaks: list[tuple[int, int]] = []
    relinted = set()
    machine = _machine()

    with tempfile.TemporaryDirectory(prefix="wealist-bench-") as tmp:
        work = Path(tmp) / "project"
        work.mkdir()
        for name in COPIED:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, work / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(src, work / name)
        module = work / CHANGED_MODULE
        source = module.read_text()
        if CHANGED_TEXT not in source:
            sys.exit(f"{CHANGED_MODULE} no longer holds the description the benchmark changes")
        build = [sys.executable, "build.py", "--params", "params/prod.json"]
        # The README's way: from inside templates/, so children are followed.
        plain = [str(VENV_BIN / "cfn-lint"), "--config-file", "../.cfnlintrc.yaml",
                 *sorted(p.name for p in (work / "templates").glob("*.yaml"))]
        templates = sorted((work / "templates").glob("*.yaml"))
        cdk_out = Path(tmp) / "cdk.out"
        # Warm the file cache and compile the copy's bytecode once, unmeasured.
        _check(Run(build, work, env), "python build.py")

        for i in range(args.runs):
            times["cfn-lint"].append(_check(Run(plain, work / "templates", env), "cfn-lint").seconds)

            shutil.rmtree(work / ".lint-cache", ignore_errors=True)
            times["cold"].append(_check(Run(build, work, env), "cold python build.py").seconds)
            # Memory in a run of its own: sampling /proc costs CPU the timed run must not lose.
            shutil.rmtree(work / ".lint-cache", ignore_errors=True)
            cold = _check(Run(build, work, env, sample=True), "cold python build.py")
            peaks.append((cold.peak_rss, cold.peak_pss))

            unchanged = _check(Run(build, work, env), "python build.py, nothing changed")
            times["unchanged"].append(unchanged.seconds)
            times["first-line"].append(unchanged.first_line)
            if not re.search(r"^lint: 10 templates \(10 cached, 0 to lint", unchanged.output, re.M):
                sys.exit(f"nothing changed, yet not everything came from the cache:\n{unchanged.output}")

            module.write_text(source.replace(CHANGED_TEXT, f"{CHANGED_TEXT} Benchmark round {i + 1}."))
            child = _check(Run(build, work, env), "python build.py, one child changed")
            times["child"].append(child.seconds)
            relinted.add(re.search(r"^lint: .*$", child.output, re.M).group(0))

            if not cdk_missing:
                shutil.rmtree(cdk_out, ignore_errors=True)
                synth = _check(Run([str(CDK_DIR / "node_modules" / ".bin" / "cdk"), "synth", "--quiet",
                                    "--no-notices", "--no-version-reporting", "--output", str(cdk_out),
                                    "-c", f"templates={work / 'templates'}"], CDK_DIR, cdk_env), "cdk synth")
                times["cdk synth"].append(synth.seconds)
                # cfn-lint exits non-zero on findings; what it finds in CDK's
                # output is not the comparison, its running time is.
                cdk_templates = sorted(p.name for p in cdk_out.glob("*.template.json"))
                times["cdk lint"].append(_check(Run([str(VENV_BIN / "cfn-lint"), "--config-file",
                                                     str(work / ".cfnlintrc.yaml"), *cdk_templates],
                                                    cdk_out, env), "cfn-lint on cdk.out", codes=range(0, 32)).seconds)
        module.write_text(source)

    med = {k: statistics.median(v) for k, v in times.items() if v}
    base = med["cfn-lint"]
    peak_rss = max(r for r, _ in peaks) / 1024
    peak_pss = max(p for _, p in peaks) / 1024

    def line(label: str, key: str, goal: float | None = None) -> str:
        ratio = med[key] / base
        verdict = "" if goal is None else f"  (goal <= {goal:.2f}x: {'met' if ratio <= goal else 'NOT met'})"
        return f"{label:<44} {ratio:5.2f}x  {med[key]:6.2f} s{verdict}"

    print(f"machine: {machine}")
    print(f"templates: {len(templates)}; runs: {args.runs} (medians; all contenders interleaved in each round)")
    print(f"{'plain cfn-lint, from templates/ (= 1.00x)':<44} {1.0:5.2f}x  {base:6.2f} s")
    print(line("python build.py, cold (empty lint cache)", "cold", 0.8))
    print(line("python build.py, nothing changed", "unchanged", 0.25))
    print(line("python build.py, one child changed", "child", 0.6))
    print(f"  one child changed relinted: {'; '.join(sorted(relinted))}")
    print(f"first line of output, nothing changed: {1000 * med['first-line']:.0f} ms")
    print(f"peak memory of the cold build (main + workers, highest of {len(peaks)} runs): {peak_pss:.0f} MiB PSS, "
          f"{peak_rss:.0f} MiB RSS summed (goal <= 200 MiB PSS: {'met' if peak_pss <= 200 else 'NOT met'})")
    if cdk_missing:
        print(f"AWS CDK: {cdk_missing}")
    else:
        total = [s + lint for s, lint in zip(times["cdk synth"], times["cdk lint"])]
        print(f"{'AWS CDK: cdk synth + cfn-lint on cdk.out':<44} {statistics.median(total) / base:5.2f}x  "
              f"{statistics.median(total):6.2f} s (synth {med['cdk synth']:.2f} s, lint {med['cdk lint']:.2f} s)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (figures move with the load; compare the ratios)")


if __name__ == "__main__":
    main()
