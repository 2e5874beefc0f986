"""``build.py bootstrap`` and ``build.py rollout``: parse, call
:mod:`wealist_cfn.ops.bootstrap` / :mod:`wealist_cfn.ops.rollout`, print."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from botocore.exceptions import ClientError

from wealist_cfn import config
from wealist_cfn import rehearsal as localenv
from wealist_cfn.aws import Aws
from wealist_cfn.cli import options as cliopts
from wealist_cfn.core.settings import DEFAULT_SETTINGS
from wealist_cfn.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from wealist_cfn.ops import bootstrap, releasestate, rollout
from wealist_cfn.stacks.compute import BACKEND_GRACE_SECONDS


def register(subparsers) -> None:
    b = subparsers.add_parser(
        "bootstrap",
        parents=_common(),
        help="create the parameters, secrets and deploy bucket the stack needs (idempotent)",
        description="Create what must exist before the first deploy: Parameter Store values under "
        "/<project>/<env>/ (secrets generated, as SecureString), the deploy bucket with its "
        "security settings, and the instance files in it. Safe to run again: existing values "
        "are kept, only changed files are uploaded.",
    )
    b.add_argument(
        "--rotate",
        action="append",
        default=[],
        metavar="NAME",
        help="generate a new value for this secret (e.g. db/user_db_password); repeatable; "
        "prints what must be restarted",
    )
    b.add_argument("--dry-run", action="store_true", help="compare and report, change nothing")
    b.add_argument(
        "--yes",
        action="store_true",
        help="rotate without asking (--rotate against AWS asks on a terminal, and without one "
        "refuses unless --yes is given)",
    )
    b.set_defaults(func=_cmd_bootstrap, params_required=True)

    r = subparsers.add_parser(
        "rollout",
        parents=_common(),
        help="replace the backend instances by an instance refresh and follow it",
        description="Start an instance refresh on an Auto Scaling group (new instances are launched and "
        "warmed up before old ones go) and follow it until it ends. Exit 0 when it succeeds, "
        "1 when it fails or is cancelled, 3 when another refresh is already running.",
    )
    r.add_argument(
        "--group", choices=rollout.GROUPS, default="backend", help="which Auto Scaling group (default: backend)"
    )
    r.add_argument("--asg", metavar="NAME", help="Auto Scaling group name (default: <project>-<env>-<group>-asg)")
    r.add_argument(
        "--min-healthy",
        type=int,
        default=100,
        metavar="PCT",
        help="capacity kept in service during the refresh (default: 100)",
    )
    r.add_argument(
        "--max-healthy",
        type=int,
        default=200,
        metavar="PCT",
        help="capacity allowed while replacements start (default: 200: launch before terminate)",
    )
    r.add_argument(
        "--warmup", type=int, metavar="SECONDS", help="instance warm-up (default: the group's DefaultInstanceWarmup)"
    )
    r.add_argument(
        "--skip-matching",
        action="store_true",
        help="leave instances that already run the current launch template (not for image releases)",
    )
    r.add_argument(
        "--release",
        action="append",
        default=[],
        metavar="SERVICE=TAG",
        help="set the service's released image tag, then roll out; when the rollout fails or times "
        "out, put the previous tag back and roll out again (repeatable)",
    )
    r.add_argument("--no-wait", action="store_true", help="start the refresh and return")
    r.add_argument("--timeout", type=int, default=3600, metavar="SECONDS", help="give up following after this")
    r.add_argument("--poll", type=float, default=15.0, metavar="SECONDS", help=argparse.SUPPRESS)
    # How long a release on EC2 checks waits for healthy targets: the grace period; shorter in rehearsals.
    r.add_argument("--target-timeout", type=float, default=float(BACKEND_GRACE_SECONDS), help=argparse.SUPPRESS)
    r.set_defaults(func=_cmd_rollout, params_required=True)


def _common() -> list[argparse.ArgumentParser]:
    return cliopts.shared("params", "region", "profile", "endpoint-url", "local")


def _cmd_bootstrap(args) -> int:
    cfg = config.load(args.params)
    # Parameters and bucket serve the stack, in the params file's region.
    region = cfg.region_for(args.region)
    # A bad --rotate or value is bad input (exit 2), found before any AWS call.
    bootstrap.resolve_rotate(cfg, args.rotate)
    bootstrap.check_values(cfg)
    localenv.use(args, region)
    aws = Aws(region, args.profile, args.endpoint_url)
    refused = _confirm_rotation(args, cfg, aws.target)
    if refused is not None:
        return refused
    report = bootstrap.run(cfg, aws, rotate=args.rotate, dry_run=args.dry_run)
    width = max((len(c.action) for c in report.changes), default=0)
    # -q: the summary and what must follow (a rotated secret's restarts) are
    # the result; the line per parameter, secret and file is the detail.
    for c in report.changes if not getattr(args, "quiet", False) else ():
        detail = f" ({c.detail})" if c.detail else ""
        print(f"{c.action:<{width}}  {c.what:<9}  {c.name}{detail}")
    counts = ", ".join(f"{report.count(a)} {a}" for a in dict.fromkeys(c.action for c in report.changes))
    where = f"{cfg.name_prefix} in {aws.address}"
    verdict = "dry run, nothing changed" if args.dry_run else "changed" if report.changed else "nothing to change"
    print(f"bootstrap {where}: {counts} ({verdict})")
    for line in report.follow_up:
        print(f"next: {aws.target.follow_up(line)}")
    return EXIT_OK


def _confirm_rotation(args, cfg, target) -> int | None:
    """A rotation against AWS replaces a secret the running services use
    (they fail until restarted): it is asked for on a terminal, and without
    one needs --yes. A dry run, and an endpoint that holds no real secret
    (the rehearsal), rotate nothing real; an endpoint not known to be such
    is asked for as AWS is. Asked before any AWS client exists (the Target
    of AWS makes no call; another endpoint's is one plain GET). An exit
    code to stop with, or None to go on."""
    if not args.rotate or args.dry_run or args.yes or target.holds_real_secrets is False:
        return None
    names = ", ".join(bootstrap.resolve_rotate(cfg, args.rotate))
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(
            f"error: refusing to rotate {names} of {cfg.name_prefix} without a terminal to ask on: "
            "add --yes once you have read what must restart after it",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    try:
        answer = (
            input(f"Rotate {names} of {cfg.name_prefix}? The services that read it fail until restarted [y/N] ")
            .strip()
            .lower()
        )
    except KeyboardInterrupt:
        # Ctrl-C at the prompt: asked before any AWS client exists.
        print(
            f"\ninterrupted at the prompt: not rotated, {names} keep their values; nothing was read or changed in AWS",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except EOFError:
        print(
            f"\nno answer (end of input): not rotated, {names} keep their values; nothing was read or changed in AWS",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    if answer not in ("y", "yes"):
        print(f"not rotated: {names} keep their values", file=sys.stderr)
        return EXIT_REFUSED
    return None


def _cmd_rollout(args) -> int:
    cfg = config.load(args.params)
    region = cfg.region_for(args.region)
    group = args.asg or rollout.group_name(cfg, args.group)
    # Preferences the API would refuse are bad input (RolloutError, exit 2), before any AWS call.
    prefs = rollout.Preferences(
        min_healthy=args.min_healthy, max_healthy=args.max_healthy, warmup=args.warmup, skip_matching=args.skip_matching
    )
    localenv.use(args, region)
    aws = Aws(region, args.profile, args.endpoint_url)
    if args.release:
        return _release(args, cfg, aws, group, prefs)
    aws.check_credentials()
    client = aws.client("autoscaling")
    if args.group == "backend" and args.warmup is None:
        # On EC2 checks a new instance counts once it runs: wait a measured
        # boot before the refresh moves on (rollout.EC2_CHECK_WARMUP).
        try:
            health_type, _, _ = releasestate.group_facts(client, group)
        except ClientError as exc:
            print(f"error: reading {group}'s health-check type: {exc}", file=sys.stderr)
            return EXIT_FAILED
        except LookupError:
            health_type = None  # no such group: StartInstanceRefresh says so below
        if health_type == releasestate.EC2:
            prefs = replace(prefs, warmup=rollout.EC2_CHECK_WARMUP)
    try:
        refresh_id = rollout.start(client, group, prefs)
    except rollout.RefreshInProgress as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return exc.exit_code
    warmup = f", warm-up {prefs.warmup}s" if prefs.warmup is not None else ""
    print(
        f"started instance refresh {refresh_id} on {group} (min healthy {prefs.min_healthy}%, "
        f"max healthy {prefs.max_healthy}%{warmup})",
        flush=True,
    )
    if args.no_wait:
        return EXIT_OK

    def progress(state: rollout.RefreshState) -> None:
        if getattr(args, "quiet", False):  # -q: the outcome only
            return
        left = "" if state.instances_to_update is None else f", {state.instances_to_update} instances to go"
        reason = f" - {state.reason}" if state.reason else ""
        print(f"  {state.status:<12} {state.percentage:>3}%{left}{reason}", flush=True)

    try:
        final = rollout.follow(
            client, group, refresh_id, poll_seconds=args.poll, timeout_seconds=args.timeout, on_progress=progress
        )
    except KeyboardInterrupt:
        print(
            f"\nstopped following; refresh {refresh_id} goes on in AWS (cancel it with: aws autoscaling "
            f"cancel-instance-refresh --auto-scaling-group-name {group})"
            if aws.target.runs_aws_cli_steps is not False
            else f"\nstopped following refresh {refresh_id} {aws.target.where}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if final.succeeded:
        print(f"rollout of {group} succeeded")
        return EXIT_OK
    print(f"rollout of {group} ended {final.status}: {final.reason or 'no reason given'}", file=sys.stderr)
    return EXIT_FAILED


def _ec2_checked(args, cfg, autoscaling, elbv2, group, tags, prefs):
    """On EC2 checks nothing verifies a release: a longer warm-up while
    the refresh runs (unless --warmup was given) and a target-health check
    of the released services after it, bounded by the grace period."""
    health_type, _, _ = releasestate.group_facts(autoscaling, group)
    if health_type != releasestate.EC2:
        return prefs, None
    if args.warmup is None:
        prefs = replace(prefs, warmup=rollout.EC2_CHECK_WARMUP)
    services = {
        svc.name: int(cfg.values[f"{svc.key}ServicePort"])
        for svc in DEFAULT_SETTINGS.services
        if f"{bootstrap.parameter_prefix(cfg)}/{svc.tag_path}" in tags
    }
    by_service = releasestate.service_target_groups(autoscaling, elbv2, group, services)
    missing = sorted(set(services) - set(by_service))
    if missing:
        raise LookupError(f"no target group attached to {group} on the port of {', '.join(missing)}")
    return prefs, rollout.TargetCheck(elbv2, tuple(by_service.values()), args.target_timeout)


def _next_health_check_type(args, cfg, aws, group: str) -> None:
    """What the release means for the group's health checks. The switch to
    ELB is CloudFormation's (the BackendHealthCheckType parameter that
    deploy derives, ops/releasestate.py): this says when to deploy, and why
    not yet."""
    try:
        missing = releasestate.unreleased(aws.client("ssm"), bootstrap.parameter_prefix(cfg))
        health_type, _, _ = releasestate.group_facts(aws.client("autoscaling"), group)
        if missing:
            print(f"{group}: health checks stay {health_type} until {', '.join(missing)} is released")
            return
        if health_type == releasestate.ELB:
            print(f"{group}: health checks are ELB (every service is released)")
            return
        problems = releasestate.elb_problems(aws.client("autoscaling"), aws.client("elbv2"), group)
    except (ClientError, LookupError) as exc:
        print(
            f"warning: the release is out; whether {group} may switch to ELB health checks was not read "
            f"({exc}): deploy derives it again (python build.py deploy --params {args.params})",
            file=sys.stderr,
        )
        return
    if problems:
        print(
            f"{group}: every service is released, but health checks stay EC2: {'; '.join(problems)}. "
            f"Switching now would have Auto Scaling replace those instances; once they are healthy, run "
            f"python build.py deploy --params {args.params}"
        )
        return
    print(
        f"{group}: every service is released and every target is healthy: switch to ELB health checks with "
        f"python build.py deploy --params {args.params} (its review shows BackendHealthCheckType EC2 -> ELB)"
    )


def _release(args, cfg, aws, group: str, prefs) -> int:
    tags = {}
    for item in args.release:
        service, sep, tag = item.partition("=")
        name = f"deploy/{service.replace('-', '_')}_image_tag"
        if not sep or not tag or name not in bootstrap.PARAMS_BY_NAME:
            print(
                f"error: --release {item}: expected SERVICE=TAG with SERVICE one of "
                f"{', '.join(s.name for s in DEFAULT_SETTINGS.services)}",
                file=sys.stderr,
            )
            return EXIT_USAGE
        tags[f"{bootstrap.parameter_prefix(cfg)}/{name}"] = tag
    if args.no_wait:
        print(
            "error: --release follows the rollout to restore the previous tag on failure; leave out --no-wait",
            file=sys.stderr,
        )
        return EXIT_USAGE
    aws.check_credentials()

    def progress(what: str, state: rollout.RefreshState) -> None:
        if getattr(args, "quiet", False):  # -q: the outcome only, as for a plain rollout
            return
        left = "" if state.instances_to_update is None else f", {state.instances_to_update} instances to go"
        print(f"  {what:<8} {state.status:<12} {state.percentage:>3}%{left}", flush=True)

    autoscaling, elbv2 = aws.client("autoscaling"), aws.client("elbv2")
    targets = None
    if args.group == "backend":
        try:
            prefs, targets = _ec2_checked(args, cfg, autoscaling, elbv2, group, tags, prefs)
        except (ClientError, LookupError) as exc:
            print(
                f"error: reading {group}'s health checks and target groups: {exc} (no tag was changed)", file=sys.stderr
            )
            return EXIT_FAILED
    try:
        done = rollout.release(
            aws.client("ssm"),
            autoscaling,
            group,
            tags,
            prefs=prefs,
            targets=targets,
            poll_seconds=args.poll,
            timeout_seconds=args.timeout,
            on_progress=progress,
        )
    except rollout.RefreshInProgress as exc:
        print(f"refused: {exc} (no tag was changed)", file=sys.stderr)
        return exc.exit_code
    for name, tag in done.tags.items():
        print(f"{name}: {done.previous[name]} -> {tag}")
    if done.succeeded:
        print(
            f"release rolled out on {group}"
            + (" and every released service's targets are healthy" if targets is not None else "")
        )
        if args.group == "backend":
            _next_health_check_type(args, cfg, aws, group)
        return EXIT_OK
    print(f"error: release failed: {done.error}", file=sys.stderr)
    for name, tag in done.previous.items():
        print(f"restored {name} to {tag}", file=sys.stderr)
    if done.rollback is not None and done.rollback.succeeded:
        print(f"rolled back: {group} runs the previous tags again", file=sys.stderr)
    else:
        why = done.rollback_error or (f"it ended {done.rollback.status}" if done.rollback else "not started")
        print(
            f"error: the rollback refresh of {group} did not succeed ({why}); new launches boot the previous "
            f"tags, but running instances may still have the failed one: run build.py rollout --params "
            f"{args.params} once the group is quiet",
            file=sys.stderr,
        )
    return EXIT_FAILED
