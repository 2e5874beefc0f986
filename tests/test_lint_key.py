"""The lint cache's key (wealist_cfn/lint/__init__.py, lint_key and LintCache) over
small template trees with children and grandchildren: the key must change
whenever anything cfn-lint reads for a template changes, at any depth, and
a cache entry must never be read under another key. No cfn-lint run, no
endpoint.

cfn-lint follows a nested stack's local TemplateURL (and that child's own,
and so on) when it checks GetAtt/Outputs across stacks, so a root's answer
depends on every template below it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wealist_cfn import lint

NESTED = "  {name}:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: {url}\n"


def template(*children: str, body: str = "") -> str:
    resources = "".join(NESTED.format(name=f"C{i}", url=url) for i, url in enumerate(children))
    return (
        "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n"
        + resources
        + "  Topic:\n    Type: AWS::SNS::Topic\n"
        + (f"# {body}\n" if body else "")
    )


@pytest.fixture
def tree(tmp_path) -> Path:
    """root -> a, b; a -> grand; b has no child; other is outside the tree."""
    (tmp_path / "root.yaml").write_text(template("a.yaml", "b.yaml"))
    (tmp_path / "a.yaml").write_text(template("grand.yaml"))
    (tmp_path / "b.yaml").write_text(template())
    (tmp_path / "grand.yaml").write_text(template())
    (tmp_path / "other.yaml").write_text(template())
    return tmp_path


def key(path: Path, version: str = "1.0", config: bytes = b"{}") -> str:
    return lint.lint_key(path, version, config)


def keys(d: Path) -> dict[str, str]:
    return {p.name: key(p) for p in sorted(d.glob("*.yaml"))}


def test_the_key_is_stable_for_the_same_bytes(tree):
    assert keys(tree) == keys(tree)


@pytest.mark.parametrize(
    "edited,changed",
    [
        ("grand.yaml", {"grand.yaml", "a.yaml", "root.yaml"}),
        ("a.yaml", {"a.yaml", "root.yaml"}),
        ("b.yaml", {"b.yaml", "root.yaml"}),
        ("root.yaml", {"root.yaml"}),
        ("other.yaml", {"other.yaml"}),
    ],
)
def test_an_edit_at_any_depth_changes_exactly_the_keys_above_it(tree, edited, changed):
    before = keys(tree)
    (tree / edited).write_text((tree / edited).read_text() + "# edited\n")
    after = keys(tree)
    assert {name for name in before if before[name] != after[name]} == changed


def test_a_grandchild_that_appears_or_disappears_changes_the_root(tree):
    before = key(tree / "root.yaml")
    (tree / "grand.yaml").unlink()
    missing = key(tree / "root.yaml")
    (tree / "grand.yaml").write_text("")
    empty = key(tree / "root.yaml")
    assert len({before, missing, empty}) == 3


def test_a_cycle_of_templates_ends(tree):
    (tree / "grand.yaml").write_text(template("root.yaml"))
    assert key(tree / "root.yaml") != key(tree / "a.yaml")


def test_only_literal_local_urls_are_followed(tree):
    """An S3 URL or an intrinsic (!Sub) names no local file cfn-lint reads."""
    text = template("https://s3.amazonaws.com/bucket/grand.yaml") + (
        "  D:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: !Sub '${AWS::Region}.yaml'\n"
    )
    assert lint._stack_urls(text) == ()
    assert lint._stack_urls(template("a.yaml", "b.yaml")) == ("a.yaml", "b.yaml")
    assert lint._stack_urls("Resources: [") == ()


@pytest.mark.parametrize("other", [{"version": "1.1"}, {"config": b"{'ignore_checks': ['W']}"}])
def test_cfn_lint_version_and_config_are_in_the_key(tree, other):
    assert key(tree / "root.yaml") != key(tree / "root.yaml", **other)


def test_the_same_bytes_elsewhere_get_another_key(tree, tmp_path_factory):
    """cfn-lint's findings name the file: a copy is not the same entry."""
    copy = tmp_path_factory.mktemp("copy")
    for p in tree.glob("*.yaml"):
        (copy / p.name).write_bytes(p.read_bytes())
    assert key(copy / "root.yaml") != key(tree / "root.yaml")


def test_an_entry_is_read_only_under_the_key_it_was_written_with(tree, tmp_path):
    cache = lint.LintCache(tmp_path / "cache", config_file=tree / "b.yaml", version="1.0")
    finding = lint.Finding("root.yaml", 3, "W1001", "warning", "a warning")
    root, a = tree / "root.yaml", tree / "a.yaml"
    k = cache.key(root)
    cache.put(root, k, [finding])
    cache.put(a, cache.key(a), [])
    assert cache.get(root, k) == [finding]
    assert cache.get(a, cache.key(a)) == []
    (tree / "grand.yaml").write_text(template(body="edited"))
    assert cache.get(root, cache.key(root)) is None
    assert cache.get(a, cache.key(a)) is None
    assert cache.get(tree / "other.yaml", cache.key(tree / "other.yaml")) is None


def test_a_cache_directory_whose_parents_do_not_exist_yet_is_made(tree, tmp_path):
    cache = lint.LintCache(tmp_path / "a" / "b" / "cache", config_file=tree / "b.yaml", version="1.0")
    root = tree / "root.yaml"
    cache.put(root, cache.key(root), [])
    assert cache.get(root, cache.key(root)) == []


def test_the_entry_is_renamed_into_place_within_the_cache_directory(tree, tmp_path, monkeypatch):
    """rename(2) cannot cross filesystems (EXDEV, "oldpath and newpath are
    not on the same mounted filesystem"); os.replace is that call. The stand-in
    refuses, as the kernel would across a mount, any replace whose source is
    outside the destination's folder: the temporary file must be made beside
    the entry (the cache's folder and the system's temp folder can be on
    different filesystems), or the cache is never written."""
    import errno
    import os

    real = os.replace

    def replace(src, dst):
        if os.path.dirname(os.path.abspath(src)) != os.path.dirname(os.path.abspath(dst)):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real(src, dst)

    monkeypatch.setattr(lint.os, "replace", replace)
    cache = lint.LintCache(tmp_path / "cache", config_file=tree / "b.yaml", version="1.0")
    root = tree / "root.yaml"
    finding = lint.Finding("root.yaml", 1, "W1", "warning", "ünïcode message")
    cache.put(root, cache.key(root), [finding])
    assert cache.get(root, cache.key(root)) == [finding]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [cache._entry(root).name]


def test_an_unreadable_cfn_lint_config_is_one_line_naming_the_file(tmp_path):
    missing = tmp_path / "no-such.cfnlintrc.yaml"
    with pytest.raises(lint.CommandError) as exc:
        lint.LintCache(tmp_path / "cache", config_file=missing, version="1.0")
    assert exc.value.exit_code == lint.EXIT_USAGE
    assert str(exc.value) == f"{missing}: cannot read: No such file or directory"


def test_the_committed_root_names_every_child_despite_its_short_form_intrinsics():
    """root.yaml is full of !Ref/!GetAtt/!Sub: they must not stop the parse."""
    from wealist_cfn.core.settings import TEMPLATES_DIR

    text = (TEMPLATES_DIR / "root.yaml").read_text()
    assert "!GetAtt" in text or "!Ref" in text
    assert sorted(lint._stack_urls(text)) == sorted(
        p.name for p in TEMPLATES_DIR.glob("*.yaml") if p.name not in ("root.yaml", "github-oidc.yaml")
    )


@pytest.mark.parametrize(
    "text",
    [
        "- AWS::CloudFormation::Stack\n",  # a list, not a template
        "Resources:\n  A: 5\n  B:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: b.yaml\n",
        "Resources:\n  X:\n    Type: Custom::AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: x.yaml\n"
        "  B:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: b.yaml\n",
    ],
)
def test_only_nested_stacks_are_followed_and_odd_shapes_do_not_break_the_key(text):
    assert lint._stack_urls(text) == (() if text.startswith("-") else ("b.yaml",))


def test_a_child_named_twice_or_missing_does_not_hide_the_ones_after_it(tmp_path):
    (tmp_path / "root.yaml").write_text(template("a.yaml", "a.yaml", "missing.yaml", "b.yaml"))
    (tmp_path / "a.yaml").write_text(template())
    (tmp_path / "b.yaml").write_text(template())
    before = key(tmp_path / "root.yaml")
    (tmp_path / "b.yaml").write_text(template(body="edited"))
    assert key(tmp_path / "root.yaml") != before


def test_bytes_that_are_not_utf8_still_get_a_key_that_follows_them(tree):
    """cfn-lint reports an undecodable template; the key must not crash on
    it, and must still change with its bytes."""
    bad = tree / "a.yaml"
    bad.write_bytes(template("grand.yaml").encode() + b"# \xff\xfe\n")
    first = key(tree / "root.yaml")
    (tree / "grand.yaml").write_text(template(body="edited"))
    assert key(tree / "root.yaml") != first
