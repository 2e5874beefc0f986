"""Why lint.py runs cfn-lint from the template's own folder: cfn-lint 1.58
finds a nested stack's child by its relative TemplateURL from the parent's
folder, but reads the child's Outputs (rule E1010, ``GetAtt
Child.Outputs.X``) only when the child lies under the working directory, and
otherwise skips that check without a word. cfn-lint itself; no endpoint."""

from __future__ import annotations

import os
import shutil

import pytest

from wealist_cfn import lint
from wealist_cfn.core.settings import TEMPLATES_DIR


@pytest.fixture
def broken_root(tmp_path):
    """A copy of the templates whose root reads an output no child has."""
    work = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, work)
    root = work / "root.yaml"
    text = root.read_text()
    assert "Outputs.Ec2InstanceProfileArn" in text
    root.write_text(text.replace("Outputs.Ec2InstanceProfileArn", "Outputs.NoSuchOutput", 1))
    return root


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A working directory that is no ancestor of the templates."""
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    return other


def _rules_without_chdir(path) -> set[str]:
    from cfnlint.api import ConfigMixIn, Runner
    from cfnlint.runner.template import run_template_by_file_paths

    config = ConfigMixIn(["--config-file", str(lint.CONFIG_FILE), str(path)])
    return {m.rule.id for m in run_template_by_file_paths(config, Runner(config).rules)}


@pytest.mark.slow
def test_cfn_lint_alone_misses_a_wrong_child_output_from_another_directory(broken_root, elsewhere):
    """Upstream behaviour: when this fails, cfn-lint checks children from
    anywhere and lint.py's chdir can go."""
    assert not os.path.abspath(broken_root).startswith(str(elsewhere))
    assert "E1010" not in _rules_without_chdir(broken_root)


@pytest.mark.slow
def test_lint_catches_a_wrong_child_output_whatever_the_working_directory(broken_root, elsewhere):
    findings = lint.lint([broken_root], workers=1)
    assert "E1010" in {f.rule for f in findings}
    assert os.getcwd() == str(elsewhere)  # and it puts the working directory back
