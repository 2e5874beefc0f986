"""Run cfn-lint over the generated templates, in parallel across processes.

cfn-lint spends most of a run loading its rules and specs; one worker per core
each loads them once and lints a share of the files. The committed
``.cfnlintrc.yaml`` is the only place a rule is ignored, with its reason.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .settings import ROOT_DIR


@dataclass(frozen=True)
class Finding:
    filename: str
    line: int
    rule: str
    level: str  # "error", "warning", "informational"
    message: str

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}: {self.rule} ({self.level}) {self.message}"


def _lint_files(paths: list[str]) -> list[Finding]:
    out = []
    by_dir: dict[str, list[str]] = {}
    for p in paths:
        by_dir.setdefault(os.path.dirname(os.path.abspath(p)), []).append(os.path.basename(p))
    for directory, names in by_dir.items():
        out += _lint_in(directory, names)
    return out


def _lint_in(directory: str, names: list[str]) -> list[Finding]:
    from cfnlint.api import ConfigMixIn, Runner

    # cfn-lint resolves a nested stack's relative TemplateURL against the
    # working directory, not the parent template's folder: without this
    # chdir it silently skips the children and checks no wiring at all.
    previous = os.getcwd()
    os.chdir(directory)
    try:
        config = ConfigMixIn(["--config-file", str(ROOT_DIR / ".cfnlintrc.yaml"), *names])
        return [Finding(
            filename=os.path.relpath(os.path.join(directory, m.filename), ROOT_DIR),
            line=m.linenumber,
            rule=m.rule.id,
            level=m.rule.severity,
            message=m.message,
        ) for m in Runner(config).run()]
    finally:
        os.chdir(previous)


def lint(paths: list[Path], workers: int | None = None) -> list[Finding]:
    """Lint ``paths``; return every finding, sorted by file and line."""
    files = [str(p) for p in paths]
    workers = max(1, min(workers or os.cpu_count() or 1, len(files)))
    if workers == 1:
        findings = _lint_files(files)
    else:
        # Deal the files round-robin so the root (largest, and it reads its
        # children) does not share a worker with the next-largest.
        shares = [files[i::workers] for i in range(workers)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            findings = [f for part in pool.map(_lint_files, shares) for f in part]
    return sorted(findings, key=lambda f: (f.filename, f.line, f.rule))
