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
import traceback
from pathlib import Path

from . import __version__, buildjob
from .aws import describe_error
from .errors import EXIT_CODES_HELP, EXIT_FAILED, EXIT_OK

COMMAND_MODULES = ("wealist_cfn.deploy.cli", "wealist_cfn.ops.cli", "wealist_cfn.localenv.cli")

# Examples for commands whose module gives none in its own --help epilog.
_EXAMPLES = {
    "bootstrap": ["python build.py bootstrap --params params/prod.json --dry-run",
                  "python build.py bootstrap --params params/prod.json --rotate db/user_db_password"],
    "rollout": ["python build.py rollout --params params/prod.json",
                "python build.py rollout --params params/prod.json --group monitoring --no-wait"],
}


def _version() -> str:
    from .deploy.changeset import git_commit

    return f"build.py (wealist-cfn) {__version__}, commit {git_commit(Path(__file__).resolve().parent)}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="build.py",
        description="Build, lint, package and deploy the Wealist CloudFormation templates.",
        epilog="examples:\n  python build.py                 # build and lint every template\n"
               "  python build.py --check         # fail when templates/ is stale\n"
               "  python build.py deploy --help\n\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--check", action="store_true",
                        help="fail when the committed templates differ from what the code builds")
    parser.add_argument("--params", type=Path, action="append", metavar="FILE",
                        help="validate this parameter file (repeatable; default: every params/*.json)")
    parser.add_argument("--no-lint", action="store_true", help="build without running cfn-lint")
    parser.set_defaults(func=_cmd_build)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for name, p in sub.choices.items():
        # Every command's --help ends with its examples and the exit codes.
        if not p.epilog:
            examples = _EXAMPLES.get(name, [])
            p.epilog = ("examples:\n" + "\n".join(f"  {e}" for e in examples) + "\n\n" if examples else "") + \
                EXIT_CODES_HELP
            p.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def _cmd_build(args: argparse.Namespace) -> int:
    report = buildjob.run(args.params, check=args.check, lint=not args.no_lint)
    for cfg in report.params:
        print(f"params   {cfg.path}: ok ({cfg.name_prefix}, {cfg.region}, "
              f"multi-AZ {'on' if cfg.multi_az else 'off'})")
    if args.check:
        if report.stale:
            for item in report.stale:
                print(f"stale    templates/{item}", file=sys.stderr)
            print("templates/ is out of date: run `python build.py` and commit the result", file=sys.stderr)
            return EXIT_FAILED
        print(f"check    templates/ matches the code ({len(report.templates)} templates)")
        return EXIT_OK
    total = sum(n for _, n in report.templates)
    for filename, count in report.templates:
        print(f"template templates/{filename}: {count} resources")
    for finding in report.findings:
        print(f"lint     {finding}")
    lint_part = "lint skipped" if args.no_lint else f"lint {report.lint_seconds:.2f}s"
    print(f"built {len(report.templates)} templates ({total} resources) in {report.build_seconds:.2f}s; "
          f"{lint_part}; {len(report.findings)} findings")
    return EXIT_FAILED if report.findings else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - no input may end in a traceback
        failure = describe_error(exc)
        if failure is None:
            # A bug, not bad input: one line, and the traceback only on request.
            print(f"error: unexpected {type(exc).__name__}: {exc} (set WEALIST_CFN_DEBUG=1 for the traceback)",
                  file=sys.stderr)
            if os.environ.get("WEALIST_CFN_DEBUG"):
                traceback.print_exc()
            return EXIT_FAILED
        print(f"error: {failure.message}", file=sys.stderr)
        for line in failure.details:
            print(f"  {line}", file=sys.stderr)
        return failure.exit_code
