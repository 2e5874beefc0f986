"""The main job: validate parameter files, build templates, lint them.

Returns data; :mod:`wealist_cfn.cli` does the printing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from . import config as config_mod
from . import lint as lint_mod
from . import synth
from .settings import TEMPLATES_DIR


@dataclass
class BuildReport:
    params: list[config_mod.Config] = field(default_factory=list)
    templates: list[tuple[str, int]] = field(default_factory=list)  # (filename, resources)
    findings: list[lint_mod.Finding] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    build_seconds: float = 0.0
    lint_seconds: float = 0.0


def validate_params(paths: list[Path] | None = None) -> list[config_mod.Config]:
    """Validate the given parameter files (default: every ``params/*.json``).
    Raises :class:`~wealist_cfn.config.ConfigError` on the first bad one."""
    paths = paths if paths is not None else config_mod.param_files()
    if not paths:
        raise config_mod.ConfigError("params", None, "no parameter files (*.json) found")
    return [config_mod.load(p) for p in paths]


def run(params: list[Path] | None = None, *, check: bool = False, lint: bool = True,
        directory: Path = TEMPLATES_DIR) -> BuildReport:
    """Validate parameters first (nothing is written when one is bad), then
    build; with ``check`` compare instead of writing."""
    report = BuildReport(params=validate_params(params))
    start = time.perf_counter()
    rendered = synth.synthesize()
    report.build_seconds = time.perf_counter() - start
    report.templates = [(r.filename, r.resource_count) for r in rendered]
    if check:
        report.stale = synth.stale(rendered, directory)
        return report
    paths = synth.write(rendered, directory)
    if lint:
        start = time.perf_counter()
        report.findings = lint_mod.lint(paths)
        report.lint_seconds = time.perf_counter() - start
    return report
