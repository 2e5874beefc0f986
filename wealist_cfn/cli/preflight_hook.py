"""Preflight as the first step of ``plan`` and ``deploy``, and the monthly
cost difference of the change, in one call the deploy command makes before
it packages anything or creates a change set.

Against AWS, a prod parameter file that leaves monitoring open to the
internet or the site without TLS, and does not accept that in AcceptedRisks,
is refused first (exit 2, before any AWS call, --skip-preflight or not: see
exposure.py). Then a failed check stops the command (exit 1) before any
upload or change set wherever the endpoint's answers are known: against AWS,
and on the local endpoint (``--local``), so a rehearsal stops where a real
deploy would. A check whose calls the endpoint does not answer is "not
checkable here" and does not stop it (:mod:`.capability`). Only an endpoint
that declares nothing of itself (an arbitrary ``--endpoint-url``:
:mod:`wealist_cfn.aws.target`) shows the results without stopping.
"""

from __future__ import annotations

import sys

import botocore.exceptions

from wealist_cfn.aws import target as target_mod
from wealist_cfn.cli import preflight as preflight_cli
from wealist_cfn.config import ConfigError
from wealist_cfn.errors import EXIT_FAILED, EXIT_INTERRUPTED, CommandError
from wealist_cfn.preflight import capability, checks, cost, exposure


def add_arguments(parser) -> None:
    parser.add_argument(
        "--skip-preflight",
        action="store_true",
        help="do not run the preflight checks first (the output says they were skipped)",
    )


def cost_change(dep, state) -> cost.Change | cost.Unknown | None:
    """The estimate's difference between the stack's current parameters and
    the file's; :class:`cost.Unknown` when it cannot be worked out (no price
    table for the region, a price key it lacks), which the plan says rather
    than printing no cost at all; None for a new stack or no difference."""
    if state is None or state.status is None or not state.parameters:
        return None
    try:
        prices = cost.load_prices(dep.config.region)
        usage, _ = cost.load_usage(None)
        old_cfg = checks.current_config(dep.config, state.parameters)
        kw = dict(prices=prices, usage=usage, templates_dir=dep.opts.templates_dir)
        return cost.change(
            cost.estimate(old_cfg, **kw), cost.estimate(dep.config, **kw), old_cfg.values, dep.config.values
        )
    except cost.PriceError as exc:
        # The deploy goes on; `python build.py cost` says how to add the price.
        if exc.key:
            return cost.Unknown(f"no price for {exc.key} in {exc.table}")
        return cost.Unknown(str(exc).split("; ")[0])
    except (CommandError, ConfigError) as exc:
        # No price table for the region, or current values no config accepts.
        return cost.Unknown(str(exc).split("; ")[0])


# Ctrl-C (errors.EXIT_INTERRUPTED): what was and was not done.
INTERRUPTED = (
    "interrupted during preflight: its checks only read, and nothing was packaged, uploaded or "
    "changed; no change set was made"
)


# Preflight's text for the local endpoint (its wording lives with the Target).
local_text = target_mod.local_preflight_text


def stop_message(report: checks.Report, params: str, target: target_mod.Target) -> str:
    """Why the deploy stops, and when one command fixes every failure
    (nothing bootstrapped yet), that command alone, as it runs against
    ``target``."""
    bootstrap = target.follow_up(f"`python build.py bootstrap --params {params}`").strip("`")
    fixes = {r.fix.split(" --")[0] for r in report.failed}
    if fixes == {"python build.py bootstrap"}:
        return (
            f"stopped by preflight before any upload or change set: {', '.join(r.name for r in report.failed)} "
            f"need what bootstrap makes; run: {bootstrap}"
        )
    return (
        "stopped by preflight before any upload or change set: fix the failed checks above, or run again "
        "with --skip-preflight if you are sure"
    )


def before_change_set(args, dep, out, doc: dict) -> int | None:
    """Run preflight and show the cost change; an exit code to stop with, or None to go on.

    ``args`` without a ``skip_preflight`` attribute did not come from a
    parser :func:`add_arguments` registered (a caller driving the deploy
    step itself, as the stubbed deploy tests do): nothing runs."""
    if not hasattr(args, "skip_preflight"):
        return None
    target = dep.aws.target
    if target.serves_the_internet:
        # Against AWS, before any call. Not on the rehearsal, which runs with
        # any file. Not skipped by --skip-preflight: the way out is written
        # in the parameter file, where it is reviewed.
        exposure.refuse_unaccepted(dep.config)
    elif target.serves_the_internet is None:
        # An endpoint that declares nothing: shown, not blocking, as its
        # preflight failures are (it was silent before).
        for n, line in enumerate(exposure.unaccepted(dep.config)):
            print(
                f"exposure: not refused on {target.name}, whose answers are not known; against AWS this "
                f"stops the deploy: {line}"
                if n == 0
                else f"  {line}",
                file=out,
            )
    if args.skip_preflight:
        print("preflight: skipped (--skip-preflight)", file=out)
        doc["preflight"] = {"skipped": True}
        return None
    endpoint = capability.for_target(target)
    try:
        report = preflight_cli.run_preflight(
            dep.config,
            dep.aws,
            stack_name=dep.opts.stack_name,
            templates=dep.opts.templates_dir,
            replace_failed=dep.opts.replace_failed,
            params_arg=str(args.params),
            capability=endpoint,
        )
    except botocore.exceptions.BotoCoreError as exc:
        print(f"preflight: could not run: {type(exc).__name__}: {exc}", file=out)
        return EXIT_FAILED if endpoint.known else None
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return EXIT_INTERRUPTED
    print(target.preflight_text(preflight_cli.render_preflight(report, "text")), file=out)
    doc["preflight"] = report.to_dict()
    if not report.ok:
        if endpoint.known:
            print(stop_message(report, str(args.params), target), file=sys.stderr)
            return EXIT_FAILED
        print(
            f"preflight: failures not blocking on {endpoint.name}, whose answers are not known; against AWS "
            "and on the local endpoint they stop the deploy here",
            file=out,
        )
    change = cost_change(dep, report.state)
    if change is not None:
        doc["costChange"] = change.line()
        doc["costComplete"] = not change.incomplete
        print(f"monthly cost: {change.line()}", file=out)
        if getattr(args, "output", "text") == "markdown":
            print(f"**Monthly cost** (on-demand estimate): {change.line()}\n")
    return None
