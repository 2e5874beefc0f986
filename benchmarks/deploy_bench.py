"""Deploy benchmark against the local endpoint (moto's server in this process).

Prints API calls, uploads and wall time of a first deploy and of a no-op
deploy by ``build.py deploy``'s library, beside ``aws cloudformation
package`` + ``aws cloudformation deploy`` (AWS CLI v1) on the same templates.
Not a test: figures, no thresholds.

    .venv/bin/python benchmarks/deploy_bench.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wealist_cfn import config  # noqa: E402
from wealist_cfn.aws import Aws  # noqa: E402
from wealist_cfn.deploy import flow, local  # noqa: E402

PARAMS = ROOT / "params" / "prod.json"
TEMPLATES = ROOT / "templates"


def ours(endpoint: str, stack: str) -> dict:
    aws = Aws("ap-northeast-2", endpoint_url=endpoint, local_credentials=True)
    dep = flow.Deployment(flow.Options(stack_name=stack, params=PARAMS, endpoint_url=endpoint,
                                       templates_dir=TEMPLATES, sleep=lambda s: None), aws=aws)
    start = time.perf_counter()
    list(dep.prepare())
    executed = 0
    if not dep.plan.no_changes:
        list(dep.execute())
        executed = 1
    return {"seconds": time.perf_counter() - start, "api_calls": aws.total_calls(),
            "uploads": dep.packaged.uploads, "executions": executed}


def aws_cli(endpoint: str, stack: str, bucket: str) -> dict:
    env = dict(os.environ, AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local",
               AWS_DEFAULT_REGION="ap-northeast-2", AWS_ENDPOINT_URL_S3=endpoint)
    aws = str(ROOT / ".venv" / "bin" / "aws")
    overrides = [f"{p['ParameterKey']}={p['ParameterValue']}" for p in json.loads(PARAMS.read_text())]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "packaged.yaml"
        start = time.perf_counter()
        pkg = subprocess.run([aws, "cloudformation", "package", "--template-file", str(TEMPLATES / "root.yaml"),
                              "--s3-bucket", bucket, "--output-template-file", str(out), "--endpoint-url", endpoint],
                             env=env, capture_output=True, text=True)
        dep = subprocess.run([aws, "cloudformation", "deploy", "--template-file", str(out), "--stack-name", stack,
                              "--capabilities", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND",
                              "--no-fail-on-empty-changeset", "--endpoint-url", endpoint,
                              "--parameter-overrides", *overrides], env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    uploads = pkg.stdout.count("Uploading to") + pkg.stderr.count("Uploading to")
    return {"seconds": seconds, "uploads": uploads, "package_exit": pkg.returncode, "deploy_exit": dep.returncode,
            "deploy_tail": (dep.stdout + dep.stderr).strip().splitlines()[-1:] }


def main() -> None:
    with local.endpoint() as ep:
        cfg = config.load(PARAMS)
        aws = Aws("ap-northeast-2", endpoint_url=ep, local_credentials=True)
        local.seed_ssm(aws, TEMPLATES, cfg.values)
        first = ours(ep, "wealist-prod")
        noop = ours(ep, "wealist-prod")
    # A fresh endpoint for the AWS CLI: the templates name their SSM outputs,
    # so a second stack would collide; moto's state is per process, so reset it.
    with local.endpoint() as ep:
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(f"{ep}/moto-api/reset", method="POST")).read()
        aws = Aws("ap-northeast-2", endpoint_url=ep, local_credentials=True)
        local.seed_ssm(aws, TEMPLATES, cfg.values)
        aws.s3.create_bucket(Bucket="bench-cli", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})
        cli_first = aws_cli(ep, "wealist-cli", "bench-cli")
        cli_noop = aws_cli(ep, "wealist-cli", "bench-cli")
    print(f"{'':28}{'wall s':>8}{'API calls':>11}{'uploads':>9}{'executions':>12}")
    for name, r in (("build.py deploy, first", first), ("build.py deploy, no-op", noop)):
        print(f"{name:28}{r['seconds']:8.2f}{r['api_calls']:11d}{r['uploads']:9d}{r['executions']:12d}")
    for name, r in (("aws package+deploy, first", cli_first), ("aws package+deploy, no-op", cli_noop)):
        print(f"{name:28}{r['seconds']:8.2f}{'-':>11}{r['uploads']:9d}{'':12}  exit package {r['package_exit']}, "
              f"deploy {r['deploy_exit']} {r['deploy_tail']}")
    ratio = noop["seconds"] / cli_noop["seconds"] if cli_noop["seconds"] else float("nan")
    print(f"no-op: ours takes {ratio:.2f} of the AWS CLI's time (target <= 0.5), "
          f"{noop['uploads']} uploads, {noop['executions']} executions (target 0 and 0)")


if __name__ == "__main__":
    main()
