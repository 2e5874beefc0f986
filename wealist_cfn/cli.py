"""Command line of build.py: parse, call the library, print.

``python build.py`` builds and lints; subcommands (deploy, package, plan,
status, bootstrap, rollout, ...) are registered by the modules in
:data:`COMMAND_MODULES`, each exposing ``register(subparsers)`` that sets a
``func(args) -> int`` default.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from . import buildjob
from .config import ConfigError
from .errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandError

COMMAND_MODULES = ("wealist_cfn.deploy.cli", "wealist_cfn.ops.cli", "wealist_cfn.daytwo.cli")



def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="build.py",
        description="Build, lint, package and deploy the Wealist CloudFormation templates.",
    )
    parser.add_argument("--check", action="store_true",
                        help="fail when the committed templates differ from what the code builds")
    parser.add_argument("--params", type=Path, action="append", metavar="FILE",
                        help="validate this parameter file (repeatable; default: every params/*.json)")
    parser.add_argument("--no-lint", action="store_true", help="build without running cfn-lint")
    parser.set_defaults(func=_cmd_build)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
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
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for line in exc.details:
            print(f"  {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
