"""The workflows' step conditions that matter when a job fails or is
cancelled, read from the YAML (no runner).

GitHub Actions (Workflow syntax, ``jobs.<job_id>.steps[*].if``): "A step
without an if condition runs only when every previous step succeeded"
(the default status check is ``success()``); ``always()`` "causes the step
to always execute, and returns true, even when canceled". A step that puts
state back (``status`` restores relaxed stack policies and switches
termination protection on, wealist_cfn/deploy/policy.py) must therefore say
``always()``; a step that changes the environment further (a rollout) must
not run after a failure.
"""

from __future__ import annotations

import re

import pytest
import yaml

from .tools import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
RESTORES = re.compile(r"build\.py status\b")
CHANGES = re.compile(r"build\.py (deploy|rollout)\b")
RUNS_AFTER_FAILURE = re.compile(r"\b(always|failure|cancelled)\(\)")


def _steps(name: str) -> list[tuple[str, dict]]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    return [(job, step) for job, spec in doc["jobs"].items() for step in spec.get("steps", [])]


def restore_problems(steps: list[tuple[str, dict]]) -> list[str]:
    """Steps that restore state without ``if: always()``, or that come
    before the step whose failure they clean up after; and steps that change
    the environment but would run after a failure or cancellation."""
    problems = []
    changed_in: dict[str, int] = {}
    for i, (job, step) in enumerate(steps):
        run, cond = step.get("run", ""), str(step.get("if", ""))
        label = f"{job}: {step.get('name') or run.splitlines()[0] if run else step.get('uses')}"
        if RESTORES.search(run):
            if cond.replace("${{", "").replace("}}", "").strip() != "always()":
                problems.append(
                    f"{label}: restores state but runs only if every step before it succeeded (if: {cond or 'none'})"
                )
            if job not in changed_in:
                problems.append(f"{label}: restores state before any step that changes it")
        elif CHANGES.search(run):
            changed_in.setdefault(job, i)
            if RUNS_AFTER_FAILURE.search(cond):
                problems.append(f"{label}: changes the environment after a failure (if: {cond})")
    return problems


def test_the_deploy_puts_stack_state_back_whatever_happened_before():
    steps = _steps("deploy.yml")
    assert any(RESTORES.search(s.get("run", "")) for _, s in steps), "deploy.yml has no `build.py status` step"
    assert restore_problems(steps) == []


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_no_workflow_restores_too_late_or_changes_after_a_failure(name):
    assert restore_problems(_steps(name)) == []


@pytest.mark.parametrize(
    "cond,found",
    [
        (None, "runs only if every step before it succeeded"),
        ("success()", "runs only if every step before it succeeded"),
        ("steps.deploy.outcome == 'failure'", "runs only if every step before it succeeded"),
    ],
)
def test_a_restore_step_without_always_is_found(cond, found):
    steps = [
        ("deploy", {"name": "Deploy", "run": "python build.py deploy --yes"}),
        ("deploy", {"name": "Stack state", "run": "python build.py status", **({"if": cond} if cond else {})}),
    ]
    [problem] = restore_problems(steps)
    assert found in problem


def test_a_rollout_after_a_failure_is_found():
    steps = [
        ("deploy", {"name": "Deploy", "run": "python build.py deploy --yes"}),
        (
            "deploy",
            {
                "name": "Roll out",
                "if": "always() && steps.roll.outputs.backend == 'true'",
                "run": "python build.py rollout --params params/prod.json",
            },
        ),
    ]
    assert restore_problems(steps) == [
        "deploy: Roll out: changes the environment after a failure "
        "(if: always() && steps.roll.outputs.backend == 'true')"
    ]
