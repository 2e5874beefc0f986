"""``build.py local up | down | status``: parse, call :mod:`.control`, print."""

from __future__ import annotations

import argparse
import ast
import time

from wealist_cfn.cli import options as cliopts
from wealist_cfn.core.parameters import PARAMS_BY_NAME
from wealist_cfn.errors import EXIT_CODES_HELP, EXIT_FAILED, EXIT_OK
from wealist_cfn.rehearsal import NOT_RUNNING, control

GONE = (
    "the stacks, parameters and objects it held are gone from memory; `python build.py local up --restore` "
    "replays the requests it recorded to bring them back (a plain `local up` starts empty)"
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "local",
        help="start, inspect or stop the local endpoint that --local uses",
        description="A local AWS endpoint in the background (moto's server with this project's compatibility "
        "layer), on 127.0.0.1 only, with its PID file and log in .local/. Every command's --local "
        "uses it. What it holds lasts as long as the process.",
        epilog="examples:\n  python build.py local up\n  python build.py local status\n"
        "  python build.py local down\n\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(title="actions", metavar="ACTION", required=True)
    u = sub.add_parser("up", help="start the endpoint (does nothing if it already runs); empty unless --restore")
    u.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    u.add_argument(
        "--restore",
        action="store_true",
        help="replay the requests the previous endpoint recorded, to get back what it held",
    )
    u.set_defaults(func=cmd_up)
    s = sub.add_parser(
        "status",
        parents=cliopts.shared("region"),
        help=f"port, PID, uptime, and the stacks and parameters it holds in --region (default: "
        f"{control.REGION}); exit 1 if none runs",
    )
    # Not set_defaults(region=...): the shared --region is one Action object
    # for every command (cli/options.py), and set_defaults would change its
    # default for all of them.
    s.set_defaults(func=cmd_status)
    d = sub.add_parser("down", help="stop the endpoint (its state goes with it)")
    d.set_defaults(func=cmd_down)


def _ago(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _value(v) -> str:
    """A list parameter as the params file writes it (moto returns a Python list's repr)."""
    if isinstance(v, str) and v.startswith("['"):
        try:
            return ",".join(ast.literal_eval(v))
        except (ValueError, SyntaxError):
            return v
    return ",".join(v) if isinstance(v, list) else str(v)


def cmd_up(args) -> int:
    t0 = time.monotonic()
    ep, started = control.up(args.port, restore=args.restore)
    if not started:
        print(
            f"local endpoint already running: {ep.url} (PID {ep.pid}, up {_ago(ep.uptime)})"
            + ("; --restore does nothing to a running endpoint" if args.restore else "")
        )
        return EXIT_OK
    print(f"local endpoint running: {ep.url} (127.0.0.1 only, PID {ep.pid}), ready in {time.monotonic() - t0:.1f}s")
    if args.restore:
        print(
            f"  restored: {ep.replayed} recorded requests replayed"
            if ep.replayed
            else "  nothing to restore: no recording from a previous endpoint; started empty"
        )
    print(f"  log: {control.state_dir() / control.LOG_FILE}")
    print("  use it with --local, e.g.: python build.py bootstrap --params params/prod.json --local")
    print("  what it holds lasts until `python build.py local down`; `local up --restore` brings it back")
    return EXIT_OK


def cmd_status(args) -> int:
    ep = control.running()
    if ep is None:
        print(NOT_RUNNING)
        return EXIT_FAILED
    print(f"local endpoint: {ep.url}")
    print(f"  port {ep.port}, PID {ep.pid}, up {_ago(ep.uptime)}, layers: {', '.join(ep.layers) or '-'}")
    region = args.region or control.REGION
    held = control.holdings(ep, region)
    print(f"  stacks in {region}: {len(held.stacks) or 'none'}")
    for s in held.stacks:
        print(f"    {s['name']}  {s['status']}")
        for k, v in sorted(s["parameters"].items()):
            spec = PARAMS_BY_NAME.get(k)
            print(f"      {k} = {'****' if spec is not None and spec.no_echo else _value(v)}")
    print(f"  Parameter Store in {region}: {len(held.ssm) or 'none'}")
    for p in held.ssm:
        print(f"    {p['name']}  ({p['type']})")
    return EXIT_OK


def cmd_down(args) -> int:
    ep = control.down()
    if ep is None:
        print("no local endpoint was running")
        return EXIT_OK
    print(f"stopped the local endpoint (PID {ep.pid}, port {ep.port}, up {_ago(ep.uptime)}); {GONE}")
    return EXIT_OK
