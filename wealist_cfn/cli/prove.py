"""``build.py prove``: parse, call :mod:`wealist_cfn.prove`, print.

Progress goes to stderr, the report to stdout (and to ``--report FILE``),
so ``--output json | jq`` gets the document alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wealist_cfn import config
from wealist_cfn.aws import Aws
from wealist_cfn.cli import options as cliopts
from wealist_cfn.cli.daytwo import ask_typed
from wealist_cfn.deploy import signals
from wealist_cfn.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, CommandError
from wealist_cfn.prove import estimate, guard, registry, report, runner

EXAMPLES = [
    "python build.py prove --list",
    "python build.py prove --account-id 123456789012 --region ap-northeast-2 --only nested-stack-policy",
    "python build.py prove --account-id 123456789012 --params params/sandbox.json "
    "--report docs/proofs/2026-12-07-ap-northeast-2.md",
]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "prove",
        parents=cliopts.shared("params", "region", "profile", "output"),
        help="test the AWS behaviours the project relies on, in a sandbox account",
        description="Run small experiments in a sandbox account, each in its own short-lived stack "
        "<project>-<environment>-proof-<id>-<run>, deployed through this tool's change-set engine; "
        "observe with read-only calls; report whether each assumption holds, fails or is "
        "inconclusive, with the evidence; delete everything made, also on Ctrl-C. Refuses an account "
        "other than --account-id and any account holding the production root stack. --params names the "
        "sandbox environment's parameter file: its <Project>-<Environment> prefixes the stacks, its "
        "service role (<prefix>-cfn-role) runs the experiments that need it, and its region is the "
        "default.",
    )
    p.add_argument("--account-id", metavar="ID", help="the sandbox account; the credentials must be for it")
    p.add_argument("--only", nargs="+", metavar="ID", help="run only these experiments (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments, their cost and time (offline)")
    p.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="also write the report to FILE: JSON for *.json, else markdown "
        "(docs/proofs/<date>-<region>.md is committed as evidence)",
    )
    p.add_argument("--yes", action="store_true", help="do not ask (needs --confirm-account)")
    p.add_argument("--confirm-account", metavar="ID", help="the account ID again, required with --yes")
    p.epilog = (
        "examples:\n"
        + "\n".join(f"  {e}" for e in EXAMPLES)
        + "\n\n"
        + "exit codes:\n  0    every assumption holds and nothing is left\n  1    an assumption fails or is "
        "inconclusive, or something is left (the report says what and how to remove it)\n  2    bad input\n"
        "  3    refused: another account, the production account, or not confirmed\n  130  interrupted "
        "(what the run made is deleted first)"
    )
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.set_defaults(func=cmd_prove)


def _region(args, env: config.Config | None) -> str:
    if args.region:
        return args.region
    if env is not None:
        return env.region
    return ""


def cmd_prove(args) -> int:
    experiments = registry.select(args.only)
    env = config.load(args.params) if args.params else None
    if args.list:
        region = _region(args, env) or guard.production().region
        print(report.render_list(args.output, estimate.total(list(registry.EXPERIMENTS), region)))
        return EXIT_OK
    if not args.account_id:
        raise CommandError("name the sandbox account: --account-id ID (or --list, which needs none)", EXIT_USAGE)
    named = guard.check_account_id(args.account_id)
    if env is not None and env.name_prefix == guard.production().name_prefix:
        raise CommandError(
            f"refused: {args.params} is production's parameter file ({env.name_prefix}); pass the "
            f"sandbox environment's",
            EXIT_REFUSED,
        )
    if args.yes and args.confirm_account != named:
        raise CommandError(f"refused: --yes needs --confirm-account {named}", EXIT_REFUSED)
    aws = Aws(_region(args, env), profile=args.profile)
    if not aws.region:
        aws.region = aws.session.region_name or ""
    if not aws.region:
        raise CommandError("no region: pass --region or --params FILE", EXIT_USAGE)
    est = estimate.total(experiments, aws.region)  # an unknown region's prices stop it before any call
    aws.check_credentials()
    account = guard.check(aws, named)
    role_arn, role_line = guard.service_role(aws, env)
    prod = guard.production()
    project = env.project if env else prod.project
    environment = env.environment if env else "proof"
    err = sys.stderr
    print(
        f"account {account.id}"
        + (f" ({', '.join(account.aliases)})" if account.aliases else "")
        + f", caller {account.arn}; no production stack {account.production_stack} in "
        f"{', '.join(account.looked_in)}",
        file=err,
    )
    print(role_line, file=err)
    print(guard.credential_time(aws, est), file=err)
    vpcs = guard.vpc_line(aws, experiments)
    if vpcs:
        print(vpcs, file=err)
    for line in report.estimate_lines(est):
        print(line, file=err)
    print(
        f"{len(experiments)} experiment(s), stacks named {project}-{environment}-proof-<id>-<run>, in {aws.region}",
        file=err,
    )
    if not args.yes:
        ask_typed(
            named,
            prompt=f"Type the account ID ({named}) to run them there: ",
            flags=f"--yes --confirm-account {named}",
            what="account ID",
            nothing="nothing was started",
        )
    with signals.sigterm_as_interrupt():
        result = runner.drive(
            runner.run(
                aws,
                experiments,
                project=project,
                environment=environment,
                role_arn=role_arn,
                root_length=max(len(prod.name_prefix), len(env.name_prefix) if env else 0),
            ),
            lambda p: print(f"[{p.experiment}] {p.message}", file=err, flush=True),
        )
    render = {"text": report.render_text, "json": report.render_json, "markdown": report.render_markdown}
    print(render[args.output](result))
    if args.report:
        text = report.render_json(result) if args.report.suffix == ".json" else report.render_markdown(result)
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        print(f"report written to {args.report}", file=err)
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.ok else EXIT_FAILED
