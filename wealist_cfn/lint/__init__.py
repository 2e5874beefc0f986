"""Run cfn-lint over the generated templates: in worker processes, and only
over templates whose lint inputs changed since the last run.

cfn-lint spends most of a run importing itself and loading its rules. A lint
server process pays that once, ideally while the main process is still
building the templates (:func:`start_workers`), forks helpers that share what
it loaded, and it and they lint one template per task from a common queue.

The cache (:class:`LintCache`) stores each template's findings under a key
made of everything cfn-lint's answer depends on: the cfn-lint version, the
bytes of ``.cfnlintrc.yaml``, the template's bytes and, for a parent, the bytes
of every child it reads through a local ``TemplateURL``. A cached run
therefore reports exactly the findings a fresh run would. The committed
``.cfnlintrc.yaml`` is the only place a rule is ignored, with its reason.
"""

from __future__ import annotations

import collections
import functools
import gc
import hashlib
import json
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from wealist_cfn.core import cachefile
from wealist_cfn.core.settings import ROOT_DIR
from wealist_cfn.errors import EXIT_USAGE, CommandError

CONFIG_FILE = ROOT_DIR / ".cfnlintrc.yaml"
CACHE_DIR = ROOT_DIR / ".lint-cache"
# Bumped whenever the entry layout or the key's recipe changes: entries
# written by another format are ignored.
CACHE_FORMAT = 1
LEVELS = ("error", "warning", "informational")


@dataclass(frozen=True)
class Finding:
    filename: str
    line: int
    rule: str
    level: str  # "error", "warning", "informational"
    message: str

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}: {self.rule} ({self.level}) {self.message}"


def _shown(path: Path) -> str:
    return os.path.relpath(path, ROOT_DIR) if path.is_relative_to(ROOT_DIR) else str(path)


def _sorted(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.filename, f.line, f.rule, f.message))


# --- what cfn-lint's answer depends on -------------------------------------------------------


def cfn_lint_version() -> str:
    return metadata.version("cfn-lint")


@functools.lru_cache(maxsize=64)
def _stack_urls(text: str) -> tuple[str, ...]:
    """The local TemplateURLs of the nested stacks in a template's text
    (YAML or JSON); () when it cannot be parsed (cfn-lint will say why).
    Kept per text: a build computes every key before synthesis (to start
    the lint workers early) and again after, mostly on the same bytes."""
    if "AWS::CloudFormation::Stack" not in text:
        return ()
    import yaml

    from wealist_cfn.cfn import templates

    # The project's one reader of short forms: an intrinsic (!Ref, !GetAtt, ...)
    # becomes its long form, a mapping, so only a literal TemplateURL string
    # names a file cfn-lint reads.
    try:
        data = templates.load(text)
    except (yaml.YAMLError, ValueError):
        return ()
    resources = data.get("Resources")
    urls = []
    for resource in (resources or {}).values():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::CloudFormation::Stack":
            url = (resource.get("Properties") or {}).get("TemplateURL")
            if isinstance(url, str) and "://" not in url:
                urls.append(url)
    return tuple(urls)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def lint_key(path: Path, version: str, config: bytes) -> str:
    """The cache key of one template: changes whenever cfn-lint could answer
    differently for it."""
    path = path.resolve()
    text = path.read_bytes()
    # cfn-lint resolves a child's TemplateURL against the parent's folder
    # (and lint runs from there); children of children count too.
    children: dict[str, str | None] = {}
    pending = [text]
    while pending:
        for url in _stack_urls(pending.pop().decode("utf-8", "replace")):
            if url in children:
                continue
            child = path.parent / url
            try:
                data = child.read_bytes()
            except OSError:
                children[url] = None  # cfn-lint reports the missing file
                continue
            children[url] = _digest(data)
            pending.append(data)
    recipe = {
        "format": CACHE_FORMAT,
        "cfn-lint": version,
        "config": _digest(config),
        "root": str(ROOT_DIR),
        "template": str(path),
        "bytes": _digest(text),
        "children": sorted(children.items(), key=lambda kv: kv[0]),
    }
    return _digest(json.dumps(recipe, sort_keys=True).encode())


# --- the cache --------------------------------------------------------------------------------


class LintCache:
    """One JSON file per template under ``directory`` (git-ignored), holding
    the key it was linted under and its findings. Anything unreadable,
    foreign or of another format reads as a miss, never as a pass."""

    def __init__(self, directory: Path | None = None, config_file: Path | None = None, version: str | None = None):
        self.directory = directory or CACHE_DIR
        self.version = version or cfn_lint_version()
        config_file = config_file or CONFIG_FILE
        try:
            self.config = config_file.read_bytes()
        except OSError as exc:
            raise CommandError(f"{_shown(config_file)}: cannot read: {exc.strerror}", EXIT_USAGE) from exc

    def key(self, path: Path) -> str:
        return lint_key(path, self.version, self.config)

    def _entry(self, path: Path) -> Path:
        return self.directory / f"{_digest(str(path.resolve()).encode())[:32]}.json"

    def get(self, path: Path, key: str) -> list[Finding] | None:
        try:
            entry = json.loads(self._entry(path).read_text(encoding="utf-8"))
            if entry["format"] != CACHE_FORMAT or entry["key"] != key:
                return None
            findings = [Finding(**item) for item in entry["findings"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        for f in findings:
            if not (
                isinstance(f.filename, str)
                and isinstance(f.line, int)
                and isinstance(f.rule, str)
                and f.level in LEVELS
                and isinstance(f.message, str)
            ):
                return None
        return findings

    def put(self, path: Path, key: str, findings: list[Finding]) -> None:
        """Write atomically: a reader sees the old entry or the new one,
        never half of one. A cache that cannot be written is skipped."""
        entry = {
            "format": CACHE_FORMAT,
            "key": key,
            "template": str(path.resolve()),
            "findings": [asdict(f) for f in findings],
        }
        cachefile.write_json(self.directory, self._entry(path), entry)


# --- linting in workers -----------------------------------------------------------------------

_RULES = None  # a worker's loaded cfn-lint rules, reused for every template it lints


def _warm() -> None:
    """Worker start-up: import cfn-lint and load its rules once."""
    global _RULES
    from cfnlint.api import ConfigMixIn, Runner

    _RULES = Runner(ConfigMixIn(["--config-file", str(CONFIG_FILE)])).rules


def _lint_one(path: str) -> tuple[str, list[Finding], float]:
    try:
        return _lint_file(path)
    except Exception as exc:  # noqa: BLE001
        # Not every cfn-lint exception survives pickling back to the parent.
        raise RuntimeError(" ".join(str(exc).split()) or type(exc).__name__) from None


def _lint_file(path: str) -> tuple[str, list[Finding], float]:
    from cfnlint.api import ConfigMixIn
    from cfnlint.runner.template import run_template_by_file_paths

    start = time.perf_counter()
    if _RULES is None:
        _warm()
    directory, name = os.path.split(os.path.abspath(path))
    # cfn-lint (1.58) resolves a nested stack's relative TemplateURL against
    # the parent's folder, but reads a child's Outputs for GetAtt (E1010)
    # only when the child lies under the working directory (its guard
    # against path traversal), and skips the check silently otherwise. A
    # build started from anywhere else would lose it: lint from the
    # template's own folder (tests/test_lint_nested.py shows both).
    previous = os.getcwd()
    os.chdir(directory)
    try:
        config = ConfigMixIn(["--config-file", str(CONFIG_FILE), name])
        findings = [
            Finding(
                filename=os.path.relpath(os.path.join(directory, m.filename), ROOT_DIR),
                line=m.linenumber,
                rule=m.rule.id,
                level=m.rule.severity,
                message=m.message,
            )
            for m in run_template_by_file_paths(config, _RULES)
        ]
    finally:
        os.chdir(previous)
    return path, _sorted(findings), time.perf_counter() - start


def _serve(conn, count: int) -> None:
    """The lint server: loads cfn-lint and its rules once, forks
    ``count - 1`` helpers that share them, and lints what it is sent, itself
    and through the helpers, one template at a time from a common queue."""
    # Its own process group, so that closing stops the helpers with it.
    os.setpgrp()
    failure = None
    pool = None
    try:
        _warm()
        gc.freeze()  # keep what was loaded in pages the helpers share
        if count > 1:
            pool = multiprocessing.get_context("fork").Pool(count - 1)
    except Exception as exc:  # noqa: BLE001 - handed to the caller, below
        failure = RuntimeError(" ".join(str(exc).split()) or type(exc).__name__)
    while True:
        try:
            paths = conn.recv()
        except EOFError:  # the build is gone
            return
        if failure is not None:
            conn.send(("error", failure))
            continue
        _lint_shared(conn, pool, collections.deque(paths))


def _lint_shared(conn, pool, pending) -> None:
    state = threading.Condition()
    outstanding = [0]
    errors: list[BaseException] = []

    def feed() -> None:  # called holding state
        if pending and not errors:
            outstanding[0] += 1
            pool.apply_async(_lint_one, (pending.popleft(),), callback=finished, error_callback=failed)

    def finished(result) -> None:
        with state:
            conn.send(("ok", result))
            outstanding[0] -= 1
            feed()
            state.notify_all()

    def failed(exc: BaseException) -> None:
        with state:
            errors.append(exc)
            outstanding[0] -= 1
            state.notify_all()

    with state:
        if pool is not None:
            feed()
    while True:
        with state:
            if not pending or errors:
                break
            path = pending.popleft()
        try:
            result = _lint_one(path)
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            with state:
                errors.append(exc)
            break
        with state:
            conn.send(("ok", result))
    with state:
        state.wait_for(lambda: outstanding[0] == 0)
        conn.send(("error", errors[0]) if errors else ("done", None))


class Workers:
    """``count`` lint processes: a server and its forked helpers. Started
    early, the server loads cfn-lint while the caller does other work; it
    loads it once and forks from there, so the rules are read once and their
    memory is shared. Closed, they are stopped at once."""

    def __init__(self, count: int):
        self.count = count
        ctx = multiprocessing.get_context("fork")
        self._conn, theirs = ctx.Pipe()
        self._server = ctx.Process(target=_serve, args=(theirs, count), name="cfn-lint")
        self._server.start()
        theirs.close()

    def imap(self, paths: list[str]):
        self._conn.send(paths)
        while True:
            kind, value = self._conn.recv()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value

    def close(self) -> None:
        if self._server.pid is None or self._server.exitcode is not None:
            return
        try:
            os.killpg(self._server.pid, signal.SIGKILL)
        except OSError:  # not yet its own group: it has no workers yet
            self._server.kill()
        self._server.join()
        self._conn.close()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def default_workers(count: int) -> int:
    return max(1, min(os.cpu_count() or 1, count))


def start_workers(count: int) -> Workers:
    """Workers for linting ``count`` templates: one per core at most."""
    return Workers(default_workers(count))


@dataclass(frozen=True)
class Plan:
    """Which templates come from the cache and which must be linted."""

    paths: list[Path]
    keys: dict[Path, str]
    cached: dict[Path, list[Finding]]

    @property
    def to_lint(self) -> list[Path]:
        return [p for p in self.paths if p not in self.cached]


def plan(paths: list[Path], cache: LintCache | None) -> Plan:
    keys: dict[Path, str] = {}
    cached: dict[Path, list[Finding]] = {}
    if cache is not None:
        for p in paths:
            keys[p] = cache.key(p)
            hit = cache.get(p, keys[p])
            if hit is not None:
                cached[p] = hit
    return Plan(list(paths), keys, cached)


@dataclass(frozen=True)
class Linted:
    """One template's result, as it arrives."""

    path: Path
    findings: list[Finding]
    cached: bool
    seconds: float


def run(
    lint_plan: Plan,
    *,
    cache: LintCache | None = None,
    workers: Workers | int | None = None,
    on_result: Callable[[Linted], None] | None = None,
) -> list[Finding]:
    """Lint what the plan says is not cached (``workers``: a started pool, a
    process count, or None for one per core; 1 lints in this process), store
    the results, and return every finding sorted by file and line."""
    results: dict[Path, list[Finding]] = {}

    def done(item: Linted) -> None:
        results[item.path] = item.findings
        if on_result:
            on_result(item)

    for p in lint_plan.paths:
        if p in lint_plan.cached:
            done(Linted(p, lint_plan.cached[p], True, 0.0))
    # The root is the largest and reads every child: start it first.
    todo = sorted(lint_plan.to_lint, key=lambda p: -p.stat().st_size)
    by_name = {str(p): p for p in todo}
    if todo:
        if workers == 1:
            outcomes: Iterable = map(_lint_one, by_name)
            pool = None
        else:
            pool = workers if isinstance(workers, Workers) else start_workers(workers or len(todo))
            outcomes = pool.imap(list(by_name))
        try:
            for name, findings, seconds in outcomes:
                path = by_name[name]
                if cache is not None:
                    cache.put(path, lint_plan.keys[path], findings)
                done(Linted(path, findings, False, seconds))
        except Exception as exc:
            # cfn-lint stops on its own configuration, not on a template:
            # a template's problems are findings.
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise CommandError(f"{_shown(CONFIG_FILE)}: cfn-lint could not run: {detail}", EXIT_USAGE) from exc
        finally:
            if pool is not None and pool is not workers:
                pool.close()
    return _sorted(f for p in lint_plan.paths for f in results[p])


def lint(paths: list[Path], workers: int | None = None, cache: LintCache | None = None) -> list[Finding]:
    """Lint ``paths`` (through ``cache`` when given); return every finding,
    sorted by file and line."""
    return run(plan(paths, cache), cache=cache, workers=workers)
