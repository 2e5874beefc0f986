"""The weekly drift workflow (actionlint runs over it in tests/ops/test_workflows.py)."""

from __future__ import annotations

import yaml

from wealist_cfn.core.settings import ROOT_DIR

WORKFLOW = ROOT_DIR / ".github" / "workflows" / "drift.yml"


def test_drift_runs_weekly_with_the_plan_role_and_files_an_issue():
    wf = yaml.safe_load(WORKFLOW.read_text())
    on = wf[True]  # YAML 1.1 reads the key `on` as true
    (cron,) = [s["cron"] for s in on["schedule"]]
    minute, hour, dom, month, dow = cron.split()
    assert dom == "*" and month == "*" and dow not in ("*", "") and "," not in dow  # once a week
    assert wf["permissions"] == {"contents": "read", "id-token": "write", "issues": "write"}
    steps = wf["jobs"]["drift"]["steps"]
    creds = next(s for s in steps if s.get("uses", "").startswith("aws-actions/configure-aws-credentials"))
    assert creds["with"]["role-to-assume"] == "${{ vars.AWS_PLAN_ROLE_ARN }}"
    detect = next(s for s in steps if s.get("id") == "drift")
    assert "build.py drift" in detect["run"] and "--output markdown" in detect["run"]
    issue = next(s for s in steps if "gh issue" in s.get("run", ""))
    assert issue["if"] == "steps.drift.outputs.drifted == 'true'"
    assert "gh issue comment" in issue["run"] and "gh issue create" in issue["run"]
