"""Deploy benchmark against the local endpoint (moto's server in this process).

Prints medians over several runs (with the machine) of API calls, uploads
and wall time of a first deploy and of a no-op deploy by ``build.py
deploy``'s library, beside ``aws cloudformation package`` + ``aws
cloudformation deploy`` (AWS CLI v1) on the same templates. No-op is
compared with no-op: the CLI's second run uses --no-execute-changeset, and
what a plain second CLI deploy would have executed is listed from its
change set. Not a test: figures, no thresholds.

    .venv/bin/python benchmarks/deploy_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wealist_cfn import config  # noqa: E402
from wealist_cfn.aws import Aws  # noqa: E402
from wealist_cfn.deploy import flow  # noqa: E402
from wealist_cfn.rehearsal import compat as local  # noqa: E402

PARAMS = ROOT / "params" / "prod.json"
TEMPLATES = ROOT / "templates"


def ours(endpoint: str, stack: str) -> dict:
    aws = Aws("ap-northeast-2", endpoint_url=endpoint, local_credentials=True)
    dep = flow.Deployment(
        flow.Options(
            stack_name=stack, params=PARAMS, endpoint_url=endpoint, templates_dir=TEMPLATES, sleep=lambda s: None
        ),
        aws=aws,
    )
    start = time.perf_counter()
    list(dep.prepare())
    executed = 0
    if not dep.plan.no_changes:
        list(dep.execute())
        executed = 1
    return {
        "seconds": time.perf_counter() - start,
        "api_calls": aws.total_calls(),
        "uploads": dep.packaged.uploads,
        "executions": executed,
    }


def _cli_env(endpoint: str) -> dict:
    return dict(
        os.environ,
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION="ap-northeast-2",
        AWS_ENDPOINT_URL_S3=endpoint,
    )


def aws_cli(endpoint: str, stack: str, bucket: str, *, execute: bool) -> dict:
    """``aws cloudformation package`` + ``deploy``; with ``execute=False`` the
    deploy stops after creating the change set (--no-execute-changeset),
    which is the CLI's own no-op when nothing changed."""
    aws = str(ROOT / ".venv" / "bin" / "aws")
    overrides = [f"{p['ParameterKey']}={p['ParameterValue']}" for p in json.loads(PARAMS.read_text())]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "packaged.yaml"
        start = time.perf_counter()
        pkg = subprocess.run(
            [
                aws,
                "cloudformation",
                "package",
                "--template-file",
                str(TEMPLATES / "root.yaml"),
                "--s3-bucket",
                bucket,
                "--output-template-file",
                str(out),
                "--endpoint-url",
                endpoint,
            ],
            env=_cli_env(endpoint),
            capture_output=True,
            text=True,
        )
        cmd = [
            aws,
            "cloudformation",
            "deploy",
            "--template-file",
            str(out),
            "--stack-name",
            stack,
            "--capabilities",
            "CAPABILITY_NAMED_IAM",
            "CAPABILITY_AUTO_EXPAND",
            "--no-fail-on-empty-changeset",
            "--endpoint-url",
            endpoint,
            "--parameter-overrides",
            *overrides,
        ]
        if not execute:
            cmd.append("--no-execute-changeset")
        dep = subprocess.run(cmd, env=_cli_env(endpoint), capture_output=True, text=True)
        seconds = time.perf_counter() - start
    text = dep.stdout + dep.stderr
    arn = re.search(r"--change-set-name (arn:\S+)", text)
    return {
        "seconds": seconds,
        "uploads": (pkg.stdout + pkg.stderr).count("Uploading to"),
        "package_exit": pkg.returncode,
        "deploy_exit": dep.returncode,
        "change_set": arn.group(1) if arn else None,
        "tail": text.strip().splitlines()[-1:],
    }


def machine() -> str:
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor() or "unknown CPU",
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    versions = []
    for dist in ("moto", "awscli", "boto3"):
        try:
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs, load average {load}; "
        f"Python {platform.python_version()}; " + ", ".join(versions)
    )


def _fresh(ep: str, cfg) -> Aws:
    urllib.request.urlopen(urllib.request.Request(f"{ep}/moto-api/reset", method="POST")).read()
    aws = Aws("ap-northeast-2", endpoint_url=ep, local_credentials=True)
    local.seed_ssm(aws, TEMPLATES, cfg.values)
    return aws


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="runs of each measurement; medians are printed")
    runs = ap.parse_args().runs
    cfg = config.load(PARAMS)
    results: dict[str, list[dict]] = {"ours_first": [], "ours_noop": [], "cli_first": [], "cli_noop": []}
    second_executed: list[str] = []
    with local.endpoint() as ep:
        for _ in range(runs):
            _fresh(ep, cfg)
            results["ours_first"].append(ours(ep, "wealist-prod"))
            results["ours_noop"].append(ours(ep, "wealist-prod"))
        for _ in range(runs):
            aws = _fresh(ep, cfg)
            aws.s3.create_bucket(Bucket="bench-cli", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})
            results["cli_first"].append(aws_cli(ep, "wealist-cli", "bench-cli", execute=True))
            noop = aws_cli(ep, "wealist-cli", "bench-cli", execute=False)
            results["cli_noop"].append(noop)
            if noop["change_set"] and not second_executed:
                # What a plain second `aws cloudformation deploy` would have executed.
                desc = aws.cfn.describe_change_set(ChangeSetName=noop["change_set"])
                second_executed = [
                    f"{c['ResourceChange']['Action']} {c['ResourceChange']['LogicalResourceId']} "
                    f"({c['ResourceChange']['ResourceType']})"
                    for c in desc.get("Changes", [])
                ]
            if noop["change_set"]:
                aws.cfn.delete_change_set(ChangeSetName=noop["change_set"])

    def med(key, field):
        return statistics.median(r[field] for r in results[key])

    print(f"machine: {machine()}")
    print(f"medians of {runs} runs each, moto's server in this process as the endpoint\n")
    print(f"{'':44}{'wall s':>8}{'API calls':>11}{'uploads':>9}{'executions':>12}")
    for name, key in (
        ("build.py deploy, first", "ours_first"),
        ("build.py deploy, no-op (change set, deleted)", "ours_noop"),
    ):
        print(
            f"{name:44}{med(key, 'seconds'):8.2f}{med(key, 'api_calls'):11.0f}{med(key, 'uploads'):9.0f}"
            f"{med(key, 'executions'):12.0f}"
        )
    for name, key in (
        ("aws package+deploy, first", "cli_first"),
        ("aws package+deploy --no-execute-changeset", "cli_noop"),
    ):
        exits = sorted({(r["package_exit"], r["deploy_exit"]) for r in results[key]})
        print(f"{name:44}{med(key, 'seconds'):8.2f}{'-':>11}{med(key, 'uploads'):9.0f}{'':12}  exits {exits}")
    if second_executed:
        print(
            f"\nthe AWS CLI's second deploy, identical templates and parameters, is not a no-op on this endpoint: "
            f"its change set holds {len(second_executed)} change(s), which a deploy without "
            f"--no-execute-changeset executes: {'; '.join(second_executed)}"
        )
    else:
        print("\nthe AWS CLI's second deploy made no change set (nothing to execute)")
    ratio = med("ours_noop", "seconds") / med("cli_noop", "seconds")
    print(
        f"no-op against no-op: build.py takes {ratio:.2f} of the AWS CLI's time; build.py executed "
        f"{med('ours_noop', 'executions'):.0f} change sets and uploaded {med('ours_noop', 'uploads'):.0f} templates"
    )


if __name__ == "__main__":
    main()
