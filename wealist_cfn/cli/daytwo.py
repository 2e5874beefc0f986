"""``build.py diff | drift | outputs | events | destroy``: parse, call the
day-two library, print.

With ``--output json`` or ``markdown`` the document goes to stdout alone
and progress goes to stderr, so a workflow can redirect the document.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from wealist_cfn import config
from wealist_cfn import rehearsal as localenv
from wealist_cfn.aws import Aws
from wealist_cfn.cli import options as cliopts
from wealist_cfn.cli.deploy import resolve_stack_name
from wealist_cfn.core.settings import TEMPLATES_DIR
from wealist_cfn.daytwo import destroy as destroy_mod
from wealist_cfn.daytwo import diff as diff_mod
from wealist_cfn.daytwo import drift as drift_mod
from wealist_cfn.daytwo import inspect as inspect_mod
from wealist_cfn.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, CommandError


def register(subparsers) -> None:
    def add(name: str, *, output: bool = True, **kw) -> argparse.ArgumentParser:
        shared = ("params", "region", "profile", "endpoint-url", "local") + (("output",) if output else ())
        return subparsers.add_parser(name, parents=cliopts.shared(*shared), **kw)

    def common(p: argparse.ArgumentParser, *, params_required: bool = False) -> None:
        # Without a file (--stack-name): only the stack's name and --region come from the command line.
        p.add_argument("--stack-name", help="root stack name (default: <Project>-<Environment> from --params)")
        p.add_argument(
            "--force-stack-name",
            action="store_true",
            help="use a --stack-name that differs from the params file's <Project>-<Environment>",
        )
        p.set_defaults(params_required=params_required)

    d = add(
        "diff",
        help="compare the local templates and parameters with the deployed stack "
        "(no change set, no upload); exit 1 when they differ",
    )
    d.description = (
        "Compare the deployed root and nested templates and parameter values with the local "
        "templates and parameter file, property by property, conditions resolved for each side's "
        "values. No change set, no upload. Exit 0: no differences, 1: differences."
    )
    common(d, params_required=True)
    d.add_argument(
        "--templates", type=Path, default=TEMPLATES_DIR, metavar="DIR", help="templates directory (default: templates/)"
    )
    d.set_defaults(func=cmd_diff)

    r = add("drift", help="detect drift on the root and every nested stack; exit 1 when drifted")
    r.description = (
        "Run drift detection on the root and every nested stack at once and report each drifted "
        "property, expected against actual; resources drift detection cannot check are listed as "
        "not checked. Exit 0: in sync, 1: drifted."
    )
    common(r)
    r.add_argument("--timeout", type=int, default=900, metavar="SECONDS", help="give up waiting after this long")
    r.set_defaults(func=cmd_drift)

    o = add("outputs", help="the root stack's outputs")
    o.description = (
        "Print the root stack's outputs: a table (text or markdown), or a JSON object of "
        "key and value alone, for a script."
    )
    common(o)
    o.set_defaults(func=cmd_outputs)

    e = add("events", help="recent events of the root and nested stacks, failures first")
    e.description = (
        "Print the recent events of the root and nested stacks, merged in time order with their "
        "nested path, failures first. `status` follows a running operation."
    )
    common(e)
    e.add_argument("--since", default="1h", help="how far back: 30m, 1h, 2d (default 1h)")
    e.set_defaults(func=cmd_events)

    x = add("destroy", output=False, help="delete the stack after showing what goes and what stays")
    x.description = (
        "Show what will be deleted and what stays (retained resources, final snapshots, "
        "repositories, log groups, the deploy bucket), ask for the stack name, delete the root stack "
        "and wait. Refuses while protections are on unless --disable-protection."
    )
    common(x)
    x.add_argument("--yes", action="store_true", help="do not ask (needs --confirm-stack)")
    x.add_argument("--confirm-stack", metavar="NAME", help="the stack name again, required with --yes")
    x.add_argument(
        "--disable-protection", action="store_true", help="turn off termination and deletion protection before deleting"
    )
    x.add_argument(
        "--production",
        action="store_true",
        help="required to destroy a stack named like params/prod.json (<project>-<environment>)",
    )
    x.set_defaults(func=cmd_destroy)


def _aws(args) -> Aws:
    region = args.region
    if args.params:
        region = config.load(args.params).region_for(args.region)
    localenv.use(args, region)
    aws = Aws(region or "", profile=args.profile, endpoint_url=args.endpoint_url)
    if not aws.region:
        aws.region = aws.session.region_name or ""
    if not aws.region:
        raise CommandError("no region: pass --params FILE or --region", EXIT_USAGE)
    aws.check_credentials()
    return aws


def _stack_name(args) -> None:
    """The deploy commands' rule: ``--stack-name`` defaults to the params
    file's ``<Project>-<Environment>`` and may not contradict it unless
    ``--force-stack-name``. Checked before any AWS call."""
    if args.params is not None:
        args.stack_name = resolve_stack_name(args, config.load(args.params))
    elif args.stack_name is None:
        raise CommandError(
            "name the stack: --params FILE (its <Project>-<Environment>) or --stack-name NAME", EXIT_USAGE
        )


def _quiet(args) -> bool:
    return bool(getattr(args, "quiet", False))


def _params_document(args) -> dict:
    """The parameter file and its values for a JSON document, as the deploy
    family's carry them (cliopts.params_document); none when the command ran
    without a file."""
    return cliopts.params_document(args, config.load(args.params) if args.params else None)


def _render(module, report, args) -> str:
    """diff's and drift's output: the JSON document with the parameter file
    and values, the text shortened by -q, or markdown."""
    if args.output == "json":
        return module.render_json(report, _params_document(args))
    if args.output == "text":
        return module.render_text(report, quiet=_quiet(args))
    return module.render_markdown(report)


def _guard(run):
    """The stack name is settled before any AWS call; a botocore error ends
    in the command line's one error mapper (``aws.describe_error``), as for
    every other command: one line, a defined exit code."""

    def wrapped(args) -> int:
        _stack_name(args)
        return run(args)

    return wrapped


@_guard
def cmd_diff(args) -> int:
    config.load(args.params)  # a bad file is refused before any AWS call
    report = diff_mod.run(_aws(args), args.stack_name, args.params, args.templates)
    print(_render(diff_mod, report, args))
    return EXIT_FAILED if report.has_differences else EXIT_OK


@_guard
def cmd_drift(args) -> int:
    aws = _aws(args)  # no endpoint running (--local): that is said first
    if aws.target.answers_drift is False:
        # The rehearsal declares it (moto's DetectStackDrift does not answer
        # as CloudFormation does: the command ended in "not an AWS
        # response"): not offered there. Not known: tried, and its answer shown.
        raise CommandError(
            f"drift is not offered on {aws.target.name}: it does not detect drift as "
            "CloudFormation does; run `python build.py drift --params FILE` against AWS",
            EXIT_USAGE,
        )
    # -q: the report is the result; the waiting is progress.
    progress = cliopts.NOWHERE if _quiet(args) else sys.stdout if args.output == "text" else sys.stderr
    report = None
    for item in drift_mod.detect(aws, args.stack_name, timeout=args.timeout):
        if isinstance(item, drift_mod.Progress):
            print(f"drift detection: {item.done} of {item.total} stacks done ({int(item.waited)}s)", file=progress)
        else:
            report = item
    print(_render(drift_mod, report, args))
    return EXIT_FAILED if report.has_drift or report.failed else EXIT_OK


@_guard
def cmd_outputs(args) -> int:
    outs = inspect_mod.outputs(_aws(args), args.stack_name)
    if args.output == "json":
        # Only the outputs: a script reads `.DatabasePort`; a parameter file's
        # keys beside them would read as outputs.
        print(json.dumps({o["key"]: o["value"] for o in outs}, indent=2))
        return EXIT_OK
    if args.output == "markdown":
        print(_outputs_markdown(args.stack_name, outs))
        return EXIT_OK
    if not outs:
        if not _quiet(args):  # -q: an empty result is no line
            print(f"{args.stack_name} has no outputs")
        return EXIT_OK
    width = max(len(o["key"]) for o in outs)
    if not _quiet(args):  # -q: the `Key  Value` lines alone
        print(f"{'Output':<{width}}  Value")
    for o in outs:
        print(f"{o['key']:<{width}}  {o['value']}")
    return EXIT_OK


def _md(text: str) -> str:
    """A value inside a markdown table cell: a pipe or a line break would end the cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _outputs_markdown(stack: str, outs: list[dict]) -> str:
    if not outs:
        return f"### `{stack}`: no outputs"
    rows = [f"| `{o['key']}` | {_md(o['value'])} |" for o in outs]
    return "\n".join([f"### Outputs of `{stack}`", "", "| Output | Value |", "|--------|-------|", *rows])


def _events_markdown(stack: str, since: str, failures, merged) -> str:
    def table(events) -> list[str]:
        return [
            "| Time (UTC) | Status | Resource | Type | Reason |",
            "|---|---|---|---|---|",
            *(
                f"| {e.timestamp:%Y-%m-%d %H:%M:%S} | {e.status} | `{e.where or stack}` | {e.resource_type} | "
                f"{_md(e.reason)} |"
                for e in events
            ),
        ]

    lines = [f"### Events of `{stack}` since {since}", ""]
    if failures:
        lines += [f"**Failures ({len(failures)})**", "", *table(failures), ""]
    lines += [f"**Events ({len(merged)}, oldest first)**", ""] + (table(merged) if merged else ["none"])
    return "\n".join(lines)


@_guard
def cmd_events(args) -> int:
    since = inspect_mod.parse_since(args.since)
    failures, merged = inspect_mod.recent_events(_aws(args), args.stack_name, since)
    if args.output == "json":

        def js(e):
            return {
                "time": e.timestamp.isoformat(),
                "where": e.where,
                "type": e.resource_type,
                "status": e.status,
                "reason": e.reason,
            }

        print(
            json.dumps(
                {"failures": [js(e) for e in failures], "events": [js(e) for e in merged], **_params_document(args)},
                indent=2,
            )
        )
        return EXIT_OK
    if args.output == "markdown":
        print(_events_markdown(args.stack_name, args.since, failures, merged))
        return EXIT_OK

    def line(e):
        reason = f"  {e.reason}" if e.reason else ""
        where = e.where or args.stack_name
        return f"{e.timestamp:%Y-%m-%d %H:%M:%S}  {e.status:<28} {where}  ({e.resource_type}){reason}"

    if _quiet(args):
        # -q: one line per event, oldest first, no headings; a failure is
        # among them with its status and reason (not listed twice).
        for e in merged:
            print(line(e))
        return EXIT_OK
    if failures:
        print(f"failures ({len(failures)}):")
        for e in failures:
            print("  " + line(e))
        print()
    print(f"events since {args.since} ({len(merged)}, oldest first):")
    for e in merged:
        print("  " + line(e))
    return EXIT_OK


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def ask_typed(expected: str, *, prompt: str, flags: str, what: str, nothing: str) -> None:
    """The typed confirmation of a command that deletes or spends: the user
    types ``expected`` again at a terminal, or the command is refused (exit
    3); without a terminal the ``flags`` that say it on the command line are
    named. Ctrl-D at the prompt is a refusal."""
    if not _interactive():
        raise CommandError(f"refused: no terminal to ask; pass {flags}", EXIT_REFUSED)
    try:
        typed = input(prompt).strip()
    except EOFError:
        typed = ""
    if typed != expected:
        raise CommandError(f"refused: the {what} typed does not match; {nothing}", EXIT_REFUSED)


@_guard
def cmd_destroy(args) -> int:
    n = args.stack_name
    if destroy_mod.is_production(n) and not args.production:
        raise CommandError(
            f"refused: {n} is named like the production parameter file (params/prod.json); "
            f"pass --production to destroy it",
            EXIT_REFUSED,
        )
    if args.yes and args.confirm_stack != n:
        raise CommandError(f"refused: --yes needs --confirm-stack {n}", EXIT_REFUSED)
    aws = _aws(args)
    p = destroy_mod.plan(aws, n)
    print(f"destroy {n} ({p.status}) in {aws.region}, account {aws.account}")
    print(f"will be deleted ({len(p.deleted)} resources):")
    for where, rtype, pid in p.deleted:
        print(f"  - {where} ({rtype}) {pid}")
    print(f"will stay ({len(p.kept)}):")
    for k in p.kept:
        note = f"  [{k.note}]" if k.note else ""
        print(f"  + {k.kind}: {k.what} {k.physical_id}{note}")
    if p.protections and not args.disable_protection:
        names = "; ".join(f"{pr.kind} protection on {pr.where} ({pr.physical_id})" for pr in p.protections)
        raise CommandError(
            f"refused: protection is on: {names}",
            EXIT_REFUSED,
            details=("pass --disable-protection to turn these off and delete",),
        )
    if not args.yes:
        ask_typed(
            n,
            prompt=f"Type the stack name ({n}) to delete it: ",
            flags=f"--yes --confirm-stack {n}",
            what="name",
            nothing="nothing was deleted",
        )
    if p.protections:
        for line in destroy_mod.disable_protections(aws, p):
            print(line)
    print(f"deleting {n} (its nested stacks go with it)")
    try:
        for w in destroy_mod.delete(aws, p):
            if not getattr(args, "quiet", False):  # -q: the outcome only
                print(f"  {w.status}: {w.nested_done} of {w.nested_total} nested stacks deleted ({int(w.waited)}s)")
    except destroy_mod.DeleteFailed as exc:
        # The stack and what blocked it stay: so must the protections this run turned off.
        exc.details = tuple(exc.details) + tuple(destroy_mod.restore_protections(aws, p, p.protections))
        raise
    except KeyboardInterrupt:
        print("\nstopped watching; the deletion goes on in AWS", file=sys.stderr)
        for pr in p.protections:
            print(
                f"  {pr.kind} protection of {pr.where} is off; should the deletion fail, put it back: "
                f"{destroy_mod.restore_command(pr, p.stack_id)}",
                file=sys.stderr,
            )
        print(f"  follow it: python build.py events --stack-name {n} --since 1h", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"{n} deleted")
    left = destroy_mod.remaining(aws, p)
    print(f"remaining in the account ({len(left)}):")
    for k in left:
        note = f"  [{k.note}]" if k.note else ""
        print(f"  {k.kind}: {k.what} {k.physical_id}{note}")
    costs = destroy_mod.monthly_cost(aws, left, aws.region)
    for c in costs:
        print(
            f"  ${c.usd:.2f}/month  {c.kept.physical_id}: {c.basis}"
            if c.usd is not None
            else f"  not priced   {c.kept.physical_id}: {c.basis}"
        )
    unpriced = sum(1 for c in costs if c.usd is None)
    print(
        f"what remains costs about ${sum(c.usd or 0 for c in costs):.2f}/month"
        + (f", plus {unpriced} item(s) not priced (above)" if unpriced else "")
    )
    return EXIT_OK
