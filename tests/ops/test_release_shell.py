"""The release workflow's shell, run as shell: each step's ``run`` block
from release-service.yml under bash, with recorded stand-ins for ``aws``,
``docker`` and ``python`` on PATH (they log their arguments and answer as
scripted).

What the stand-ins do not enforce and real services do: ECR DescribeImages
fails with ImageNotFoundException for a missing tag, and with
AccessDeniedException, ThrottlingException or RepositoryNotFoundException
for other reasons (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html);
the AWS CLI prints the error code in its message on stderr and exits 254
(https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-returncodes.html).
The stand-in reproduces that message shape and exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pytest

from .test_workflows import _load
from .tools import require


def _step(name: str) -> dict:
    job = _load("release-service.yml")["jobs"]["release"]
    [step] = [s for s in job["steps"] if s.get("name") == name]
    return step


def _stand_in(bin_dir, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/usr/bin/env bash\n" f'echo "{name} $*" >>"$CALLS"\n' + textwrap.dedent(body))
    path.chmod(0o755)


def _run(tmp_path, step: dict, env: dict, aws: str, python: str = "exit 0\n"):
    require("bash")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    _stand_in(bin_dir, "aws", aws)
    _stand_in(bin_dir, "docker", "exit 0\n")
    _stand_in(bin_dir, "python", python)
    _stand_in(bin_dir, "sleep", "exit 0\n")
    calls, out = tmp_path / "calls", tmp_path / "github_output"
    full_env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls), "GITHUB_OUTPUT": str(out),
                "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"), **env}
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step["run"]], cwd=tmp_path, env=full_env,
                          capture_output=True, text=True, timeout=60)
    recorded = calls.read_text().splitlines() if calls.exists() else []
    return proc, recorded, out.read_text() if out.exists() else ""


PUSH_ENV = {"REGISTRY": "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com", "REPOSITORY": "user-service",
            "TAG": "0123abcd", "CONTEXT": ".source/.", "DOCKERFILE": "Dockerfile"}


def _describe_fails(code: str) -> str:
    return (f'if [ "$2" = describe-images ]; then echo "An error occurred ({code}) when calling the '
            f'DescribeImages operation: ..." >&2; exit 254; fi\nexit 0\n')


def test_a_missing_image_is_built_and_pushed(tmp_path):
    proc, calls, out = _run(tmp_path, _step("Build and push"), PUSH_ENV, _describe_fails("ImageNotFoundException"))
    assert proc.returncode == 0, proc.stderr
    assert [c.split()[:2] for c in calls] == [["aws", "ecr"], ["docker", "build"], ["docker", "push"]]
    assert "image=123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/user-service:0123abcd" in out


@pytest.mark.parametrize("code", ["AccessDeniedException", "ThrottlingException", "RepositoryNotFoundException"])
def test_any_other_describe_error_stops_the_release(tmp_path, code):
    proc, calls, out = _run(tmp_path, _step("Build and push"), PUSH_ENV, _describe_fails(code))
    assert proc.returncode == 1
    assert code in proc.stderr and "cannot tell whether" in proc.stdout
    assert not any(c.startswith("docker") for c in calls) and "image=" not in out


def test_an_existing_image_is_not_built_again(tmp_path):
    proc, calls, _ = _run(tmp_path, _step("Build and push"), PUSH_ENV, "exit 0\n")
    assert proc.returncode == 0 and "exists already" in proc.stdout
    assert not any(c.startswith("docker") for c in calls)


def test_the_release_step_sets_restores_and_rolls_back_through_one_tested_command(tmp_path):
    """The tag is set by `build.py rollout --release` (tests/ops/test_release.py
    covers what it does on success, failure and timeout), never by a bare
    put-parameter that nothing undoes."""
    step = _step("Release and roll out (or restore and roll back)")
    env = {"PARAMS": "params/prod.json", "SERVICE": "user-service", "TAG": "0123abcd"}
    proc, calls, _ = _run(tmp_path, step, env, "exit 0\n")
    assert proc.returncode == 0, proc.stderr
    assert calls == ["python build.py rollout --params params/prod.json --release user-service=0123abcd "
                     "--timeout 2700"]
    job = _load("release-service.yml")["jobs"]["release"]
    assert "put-parameter" not in "\n".join(s.get("run", "") for s in job["steps"])


def test_deploy_and_release_share_one_concurrency_group():
    deploy = _load("deploy.yml")["concurrency"]
    release = _load("release-service.yml")["jobs"]["release"]["concurrency"]
    assert deploy == {"group": "stack-production", "cancel-in-progress": False}
    default_env = _load("release-service.yml")["on"]["workflow_call"]["inputs"]["environment"]["default"]
    assert release["group"].replace("${{ inputs.environment }}", default_env) == deploy["group"]
    assert release["cancel-in-progress"] is False


def test_source_checkout_never_uses_this_repositorys_commit_for_another_repository():
    job = _load("release-service.yml")["jobs"]["release"]
    [src] = [s for s in job["steps"] if s.get("with", {}).get("path") == ".source"]
    assert src["with"]["ref"] == "${{ inputs.source-ref || (inputs.source-repository == '' && github.sha || '') }}"
    assert src["with"]["token"] == "${{ secrets.source-token || github.token }}"
    release = _load("release.yml")["jobs"]["release"]
    assert release["secrets"] == {"source-token": "${{ secrets.SERVICE_SOURCE_TOKEN }}"}


# -- deploy.yml: which groups a deploy rolls --------------------------------------------------------

def _deploy_step(name: str) -> dict:
    [step] = [s for s in _load("deploy.yml")["jobs"]["deploy"]["steps"] if s.get("name") == name]
    return step


def _row(logical_id, rtype, path="ComputeStack", action="Modify"):
    return {"path": path, "action": action, "logical_id": logical_id, "resource_type": rtype}


def _which(tmp_path, status, rows=(), bootstrap="", force="false"):
    require("jq")
    (tmp_path / "deploy.json").write_text(json.dumps(
        {"stack": "wealist-prod", "result": {"status": status}, **({"review": {"changes": list(rows)}}
                                                                   if status != "NO_CHANGES" else {})}))
    (tmp_path / "bootstrap.log").write_text(bootstrap)
    proc, _, out = _run(tmp_path, _deploy_step("What to roll out"), {"FORCE": force}, "exit 0\n")
    assert proc.returncode == 0, proc.stderr
    return dict(line.split("=", 1) for line in out.splitlines())


UNCHANGED_BOOTSTRAP = textwrap.dedent("""\
    unchanged  object     s3://wealist-deploy-scripts/boot/startup.sh
    unchanged  object     s3://wealist-deploy-scripts/config/render.py
    unchanged  object     s3://wealist-deploy-scripts/monitoring/prometheus.yml
    bootstrap wealist-prod in ap-northeast-2: 3 unchanged (nothing to change)
    """)


def test_a_readme_only_commit_rolls_nothing(tmp_path):
    assert _which(tmp_path, "NO_CHANGES", bootstrap=UNCHANGED_BOOTSTRAP) == {"backend": "false",
                                                                             "monitoring": "false"}


def test_a_first_create_rolls_nothing_its_instances_are_new(tmp_path):
    rows = [_row("BackendLaunchTemplate", "AWS::EC2::LaunchTemplate", action="Add")]
    assert _which(tmp_path, "CREATE_COMPLETE", rows, UNCHANGED_BOOTSTRAP) == {"backend": "false",
                                                                             "monitoring": "false"}


@pytest.mark.parametrize("rows,expected", [
    ([_row("BackendLaunchTemplate", "AWS::EC2::LaunchTemplate")], ("true", "false")),
    ([_row("MonitoringLaunchTemplate", "AWS::EC2::LaunchTemplate")], ("false", "true")),
    ([_row("DatabaseHostParameter", "AWS::SSM::Parameter", path="DatabaseStack")], ("true", "false")),
    ([_row("AlbSecurityGroup", "AWS::EC2::SecurityGroup", path="SecurityStack")], ("false", "false")),
])
def test_an_update_rolls_the_groups_whose_inputs_changed(tmp_path, rows, expected):
    got = _which(tmp_path, "UPDATE_COMPLETE", rows, UNCHANGED_BOOTSTRAP)
    assert (got["backend"], got["monitoring"]) == expected


@pytest.mark.parametrize("line,expected", [
    ("updated    object     s3://wealist-deploy-scripts/config/render.py (content changed)", ("true", "false")),
    ("created    object     s3://wealist-deploy-scripts/monitoring/prometheus.yml", ("false", "true")),
    ("updated    object     s3://wealist-deploy-scripts/boot/startup.sh (content changed)", ("true", "true")),
    ("updated    parameter  /wealist/prod/deploy/user_service_repository", ("false", "false")),
])
def test_a_changed_bootstrap_file_rolls_the_groups_that_read_it(tmp_path, line, expected):
    got = _which(tmp_path, "NO_CHANGES", bootstrap=UNCHANGED_BOOTSTRAP + line + "\n")
    assert (got["backend"], got["monitoring"]) == expected


def test_a_manual_run_can_force_the_backend(tmp_path):
    assert _which(tmp_path, "NO_CHANGES", bootstrap=UNCHANGED_BOOTSTRAP, force="true")["backend"] == "true"
    rollouts = [s for s in _load("deploy.yml")["jobs"]["deploy"]["steps"] if "build.py rollout" in s.get("run", "")]
    assert [(s["if"], s["run"]) for s in rollouts] == [
        ("steps.roll.outputs.backend == 'true'", "python build.py rollout --params params/prod.json"),
        ("steps.roll.outputs.monitoring == 'true'", "python build.py rollout --params params/prod.json --group "
                                                    "monitoring")]
