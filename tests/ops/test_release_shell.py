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

import hashlib
import json
import os
import subprocess
import textwrap

import pytest

from helpers.workflows import _load

from .tools import require


def _step(name: str) -> dict:
    jobs = _load("release-service.yml")["jobs"].values()
    [step] = [s for job in jobs for s in job["steps"] if s.get("name") == name]
    return step


def _stand_in(bin_dir, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f'#!/usr/bin/env bash\necho "{name} $*" >>"$CALLS"\n' + textwrap.dedent(body))
    path.chmod(0o755)


def _run(
    tmp_path,
    step: dict,
    env: dict,
    aws: str,
    python: str = "exit 0\n",
    gh: str = "exit 0\n",
    cwd=None,
    docker: str = "exit 0\n",
):
    require("bash")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    _stand_in(bin_dir, "aws", aws)
    _stand_in(bin_dir, "docker", docker)
    _stand_in(bin_dir, "gh", gh)
    _stand_in(bin_dir, "python", python)
    _stand_in(bin_dir, "sleep", "exit 0\n")
    calls, out = tmp_path / "calls", tmp_path / "github_output"
    full_env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CALLS": str(calls),
        "GITHUB_OUTPUT": str(out),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        **env,
    }
    proc = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
        cwd=cwd or tmp_path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    recorded = calls.read_text().splitlines() if calls.exists() else []
    return proc, recorded, out.read_text() if out.exists() else ""


PUSH_ENV = {
    "REGISTRY": "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com",
    "REPOSITORY": "user-service",
    "TAG": "0123abcd",
}


def _describe_fails(code: str) -> str:
    return (
        f'if [ "$2" = describe-images ]; then echo "An error occurred ({code}) when calling the '
        f'DescribeImages operation: ..." >&2; exit 254; fi\nexit 0\n'
    )


def test_a_missing_image_is_tagged_and_pushed(tmp_path):
    proc, calls, out = _run(tmp_path, _step("Push"), PUSH_ENV, _describe_fails("ImageNotFoundException"))
    assert proc.returncode == 0, proc.stderr
    assert [c.split()[:2] for c in calls] == [["aws", "ecr"], ["docker", "tag"], ["docker", "push"]]
    assert calls[1] == (
        "docker tag release:0123abcd 123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/user-service:0123abcd"
    )
    assert "image=123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/user-service:0123abcd" in out


@pytest.mark.parametrize("code", ["AccessDeniedException", "ThrottlingException", "RepositoryNotFoundException"])
def test_any_other_describe_error_stops_the_release(tmp_path, code):
    proc, calls, out = _run(tmp_path, _step("Push"), PUSH_ENV, _describe_fails(code))
    assert proc.returncode == 1
    assert code in proc.stderr and "cannot tell whether" in proc.stdout
    assert not any(c.startswith("docker") for c in calls) and "image=" not in out


def test_an_existing_image_is_not_built_again(tmp_path):
    proc, calls, _ = _run(tmp_path, _step("Push"), PUSH_ENV, "exit 0\n")
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
    assert calls == ["python build.py rollout --params params/prod.json --release user-service=0123abcd --timeout 2700"]
    job = _load("release-service.yml")["jobs"]["release"]
    assert "put-parameter" not in "\n".join(s.get("run", "") for s in job["steps"])


# The run's own token when the inputs step says the source is this repository; otherwise
# SERVICE_SOURCE_TOKEN, or the run's own when that secret is unset (public service repositories).
TOKEN = "${{ steps.inputs.outputs.token == 'github' && github.token || secrets.SERVICE_SOURCE_TOKEN || github.token }}"


def test_source_checkout_takes_the_checked_repository_and_commit_and_keeps_no_credentials():
    job = _load("release-service.yml")["jobs"]["build"]
    [src] = [s for s in job["steps"] if (s.get("with") or {}).get("path") == ".source"]
    assert src["with"]["repository"] == "${{ steps.inputs.outputs.repository }}"
    assert src["with"]["ref"] == "${{ steps.inputs.outputs.ref }}"
    assert src["with"]["token"] == TOKEN
    assert src["with"]["persist-credentials"] is False and src["with"]["fetch-depth"] == 0
    names = [s.get("name") or s.get("uses") for s in job["steps"]]
    assert (
        names.index("Check the release inputs")
        < names.index(src["uses"])
        < names.index("Check the source commit is on the protected branch")
        < names.index("Build the image")
    )


# -- release-service.yml: which sources a release accepts ----------------------------------------

THIS = "wealist/wealist-cfn"
SHA = "0123456789abcdef0123456789abcdef01234567"


def _inputs(tmp_path, **env):
    base = {
        "SERVICE": "user-service",
        "SOURCE_REPOSITORY": "wealist/user-service",
        "SOURCE_REF": SHA,
        "CONTEXT": ".",
        "DOCKERFILE": "Dockerfile",
        "ALLOWED": "wealist/user-service, wealist/board-service",
        "SOURCE_BRANCH": "",
        "THIS_REPOSITORY": THIS,
        "THIS_SHA": "f" * 40,
    }
    proc, calls, out = _run(tmp_path, _step("Check the release inputs"), {**base, **env}, "exit 0\n")
    return proc, dict(line.split("=", 1) for line in out.splitlines())


def test_an_allow_listed_repository_at_a_full_sha_is_accepted(tmp_path):
    proc, out = _inputs(tmp_path, SOURCE_REPOSITORY="Wealist/Board-Service")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out == {"repository": "Wealist/Board-Service", "ref": SHA, "branch": "main", "token": "source"}


def test_this_repository_defaults_to_the_runs_commit(tmp_path):
    proc, out = _inputs(tmp_path, SOURCE_REPOSITORY="", SOURCE_REF="", ALLOWED="", SOURCE_BRANCH="release")
    assert proc.returncode == 0, proc.stdout
    assert out == {"repository": THIS, "ref": "f" * 40, "branch": "release", "token": "github"}


@pytest.mark.parametrize("given", ["", THIS, THIS.upper(), "Wealist/Wealist-CFN"])
def test_this_repository_is_read_with_the_runs_own_token(tmp_path, given):
    """SERVICE_SOURCE_TOKEN reaches only the service repositories (docs/operations.md): with it set,
    reading this repository through it would answer 404. However the name is spelt (GitHub
    compares owner and repository names without case), this repository takes the run's token,
    in the checkout and in the branch-protection query alike."""
    proc, out = _inputs(tmp_path, SOURCE_REPOSITORY=given, ALLOWED="wealist/user-service")
    assert proc.returncode == 0, proc.stdout
    assert out["token"] == "github"
    job = _load("release-service.yml")["jobs"]["build"]
    [src] = [s for s in job["steps"] if (s.get("with") or {}).get("path") == ".source"]
    branch = next(s for s in job["steps"] if s.get("name") == "Check the source commit is on the protected branch")
    assert src["with"]["token"] == branch["env"]["GH_TOKEN"] == TOKEN


PER_SERVICE = "user-service=wealist/user-service board-service=Wealist/Board-Service,wealist/shared-images"


@pytest.mark.parametrize(
    "service,repository",
    [
        ("user-service", "wealist/user-service"),
        ("board-service", "wealist/board-service"),
        ("user-service", "wealist/shared-images"),
        ("board-service", "WEALIST/SHARED-IMAGES"),
    ],
)
def test_a_repository_listed_for_the_service_or_for_any_is_accepted(tmp_path, service, repository):
    proc, out = _inputs(tmp_path, SERVICE=service, SOURCE_REPOSITORY=repository, ALLOWED=PER_SERVICE)
    assert proc.returncode == 0, proc.stdout
    assert out["repository"] == repository


@pytest.mark.parametrize(
    "service,repository", [("board-service", "wealist/user-service"), ("user-service", "wealist/board-service")]
)
def test_a_repository_listed_for_the_other_service_is_refused(tmp_path, service, repository):
    """A service=owner/repo entry ties the repository to that service: the user-service source
    can never be released as board-service."""
    proc, out = _inputs(tmp_path, SERVICE=service, SOURCE_REPOSITORY=repository, ALLOWED=PER_SERVICE)
    assert proc.returncode == 1 and out == {}
    other = "user-service" if service == "board-service" else "board-service"
    assert proc.stdout == (
        f"::error::source-repository {repository} is listed in the repository variable "
        f"RELEASE_SOURCE_REPOSITORIES for {other} only, not for {service}\n"
    )


@pytest.mark.parametrize(
    "env,message",
    [
        ({"ALLOWED": ""}, "RELEASE_SOURCE_REPOSITORIES is empty or unset"),
        ({"ALLOWED": "user-service=wealist/other"}, "is not in the repository variable"),
        ({"ALLOWED": "wealist/user-service=x"}, "is not in the repository variable"),
        ({"ALLOWED": " , "}, "RELEASE_SOURCE_REPOSITORIES is empty or unset"),
        ({"SOURCE_REPOSITORY": "attacker/user-service"}, "is not in the repository variable"),
        ({"SOURCE_REPOSITORY": "wealist/user"}, "is not in the repository variable"),  # no prefix match
        ({"SOURCE_REF": ""}, "source-ref is empty"),
        ({"SOURCE_REF": "main"}, "is not a full 40-character"),
        ({"SOURCE_REF": SHA[:12]}, "is not a full 40-character"),
        ({"SOURCE_REF": SHA.upper()}, "is not a full 40-character"),
        ({"SOURCE_REF": SHA + "0"}, "is not a full 40-character"),
        ({"SOURCE_REF": "refs/heads/main"}, "is not a full 40-character"),
        ({"SERVICE": "admin-service"}, "unknown service"),
        ({"SERVICE": ""}, "unknown service"),
        ({"CONTEXT": "../.."}, "leaves the source tree"),
        ({"DOCKERFILE": "/etc/Dockerfile"}, "leaves the source tree"),
        ({"CONTEXT": "svc/../../x"}, "leaves the source tree"),
    ],
)
def test_a_source_missing_or_wrong_is_refused_before_any_checkout(tmp_path, env, message):
    proc, out = _inputs(tmp_path, **env)
    assert proc.returncode == 1 and message in proc.stdout, proc.stdout
    assert proc.stdout.startswith("::error::") and len(proc.stdout.splitlines()) == 1
    assert out == {}


def _git(cwd, *args):
    return subprocess.run(
        ["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True, timeout=30
    ).stdout.strip()


@pytest.fixture
def source(tmp_path):
    """A clone as actions/checkout leaves it with fetch-depth 0: the service
    repository's branches under refs/remotes/origin/, HEAD detached at the
    checked-out commit. Returns (work dir, {name: sha})."""
    require("git")
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    _git(upstream, "init", "-q", "-b", "main")
    _git(upstream, "config", "user.email", "t@example.com")
    _git(upstream, "config", "user.name", "t")
    shas = {}
    for name in ("first", "head"):
        (upstream / "f").write_text(name)
        _git(upstream, "add", "f")
        _git(upstream, "commit", "-qm", name)
        shas[name] = _git(upstream, "rev-parse", "HEAD")
    _git(upstream, "checkout", "-q", "-b", "feature", shas["first"])
    (upstream / "f").write_text("unmerged")
    _git(upstream, "commit", "-qam", "unmerged")
    shas["unmerged"] = _git(upstream, "rev-parse", "HEAD")
    work = tmp_path / "work"
    work.mkdir()
    _git(tmp_path, "clone", "-q", "--no-checkout", str(upstream), str(work / ".source"))
    return work, shas


def _on_branch(tmp_path, work, ref, checkout=None, protected="true", branch="main"):
    _git(work / ".source", "checkout", "-q", "--detach", checkout or ref)
    env = {"REPOSITORY": "wealist/user-service", "REF": ref, "BRANCH": branch, "GH_TOKEN": "x"}
    gh = f'[ "$1 $2" = "api repos/wealist/user-service/branches/{branch}" ] && echo {protected}\n'
    return _run(tmp_path, _step("Check the source commit is on the protected branch"), env, "exit 0\n", gh=gh, cwd=work)


@pytest.mark.parametrize("name", ["head", "first"])
def test_the_protected_branchs_head_or_an_ancestor_is_built(tmp_path, source, name):
    work, shas = source
    proc, calls, _ = _on_branch(tmp_path, work, shas[name])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "on main" in proc.stdout
    assert calls == ["gh api repos/wealist/user-service/branches/main --jq .protected"]


def test_a_commit_off_the_protected_branch_is_refused(tmp_path, source):
    work, shas = source
    proc, _, _ = _on_branch(tmp_path, work, shas["unmerged"])
    assert proc.returncode == 1
    assert f"::error::{shas['unmerged']} is not on wealist/user-service branch main" in proc.stdout


@pytest.mark.parametrize("protected", ["false", ""])
def test_an_unprotected_or_unknown_branch_is_refused(tmp_path, source, protected):
    work, shas = source
    proc, _, _ = _on_branch(tmp_path, work, shas["head"], protected=protected)
    assert proc.returncode == 1 and "branch main is not protected" in proc.stdout


def test_a_missing_branch_is_refused(tmp_path, source):
    work, shas = source
    proc, _, _ = _on_branch(tmp_path, work, shas["head"], branch="release")
    assert proc.returncode == 1 and "has no branch release" in proc.stdout


def test_a_checkout_of_another_commit_is_refused(tmp_path, source):
    work, shas = source
    proc, _, _ = _on_branch(tmp_path, work, shas["first"], checkout=shas["head"])
    assert proc.returncode == 1 and f"checked out {shas['head']}, not {shas['first']}" in proc.stdout


# -- deploy.yml: which groups a deploy rolls --------------------------------------------------------


def _deploy_step(name: str) -> dict:
    [step] = [s for s in _load("deploy.yml")["jobs"]["execute"]["steps"] if s.get("name") == name]
    return step


def _row(logical_id, rtype, path="ComputeStack", action="Modify"):
    return {"path": path, "action": action, "logical_id": logical_id, "resource_type": rtype}


def _which(tmp_path, status, rows=(), bootstrap="", force="false"):
    require("jq")
    (tmp_path / "deploy.json").write_text(
        json.dumps(
            {
                "stack": "wealist-prod",
                "result": {"status": status},
                **({"review": {"changes": list(rows)}} if status != "NO_CHANGES" else {}),
            }
        )
    )
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
    assert _which(tmp_path, "NO_CHANGES", bootstrap=UNCHANGED_BOOTSTRAP) == {"backend": "false", "monitoring": "false"}


def test_a_first_create_rolls_nothing_its_instances_are_new(tmp_path):
    rows = [_row("BackendLaunchTemplate", "AWS::EC2::LaunchTemplate", action="Add")]
    assert _which(tmp_path, "CREATE_COMPLETE", rows, UNCHANGED_BOOTSTRAP) == {"backend": "false", "monitoring": "false"}


@pytest.mark.parametrize(
    "rows,expected",
    [
        ([_row("BackendLaunchTemplate", "AWS::EC2::LaunchTemplate")], ("true", "false")),
        ([_row("MonitoringLaunchTemplate", "AWS::EC2::LaunchTemplate")], ("false", "true")),
        ([_row("DatabaseHostParameter", "AWS::SSM::Parameter", path="DatabaseStack")], ("true", "false")),
        ([_row("AlbSecurityGroup", "AWS::EC2::SecurityGroup", path="SecurityStack")], ("false", "false")),
    ],
)
def test_an_update_rolls_the_groups_whose_inputs_changed(tmp_path, rows, expected):
    got = _which(tmp_path, "UPDATE_COMPLETE", rows, UNCHANGED_BOOTSTRAP)
    assert (got["backend"], got["monitoring"]) == expected


@pytest.mark.parametrize(
    "line,expected",
    [
        ("updated    object     s3://wealist-deploy-scripts/config/render.py (content changed)", ("true", "false")),
        ("created    object     s3://wealist-deploy-scripts/monitoring/prometheus.yml", ("false", "true")),
        ("updated    object     s3://wealist-deploy-scripts/boot/startup.sh (content changed)", ("true", "true")),
        ("updated    parameter  /wealist/prod/deploy/user_service_repository", ("false", "false")),
    ],
)
def test_a_changed_bootstrap_file_rolls_the_groups_that_read_it(tmp_path, line, expected):
    got = _which(tmp_path, "NO_CHANGES", bootstrap=UNCHANGED_BOOTSTRAP + line + "\n")
    assert (got["backend"], got["monitoring"]) == expected


def test_a_manual_run_can_force_the_backend(tmp_path):
    assert _which(tmp_path, "NO_CHANGES", bootstrap=UNCHANGED_BOOTSTRAP, force="true")["backend"] == "true"
    rollouts = [s for s in _load("deploy.yml")["jobs"]["execute"]["steps"] if "build.py rollout" in s.get("run", "")]
    assert [(s["if"], s["run"]) for s in rollouts] == [
        ("steps.roll.outputs.backend == 'true'", "exec python build.py rollout --params params/prod.json"),
        (
            "steps.roll.outputs.monitoring == 'true'",
            "exec python build.py rollout --params params/prod.json --group monitoring",
        ),
    ]


# -- release-service.yml: a release waits for deploys ----------------------------------------------


def _wait(tmp_path, answers: list[str], wait_seconds="90"):
    """gh answers the number of unfinished deploy runs, one answer per call
    (the stand-in counts its calls); sleep is a stand-in that returns at once."""
    (tmp_path / "answers").write_text("\n".join(answers) + "\n")
    gh = 'n=$(grep -c "^gh " "$CALLS"); sed -n "${n}p" "$ANSWERS"\n'
    env = {"GH_TOKEN": "x", "GH_REPO": THIS, "WAIT_SECONDS": wait_seconds, "ANSWERS": str(tmp_path / "answers")}
    return _run(tmp_path, _step("Wait for running deploys"), env, "exit 0\n", gh=gh)


def test_a_release_waits_until_no_deploy_is_queued_or_running(tmp_path):
    proc, calls, _ = _wait(tmp_path, ["1", "2", "0"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [c.split()[0] for c in calls] == ["gh", "sleep", "gh", "sleep", "gh"]
    assert calls[0].startswith("gh run list --workflow deploy.yml")


def test_a_release_stops_after_the_bounded_wait(tmp_path):
    proc, calls, _ = _wait(tmp_path, ["1"] * 10, wait_seconds="60")
    assert proc.returncode == 1, proc.stdout
    assert proc.stdout.splitlines()[-1].startswith(
        "::error::this release waited 60s and 1 deploy run(s) are still queued"
    )
    assert "nothing was pushed or changed" in proc.stdout
    assert [c.split()[0] for c in calls] == ["gh", "sleep", "gh", "sleep", "gh"]


# -- deploy.yml: a deploy waits for a release that is past its own wait ------------------------------


def _job(name, status, steps=()):
    """A job as GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs lists it: a job not started
    yet (queued, or waiting for the environment's reviewers) has no steps."""
    return {
        "name": name,
        "status": status,
        "conclusion": None if status != "completed" else "success",
        "steps": [
            {"name": n, "status": st, "conclusion": None if st != "completed" else "success", "number": i}
            for i, (n, st) in enumerate(steps, 1)
        ],
    }


BUILDING = [
    _job("release / build", "in_progress", [("Set up job", "completed"), ("Build the image", "in_progress")]),
    _job("release / release", "waiting"),
]
WAITING_FOR_DEPLOYS = [
    _job("release / build", "completed", [("Build the image", "completed")]),
    _job(
        "release / release", "in_progress", [("Set up job", "completed"), ("Wait for running deploys", "in_progress")]
    ),
]
ROLLING_OUT = [
    _job("release / build", "completed", [("Build the image", "completed")]),
    _job(
        "release / release",
        "in_progress",
        [
            ("Wait for running deploys", "completed"),
            ("Push", "completed"),
            ("Release and roll out (or restore and roll back)", "in_progress"),
        ],
    ),
]


def _deploy_wait(tmp_path, polls: list[dict], wait_seconds="90"):
    """Each poll: {run id: (run status, jobs)}. The gh stand-in answers `gh run list` and `gh api
    .../runs/ID/jobs` from the poll numbered by how many `gh run list` calls it has seen, and
    applies the step's own --jq filter with the real jq, so the filters are what is tested."""
    require("jq")
    for n, poll in enumerate(polls, 1):
        runs = [{"databaseId": int(i), "status": st} for i, (st, _) in poll.items()]
        (tmp_path / f"runs-{n}.json").write_text(json.dumps(runs))
        for i, (_, jobs) in poll.items():
            (tmp_path / f"jobs-{n}-{i}.json").write_text(json.dumps({"total_count": len(jobs), "jobs": jobs}))
    gh = textwrap.dedent("""\
        args=("$@"); q=""
        for ((i = 0; i < ${#args[@]}; i++)); do [ "${args[i]}" = --jq ] && q=${args[i+1]}; done
        n=$(grep -c "^gh run list" "$CALLS")
        if [ "$1 $2" = "run list" ]; then exec jq -r "$q" "$FIX/runs-$n.json"; fi
        id=${2#repos/$GH_REPO/actions/runs/}; id=${id%/jobs}
        exec jq -r "$q" "$FIX/jobs-$n-$id.json"
        """)
    env = {"GH_TOKEN": "x", "GH_REPO": THIS, "WAIT_SECONDS": wait_seconds, "FIX": str(tmp_path)}
    return _run(tmp_path, _deploy_step("Wait for running releases"), env, "exit 0\n", gh=gh)


def test_a_deploy_waits_for_a_release_past_its_wait_then_goes_ahead(tmp_path):
    proc, calls, _ = _deploy_wait(
        tmp_path, [{"7": ("in_progress", ROLLING_OUT)}, {"7": ("in_progress", ROLLING_OUT)}, {"7": ("completed", [])}]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [c.split()[:2] for c in calls] == [
        ["gh", "run"],
        ["gh", "api"],
        ["sleep", "30"],
        ["gh", "run"],
        ["gh", "api"],
        ["sleep", "30"],
        ["gh", "run"],
    ]
    assert calls[0].startswith("gh run list --workflow release.yml")
    assert calls[1].startswith(f"gh api repos/{THIS}/actions/runs/7/jobs")


@pytest.mark.parametrize("jobs", [BUILDING, WAITING_FOR_DEPLOYS], ids=["building", "waiting-for-deploys"])
def test_a_deploy_does_not_wait_for_a_release_that_has_not_passed_its_wait(tmp_path, jobs):
    """A release still building, or in its own wait for deploys (which waits for this deploy),
    changes nothing yet: waiting for it would make each wait for the other."""
    proc, calls, _ = _deploy_wait(tmp_path, [{"7": ("in_progress", jobs)}])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not any(c.startswith("sleep") for c in calls)


def test_a_deploy_stops_after_its_bounded_wait_having_changed_nothing(tmp_path):
    proc, calls, _ = _deploy_wait(
        tmp_path, [{"7": ("in_progress", ROLLING_OUT), "8": ("queued", BUILDING)}] * 3, wait_seconds="60"
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == (
        "::error::this deploy waited 60s and 1 release job(s) are still pushing or rolling out; nothing was "
        "deployed or changed: run the deploy again when they are done"
    )
    assert {c.split()[0] for c in calls} == {"gh", "sleep"}


# -- release-service.yml: the image the release pushes is the one the build made ---------------------


def _load_image(tmp_path, archive: bytes, reported_sha: str, loaded_id: str):
    (tmp_path / "image.tar.gz").write_bytes(archive)
    docker = f'[ "$1 $2" = "image inspect" ] && echo {loaded_id}\nexit 0\n'
    env = {"ARCHIVE_SHA256": reported_sha, "IMAGE_ID": "sha256:" + "a" * 64, "TAG": SHA}
    proc, calls, _ = _run(tmp_path, _step("Load the image"), env, "exit 0\n", docker=docker)
    return proc, calls, hashlib.sha256(archive).hexdigest()


def test_the_built_image_is_loaded_when_archive_and_id_match(tmp_path):
    archive = b"image archive"
    proc, calls, _ = _load_image(tmp_path, archive, hashlib.sha256(archive).hexdigest(), "sha256:" + "a" * 64)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert calls == ["docker load --input image.tar.gz", f"docker image inspect --format {{{{.Id}}}} release:{SHA}"]


def test_an_archive_other_than_the_built_one_is_not_loaded(tmp_path):
    proc, calls, _ = _load_image(tmp_path, b"another archive", "0" * 64, "sha256:" + "a" * 64)
    assert proc.returncode != 0 and calls == []


def test_an_image_other_than_the_built_one_is_refused(tmp_path):
    archive = b"image archive"
    proc, _, _ = _load_image(tmp_path, archive, hashlib.sha256(archive).hexdigest(), "sha256:" + "b" * 64)
    assert proc.returncode == 1 and "the build job made sha256:" + "a" * 64 in proc.stdout
