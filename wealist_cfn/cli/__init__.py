"""Command line of build.py: parse, call the library, print.

``python build.py`` builds and lints; subcommands (deploy, package, plan,
status, bootstrap, rollout, ...) are registered by the modules in
:data:`COMMAND_MODULES`, each exposing ``register(subparsers)`` that sets a
``func(args) -> int`` default.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading
import time
import traceback
from pathlib import Path

from wealist_cfn import __version__, errors
from wealist_cfn.cli import options as cliopts
from wealist_cfn.config import Config
from wealist_cfn.core.settings import ROOT_DIR
from wealist_cfn.errors import EXIT_CODES_HELP, EXIT_FAILED, EXIT_OK, EXIT_SIGPIPE  # noqa: F401 - EXIT_SIGPIPE: cli's API
from wealist_cfn.lint import buildjob

COMMAND_MODULES = (
    "wealist_cfn.cli.deploy",
    "wealist_cfn.cli.ops",
    "wealist_cfn.cli.preflight",
    "wealist_cfn.cli.daytwo",
    "wealist_cfn.cli.local",
    "wealist_cfn.cli.prove",
)
# The module that registers each command. A command line naming one imports
# that module alone (each loads boto3 and much else; a command does not
# need the others'); --help and anything unknown import them all.
# tests/test_build_cli.py checks this against what each module registers.
COMMAND_OF = {
    **dict.fromkeys(
        ("deploy", "plan", "package", "cancel", "continue-rollback", "changesets", "status"), "wealist_cfn.cli.deploy"
    ),
    **dict.fromkeys(("bootstrap", "rollout"), "wealist_cfn.cli.ops"),
    **dict.fromkeys(("preflight", "cost"), "wealist_cfn.cli.preflight"),
    **dict.fromkeys(("diff", "drift", "outputs", "events", "destroy"), "wealist_cfn.cli.daytwo"),
    "local": "wealist_cfn.cli.local",
    "prove": "wealist_cfn.cli.prove",
}

# Examples for commands whose module gives none in its own --help epilog.
_EXAMPLES = {
    "build": ["python build.py build --no-lint", "wealist-cfn build --check"],
    "bootstrap": [
        "python build.py bootstrap --params params/prod.json --dry-run",
        "python build.py bootstrap --params params/prod.json --rotate db/user_db_password",
    ],
    "rollout": [
        "python build.py rollout --params params/prod.json",
        "python build.py rollout --params params/prod.json --group monitoring --no-wait",
    ],
    "preflight": [
        "python build.py preflight --params params/prod.json",
        "python build.py preflight --params params/prod.json --output markdown >> $GITHUB_STEP_SUMMARY",
    ],
    "cost": [
        "python build.py cost --params params/prod.json",
        "python build.py cost --params params/prod.json --mode multi --output markdown",
    ],
    "diff": [
        "python build.py diff --params params/prod.json",
        "python build.py diff --params params/prod.json --output markdown >> $GITHUB_STEP_SUMMARY",
    ],
    "drift": [
        "python build.py drift --params params/prod.json",
        "python build.py drift --params params/prod.json --output json",
    ],
    "outputs": [
        "python build.py outputs --params params/prod.json",
        "python build.py outputs --params params/prod.json --output json",
    ],
    "events": ["python build.py events --params params/prod.json --since 2h"],
    "completion": [
        "python build.py completion bash > ~/.wealist-cfn.bash   # then: source ~/.wealist-cfn.bash",
        "source <(.venv/bin/python build.py completion zsh)   # zsh, this shell only",
    ],
    "destroy": [
        "python build.py destroy --params params/dev.json",
        "python build.py destroy --params params/dev.json --yes --confirm-stack wealist-dev",
    ],
}


def _prog() -> str:
    """How the user called us: ``build.py``, ``wealist-cfn`` or ``python -m wealist_cfn``."""
    called = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    if called.name == "wealist-cfn":
        return called.name
    return "python -m wealist_cfn" if called.parts[-2:] == ("wealist_cfn", "__main__.py") else "build.py"


def _version() -> str:
    from wealist_cfn.deploy.changeset import git_commit

    prog = _prog()
    name = prog if prog == "wealist-cfn" else f"{prog} (wealist-cfn)"
    return f"{name} {__version__}, commit {git_commit(ROOT_DIR)}"


class _VersionAction(argparse.Action):
    """--version, worked out only when asked for: finding the commit imports
    the deploy package (and boto3), which a plain build never needs."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(
            option_strings,
            dest=dest,
            default=default,
            nargs=0,
            help=help or "show the version and the git commit, and exit",
        )

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(_version() + "\n")
        parser.exit()


class _Commands(argparse._SubParsersAction):
    """The ``commands`` of build.py: every parser made here (and inside it,
    `local up`) gets the options of :func:`cliopts.common_parser`, once."""

    def add_parser(self, name, **kwargs):
        kwargs["parents"] = [*kwargs.get("parents", ()), cliopts.common_parser()]
        parser = super().add_parser(name, **kwargs)
        parser.register("action", "parsers", _Commands)
        return parser


def _parser(commands: bool = True, only: str | None = None) -> argparse.ArgumentParser:
    """The command-line parser; ``only``: the one command module to import
    (:func:`_command_module`), else every module when ``commands``."""
    parser = argparse.ArgumentParser(
        prog=_prog(),
        description="Build, lint, package and deploy the Wealist CloudFormation templates.",
        epilog="examples:\n  python build.py                 # build and lint every template\n"
        "  python build.py --check         # fail when templates/ is stale\n"
        "  python build.py deploy --env prod --parameter BackendMinSize=3\n"
        "  python build.py deploy --help\n\n" + cliopts.PRECEDENCE_HELP + "\n\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[cliopts.common_parser()],
    )
    parser.register("action", "parsers", _Commands)
    parser.add_argument("--version", action=_VersionAction)
    # Read by wealist_cfn/__main__.py before any path is fixed; here for --help.
    parser.add_argument(
        "--project-dir",
        metavar="DIR",
        help="the project's folder (params/, templates/); default: the working directory "
        "or its nearest parent holding both, else this checkout",
    )
    parser.add_argument(
        "--check", action="store_true", help="fail when the committed templates differ from what the code builds"
    )
    parser.add_argument(
        "--params",
        type=Path,
        action="append",
        metavar="FILE",
        help="validate this parameter file (repeatable; default: every params/*.json)",
    )
    parser.add_argument("--no-lint", action="store_true", help="build without running cfn-lint")
    parser.add_argument(
        "--no-cache", action="store_true", help="lint every template, ignoring the lint cache (also when CI=true)"
    )
    parser.set_defaults(func=_cmd_build)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    # Taken off the command line by main(); listed so that --help shows it.
    sub.add_parser(
        "build",
        help="build and lint every template (the same as no command; its options above)",
        description="Build every template and lint it: the same as no command, with the options of "
        "`build.py --help` (--check, --params, --no-lint, --no-cache).",
    )
    for name in ((only,) if only else COMMAND_MODULES) if commands else ():
        importlib.import_module(name).register(sub)
    if commands:
        from wealist_cfn.cli import completion

        completion.register(sub, parser)
    for name, p in sub.choices.items():
        # Every command's --help ends with its examples and the exit codes.
        if not p.epilog:
            examples = _EXAMPLES.get(name, [])
            p.epilog = (
                "examples:\n" + "\n".join(f"  {e}" for e in examples) + "\n\n" if examples else ""
            ) + EXIT_CODES_HELP
            p.formatter_class = argparse.RawDescriptionHelpFormatter
        if any(a.dest == "params" for a in p._actions):
            p.epilog = cliopts.PRECEDENCE_HELP + "\n\n" + p.epilog
    return parser


_BUILD_FLAGS = {"--check", "--no-lint", "--no-cache", "-q", "--quiet", "-v", "--verbose", "--debug", "--no-color"}
_BUILD_VALUED = ("--params", "--env", "--parameter")


def _plain_build(argv: list[str] | None) -> bool:
    """True when argv can only mean the build itself (no command, no
    --help): the commands' modules, which load boto3, are then not imported,
    and the first line shows sooner."""
    argv = sys.argv[1:] if argv is None else argv
    i = 0
    while i < len(argv):
        if argv[i] in _BUILD_VALUED:
            i += 1
        elif argv[i] not in _BUILD_FLAGS and not argv[i].startswith(tuple(f"{f}=" for f in _BUILD_VALUED)):
            return False
        i += 1
    return True


class _LintProgress:
    """Shows the build as it happens: plain lines, and on a terminal a live
    lint line redrawn every 0.1 s until the last template is linted."""

    SPIN = "|/-\\"

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.live = self.out.isatty()
        self.plan = None
        self.done = 0
        self.cached = 0
        self.findings = 0
        self.started = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = None

    def line(self, text: str) -> None:
        with self._lock:
            if self._thread:
                self.out.write("\r\033[K")
            print(text, file=self.out, flush=True)
            if self._thread:
                self._draw()

    def _draw(self) -> None:
        total = self.plan.total
        width = 24
        filled = width * self.done // max(total, 1)
        tick = self.SPIN[int((time.perf_counter() - self.started) * 10) % len(self.SPIN)]
        self.out.write(
            f"\r\033[Klint     [{'#' * filled}{'.' * (width - filled)}] {self.done}/{total} "
            f"({self.cached} cached, {self.findings} findings) "
            f"{time.perf_counter() - self.started:.1f}s {tick}"
        )
        self.out.flush()

    def _tick(self) -> None:
        while not self._stop.wait(0.1):
            with self._lock:
                self._draw()

    def __call__(self, event) -> None:
        if isinstance(event, Config):
            self.line(
                f"params   {event.path}: ok ({event.name_prefix}, {event.region}, "
                f"multi-AZ {'on' if event.multi_az else 'off'})"
            )
        elif isinstance(event, buildjob.TemplateWritten):
            self.line(f"template templates/{event.filename}: {event.resources} resources")
        elif isinstance(event, buildjob.LintPlanned):
            self.plan = event
            cache = "" if event.cache == "on" else f"; cache off: {event.cache}"
            self.line(
                f"lint: {event.total} templates ({event.cached} cached, {event.to_lint} to lint, "
                f"{event.workers} workers{cache})"
            )
            self.started = time.perf_counter()
            if self.live and event.to_lint:
                self._thread = threading.Thread(target=self._tick, daemon=True)
                self._thread.start()
        else:  # lint.Linted
            self.done += 1
            self.cached += event.cached
            self.findings += len(event.findings)
            if self._thread:
                with self._lock:
                    self._draw()
            elif not self.live:
                how = "cached" if event.cached else f"{event.seconds:.2f}s"
                print(
                    f"lint     {os.path.relpath(event.path, ROOT_DIR)}: {len(event.findings)} findings ({how})",
                    file=self.out,
                    flush=True,
                )

    def stop(self) -> None:
        if self._thread:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self.out.write("\r\033[K")
            self.out.flush()


def _cmd_build(args: argparse.Namespace) -> int:
    show = _LintProgress(cliopts.NOWHERE if getattr(args, "quiet", False) else None)
    try:
        report = buildjob.run(
            args.params,
            check=args.check,
            lint=not args.no_lint,
            cache_off=buildjob.cache_disabled_reason(args.no_cache),
            on_event=show,
        )
    finally:
        show.stop()
    if args.check:
        if report.stale or report.stale_data:
            for item in report.stale:
                print(f"stale    templates/{item}", file=sys.stderr)
            for item in report.stale_data:
                print(f"stale    {item}", file=sys.stderr)
            print("templates/ is out of date: run `python build.py` and commit the result", file=sys.stderr)
            return EXIT_FAILED
        print(f"check    templates/ matches the code ({len(report.templates)} templates)")
        return EXIT_OK
    total = sum(n for _, n in report.templates)
    for finding in report.findings:
        print(f"lint     {finding}")
    lint_part = "lint skipped" if args.no_lint else f"lint {report.lint_seconds:.2f}s"
    print(
        f"built {len(report.templates)} templates ({total} resources) in {report.build_seconds:.2f}s; "
        f"{lint_part}; {len(report.findings)} findings"
    )
    return EXIT_FAILED if report.findings else EXIT_OK


# Commands that watch a stack operation CloudFormation runs on its own: a
# closed output pipe stops the watching, never the operation.
_WATCHERS = {
    ("wealist_cfn.cli.deploy", "cmd_deploy"): "deploy",
    ("wealist_cfn.cli.deploy", "cmd_status"): "status",
    ("wealist_cfn.cli.daytwo", "cmd_destroy"): "destroy",
}


def watching_stopped(args) -> str | None:
    """What a broken pipe leaves undone for a command that watches a stack
    operation, or None for any other command (and for ``plan``, which starts
    none)."""
    func = getattr(args, "func", None)
    command = _WATCHERS.get((getattr(func, "__module__", ""), getattr(func, "__name__", "")))
    if command is None or getattr(args, "no_execute", False):
        return None
    follow = f"python build.py status --params {args.params}" + (" --local" if getattr(args, "local", False) else "")
    return (
        f"{command}: output stopped (the reader closed the pipe); a stack operation already started goes on "
        f"in AWS (closing the pipe does not cancel it); follow it with: {follow}"
    )


def _setup(args: argparse.Namespace) -> None:
    """The shared options (cliopts): which parameter file, its overrides,
    how much to say about AWS calls."""
    from wealist_cfn import config

    cliopts.fill_defaults(args)
    build = args.func is _cmd_build
    cliopts.resolve_environment(args, required=getattr(args, "params_required", False), build=build)
    overrides = config.parse_overrides(args.parameter)
    files = (args.params or config.param_files()) if build else [args.params] if args.params else []
    config.use_overrides(files, overrides)
    if args.verbose and not build:
        from wealist_cfn.aws import log as awslog  # loads nothing heavy, but only the commands call AWS

        awslog.configure(verbose=args.verbose, debug=args.debug)


def _command_module(argv: list[str] | None) -> str | None:
    """The module of the command argv names, when it names one (its first
    word that is not a build option or --params' value)."""
    argv = sys.argv[1:] if argv is None else argv
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in _BUILD_VALUED:
            i += 2
            continue
        if word.startswith("-"):
            if word in _BUILD_FLAGS or word.startswith(tuple(f"{f}=" for f in _BUILD_VALUED)):
                i += 1
                continue
            return None  # --help, --version, or a mistake: the full parser says what it is
        return COMMAND_OF.get(word)
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["build"]:
        # `wealist-cfn build ...` reads as the other commands do; it is the
        # build itself, the same as no command.
        argv = argv[1:]
    args = _parser(commands=not _plain_build(argv), only=_command_module(argv)).parse_args(argv)
    try:
        _setup(args)
        return args.func(args)
    except (KeyboardInterrupt, Exception) as exc:  # noqa: BLE001 - no input may end in a traceback
        return _failed(exc, args)
    finally:
        _reset()


def _failed(exc: BaseException, args: argparse.Namespace) -> int:
    """Show ``exc`` as the one mapper (:func:`errors.explain`) describes it
    and return its exit code; a bug is one line, its traceback on request."""
    failure = errors.explain(exc, profile=getattr(args, "profile", None), params=getattr(args, "params", None))
    if isinstance(exc, BrokenPipeError):
        # The reader went away (`local status | head -1`): what it wanted was
        # written. Nothing more goes to the closed pipe, not even at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        note = watching_stopped(args)
        if note:
            try:
                print(note, file=sys.stderr)
            except OSError:
                pass  # stderr went to the same closed pipe
        return failure.exit_code
    if failure is None:
        # A bug, not bad input: one line, and the traceback only on request.
        print(
            f"error: unexpected {type(exc).__name__}: {exc} (run again with --debug, or set "
            f"WEALIST_CFN_DEBUG=1, for the traceback)",
            file=sys.stderr,
        )
        if getattr(args, "debug", False) or os.environ.get("WEALIST_CFN_DEBUG"):
            traceback.print_exc()
        return EXIT_FAILED
    for line in failure.lines():
        print(line, file=sys.stderr)
    return failure.exit_code


def _reset() -> None:
    """Nothing of one command's settings outlives it (tests run many in one process)."""
    from wealist_cfn import config

    config.use_overrides((), {})
    if "wealist_cfn.aws.log" in sys.modules:
        sys.modules["wealist_cfn.aws.log"].configure()
