"""The registry of experiments: every template lints clean through the
project's lint path, the service role can make every resource type its
experiments use, every "relied on by" names code that exists, and the
markdown report of a failed assumption names that code and the issue.

No AWS: cfn-lint (the project's .cfnlintrc.yaml) and the source tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from wealist_cfn import lint
from wealist_cfn.cfn.templates import load
from wealist_cfn.core.settings import DEFAULT_SETTINGS, ROOT_DIR
from wealist_cfn.errors import CommandError
from wealist_cfn.prove import estimate, registry, report, runner
from wealist_cfn.prove.model import FAILS
from wealist_cfn.stacks.github_oidc import NestedSet


def test_ids_are_unique():
    ids = [e.id for e in registry.EXPERIMENTS + registry.NOT_EXPERIMENTS]
    assert len(ids) == len(set(ids))


def test_every_template_lints_clean(tmp_path):
    """All experiments' templates in one cfn-lint run (a root reads its
    nested children by their relative TemplateURL, as the project's do)."""
    paths = []
    for e in registry.EXPERIMENTS:
        folder = tmp_path / e.id
        folder.mkdir()
        for name, text in e.templates.items():
            (folder / name).write_text(text, encoding="utf-8")
            paths.append(folder / name)
    assert paths
    assert lint.lint(paths, workers=1) == []


def test_the_lint_check_can_fail(tmp_path):
    bad = tmp_path / "root.yaml"
    bad.write_text(
        registry.ALL["empty-parameter-value"]
        .templates["root.yaml"]
        .replace("Type: String\n      Value", "Typ: String\n      Value")
    )
    assert lint.lint([bad], workers=1)


def test_the_service_role_handles_every_type_of_its_experiments():
    """The IAM trace: the service role's handler permissions are derived
    from the types the project's templates declare (github_oidc.NestedSet);
    an experiment run as the service role may use only those, or its create
    fails on a permission the role was never given."""
    declared = NestedSet(DEFAULT_SETTINGS).types
    for e in registry.EXPERIMENTS:
        if not e.service_role:
            continue
        for text in e.templates.values():
            types = {r["Type"] for r in load(text)["Resources"].values()}
            assert types <= declared, (e.id, types - declared)


def _defined(path: Path, dotted: str) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    scope = tree.body
    for part in dotted.split("."):
        found = None
        for node in scope:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == part:
                found = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == part for t in targets):
                    found = node
        if found is None:
            return False
        scope = getattr(found, "body", [])
    return True


@pytest.mark.parametrize("entry", registry.EXPERIMENTS + registry.NOT_EXPERIMENTS, ids=lambda e: e.id)
def test_relied_on_code_exists(entry):
    assert entry.relies
    for r in entry.relies:
        path = ROOT_DIR / r.file
        assert path.is_file(), r
        assert _defined(path, r.name), f"{r}: not defined there"


def test_a_renamed_function_is_caught():
    assert not _defined(ROOT_DIR / "wealist_cfn/deploy/policy.py", "protect_all")
    assert _defined(ROOT_DIR / "wealist_cfn/deploy/flow.py", "Deployment.execute")


def test_every_experiment_is_priced_or_says_what_is_not():
    """Cost from the project's price table; a charge the table cannot price
    is named, never counted as $0."""
    for region in ("ap-northeast-2", "us-east-1"):
        est = estimate.total(list(registry.EXPERIMENTS), region)
        for e, row in zip(registry.EXPERIMENTS, est.rows):
            assert len(row.lines) + len(row.unpriced) >= len(e.charges) + len(e.unpriced)
            assert e.minutes > 0 and e.minutes_basis
    seoul = estimate.total(registry.select(["redis-member-ids"]), "ap-northeast-2")
    assert seoul.rows[0].usd == 0 and "elasticache:cache.t3.micro has no sourced figure" in seoul.unpriced[0]


def test_select_refuses_unknown_ids_and_entries_that_are_not_experiments():
    with pytest.raises(CommandError, match="no such experiment"):
        registry.select(["nope"])
    with pytest.raises(CommandError, match="not an experiment: it needs the service role's own credentials"):
        registry.select(["tag-on-create-exposure"])
    assert [e.id for e in registry.select(["imds-hop-limit", "nested-stack-policy"])] == [
        "nested-stack-policy",
        "imds-hop-limit",
    ]


def test_a_failed_assumption_names_the_code_and_the_issue():
    exp = registry.ALL["nested-stack-policy"]
    rep = runner.Report(
        "123456789012",
        "ap-northeast-2",
        "r1",
        "2026-12-07T12:00:00+00:00",
        estimate.total([exp], "ap-northeast-2"),
        results=[
            runner.Result(exp.id, FAILS, "replaced despite the policy", {"repositories": [{"repositoryName": "x-b"}]})
        ],
    )
    md = report.render_markdown(rep)
    assert "## Failed assumptions" in md
    assert "`wealist_cfn/deploy/policy.py:protect`" in md and f"Issue to open: **{exp.issue}**" in md
    assert '"repositoryName": "x-b"' in md
    text = report.render_text(rep)
    assert "relied on by: wealist_cfn/deploy/policy.py:protect" in text and exp.issue in text


# Billing granularity of each priced key, from AWS's pricing pages:
# ELB "each hour or partial hour" (aws.amazon.com/elasticloadbalancing/pricing);
# node-based ElastiCache charged hourly per node, a partial node-hour as a
# full one (aws.amazon.com/elasticache/pricing; the cost and usage report's
# NodeUsage); KMS $1 a key-month prorated hourly (aws.amazon.com/kms/pricing).
# EC2 Linux and EBS are per second (60 s minimum), so any fraction is right.
WHOLE_HOURS = {"alb:hour": 1.0, "elasticache:cache.t3.micro": 1.0, "kms:key": 1 / 730}


def test_charges_billed_by_the_hour_are_counted_in_whole_hours():
    """A charge in a unit billed per started hour is a whole number of
    hours: 15 minutes of a load balancer cost one load balancer-hour."""
    for e in registry.EXPERIMENTS:
        for c in e.charges:
            unit = WHOLE_HOURS.get(c.key)
            if unit is None:
                continue
            hours = c.quantity / unit
            assert hours >= 1 and abs(hours - round(hours)) < 1e-9, (e.id, c.key, c.quantity)
