"""diff benchmark against the local endpoint (moto's server in this process):
``build.py diff`` of an unchanged deployment of the nested set, median of 5
runs (credential check, GetTemplate of every stack, resolving both sides,
comparing), with the templates fetched concurrently and, for comparison,
one at a time. Not a test: figures; the target is printed beside them.

    .venv/bin/python benchmarks/diff_bench.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wealist_cfn import config  # noqa: E402
from wealist_cfn.aws import Aws  # noqa: E402
from wealist_cfn.daytwo import diff, tree  # noqa: E402
from wealist_cfn.deploy import flow  # noqa: E402
from wealist_cfn.rehearsal import compat as local  # noqa: E402

PARAMS = ROOT / "params" / "prod.json"
TEMPLATES = ROOT / "templates"
STACK = "wealist-prod"
RUNS = 5
TARGET = 1.5


def one(endpoint: str) -> tuple[float, int, diff.DiffReport]:
    start = time.perf_counter()
    aws = Aws("ap-northeast-2", endpoint_url=endpoint, local_credentials=True)
    aws.check_credentials()
    report = diff.run(aws, STACK, PARAMS, TEMPLATES)
    return time.perf_counter() - start, aws.total_calls(), report


def main() -> None:
    with local.endpoint() as ep:
        cfg = config.load(PARAMS)
        aws = Aws("ap-northeast-2", endpoint_url=ep, local_credentials=True)
        local.seed_ssm(aws, TEMPLATES, cfg.values)
        dep = flow.Deployment(
            flow.Options(
                stack_name=STACK, params=PARAMS, endpoint_url=ep, templates_dir=TEMPLATES, sleep=lambda s: None
            ),
            aws=aws,
        )
        list(dep.prepare())
        list(dep.execute())
        one(ep)  # warm-up: imports and cfn-lint's schema cache, paid once per process
        results = {}
        for label, workers in (("concurrent", tree.WORKERS), ("one at a time", 1)):
            tree.WORKERS = workers
            runs = [one(ep) for _ in range(RUNS)]
            results[label] = runs
        tree.WORKERS = 10
    for label, runs in results.items():
        times = [t for t, _, _ in runs]
        calls, report = runs[0][1], runs[0][2]
        print(
            f"diff, unchanged, {label:14} median {statistics.median(times):.3f}s of {RUNS} "
            f"(min {min(times):.3f}, max {max(times):.3f}); {calls} API calls; "
            f"{report.stacks} templates; differences: {report.has_differences}"
        )
    median = statistics.median(t for t, _, _ in results["concurrent"])
    print(f"target: median <= {TARGET}s -> {'met' if median <= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
