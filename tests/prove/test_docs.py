"""docs/deploy.md and the registry of experiments stay in step: the table
there is the one the registry generates, no hand-run sandbox check is left
in the docs, every id the docs name exists, and every former hand-run
check, "unproven" note and item of issue 28 is an experiment or an entry
saying why it is not one. Reads files only."""

from __future__ import annotations

import re

from wealist_cfn.core.settings import ROOT_DIR
from wealist_cfn.prove import estimate, registry

DEPLOY = ROOT_DIR / "docs" / "deploy.md"
OPERATIONS = ROOT_DIR / "docs" / "operations.md"


def _tags() -> set[str]:
    return {t for e in registry.EXPERIMENTS + registry.NOT_EXPERIMENTS for t in e.docs}


def test_the_docs_table_is_the_registrys():
    table = registry.docs_table(estimate.total(list(registry.EXPERIMENTS), "ap-northeast-2"))
    text = DEPLOY.read_text(encoding="utf-8")
    assert table in text, (
        "docs/deploy.md: regenerate the table with "
        "`python build.py prove --list --output markdown` (region ap-northeast-2)"
    )


def test_no_hand_run_sandbox_check_is_left():
    for path in (DEPLOY, OPERATIONS):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"sandbox checks? \d|One-time sandbox check", text), path.name


def test_every_id_the_docs_name_exists():
    named = set()
    for path in (DEPLOY, OPERATIONS):
        text = path.read_text(encoding="utf-8")
        named |= set(re.findall(r"[Ee]xperiments? `([a-z0-9-]+)`", text))
        named |= set(re.findall(r"`([a-z0-9-]+)` \(not an\s+experiment", text))
        named |= set(re.findall(r"--only ([a-z0-9-]+)", text))
        named |= set(re.findall(r"^- .*?: `([a-z0-9-]+)`[.;]?$", text, re.M))
    assert named, "the docs name no experiment"
    assert named <= set(registry.ALL), named - set(registry.ALL)


def test_every_former_check_and_issue_item_is_covered():
    tags = _tags()
    former = {f"former check {n}" for n in range(1, 13) if n != 7} | {
        "former check 7 (empty values)",
        "former check 7 (boundary)",
    }
    assert former <= tags, former - tags
    # Issue 28 lists twelve behaviours; docs/deploy.md's "Unproven" list five.
    assert len({t for t in tags if t.startswith("issue 28:")}) == 12
    assert len({t for t in tags if t.startswith("unproven:")}) == 5
    for entry in registry.EXPERIMENTS + registry.NOT_EXPERIMENTS:
        assert entry.docs, entry.id
    for entry in registry.NOT_EXPERIMENTS:
        assert len(entry.why) > 40, entry.id
