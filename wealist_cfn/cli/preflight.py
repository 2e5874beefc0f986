"""``build.py preflight`` and ``build.py cost``: parse, call
:mod:`.checks` / :mod:`.cost` / :mod:`.pricing`, print.

With ``--output json`` or ``markdown`` the document alone goes to stdout
(progress to stderr), so ``>> $GITHUB_STEP_SUMMARY`` gets exactly it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import botocore.exceptions

from wealist_cfn import config
from wealist_cfn import rehearsal as localenv
from wealist_cfn.aws import Aws
from wealist_cfn.cli import options as cliopts
from wealist_cfn.core.settings import TEMPLATES_DIR
from wealist_cfn.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CommandError
from wealist_cfn.preflight import capability as capability_mod
from wealist_cfn.preflight import checks, cost, pricing, render


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "preflight",
        parents=cliopts.shared("params", "region", "profile", "endpoint-url", "local", "output"),
        help="read-only checks of what the stack assumes, before any change set",
        description="Check, with read-only calls, what a deploy of this parameter file assumes: Parameter "
        "Store values, the deploy bucket and its files, the certificate, zones and instance types, "
        "database and cache offerings, the AMI parameter, quotas, images and the stack's state. "
        "Exit 1 when a check fails.",
    )
    p.add_argument("--stack-name", help="root stack name (default: <Project>-<Environment>)")
    p.add_argument(
        "--templates", type=Path, default=TEMPLATES_DIR, metavar="DIR", help="templates directory (default: templates/)"
    )
    p.add_argument(
        "--replace-failed", action="store_true", help="judge a ROLLBACK_COMPLETE stack as deploy --replace-failed would"
    )
    p.set_defaults(func=cmd_preflight, params_required=True)

    c = subparsers.add_parser(
        "cost",
        parents=cliopts.shared("params", "region", "profile", "endpoint-url", "output"),
        help="monthly on-demand cost estimate, by resource, of one or both modes",
        description="Estimate the stack's monthly on-demand cost for a parameter file from the resolved "
        "templates and the price table of its region (wealist_cfn/preflight/prices/). "
        "Usage-dependent items come from params/usage/<env>.json or --usage and are shown apart. "
        "--region, --profile and --endpoint-url apply to --refresh only (a Price List endpoint).",
    )
    c.add_argument(
        "--mode",
        choices=("single", "multi", "both"),
        default="both",
        help="EnableMultiAZ false, true, or both side by side with the difference (default)",
    )
    c.add_argument(
        "--usage",
        type=Path,
        metavar="FILE",
        help="usage figures (JSON object; default: params/usage/<env>.json when it exists)",
    )
    c.add_argument(
        "--templates", type=Path, default=TEMPLATES_DIR, metavar="DIR", help="templates directory (default: templates/)"
    )
    c.add_argument(
        "--refresh",
        action="store_true",
        help="rebuild the region's price table from the AWS Price List API (needs credentials)",
    )
    c.set_defaults(func=cmd_cost)


def run_preflight(
    cfg: config.Config,
    aws: Aws,
    *,
    stack_name: str | None,
    templates: Path = TEMPLATES_DIR,
    replace_failed: bool = False,
    params_arg: str = "",
    capability: capability_mod.Capability = capability_mod.AWS,
) -> checks.Report:
    ctx = checks.make_context(
        cfg,
        aws,
        stack_name=stack_name,
        templates_dir=templates,
        replace_failed=replace_failed,
        params_arg=params_arg,
        capability=capability,
    )
    return checks.run(ctx)


def render_preflight(report: checks.Report, fmt: str) -> str:
    return {"text": render.preflight_text, "json": render.preflight_json, "markdown": render.preflight_markdown}[fmt](
        report
    )


def _preflight_document(report: checks.Report, args, cfg: config.Config) -> str:
    """The command's own output: -q shortens the text to the failures and
    the verdict; the JSON carries the parameter file and values, as the
    deploy family's does."""
    if args.output == "json":
        return render.preflight_json(report, cliopts.params_document(args, cfg))
    if args.output == "text" and getattr(args, "quiet", False):
        return render.preflight_text(report, quiet=True)
    return render_preflight(report, args.output)


def cmd_preflight(args) -> int:
    cfg = config.load(args.params)
    region = cfg.region_for(args.region)
    localenv.use(args, region)
    aws = Aws(region, args.profile, args.endpoint_url)
    endpoint = capability_mod.for_target(aws.target)
    try:
        report = run_preflight(
            cfg,
            aws,
            stack_name=args.stack_name,
            templates=args.templates,
            replace_failed=args.replace_failed,
            params_arg=str(args.params),
            capability=endpoint,
        )
    except botocore.exceptions.BotoCoreError as exc:
        raise CommandError(f"preflight: {type(exc).__name__}: {exc}", EXIT_FAILED) from None
    except KeyboardInterrupt:
        print("interrupted: preflight only reads; nothing was changed", file=sys.stderr)
        return EXIT_INTERRUPTED
    text = _preflight_document(report, args, cfg)
    if args.output == "text":
        text = aws.target.preflight_text(text)
    print(text)
    return EXIT_OK if report.ok else EXIT_FAILED


def _usage_for(args) -> tuple[dict, str]:
    path = args.usage
    if path is None and args.params is not None:
        sidecar = cost.usage_path_for(args.params)
        path = sidecar if sidecar.exists() else None
    values, given = cost.load_usage(path)
    if path is None:
        return values, "the documented defaults (no usage file)"
    defaults = [k for k in values if k not in given]
    return values, f"{path}" + (f" (defaults for {', '.join(defaults)})" if defaults else "")


def cmd_cost(args) -> int:
    if args.refresh:
        return _refresh(args)
    if args.params is None:
        raise CommandError("cost: --params FILE is required (or --refresh --region REGION)", EXIT_USAGE)
    cfg = config.load(args.params)
    prices = cost.load_prices(cfg.region)
    usage, usage_note = _usage_for(args)
    modes = ("single", "multi") if args.mode == "both" else (args.mode,)
    estimates = cost.estimate_modes(cfg, modes, prices=prices, usage=usage, templates_dir=args.templates)
    if args.output == "json":
        print(render.cost_json(estimates, prices, usage, usage_note, cliopts.params_document(args, cfg)))
    elif args.output == "markdown":
        print(render.cost_markdown(estimates, prices, usage_note))
    else:
        print(render.cost_text(estimates, prices, usage_note))
    return EXIT_OK


def _refresh(args) -> int:
    region = args.region or (config.load(args.params).region if args.params else None)
    if not region:
        raise CommandError("cost --refresh: give --region REGION or --params FILE", EXIT_USAGE)
    keys = pricing.keys_to_refresh(region)
    aws = Aws(pricing.PRICING_REGION, args.profile, args.endpoint_url)
    aws.check_credentials()
    client = aws.client("pricing")
    out = sys.stderr if args.output != "text" else sys.stdout
    # -q: the file written is the result; each price read is progress.
    progress = cliopts.NOWHERE if getattr(args, "quiet", False) else out
    old = cost.load_prices(region).entries if cost.price_path(region).exists() else {}
    entries = {}
    try:
        for done, total, key, entry in pricing.refresh(client, region, keys):
            if entry is None:
                if key in old:
                    entries[key] = old[key]
                print(f"[{done}/{total}] {key}: kept as it was ({pricing.NO_QUERY[key]})", file=progress)
                continue
            entries[key] = entry
            print(f"[{done}/{total}] {key}: ${entry['usd']:g} {entry['unit']}", file=progress)
    except botocore.exceptions.ClientError as exc:
        raise CommandError(f"Price List API: {exc}", EXIT_FAILED) from None
    path = pricing.write(region, entries)
    print(f"wrote {path} ({len(entries)} prices)", file=out)
    return EXIT_OK
