"""Render every template of the nested set to YAML, write them, spot stale ones."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from troposphere import Template

from . import root
from .settings import DEFAULT_SETTINGS, TEMPLATES_DIR, BuildSettings
from .stacks import github_oidc

# Templates deployed on their own, once per account, not nested under the
# root: (file name, module with build(settings)).
STANDALONE = (
    ("github-oidc.yaml", github_oidc),
)


@dataclass(frozen=True)
class Rendered:
    filename: str  # e.g. "network.yaml"; root is "root.yaml"
    template: Template
    text: str

    @property
    def resource_count(self) -> int:
        return len(self.template.resources)


def render(template: Template) -> str:
    return template.to_yaml(clean_up=True, long_form=False)


def synthesize(settings: BuildSettings = DEFAULT_SETTINGS) -> list[Rendered]:
    """Build the root and every child (root first, children in wiring
    order), then the standalone templates."""
    built = root.build_all(settings)
    for filename, module in STANDALONE:
        built[filename] = module.build(settings)
    return [Rendered(name, t, render(t)) for name, t in built.items()]


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
