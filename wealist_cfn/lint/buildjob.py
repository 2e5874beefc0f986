"""The main job: validate parameter files, build templates, lint them.

Returns data; :mod:`wealist_cfn.cli` does the printing. Progress is handed to
an ``on_event`` callback as it happens (each parameter file as validated, each
template as written, the lint plan, each template as linted), so the caller
can show it at once instead of after the last step.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from wealist_cfn import config as config_mod
from wealist_cfn.core.settings import PACKAGE_DIR, TEMPLATES_DIR

# synth and lint import troposphere, the stacks and cfn-lint's helpers: they
# are imported once the parameter files are checked, so that line comes first.


@dataclass(frozen=True)
class TemplateWritten:
    filename: str
    resources: int


@dataclass(frozen=True)
class LintPlanned:
    total: int
    cached: int
    to_lint: int
    workers: int
    cache: str  # "on", or why it is off


@dataclass
class BuildReport:
    params: list[config_mod.Config] = field(default_factory=list)
    templates: list[tuple[str, int]] = field(default_factory=list)  # (filename, resources)
    findings: list = field(default_factory=list)  # lint.Finding, sorted
    stale: list[str] = field(default_factory=list)  # templates, by file name
    stale_data: list[str] = field(default_factory=list)  # generated data files, by path from the root
    build_seconds: float = 0.0
    lint_seconds: float = 0.0
    lint_plan: LintPlanned | None = None


def validate_params(
    paths: list[Path] | None = None, on_event: Callable[[object], None] | None = None
) -> list[config_mod.Config]:
    """Validate the given parameter files (default: every ``params/*.json``),
    their instance types and classes against what the region offers.
    Raises :class:`~wealist_cfn.config.ConfigError` on the first bad one."""
    paths = paths if paths is not None else config_mod.param_files()
    if not paths:
        raise config_mod.ConfigError("params", None, "no parameter files (*.json) found")
    from wealist_cfn import offerings  # reads cfn-lint's offline tables: only the build pays for it

    out = []
    for p in paths:
        out.append(config_mod.load(p))
        # Instance types and classes reach the templates as Refs, which
        # cfn-lint cannot check: the build checks them against the region.
        offerings.check(out[-1])
        if on_event:
            on_event(out[-1])
    return out


def cache_disabled_reason(no_cache: bool, environ=os.environ) -> str | None:
    """Why the lint cache is off for this run, or None when it is on. CI
    lints everything, so that a clean checkout proves every template."""
    if no_cache:
        return "--no-cache"
    if environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        return "CI is set"
    return None


SOURCES_STAMP = "sources"
# Emitted YAML by its JSON form (synth.RenderCache), inside the lint cache's
# folder: --no-cache and CI turn both off.
RENDER_CACHE = "yaml"


def _sources_stamp() -> str:
    """Size and mtime of every source file the templates are built from."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        st = path.stat()
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _expect_lint(cache, directory: Path) -> int:
    """A guess, before building, of how many templates will need linting,
    so workers can load cfn-lint while the templates are built. Only their
    start time depends on it; what is linted is decided after building."""
    from wealist_cfn import lint as lint_mod

    existing = sorted(directory.glob("*.yaml"))
    if cache is None or not existing:
        return len(existing) or (os.cpu_count() or 1)
    misses = len(lint_mod.plan(existing, cache).to_lint)
    if misses:
        return misses
    try:
        stamp = (cache.directory / SOURCES_STAMP).read_text(encoding="utf-8")
    except OSError:
        stamp = ""
    # Code changed since the last build: most likely a child and the root.
    return 0 if stamp == _sources_stamp() else 2


def run(
    params: list[Path] | None = None,
    *,
    check: bool = False,
    lint: bool = True,
    directory: Path | None = None,
    cache_off: str | None = None,
    on_event: Callable[[object], None] | None = None,
) -> BuildReport:
    """Validate parameters first (nothing is written when one is bad), then
    build; with ``check`` compare instead of writing. ``cache_off`` says why
    the lint cache is not used (None: it is). ``on_event`` receives
    each Config, TemplateWritten, LintPlanned and lint.Linted as it happens."""
    emit = on_event or (lambda event: None)
    directory = directory or TEMPLATES_DIR
    report = BuildReport(params=validate_params(params, emit))
    from wealist_cfn import lint as lint_mod
    from wealist_cfn.stacks import synth

    cache = None
    workers = None
    if lint and not check:
        if cache_off is None:
            cache = lint_mod.LintCache()
        expected = _expect_lint(cache, directory)
        if expected:
            workers = lint_mod.start_workers(expected)
    try:
        start = time.perf_counter()
        # --check derives the service role's facts from cfn-lint itself and
        # emits every template, so a stale committed table fails it and no
        # cache stands between the code and its verdict.
        render_cache = None
        if not check and cache_off is None:
            render_cache = synth.RenderCache((cache.directory if cache else lint_mod.CACHE_DIR) / RENDER_CACHE)
        rendered = synth.synthesize(derive=check, cache=render_cache)
        report.build_seconds = time.perf_counter() - start
        if render_cache is not None:
            render_cache.prune()
        report.templates = [(r.filename, r.resource_count) for r in rendered]
        if check:
            report.stale = synth.stale(rendered, directory)
            report.stale_data = synth.stale_data(rendered)
            return report
        paths = synth.write(rendered, directory)
        synth.write_data(rendered)
        for r in rendered:
            emit(TemplateWritten(r.filename, r.resource_count))
        if not lint:
            return report
        start = time.perf_counter()
        lint_plan = lint_mod.plan(paths, cache)
        to_lint = len(lint_plan.to_lint)
        if not to_lint and workers is not None:
            workers.close()
            workers = None
        elif to_lint and (workers is None or workers.count < lint_mod.default_workers(to_lint)):
            if workers is not None:
                workers.close()
            workers = lint_mod.start_workers(to_lint)
        report.lint_plan = LintPlanned(
            total=len(paths),
            cached=len(lint_plan.cached),
            to_lint=to_lint,
            workers=min(workers.count, to_lint) if workers else 0,
            cache="on" if cache else str(cache_off),
        )
        emit(report.lint_plan)
        report.findings = lint_mod.run(lint_plan, cache=cache, workers=workers, on_result=emit)
        report.lint_seconds = time.perf_counter() - start
        if cache is not None:
            _write_stamp(cache.directory)
        return report
    finally:
        if workers is not None:
            workers.close()


def _write_stamp(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{SOURCES_STAMP}.{os.getpid()}"
        tmp.write_text(_sources_stamp(), encoding="utf-8")
        os.replace(tmp, directory / SOURCES_STAMP)
    except OSError:
        pass
