"""Render every template of the nested set to YAML, write them, spot stale
ones; and the same for the generated table of handler permissions the
service role is derived from (:mod:`wealist_cfn.stacks.iamdata`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from troposphere import Template

from wealist_cfn.core import cachefile
from wealist_cfn.core.settings import DEFAULT_SETTINGS, ROOT_DIR, TEMPLATES_DIR, BuildSettings
from wealist_cfn.stacks import github_oidc, iamdata, root

# Templates deployed on their own, once per account, not nested under the
# root: (file name, module with build(settings)).
STANDALONE = (("github-oidc.yaml", github_oidc),)


@dataclass(frozen=True)
class Rendered:
    filename: str  # e.g. "network.yaml"; root is "root.yaml"
    template: Template
    text: str

    @property
    def resource_count(self) -> int:
        return len(self.template.resources)


def render(template: Template, cache: RenderCache | None = None) -> str:
    """The template as the committed YAML. With ``cache``, a template whose
    JSON form was rendered before is read back instead of emitted again
    (PyYAML's pure-Python emitter costs most of a build's synthesis; its
    C emitter indents lists differently, so it cannot stand in)."""
    if cache is None:
        return template.to_yaml(clean_up=True, long_form=False)
    key = cache.key(template.to_json())
    text = cache.get(key)
    if text is None:
        text = template.to_yaml(clean_up=True, long_form=False)
        cache.put(key, text)
    return text


class RenderCache:
    """YAML already emitted, by the digest of everything it is a function
    of: the template's JSON form (what troposphere hands to cfn-flip), the
    versions of troposphere, cfn-flip and PyYAML, and cfn-flip's column
    width (CFN_MAX_COL_WIDTH). One file per entry, written atomically and
    checked against its own digest when read: a damaged entry is a miss.
    ``build.py --check`` never uses it."""

    FORMAT = 1

    def __init__(self, directory: Path):
        from cfn_tools._config import config

        self.directory = directory
        self.used: set[str] = set()
        self._recipe = json.dumps(
            {
                "format": self.FORMAT,
                "width": config.max_col_width,
                **{dist: metadata.version(dist) for dist in ("troposphere", "cfn-flip", "PyYAML")},
            },
            sort_keys=True,
        )

    def key(self, json_text: str) -> str:
        return hashlib.sha256(f"{self._recipe}\0{json_text}".encode()).hexdigest()

    def _entry(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> str | None:
        self.used.add(key)
        try:
            entry = json.loads(self._entry(key).read_text(encoding="utf-8"))
            text = entry["text"]
            if entry["key"] == key and hashlib.sha256(text.encode()).hexdigest() == entry["sha256"]:
                return text
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        return None

    def put(self, key: str, text: str) -> None:
        """Atomically; a cache that cannot be written is skipped."""
        self.used.add(key)
        entry = {"key": key, "sha256": hashlib.sha256(text.encode()).hexdigest(), "text": text}
        cachefile.write_json(self.directory, self._entry(key), entry)

    def prune(self) -> None:
        """Drop the entries this run did not use (older versions of the
        templates), so the cache holds one build's worth."""
        try:
            for path in self.directory.glob("*.json"):
                if path.stem not in self.used:
                    path.unlink(missing_ok=True)
        except OSError:
            pass


class Synthesis(list):
    """The rendered templates (a list of :class:`Rendered`), and the text
    :data:`iamdata.DATA_FILE` must hold for them."""

    iamdata: str = ""


def synthesize(
    settings: BuildSettings = DEFAULT_SETTINGS, *, derive: bool = False, cache: RenderCache | None = None
) -> Synthesis:
    """Build the root and every child (root first, children in wiring
    order), then the standalone templates. ``derive``: take the service
    role's facts from cfn-lint itself, not from the committed table;
    ``cache``: reuse YAML emitted before for the same JSON."""
    iamdata.trust_committed(not derive)
    try:
        built = root.build_all(settings)
        # The service role serves exactly the nested set's resource types.
        types = {r.resource_type for t in built.values() for r in t.resources.values()}
        for filename, module in STANDALONE:
            built[filename] = module.build(settings)
        out = Synthesis(Rendered(name, t, render(t, cache)) for name, t in built.items())
        out.iamdata = iamdata.expected(types)
    finally:
        iamdata.trust_committed(True)
    return out


def write_data(rendered: Synthesis, path: Path | None = None) -> bool:
    """Write the handler-permission table the build used; True when it changed."""
    return iamdata.write(rendered.iamdata, path)


def stale_data(rendered: Synthesis, path: Path | None = None) -> list[str]:
    """The table, by its path from the project's root, when it differs."""
    path = path or iamdata.DATA_FILE
    if not iamdata.stale(rendered.iamdata, path):
        return []
    shown = path.relative_to(ROOT_DIR) if path.is_relative_to(ROOT_DIR) else path
    return [f"{shown} ({'missing' if not path.exists() else 'differs'})"]


def write(rendered: list[Rendered], directory: Path = TEMPLATES_DIR) -> list[Path]:
    """Write the templates, touching only files whose bytes change, and drop
    templates the code no longer builds."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    wanted = {r.filename for r in rendered}
    for r in rendered:
        path = directory / r.filename
        if not path.exists() or path.read_text(encoding="utf-8") != r.text:
            path.write_text(r.text, encoding="utf-8")
        written.append(path)
    for old in directory.glob("*.yaml"):
        if old.name not in wanted:
            old.unlink()
    return written


def stale(rendered: list[Rendered], directory: Path = TEMPLATES_DIR) -> list[str]:
    """Names of committed templates that differ from what the code builds
    (missing, changed, or no longer built)."""
    out = []
    wanted = {r.filename for r in rendered}
    for r in rendered:
        path = directory / r.filename
        if not path.exists():
            out.append(f"{r.filename} (missing)")
        elif path.read_text(encoding="utf-8") != r.text:
            out.append(f"{r.filename} (differs)")
    for old in sorted(directory.glob("*.yaml")):
        if old.name not in wanted:
            out.append(f"{old.name} (no longer built)")
    return out
