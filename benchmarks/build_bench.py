#!/usr/bin/env python3
"""Benchmark of the build, side by side in one run with what it replaces.
Not a test: it prints figures (medians, minima and maxima of --runs rounds,
every contender once per round, so that all see the same machine load).

The four pairs of issue 24, each with its goal:

1. `python build.py --no-lint` (nothing changed) against `cdk synth` of the
   same stacks (benchmarks/cdk, the AWS CDK app);
2. `python build.py` with nothing changed against plain cfn-lint over the
   same templates, run as the README documents it (from inside templates/,
   with the project's .cfnlintrc.yaml);
3. `python build.py --no-cache` (lints and emits everything) against
   `cdk synth` followed by cfn-lint over what it wrote;
4. `python build.py` after one child changed (a new Description in the
   network stack's code, so its template and the root are linted again)
   against plain cfn-lint;

and beside them: `--no-lint --no-cache` (synthesis with nothing cached),
peak memory of the cold build (main process and lint workers, sampled from
/proc every 20 ms in a run of its own), the time to the first line of
output, and the machine's load. Every count (templates, what was linted) is
read from the build's own output, never written here.

The builds run in a temporary copy of the project, so the repository's
templates and caches are left alone. Without node or the CDK app's packages
(`make bench` installs them) the CDK pairs are left out with a note.

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
        model = next(
            (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), ""
        )
    except OSError:
        pass
    mem = ""
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1))
        mem = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, AttributeError):
        pass
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores ({model or platform.processor() or 'unknown CPU'}){mem}, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"load average {load:.1f} at start"
    )


def _cdk_ready() -> str | None:
    """None when the CDK app can run, else why not."""
    if not shutil.which("node"):
        return "node is not installed"
    if not (CDK_DIR / "node_modules" / ".bin" / "cdk").exists():
        return f"run `npm ci` in {CDK_DIR.relative_to(ROOT)} first"
    return None


GOALS = {"synth": 0.15, "unchanged": 0.12, "cold": 0.45, "child": 0.45}
PSS_GOAL_MIB = 160


def _built(run: Run) -> int:
    found = re.search(r"^built (\d+) templates", run.output, re.M)
    if not found:
        sys.exit(f"no summary line in the build's output:\n{run.output[-2000:]}")
    return int(found.group(1))


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):6.2f} s (min {min(values):.2f}, max {max(values):.2f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-cdk", action="store_true", help="leave out the AWS CDK comparison")
    args = ap.parse_args()
    cdk_missing = "left out (--no-cdk)" if args.no_cdk else _cdk_ready()

    # The builds measure the caches, so CI's switch must not turn them off here.
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    cdk_env = {**env, "CDK_DISABLE_CLI_TELEMETRY": "true", "CDK_DISABLE_VERSION_CHECK": "true"}
    times: dict[str, list[float]] = {
        k: []
        for k in (
            "cfn-lint",
            "cold",
            "unchanged",
            "child",
            "no-lint",
            "no-lint cold",
            "first-line",
            "cdk synth",
            "cdk lint",
        )
    }
    peaks: list[tuple[int, int]] = []
    loads: list[float] = []
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
        cdk_out = Path(tmp) / "cdk.out"
        # Warm the file cache, compile the copy's bytecode and fill the
        # caches once, unmeasured.
        count = _built(_check(Run(build, work, env), "python build.py"))
        templates = sorted(p.name for p in (work / "templates").glob("*.yaml"))
        if len(templates) != count:
            sys.exit(f"the build reports {count} templates, templates/ holds {len(templates)}")
        # The README's way: from inside templates/, so children are followed.
        plain = [str(VENV_BIN / "cfn-lint"), "--config-file", "../.cfnlintrc.yaml", *templates]

        for i in range(args.runs):
            loads.append(os.getloadavg()[0])
            times["cfn-lint"].append(_check(Run(plain, work / "templates", env), "cfn-lint").seconds)

            times["cold"].append(_check(Run([*build, "--no-cache"], work, env), "python build.py --no-cache").seconds)
            # Memory in a run of its own: sampling /proc costs CPU the timed run must not lose.
            cold = _check(Run([*build, "--no-cache"], work, env, sample=True), "python build.py --no-cache")
            peaks.append((cold.peak_rss, cold.peak_pss))

            unchanged = _check(Run(build, work, env), "python build.py, nothing changed")
            times["unchanged"].append(unchanged.seconds)
            times["first-line"].append(unchanged.first_line)
            if not re.search(rf"^lint: {count} templates \({count} cached, 0 to lint", unchanged.output, re.M):
                sys.exit(f"nothing changed, yet not everything came from the cache:\n{unchanged.output}")
            times["no-lint"].append(_check(Run([*build, "--no-lint"], work, env), "build.py --no-lint").seconds)
            times["no-lint cold"].append(
                _check(Run([*build, "--no-lint", "--no-cache"], work, env), "build.py --no-lint --no-cache").seconds
            )

            module.write_text(source.replace(CHANGED_TEXT, f"{CHANGED_TEXT} Benchmark round {i + 1}."))
            child = _check(Run(build, work, env), "python build.py, one child changed")
            times["child"].append(child.seconds)
            relinted.add(re.search(r"^lint: .*$", child.output, re.M).group(0))

            if not cdk_missing:
                shutil.rmtree(cdk_out, ignore_errors=True)
                synth = _check(
                    Run(
                        [
                            str(CDK_DIR / "node_modules" / ".bin" / "cdk"),
                            "synth",
                            "--quiet",
                            "--no-notices",
                            "--no-version-reporting",
                            "--output",
                            str(cdk_out),
                            "-c",
                            f"templates={work / 'templates'}",
                        ],
                        CDK_DIR,
                        cdk_env,
                    ),
                    "cdk synth",
                )
                times["cdk synth"].append(synth.seconds)
                # cfn-lint exits non-zero on findings; what it finds in CDK's
                # output is not the comparison, its running time is.
                cdk_templates = sorted(p.name for p in cdk_out.glob("*.template.json"))
                times["cdk lint"].append(
                    _check(
                        Run(
                            [
                                str(VENV_BIN / "cfn-lint"),
                                "--config-file",
                                str(work / ".cfnlintrc.yaml"),
                                *cdk_templates,
                            ],
                            cdk_out,
                            env,
                        ),
                        "cfn-lint on cdk.out",
                        codes=range(0, 32),
                    ).seconds
                )
        module.write_text(source)
        loads.append(os.getloadavg()[0])

    med = {k: statistics.median(v) for k, v in times.items() if v}
    cdk_total = [s + lint for s, lint in zip(times["cdk synth"], times["cdk lint"])]
    peak_rss = max(r for r, _ in peaks) / 1024
    peak_pss = max(p for _, p in peaks) / 1024

    def pair(n: int, label: str, key: str, base_label: str, base: list[float] | None, goal: str) -> None:
        print(f"{n}. {label}")
        print(f"     {_spread(times[key])}")
        if not base:
            print(f"   vs {base_label}: {cdk_missing}")
            return
        ratio = med[key] / statistics.median(base)
        print(f"   vs {base_label}")
        print(f"     {_spread(base)}")
        print(f"   = {ratio:.2f}x   goal <= {GOALS[goal]:.2f}x: {'met' if ratio <= GOALS[goal] else 'NOT met'}")

    print(f"machine: {machine}")
    print(f"templates: {count} (from the build's output); runs: {args.runs}, every contender once per round")
    print(
        f"load average (1 min) at each round's start and at the end: "
        f"{', '.join(f'{x:.1f}' for x in loads)} (median {statistics.median(loads):.1f})"
    )
    pair(1, "python build.py --no-lint, nothing changed", "no-lint", "cdk synth", times["cdk synth"], "synth")
    pair(
        2,
        "python build.py, nothing changed",
        "unchanged",
        f"plain cfn-lint over the {count} templates",
        times["cfn-lint"],
        "unchanged",
    )
    pair(
        3,
        "python build.py --no-cache (emits and lints everything)",
        "cold",
        "cdk synth && cfn-lint on cdk.out",
        cdk_total,
        "cold",
    )
    pair(
        4,
        "python build.py, one child changed",
        "child",
        f"plain cfn-lint over the {count} templates",
        times["cfn-lint"],
        "child",
    )
    print(f"   one child changed relinted: {'; '.join(sorted(relinted))}")
    print(f"python build.py --no-lint --no-cache (nothing cached): {_spread(times['no-lint cold'])}")
    if not cdk_missing:
        print(f"  = {med['no-lint cold'] / med['cdk synth']:.2f}x cdk synth")
    print(f"first line of output, nothing changed: {1000 * med['first-line']:.0f} ms")
    print(
        f"peak memory of the cold build (main + workers, highest of {len(peaks)} runs): {peak_pss:.0f} MiB PSS, "
        f"{peak_rss:.0f} MiB RSS summed (goal <= {PSS_GOAL_MIB} MiB PSS: "
        f"{'met' if peak_pss <= PSS_GOAL_MIB else 'NOT met'})"
    )
    print("figures move with the load; compare the ratios")


if __name__ == "__main__":
    main()
