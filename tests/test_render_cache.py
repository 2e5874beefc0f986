"""The build's cache of emitted YAML (synth.RenderCache): a cached build
writes the same bytes as an uncached one, and an entry is used only for the
exact JSON and library versions it was emitted from. No endpoint."""

from __future__ import annotations

import json

from wealist_cfn.core.settings import TEMPLATES_DIR
from wealist_cfn.stacks import synth


def test_cached_build_is_byte_identical_to_an_uncached_one(tmp_path):
    cache = synth.RenderCache(tmp_path)
    fresh = {r.filename: r.text for r in synth.synthesize()}
    filled = {r.filename: r.text for r in synth.synthesize(cache=cache)}
    assert len(list(tmp_path.glob("*.json"))) == len(fresh)
    # The second run reads every template back and emits nothing.
    reread = synth.RenderCache(tmp_path)
    reread.put = lambda key, text: (_ for _ in ()).throw(AssertionError(f"emitted again: {key}"))
    cached = {r.filename: r.text for r in synth.synthesize(cache=reread)}
    assert fresh == filled == cached
    assert all((TEMPLATES_DIR / name).read_text() == text for name, text in cached.items())


def test_damaged_or_foreign_entries_are_misses(tmp_path):
    cache = synth.RenderCache(tmp_path)
    key = cache.key('{"Resources": {}}')
    cache.put(key, "Resources: {}\n")
    assert cache.get(key) == "Resources: {}\n"
    entry = tmp_path / f"{key}.json"
    data = json.loads(entry.read_text())
    entry.write_text(json.dumps({**data, "text": "Resources: {tampered}\n"}))
    assert cache.get(key) is None
    entry.write_text(json.dumps({**data, "key": "0" * 64}))
    assert cache.get(key) is None
    entry.write_text(entry.read_text()[:20])
    assert cache.get(key) is None


def test_key_follows_the_json_and_the_emitting_libraries(tmp_path, monkeypatch):
    cache = synth.RenderCache(tmp_path)
    assert cache.key('{"a": 1}') != cache.key('{"a": 2}')
    real = synth.metadata.version
    monkeypatch.setattr(synth.metadata, "version", lambda dist: "0.0.1" if dist == "PyYAML" else real(dist))
    assert synth.RenderCache(tmp_path).key('{"a": 1}') != cache.key('{"a": 1}')
    monkeypatch.undo()
    from cfn_tools._config import config  # cfn-flip's, set from CFN_MAX_COL_WIDTH

    config.max_col_width = 120
    try:
        assert synth.RenderCache(tmp_path).key('{"a": 1}') != cache.key('{"a": 1}')
    finally:
        config.reset("max_col_width")
    assert synth.RenderCache(tmp_path).key('{"a": 1}') == cache.key('{"a": 1}')


def test_prune_keeps_only_what_the_run_used(tmp_path):
    old = synth.RenderCache(tmp_path)
    old.put(old.key("old"), "old\n")
    new = synth.RenderCache(tmp_path)
    new.put(new.key("new"), "new\n")
    new.prune()
    assert [p.stem for p in tmp_path.glob("*.json")] == [new.key("new")]
