"""The GitHub Actions workflows: actionlint (from the PyPI wheel) over all of
them, and the wiring a reviewer would check by eye (triggers, OIDC
permissions, the exact build.py commands, the parameter names)."""

from __future__ import annotations

import re
import subprocess

import yaml

from wealist_cfn.ops.bootstrap import PARAMS_BY_NAME
from wealist_cfn.settings import DEFAULT_SETTINGS

from .tools import ROOT, require

WORKFLOWS = ROOT / ".github" / "workflows"


def _load(name):
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


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


def test_main_deploys_through_oidc_then_rolls_out():
    deploy = _load("deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"] and "workflow_dispatch" in deploy["on"]
    assert deploy["permissions"] == {"contents": "read", "id-token": "write"}
    assert deploy["concurrency"]["cancel-in-progress"] is False
    job = deploy["jobs"]["deploy"]
    assert job["environment"] == "production"
    runs = [s.get("run", "") for s in job["steps"]]
    order = [next(i for i, r in enumerate(runs) if cmd in r) for cmd in (
        "build.py --check", "build.py bootstrap --params params/prod.json",
        "build.py deploy --stack-name wealist-prod --params params/prod.json --yes",
        "build.py rollout --params params/prod.json")]
    assert order == sorted(order)
    # A plan's change set runs only once proven; otherwise the deploy's own, said so (test_trust.py).
    assert "--change-set reviewed-or-new --output json" in runs[order[2]]
    assert not any("aws-access-key-id" in str(s.get("with", {})) for s in job["steps"]), "no stored keys"


def test_the_reusable_release_pushes_by_commit_records_the_tag_and_rolls_out():
    release = _load("release-service.yml")
    assert "workflow_call" in release["on"]
    job = release["jobs"]["release"]
    runs = _runs(job)
    assert "rev-parse HEAD" in runs and "docker push" in runs
    # The tag is set (and restored on failure) by the rollout itself.
    assert 'build.py rollout --params "$PARAMS" --release "$SERVICE=$TAG"' in runs
    for svc in ("user_service", "board_service"):
        assert f"deploy/{svc}_image_tag" in PARAMS_BY_NAME and f"deploy/{svc}_repository" in PARAMS_BY_NAME
    caller = _load("release.yml")
    assert caller["jobs"]["release"]["uses"] == "./.github/workflows/release-service.yml"


def test_releases_offer_and_accept_exactly_the_settings_services():
    """The service choice of release.yml and the check in release-service.yml
    name the services the stacks build repositories for."""
    names = [s.name for s in DEFAULT_SETTINGS.services]
    assert _load("release.yml")["on"]["workflow_dispatch"]["inputs"]["service"]["options"] == names
    check = next(s for s in _load("release-service.yml")["jobs"]["release"]["steps"]
                 if s.get("name") == "Check the service name")
    [accepted] = re.findall(r"^\s*([\w|-]+)\) ;;$", check["run"], re.MULTILINE)
    assert accepted.split("|") == names
