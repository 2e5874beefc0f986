"""Render every template of the nested set to YAML, write them, spot stale
ones; and the same for the generated table of handler permissions the
service role is derived from (:mod:`wealist_cfn.iamdata`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from troposphere import Template

from . import iamdata, root
from .settings import DEFAULT_SETTINGS, ROOT_DIR, TEMPLATES_DIR, BuildSettings
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


class Synthesis(list):
    """The rendered templates (a list of :class:`Rendered`), and the text
    :data:`iamdata.DATA_FILE` must hold for them."""

    iamdata: str = ""


def synthesize(settings: BuildSettings = DEFAULT_SETTINGS, *, derive: bool = False) -> Synthesis:
    """Build the root and every child (root first, children in wiring
    order), then the standalone templates. ``derive``: take the service
    role's facts from cfn-lint itself, not from the committed table."""
    iamdata.trust_committed(not derive)
    try:
        built = root.build_all(settings)
        # The service role serves exactly the nested set's resource types.
        types = {r.resource_type for t in built.values() for r in t.resources.values()}
        for filename, module in STANDALONE:
            built[filename] = module.build(settings)
        out = Synthesis(Rendered(name, t, render(t)) for name, t in built.items())
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
