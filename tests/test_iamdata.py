"""The committed table of handler permissions (wealist_cfn/stacks/iamdata.json):
it is what cfn-lint derives, a build uses it only for the cfn-lint that
made it and the nested set's types, and ``--check`` catches any difference.
cfn-lint's own data only; no endpoint."""

from __future__ import annotations

import json

import pytest

from wealist_cfn.core.settings import DEFAULT_SETTINGS, TEMPLATES_DIR
from wealist_cfn.lint import buildjob
from wealist_cfn.stacks import iamdata, root, synth


def _nested_types() -> set[str]:
    return {r.resource_type for t in root.build_all(DEFAULT_SETTINGS).values() for r in t.resources.values()}


@pytest.fixture
def data_file(tmp_path, monkeypatch):
    """A copy of the committed table the module reads instead of the real one."""
    path = tmp_path / "iamdata.json"
    path.write_text(iamdata.DATA_FILE.read_text())
    monkeypatch.setattr(iamdata, "DATA_FILE", path)
    iamdata._committed.cache_clear()
    yield path
    iamdata._committed.cache_clear()


def test_committed_table_is_what_cfn_lint_derives_for_the_nested_set():
    assert iamdata.render(iamdata.derive(_nested_types())) == iamdata.DATA_FILE.read_text()


def test_table_of_another_cfn_lint_version_is_derived_again_and_rewritten(data_file):
    committed = data_file.read_text()
    table = json.loads(committed)
    table["cfn-lint"] = "0.0.1"
    data_file.write_text(iamdata.render(table))
    rendered = synth.synthesize()
    assert rendered.iamdata == committed
    assert synth.write_data(rendered, data_file)
    assert data_file.read_text() == committed
    assert synth.stale(rendered, TEMPLATES_DIR) == []


def test_a_new_resource_type_changes_the_table():
    text = iamdata.expected(_nested_types() | {"AWS::Lambda::Function"})
    assert text != iamdata.DATA_FILE.read_text()
    assert "lambda:CreateFunction" in json.loads(text)["types"]["AWS::Lambda::Function"]


def test_check_derives_from_cfn_lint_and_catches_a_hand_edit(data_file):
    """Same cfn-lint version, one permission removed by hand: a plain build
    would trust it; ``--check`` derives every fact again and fails on the
    table and on the service role it shrank."""
    table = json.loads(data_file.read_text())
    table["types"]["AWS::Logs::LogGroup"].remove("logs:CreateLogGroup")
    data_file.write_text(iamdata.render(table))
    iamdata._committed.cache_clear()
    assert not iamdata.handler_permissions("AWS::Logs::LogGroup") >= {"logs:CreateLogGroup"}

    report = buildjob.run(check=True, directory=TEMPLATES_DIR)
    assert report.stale_data == [f"{data_file} (differs)"]
    assert report.stale == []  # the committed templates hold the true permission
    # The check leaves the build trusting the table again.
    assert "logs:CreateLogGroup" not in iamdata.handler_permissions("AWS::Logs::LogGroup")


def test_questions_outside_the_table_are_answered_by_cfn_lint():
    assert "AWS::Lambda::Function" not in json.loads(iamdata.DATA_FILE.read_text())["types"]
    assert "lambda:CreateFunction" in iamdata.handler_permissions("AWS::Lambda::Function")
    assert iamdata.grantable("lambda:CreateFunction")
    assert not iamdata.grantable("s3:REST.PUT.OBJECT")
    assert "function" in iamdata.resource_types("lambda:CreateFunction")
    with pytest.raises(iamdata.SchemaError, match="AWS::Made::Up"):
        iamdata.handler_permissions("AWS::Made::Up")
