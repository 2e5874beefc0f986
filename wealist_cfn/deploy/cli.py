"""``build.py deploy | plan | package | status``: parse, call
:mod:`wealist_cfn.deploy.flow`, print.

Text output goes to stdout. With ``--output json`` or ``markdown`` the
document goes to stdout alone and progress lines go to stderr, so
``> $GITHUB_STEP_SUMMARY`` or ``| jq`` get exactly the document.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import botocore.exceptions
import botocore.parsers

from .. import config
from ..aws import Aws
from ..errors import EXIT_FAILED, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, CommandError
from . import events, flow, local, stackstate
from . import review as review_mod


def register(subparsers) -> None:
    def common(p: argparse.ArgumentParser, *, stack: bool = True) -> None:
        if stack:
            p.add_argument("--stack-name", required=True, help="root stack name, e.g. wealist-prod")
        p.add_argument("--params", type=Path, required=True, metavar="FILE",
                       help="parameter file, e.g. params/prod.json")
        p.add_argument("--bucket", help="S3 bucket for packaged templates (default: "
                                        "<project>-cfn-artifacts-<account>-<region>, created on first use)")
        p.add_argument("--region", help="must match the params file's availability zones (default: theirs)")
        p.add_argument("--profile", help="AWS profile")
        p.add_argument("--endpoint-url", metavar="URL", help="a local AWS endpoint instead of AWS")
        p.add_argument("--templates", type=Path, default=None, metavar="DIR",
                       help="templates directory (default: templates/)")
        p.add_argument("--output", choices=("text", "json", "markdown"), default="text",
                       help="review format (json/markdown: the document on stdout, progress on stderr)")
        p.add_argument("--local", action="store_true",
                       help="run against moto's server started in this process (a rehearsal: nothing reaches AWS)")

    d = subparsers.add_parser("deploy", help="package, create a change set, review it, execute it")
    common(d)
    g = d.add_mutually_exclusive_group()
    g.add_argument("--yes", action="store_true", help="approve without asking")
    g.add_argument("--no-execute", action="store_true", help="stop after the review; leave the change set")
    guard = d.add_mutually_exclusive_group()
    guard.add_argument("--allow-replace", action="store_true",
                       help="allow removing or replacing stateful resources (RDS, ElastiCache, ECR, VPC, subnets)")
    guard.add_argument("--accept-conditional", action="store_true",
                       help="go ahead when every guarded change is only 'Replacement: Conditional'; the stack "
                            "policies stay and deny an actual replacement (the update then fails and rolls back)")
    d.add_argument("--replace-failed", action="store_true",
                   help="delete a failed first create (ROLLBACK_COMPLETE or ROLLBACK_FAILED) and create it again")
    d.add_argument("--change-set", metavar="NAME",
                   help="execute this change set left by `plan`, after checking it is still executable and was "
                        "made from these templates and parameters")
    d.set_defaults(func=cmd_deploy, discard=False)

    p = subparsers.add_parser("plan", help="deploy --no-execute: the review only, change set left for review")
    common(p)
    p.add_argument("--discard", action="store_true",
                   help="delete the change set after the review (CI reviews of pull requests leave nothing behind)")
    p.set_defaults(func=cmd_deploy, no_execute=True, yes=False, replace_failed=False, accept_conditional=False,
                   change_set=None)

    k = subparsers.add_parser("package", help="upload the templates and print the packaged root's URL")
    common(k, stack=False)
    k.set_defaults(func=cmd_package)

    s = subparsers.add_parser("status", help="watch the stack's current or last operation again")
    common(s)
    s.set_defaults(func=cmd_status)


# -- printing ---------------------------------------------------------------------------------

def _print_event(item, out) -> None:
    if isinstance(item, flow.Info):
        print(item.message, file=out)
    elif isinstance(item, stackstate.Waiting):
        print(f"waiting: another operation is running ({item.status}, {int(item.waited)}s so far)", file=out)
    elif isinstance(item, events.StackEvent):
        reason = f"  {item.reason}" if item.reason else ""
        print(f"{item.timestamp:%H:%M:%S}  {item.status:<28} {item.where}  ({item.resource_type}){reason}", file=out)
    elif isinstance(item, events.Progress):
        if item.total:
            print(f"progress: {item.done} of {item.total} resources done", file=out)
    elif isinstance(item, events.Final):
        print(f"final state: {item.status}", file=out)
        if item.first_cause:
            c = item.first_cause
            print(f"first cause: {c.where} ({c.resource_type}) {c.status}: {c.reason}", file=out)
    elif isinstance(item, flow.Result):
        for o in item.outputs:
            print(f"output {o['OutputKey']} = {o.get('OutputValue', '')}", file=out)


def _outcome(result: flow.Result) -> dict:
    c = result.final.first_cause
    return {"status": result.final.status, "stackId": result.stack_id,
            "firstCause": None if not c else {"where": c.where, "type": c.resource_type, "status": c.status,
                                              "reason": c.reason},
            "outputs": {o["OutputKey"]: o.get("OutputValue", "") for o in result.outputs}}


def _options(args) -> flow.Options:
    kw = dict(stack_name=getattr(args, "stack_name", "") or "", params=args.params, bucket=args.bucket,
              region=args.region, profile=args.profile, endpoint_url=args.endpoint_url,
              allow_replace=getattr(args, "allow_replace", False),
              replace_failed=getattr(args, "replace_failed", False),
              change_set=getattr(args, "change_set", None))
    if args.templates:
        kw["templates_dir"] = args.templates
    return flow.Options(**kw)


def _with_endpoint(args, run) -> int:
    """Run ``run(deployment_factory)``; with ``--local`` inside a fresh local endpoint.

    The parameter file and ``--region`` are checked first, so that a bad file
    is refused before anything starts (no AWS client, no local endpoint)."""
    try:
        region = config.load(args.params).region_for(args.region)
        if not args.local:
            return run(lambda opts: flow.Deployment(opts))
        if args.endpoint_url:
            raise CommandError("--local starts its own endpoint; leave out --endpoint-url", EXIT_USAGE)
        if args.profile:
            raise CommandError("--local uses fixed local credentials; leave out --profile", EXIT_USAGE)
        progress = sys.stdout if args.output == "text" else sys.stderr
        with local.endpoint() as url:
            print(f"local endpoint: moto's server at {url} in this process (a rehearsal: nothing reaches AWS)",
                  file=progress)

            def factory(opts):
                opts.endpoint_url = url
                dep = flow.Deployment(opts, aws=Aws(region, endpoint_url=url, local_credentials=True))
                made = local.seed_ssm(dep.aws, opts.templates_dir, dep.config.values)
                if made:
                    print(f"local endpoint: {len(made)} placeholder SSM parameters created for the templates' "
                          f"dynamic references", file=progress)
                return dep
            return run(factory)
    except botocore.exceptions.NoCredentialsError as exc:
        print(f"error: AWS credentials: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError,
            botocore.parsers.ResponseParserError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED


def cmd_deploy(args) -> int:
    return _with_endpoint(args, lambda factory: _deploy(args, factory(_options(args))))


def _deploy(args, dep: flow.Deployment) -> int:
    fmt = args.output
    out = sys.stdout if fmt == "text" else sys.stderr
    doc: dict = {"stack": dep.opts.stack_name}

    def finish(code: int) -> int:
        if fmt == "json":
            doc["exitCode"] = code
            print(json.dumps(doc, indent=2, default=str))
        return code

    try:
        for item in dep.prepare():
            _print_event(item, out)
    except KeyboardInterrupt:
        for line in dep.left_behind:
            print(line, file=sys.stderr)
        return 130
    plan = dep.plan
    n = dep.opts.stack_name
    if plan.no_changes:
        print(f"no changes: {n} already matches the templates and parameters (change set deleted)", file=out)
        doc["result"] = {"status": "NO_CHANGES"}
        if fmt == "markdown":
            print(f"### `{n}`: no changes")
        return finish(EXIT_OK)
    review = plan.review
    doc["review"] = review.to_dict()
    if fmt == "markdown":
        print(review_mod.render_markdown(review))
    elif fmt == "text":
        print(review_mod.render_text(review, color=sys.stdout.isatty()))
    cs = plan.change_set
    execute_hint = f"aws cloudformation execute-change-set --change-set-name {cs.id}"
    delete_hint = f"aws cloudformation delete-change-set --change-set-name {cs.id}"
    if review.guarded and not dep.opts.allow_replace and not args.no_execute:
        only_conditional = all(c.conditional for c in review.guarded)
        if only_conditional and args.accept_conditional:
            print(f"--accept-conditional: {len(review.guarded)} change(s) may replace a stateful resource "
                  f"(Replacement: Conditional); the stack policies stay in place and deny an actual replacement, "
                  f"which would fail the update and roll it back", file=out)
        else:
            print(f"refused: {len(review.guarded)} guarded change(s) (removal or replacement of stateful "
                  f"resources); deploy again with --allow-replace if that is intended", file=sys.stderr)
            if only_conditional:
                print("  every one is 'Replacement: Conditional' (CloudFormation will only know while it runs, "
                      "e.g. from another nested stack's outputs): --accept-conditional goes ahead with the stack "
                      "policies kept, so an actual replacement is still denied", file=sys.stderr)
            left = dep.cleanup()
            for line in left or [f"the change set is left for review; the stack policy denies it in AWS too. "
                                 f"Delete it: {delete_hint}"]:
                print(f"  {line}", file=sys.stderr)
            doc["result"] = {"status": "REFUSED"}
            return finish(EXIT_REFUSED)
    if args.no_execute and args.discard:
        left = dep.discard()
        print(f"change set {cs.name} reviewed and deleted (--discard)", file=out)
        for line in left[1:]:
            print(line, file=out)
        doc["result"] = {"status": "PLANNED", "changeSetId": cs.id, "deleted": True}
        return finish(EXIT_OK)
    if args.no_execute:
        dep.keep()
        print(f"change set {cs.name} left for review (not executed)", file=out)
        print(f"  execute exactly this one: python build.py deploy --stack-name {n} --params {args.params} "
              f"--change-set {cs.name}", file=out)
        print(f"  delete:  {delete_hint}", file=out)
        if review.guarded:
            print("  note: it holds guarded changes; a deploy needs --allow-replace", file=out)
        doc["result"] = {"status": "PLANNED", "changeSetId": cs.id, "changeSetName": cs.name}
        return finish(EXIT_OK)
    if not args.yes:
        if sys.stdin.isatty() and sys.stdout.isatty():
            try:
                answer = input(f"Execute change set {cs.name} on {n}? [y/N] ").strip().lower()
            except (KeyboardInterrupt, EOFError):  # Ctrl-C / Ctrl-D at the prompt: a "no"
                print(file=sys.stderr)
                answer = ""
            approved = answer in ("y", "yes")
        else:
            approved = False
            print("not approved: no terminal to ask and no --yes", file=sys.stderr)
        if not approved:
            for line in dep.cleanup() or [f"change set {cs.name} left; execute it with: {execute_hint}",
                                          f"  or delete it: {delete_hint}"]:
                print(line, file=sys.stderr)
            doc["result"] = {"status": "NOT_APPROVED", "changeSetId": cs.id}
            return finish(EXIT_REFUSED)
    try:
        for item in dep.execute():
            _print_event(item, out)
    except KeyboardInterrupt:
        for line in dep.left_behind:
            print(line, file=sys.stderr)
        if not getattr(dep, "executing", True):
            print("\nstopped before the change set was executed: nothing runs in AWS", file=sys.stderr)
            return 130
        print(f"\nstopped watching; the deploy goes on in AWS. Watch it again with:\n"
              f"  python build.py status --stack-name {n} --params {args.params}", file=sys.stderr)
        return 130
    result = dep.result
    doc["result"] = _outcome(result)
    if fmt == "markdown":
        cause = result.final.first_cause
        print(f"\n**{result.final.status}**" + (f": first cause `{cause.where}`: {cause.reason}" if cause else ""))
    return finish(EXIT_OK if result.final.ok else EXIT_FAILED)


def cmd_package(args) -> int:
    def run(factory):
        dep = factory(_options(args))
        out = sys.stdout if args.output == "text" else sys.stderr
        for item in dep.package(upload_root=True):
            _print_event(item, out)
        url = dep.packaged.root_url
        if args.output == "json":
            print(json.dumps({"rootTemplateUrl": url, "bucket": dep.bucket,
                              "objects": [o.__dict__ for o in dep.packaged.objects]}, indent=2))
        else:
            print(url)
        return EXIT_OK
    return _with_endpoint(args, run)


def cmd_status(args) -> int:
    def run(factory):
        dep = factory(_options(args))
        out = sys.stdout if args.output == "text" else sys.stderr
        dep.aws.check_credentials()
        result = None
        try:
            for item in flow.watch(dep.aws, args.stack_name):
                _print_event(item, out)
                if isinstance(item, flow.Result):
                    result = item
        except KeyboardInterrupt:
            print("\nstopped watching; the operation goes on in AWS", file=sys.stderr)
            return 130
        if args.output == "json":
            print(json.dumps(_outcome(result), indent=2, default=str))
        return EXIT_OK if result.final.ok else EXIT_FAILED
    return _with_endpoint(args, run)
