"""The production story on the local endpoint, job by job, each under the
principal that really runs it, with every AWS call recorded
(wealist_cfn/aws/calltrace.py, ``WEALIST_CFN_TRACE``).

A job is the real CLI (``build.py ...`` as a subprocess) or a workflow
step's own shell (its ``run`` block under bash) with ``python`` on PATH
standing for ``python ... --local``: the commands the workflows run, aimed
at the local endpoint. ``gh`` is a stand-in that records nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
PARAMS = "params/prod.json"
STACK = "wealist-prod"

# Principal labels; tests/trace/check.py maps each to its policies.
PLAN, DEPLOY, OPERATOR = "github-plan", "github-deploy", "operator"


def workflow_step(workflow: str, name: str) -> str:
    doc = yaml.safe_load((WORKFLOWS / workflow).read_text())
    [step] = [s for job in doc["jobs"].values() for s in job["steps"] if s.get("name") == name]
    return step["run"]


class Story:
    """One local endpoint and one trace file for the whole story."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.trace = folder / "trace.jsonl"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "WEALIST_CFN_TRACE"))}
        self.env["WEALIST_CFN_LOCAL_DIR"] = str(folder / "state")
        self.env["WEALIST_CFN_TRACE"] = str(self.trace)
        bin_dir = folder / "bin"
        bin_dir.mkdir()
        # `python build.py CMD ...` in a workflow step: the same command against the local endpoint.
        # `cost` without --refresh calls nothing and takes no --local.
        (bin_dir / "python").write_text(
            f'#!/usr/bin/env bash\n[ "$2" = cost ] && exec {sys.executable} "$@"\nexec {sys.executable} "$@" --local\n'
        )
        (bin_dir / "gh").write_text("#!/usr/bin/env bash\nexit 0\n")
        for f in bin_dir.iterdir():
            f.chmod(0o755)
        self.bin = bin_dir

    def _env(self, job: str, principal: str) -> dict:
        return {**self.env, "WEALIST_CFN_TRACE_JOB": job, "WEALIST_CFN_TRACE_PRINCIPAL": principal}

    def cli(self, job: str, principal: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "build.py", *args],
            cwd=ROOT,
            env=self._env(job, principal),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def step(
        self, job: str, principal: str, workflow: str, name: str, env: dict | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess:
        """A workflow step's shell, as the runner runs it (bash -e -o pipefail)."""
        work = cwd or self.folder / "work"
        work.mkdir(exist_ok=True)
        for link in ("build.py", "wealist_cfn", "params", "templates", "instance-files"):
            if not (work / link).exists():
                (work / link).symlink_to(ROOT / link)
        full = {
            **self._env(job, principal),
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            "GITHUB_STEP_SUMMARY": str(self.folder / "summary.md"),
            "GITHUB_OUTPUT": str(self.folder / "github_output"),
            **(env or {}),
        }
        return subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", workflow_step(workflow, name)],
            cwd=work,
            env=full,
            capture_output=True,
            text=True,
            timeout=140,
        )

    def endpoint(self) -> str:
        return json.loads((self.folder / "state" / "endpoint.json").read_text())["url"]

    def client(self, service: str):
        """A client for setting the scene (an image push stands for docker push) and for
        reading what is there; its calls are not part of the trace."""
        import boto3

        return boto3.client(
            service,
            region_name="ap-northeast-2",
            endpoint_url=self.endpoint(),
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def push(self, repository: str, tag: str) -> None:
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1,
                "digest": "sha256:" + "0" * 64,
            },
            "layers": [],
        }
        self.client("ecr").put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)

    def params_with(self, **values: str) -> str:
        data = json.loads((ROOT / PARAMS).read_text())
        for entry in data:
            if entry["ParameterKey"] in values:
                entry["ParameterValue"] = values.pop(entry["ParameterKey"])
        data += [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]
        path = self.folder / f"prod-{len(list(self.folder.glob('prod-*.json')))}.json"
        path.write_text(json.dumps(data, indent=2))
        return str(path)

    def calls(self) -> list[dict]:
        from wealist_cfn.aws import calltrace

        return calltrace.read(self.trace) if self.trace.exists() else []
