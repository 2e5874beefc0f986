"""The GitHub Actions workflows: actionlint (from the PyPI wheel) over all of
them, and the wiring a reviewer would check by eye (triggers, OIDC
permissions, the exact build.py commands, the parameter names)."""

from __future__ import annotations

import re
import subprocess

import pytest

from helpers.workflows import (
    WORKFLOWS,
    _load,
)
from wealist_cfn.core.settings import DEFAULT_SETTINGS
from wealist_cfn.ops.bootstrap import PARAMS_BY_NAME

from .tools import ROOT, require


def _runs(job):
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_actionlint_passes_on_every_workflow():
    actionlint = require("actionlint")
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert len(files) >= 4
    result = subprocess.run([actionlint, "-no-color", *map(str, files)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_the_tests_the_template_check_and_cfn_lint_on_every_push_and_pull_request():
    ci = _load("ci.yml")
    assert set(ci["on"]) == {"push", "pull_request"}
    assert ci["permissions"] == {"contents": "read"}
    runs = "\n".join(_runs(j) for j in ci["jobs"].values())
    assert "make test" in runs and "build.py --check" in runs
    # cfn-lint runs inside templates/, where it can follow the nested stacks.
    lint = next(s for j in ci["jobs"].values() for s in j["steps"] if "cfn-lint" in s.get("run", ""))
    assert lint["working-directory"] == "templates"
    assert "--config-file ../.cfnlintrc.yaml" in lint["run"] and "*.yaml" in lint["run"]


def test_pull_requests_get_the_change_set_review_in_the_job_summary_without_deploy_rights():
    plan = _load("plan.yml")
    assert plan["permissions"]["id-token"] == "write"
    job = plan["jobs"]["plan"]
    assert "head.repo.full_name == github.repository" in job["if"]
    creds = next(s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", ""))
    assert creds["with"]["role-to-assume"] == "${{ vars.AWS_PLAN_ROLE_ARN }}"
    runs = _runs(job)
    assert "build.py plan --stack-name wealist-prod --params params/prod.json --output markdown" in runs
    assert "$GITHUB_STEP_SUMMARY" in runs and "deploy" not in runs.replace("build.py plan", "")
    # The change set stays for the deploy of the merge; the review is posted on the pull request.
    assert "--discard" not in runs and "gh pr comment" in runs
    assert plan["permissions"]["pull-requests"] == "write"


def test_main_deploys_what_a_person_approved_then_rolls_out():
    """deploy.yml in two jobs: ``prepare`` (no environment, the plan role,
    which may create change sets and never execute one) makes the change set
    of this commit and writes its review to the job summary; ``execute``
    (environment ``production``: its reviewers approve after that summary
    exists) executes exactly that change set by name, with the proof, and
    never one of its own in its place."""
    deploy = _load("deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"] and "workflow_dispatch" in deploy["on"]
    assert deploy["permissions"] == {"contents": "read", "id-token": "write"}
    assert deploy["concurrency"]["cancel-in-progress"] is False
    prepare, job = deploy["jobs"]["prepare"], deploy["jobs"]["execute"]
    assert "environment" not in prepare
    creds = next(s for s in prepare["steps"] if "configure-aws-credentials" in s.get("uses", ""))
    assert creds["with"]["role-to-assume"] == "${{ vars.AWS_PLAN_ROLE_ARN }}"
    assert "build.py plan --stack-name wealist-prod --params params/prod.json --output markdown" in _runs(prepare)
    assert "$GITHUB_STEP_SUMMARY" in _runs(prepare) and "build.py deploy" not in _runs(prepare)
    assert prepare["outputs"] == {
        "change-set": "${{ steps.plan.outputs.change-set }}",
        "change-set-id": "${{ steps.plan.outputs.change-set-id }}",
        "type": "${{ steps.plan.outputs.type }}",
    }

    assert job["needs"] == "prepare" and job["environment"] == "production"
    creds = next(s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", ""))
    assert creds["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    runs = [s.get("run", "") for s in job["steps"]]
    order = [
        next(i for i, r in enumerate(runs) if cmd in r)
        for cmd in (
            "build.py --check",
            "--no-execute",
            "build.py bootstrap --params params/prod.json",
            "build.py deploy --stack-name wealist-prod --params params/prod.json --yes",
            "build.py rollout --params params/prod.json",
        )
    ]
    assert order == sorted(order)
    handed = {
        "CHANGE_SET": "${{ needs.prepare.outputs.change-set }}",
        "CHANGE_SET_ID": "${{ needs.prepare.outputs.change-set-id }}",
        "TYPE": "${{ needs.prepare.outputs.type }}",
    }
    assert job["steps"][order[1]]["env"] == handed
    step = job["steps"][order[3]]
    assert step["env"] == handed
    # The approved change set, pinned by its ID and proven (test_trust.py); no adoption by search, no fallback.
    assert '--change-set "$CHANGE_SET" --change-set-id "$CHANGE_SET_ID" --output json' in step["run"]
    assert "reviewed" not in step["run"]
    assert not any("aws-access-key-id" in str(s.get("with", {})) for s in job["steps"]), "no stored keys"
    # The steps after the deploy keep their conditions.
    conditions = {s.get("name"): s.get("if") for s in job["steps"]}
    assert conditions["Stack state"] == "always()"
    assert conditions["Roll out the backend"] == "steps.roll.outputs.backend == 'true'"
    assert conditions["Roll out monitoring"] == "steps.roll.outputs.monitoring == 'true'"


def _run_step(tmp_path, script: str, env: dict, python: str) -> tuple[int, dict, str, str]:
    """Run a workflow step's script with bash -e (GitHub's ``shell: bash``)
    in a scratch folder, ``python`` replaced by a shell stand-in; returns the
    exit code, the step outputs, the job summary and the stand-in's log."""
    import os
    import stat

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "python"
    shim.write_text('#!/bin/bash\necho "$*" >>"$SHIM_LOG"\n' + python)
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    files = {k: tmp_path / k for k in ("output", "summary", "log")}
    for f in files.values():
        f.write_text("")
    full = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(files["output"]),
        "GITHUB_STEP_SUMMARY": str(files["summary"]),
        "SHIM_LOG": str(files["log"]),
        **env,
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=full,
        capture_output=True,
        text=True,
    )
    outputs = dict(line.split("=", 1) for line in files["output"].read_text().splitlines() if "=" in line)
    return done.returncode, outputs, files["summary"].read_text(), files["log"].read_text()


UUID = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
ARN = f"arn:aws:cloudformation:ap-northeast-2:123456789012:changeSet/deploy-20261207-194500-abc1234-9f3e/{UUID}"


def _review_markdown(change_set_type: str) -> str:
    """What ``plan --output markdown`` prints for a change set: the review
    (review.render_markdown) and the ID line cli/deploy.py writes after it."""
    from wealist_cfn.deploy import review

    r = review.Review(
        stack_name="wealist-prod",
        change_set_type=change_set_type,
        change_set_name="deploy-20261207-194500-abc1234-9f3e",
        change_set_id=ARN,
    )
    return review.render_markdown(r) + f"\n\nChange set ID: `{ARN}`"


@pytest.mark.parametrize("kind", ["UPDATE", "CREATE", "no changes", "refused", "no ID"])
def test_prepare_hands_the_reviewed_change_set_to_execute(kind, tmp_path):
    """The prepare step's own script, with the plan replaced by a stand-in
    that prints what ``plan --output markdown`` prints (the review's heading
    rendered by review.render_markdown): the name and type of the change set
    reach the job outputs and the summary says what approving runs; no
    change set gives an empty name; a refused plan fails the job after its
    output reached the summary."""
    step = next(s for s in _load("deploy.yml")["jobs"]["prepare"]["steps"] if s.get("id") == "plan")
    if kind == "no changes":
        text, code = "### `wealist-prod`: no changes", 0
    elif kind == "refused":
        text, code = "### `wealist-prod`: failed (exit 3)", 3
    elif kind == "no ID":
        text, code = _review_markdown("UPDATE").split("\n\nChange set ID:")[0], 0
    else:
        text, code = _review_markdown(kind), 0
    (tmp_path / "review.src").write_text(text + "\n")
    rc, outputs, summary, log = _run_step(tmp_path, step["run"], {}, f"cat review.src\nexit {code}\n")
    assert "build.py plan --stack-name wealist-prod" in log
    assert text in summary
    if kind in ("refused", "no ID"):
        assert rc == (3 if kind == "refused" else 1) and outputs == {}
        return
    assert rc == 0
    name = "" if kind == "no changes" else "deploy-20261207-194500-abc1234-9f3e"
    # The UUID alone: no account ID, so a masked account ID cannot drop the output.
    assert outputs == {
        "change-set": name,
        "change-set-id": "" if kind == "no changes" else UUID,
        "type": "" if kind == "no changes" else kind,
    }
    said = {
        "UPDATE": f"Approving executes exactly `{name}`",
        "CREATE": "Approving creates the stack",
        "no changes": "Nothing to execute",
    }[kind]
    assert said in summary


@pytest.mark.parametrize("change_set,kind", [("deploy-1", "UPDATE"), ("deploy-1", "CREATE"), ("", "")])
def test_execute_runs_the_approved_change_set_by_name(change_set, kind, tmp_path):
    """The execute job's Deploy step, ``python`` a stand-in: an approved
    update is executed by name (``--change-set``, proven by deploy); a first
    create is made by the deploy itself (never executed by name); nothing to
    do deploys nothing and leaves the document the rollout step reads."""
    step = next(s for s in _load("deploy.yml")["jobs"]["execute"]["steps"] if s.get("name") == "Deploy")
    rc, _, _, log = _run_step(
        tmp_path,
        step["run"],
        {"CHANGE_SET": change_set, "CHANGE_SET_ID": UUID, "TYPE": kind},
        'echo \'{"result": {"status": "UPDATE_COMPLETE"}}\'\n',
    )
    assert rc == 0
    if not change_set:
        assert log == "" and '"NO_CHANGES"' in (tmp_path / "deploy.json").read_text()
    elif kind == "CREATE":
        assert log.startswith("build.py deploy --stack-name wealist-prod") and "--change-set" not in log
    else:
        assert f"--yes --change-set deploy-1 --change-set-id {UUID} --output json" in log


@pytest.mark.parametrize(
    "change_set,kind,code",
    [("deploy-1", "UPDATE", 0), ("deploy-1", "UPDATE", 3), ("deploy-1", "CREATE", 0), ("", "", 0)],
)
def test_the_approved_change_set_is_proven_before_bootstrap_writes_anything(change_set, kind, code, tmp_path):
    """The execute job's check before Bootstrap, ``python`` a stand-in: an
    approved update is proven by name and ID without executing it
    (``--no-execute``); when that refuses (exit 3: gone, made again under the
    name, or different) the step fails, so the job stops before Bootstrap. A
    first create and nothing to do have no change set to prove."""
    steps = _load("deploy.yml")["jobs"]["execute"]["steps"]
    names = [s.get("name", "") for s in steps]
    at = names.index("Approved change set is still the one reviewed")
    assert at < names.index("Bootstrap (startup script and instance files in step with main)")
    rc, _, _, log = _run_step(
        tmp_path, steps[at]["run"], {"CHANGE_SET": change_set, "CHANGE_SET_ID": UUID, "TYPE": kind}, f"exit {code}\n"
    )
    assert rc == code
    if kind == "UPDATE":
        assert log.strip() == (
            "build.py deploy --stack-name wealist-prod --params params/prod.json --no-execute "
            f"--change-set deploy-1 --change-set-id {UUID}"
        )
    else:
        assert log == ""


def test_the_reusable_release_pushes_by_commit_records_the_tag_and_rolls_out():
    release = _load("release-service.yml")
    assert "workflow_call" in release["on"]
    build, job = release["jobs"]["build"], release["jobs"]["release"]
    assert "rev-parse HEAD" in _runs(build) and "docker build" in _runs(build)
    assert "docker push" in _runs(job) and "docker build" not in _runs(job)
    assert job["needs"] == "build"
    # The tag is set (and restored on failure) by the rollout itself.
    assert 'build.py rollout --params "$PARAMS" --release "$SERVICE=$TAG"' in _runs(job)
    for svc in ("user_service", "board_service"):
        assert f"deploy/{svc}_image_tag" in PARAMS_BY_NAME and f"deploy/{svc}_repository" in PARAMS_BY_NAME
    caller = _load("release.yml")
    assert caller["jobs"]["release"]["uses"] == "./.github/workflows/release-service.yml"


def test_releases_offer_and_accept_exactly_the_settings_services():
    """The service choice of release.yml and the check in release-service.yml
    name the services the stacks build repositories for."""
    names = [s.name for s in DEFAULT_SETTINGS.services]
    assert _load("release.yml")["on"]["workflow_dispatch"]["inputs"]["service"]["options"] == names
    check = next(
        s for s in _load("release-service.yml")["jobs"]["build"]["steps"] if s.get("name") == "Check the release inputs"
    )
    [accepted] = re.findall(r"^\s*([\w|-]+)\) ;;$", check["run"], re.MULTILINE)
    assert accepted.split("|") == names


# -- supply chain: pins, caches, credentials, secrets ---------------------------------------------

SHA_PIN = re.compile(r"^(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40}) # v\d+(\.\d+){0,2}$")


def _uses_lines():
    """Every ``uses:`` of every workflow, as written (the comment included:
    YAML drops it, the version lives there)."""
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = re.match(r"^\s*(?:-\s+)?uses:\s*(.+?)\s*$", line)
            if m:
                yield f"{path.name}:{n}", m.group(1)


def unpinned_actions(lines) -> list[str]:
    """The ``uses:`` values that are not a full commit SHA with the version
    in a comment; local reusable workflows (``./``) are this repository's."""
    return [f"{where}: {value}" for where, value in lines if not value.startswith("./") and not SHA_PIN.match(value)]


def test_every_third_party_action_is_pinned_by_commit_with_its_version():
    lines = list(_uses_lines())
    assert len(lines) >= 15
    assert unpinned_actions(lines) == []


@pytest.mark.parametrize(
    "value",
    [
        "actions/checkout@v5",
        "actions/checkout@v5.1.0",
        "actions/checkout@fbc6f39",  # abbreviated: another object may match later
        "actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09",  # no version to read
        "actions/checkout@main # v5.1.0",
    ],
)
def test_the_pin_check_refuses_a_tag_a_branch_a_short_sha_and_a_bare_sha(value):
    assert unpinned_actions([("x.yml:1", value)]) == [f"x.yml:1: {value}"]


def _privileged_jobs():
    """(workflow, job id, job) of every job that can hold AWS credentials:
    id-token: write at the job's or the workflow's level, or a
    configure-aws-credentials step."""
    for path in sorted(WORKFLOWS.glob("*.yml")):
        doc = _load(path.name)
        for job_id, job in doc.get("jobs", {}).items():
            if "steps" not in job:
                continue  # a call of a reusable workflow: its own jobs are listed from its file
            perms = job.get("permissions", doc.get("permissions", {})) or {}
            creds = any("configure-aws-credentials" in s.get("uses", "") for s in job["steps"])
            if perms.get("id-token") == "write" or creds:
                yield path.name, job_id, job


def test_jobs_with_aws_credentials_use_no_cache_keep_no_git_credentials_and_install_by_hash():
    jobs = list(_privileged_jobs())
    assert {(w, j) for w, j, _ in jobs} == {
        ("deploy.yml", "prepare"),
        ("deploy.yml", "execute"),
        ("plan.yml", "plan"),
        ("drift.yml", "drift"),
        ("release-service.yml", "release"),
    }
    for workflow, job_id, job in jobs:
        where = f"{workflow} {job_id}"
        for step in job["steps"]:
            uses, with_ = step.get("uses", ""), step.get("with", {}) or {}
            if "setup-python" in uses:
                assert "cache" not in with_, f"{where}: a dependency cache in a job with AWS credentials"
            if "actions/checkout" in uses:
                assert with_.get("persist-credentials") is False, f"{where}: checkout keeps its git credentials"
        installs = [s["run"] for s in job["steps"] if "pip install" in s.get("run", "")]
        assert installs, where
        for run in installs:
            assert "--require-hashes" in run and "-r requirements.lock" in run and "--no-deps" in run, where
            assert "requirements.txt" not in run and "requirements-dev" not in run, where
        # Nothing in these jobs pushes to git (so no checkout needs its credentials kept).
        assert "git push" not in _runs(job), where


def test_the_image_is_built_where_no_aws_credentials_can_be_had():
    release = _load("release-service.yml")
    assert release["permissions"] == {"contents": "read"}
    build, job = release["jobs"]["build"], release["jobs"]["release"]
    assert build["permissions"] == {"contents": "read"}
    assert not any("aws-actions" in s.get("uses", "") for s in build["steps"])
    assert job["permissions"]["id-token"] == "write"
    # The image crosses as an artifact whose digest and image ID the build reported.
    assert any("upload-artifact" in s.get("uses", "") for s in build["steps"])
    assert any("download-artifact" in s.get("uses", "") for s in job["steps"])
    load = next(s for s in job["steps"] if s.get("name") == "Load the image")
    assert "sha256sum --check" in load["run"] and "$IMAGE_ID" in load["run"]
    assert load["env"]["IMAGE_ID"] == "${{ needs.build.outputs.image-id }}"


def _secret_refs(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _secret_refs(v, path + (k,))
    elif isinstance(node, list):
        for v in node:
            yield from _secret_refs(v, path)
    elif isinstance(node, str):
        for name in re.findall(r"secrets\.([A-Za-z_][\w-]*)", node):
            yield name, path


def test_secrets_are_read_only_by_jobs_of_the_production_environment():
    """No workflow reads a repository secret: SERVICE_SOURCE_TOKEN is a
    secret of the `production` environment, read only by a job that names
    the environment and cannot assume an AWS role; any writer's branch can
    read a repository secret, not an environment's behind its reviewers."""
    seen = set()
    for path in sorted(WORKFLOWS.glob("*.yml")):
        doc = _load(path.name)
        for job_id, job in doc.get("jobs", {}).items():
            for name, _ in _secret_refs(job):
                seen.add((path.name, job_id, name))
                assert name == "SERVICE_SOURCE_TOKEN", f"{path.name} {job_id}: secrets.{name}"
                env = job.get("environment")
                assert env in ("production", "${{ inputs.environment }}"), f"{path.name} {job_id}: no environment"
                assert (job.get("permissions") or {}).get("id-token") != "write"
        # Nothing outside the jobs (workflow env, on.workflow_call.secrets) names a secret.
        rest = {k: v for k, v in doc.items() if k != "jobs"}
        assert list(_secret_refs(rest)) == [], path.name
    assert seen == {("release-service.yml", "build", "SERVICE_SOURCE_TOKEN")}
    assert _load("release-service.yml")["on"]["workflow_call"]["inputs"]["environment"]["default"] == "production"
    assert _load("release.yml")["jobs"]["release"]["secrets"] == "inherit"


def test_no_pending_deploy_can_be_displaced_by_a_release():
    """GitHub keeps one pending run per concurrency group and cancels the
    older pending one when another queues. Deploys queue alone (a newer
    deploy of main holds every change of the one it replaces); releases
    queue in a group of their own and wait, bounded, for deploy runs."""
    deploy = _load("deploy.yml")["concurrency"]
    release_job = _load("release-service.yml")["jobs"]["release"]
    groups = {deploy["group"]}
    for path in sorted(WORKFLOWS.glob("*.yml")):
        doc = _load(path.name)
        if path.name != "deploy.yml" and "concurrency" in doc:
            assert doc["concurrency"]["group"] != deploy["group"], path.name
        for job in doc.get("jobs", {}).values():
            if "concurrency" in job:
                groups.add(job["concurrency"]["group"])
                assert job["concurrency"]["group"] != deploy["group"]
    assert deploy == {"group": "deploy-production", "cancel-in-progress": False}
    assert release_job["concurrency"] == {"group": "release-${{ inputs.environment }}", "cancel-in-progress": False}
    assert _load("deploy.yml")["on"]["push"]["branches"] == ["main"]  # each newer deploy contains the older
    wait = next(s for s in release_job["steps"] if s.get("name") == "Wait for running deploys")
    names = [s.get("name") or s.get("uses", "") for s in release_job["steps"]]
    assert names.index("Wait for running deploys") < next(
        i for i, n in enumerate(names) if "configure-aws-credentials" in n
    )
    assert "gh run list --workflow deploy.yml" in wait["run"] and int(wait["env"]["WAIT_SECONDS"]) > 0
    assert release_job["permissions"]["actions"] == "read"


def test_a_deploy_waits_for_releases_before_it_takes_the_deploy_role():
    """The mirror of the release's wait: the deploy's `execute` job reads the release runs (actions:
    read, nothing more added) and waits before its credentials, bootstrap and change set."""
    job = _load("deploy.yml")["jobs"]["execute"]
    assert job["permissions"] == {"contents": "read", "id-token": "write", "actions": "read"}
    names = [s.get("name") or s.get("uses", "") for s in job["steps"]]
    wait = names.index("Wait for running releases")
    assert wait < next(i for i, n in enumerate(names) if "configure-aws-credentials" in n)
    assert wait < names.index("Bootstrap (startup script and instance files in step with main)")
    step = job["steps"][wait]
    assert "gh run list --workflow release.yml" in step["run"] and int(step["env"]["WAIT_SECONDS"]) > 0
    # The step name the deploy looks for is the release's own.
    release_steps = [s.get("name") for s in _load("release-service.yml")["jobs"]["release"]["steps"]]
    assert "Wait for running deploys" in release_steps and '"Wait for running deploys"' in step["run"]


def test_the_image_outlives_a_late_approval_of_the_release_job():
    """Both release jobs wait for the production reviewers; the artifact must still be there when
    `release` is approved after `build` (a day is too short over a weekend), and operators are
    told how long they have."""
    [upload] = [
        s for s in _load("release-service.yml")["jobs"]["build"]["steps"] if "upload-artifact" in s.get("uses", "")
    ]
    assert upload["with"]["retention-days"] >= 7
    operations = (ROOT / "docs" / "operations.md").read_text()
    assert f"kept {upload['with']['retention-days']} days" in operations


# Commands that start or follow a stack operation for minutes (signals.py).
LONG = re.compile(r"\bbuild\.py\s+(deploy|rollout)\b")


def _long_steps():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_id, job in (_load(path.name).get("jobs") or {}).items():
            for step in job.get("steps", []):
                if LONG.search(step.get("run", "")):
                    yield path.name, job_id, step


def test_long_running_python_steps_exec_it_so_a_cancel_reaches_python():
    """The runner signals the step's process only (actions/runner,
    ProcessInvoker.cs); bash passes neither SIGINT nor SIGTERM on to a child.
    Every line that runs a deploy or a rollout execs python."""
    steps = list(_long_steps())
    assert {(w, s.get("name", "")) for w, _, s in steps} >= {
        ("deploy.yml", "Deploy"),
        ("deploy.yml", "Roll out the backend"),
        ("release-service.yml", "Release and roll out (or restore and roll back)"),
    }, [(w, s.get("name")) for w, _, s in steps]
    for workflow, job_id, step in steps:
        for line in step["run"].splitlines():
            if LONG.search(line):
                assert line.strip().startswith("exec python "), f"{workflow} {job_id} {step.get('name')}: {line}"


def test_a_cancel_of_the_deploy_step_reaches_python(tmp_path):
    """The Deploy step's script run as the runner runs it (a file, ``bash
    --noprofile --norc -eo pipefail``), ``python`` a stand-in that records
    the signals it gets: SIGINT sent to the step's process (bash's PID, as
    the runner does) reaches it. Without exec the stand-in never sees it."""
    import os
    import signal
    import time

    step = next(s for w, _, s in _long_steps() if w == "deploy.yml" and s.get("name") == "Deploy")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "log"
    shim = bin_dir / "python"
    # The stand-in ends by itself after 5 s, so a lost signal fails the test, never hangs it.
    shim.write_text(
        "#!/bin/bash\ntrap 'echo INT >>\"$SHIM_LOG\"; exit 130' INT\n"
        "trap 'echo TERM >>\"$SHIM_LOG\"; exit 143' TERM\n"
        'echo started >>"$SHIM_LOG"\nsleep 5 & wait $!\necho ended >>"$SHIM_LOG"\n'
    )
    shim.chmod(0o755)
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "SHIM_LOG": str(log), "CHANGE_SET": "deploy-1", "TYPE": "UPDATE"}
    # The runner starts a step with SIGINT at its default action. A pytest
    # started in the background (`pytest &` in a script) has SIGINT ignored,
    # and an ignored signal stays ignored across exec and cannot be trapped
    # (bash(1), SIGNALS): restore the runner's disposition in the child.
    proc = subprocess.Popen(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=tmp_path,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 10
        while "started" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "started" in log.read_text()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert log.read_text().splitlines() == ["started", "INT"]
