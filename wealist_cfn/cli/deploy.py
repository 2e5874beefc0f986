"""``build.py deploy | plan | package | status``: parse, call
:mod:`wealist_cfn.deploy.flow`, print.

Text output goes to stdout. With ``--output json`` or ``markdown`` the
document goes to stdout alone and progress lines go to stderr, so
``> $GITHUB_STEP_SUMMARY`` or ``| jq`` get exactly the document.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from pathlib import Path

from wealist_cfn import config
from wealist_cfn import rehearsal as localenv
from wealist_cfn.aws import Aws, check_endpoint_url, describe_error
from wealist_cfn.aws import target as target_mod
from wealist_cfn.cli import options as cliopts
from wealist_cfn.cli import preflight_hook
from wealist_cfn.deploy import changeset, flow, gate, health, operations, signals, view
from wealist_cfn.deploy import review as review_mod
from wealist_cfn.errors import EXIT_CODES_HELP, EXIT_FAILED, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, CommandError
from wealist_cfn.rehearsal import compat as local

# The change set name that accepts its Conditional-only guarded changes in CI (gate.py).
ACCEPT_CONDITIONAL_ENV = gate.ACCEPT_CONDITIONAL_ENV

# CreateStack / CreateChangeSet StackName (CloudFormation API reference):
# alphanumerics and hyphens, starting with a letter, at most 128 characters.
STACK_NAME = re.compile(r"[A-Za-z][-A-Za-z0-9]{0,127}")


def _help(description: str, examples: list[str]) -> dict:
    """``add_parser`` keywords: a description, examples and the exit codes."""
    epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples) + "\n\n" + EXIT_CODES_HELP
    return {"description": description, "epilog": epilog, "formatter_class": argparse.RawDescriptionHelpFormatter}


def register(subparsers) -> None:
    def common(p: argparse.ArgumentParser, *, stack: bool = True, packages: bool = False) -> None:
        """``stack``: the command acts on the root stack; ``packages``: it
        uploads the templates (deploy, plan, package), so it reads --bucket
        and --templates (and deploy and plan, --role-arn)."""
        if stack:
            p.add_argument(
                "--stack-name",
                help="root stack name (default: <Project>-<Environment> from the params file, e.g. wealist-prod)",
            )
            p.add_argument(
                "--force-stack-name",
                action="store_true",
                help="use a --stack-name that differs from <Project>-<Environment>",
            )
        p.set_defaults(params_required=True)
        if packages:
            p.add_argument(
                "--bucket",
                help="S3 bucket for packaged templates (default: "
                "<project>-cfn-artifacts-<account>-<region>, created on first use)",
            )
            p.add_argument(
                "--templates", type=Path, default=None, metavar="DIR", help="templates directory (default: templates/)"
            )
        localenv.add_option(p, oneshot=True)
        if stack and packages:
            p.add_argument(
                "--role-arn",
                metavar="ARN",
                default=flow.SERVICE_ROLE_DEFAULT,
                help="role CloudFormation acts with, as in `aws cloudformation deploy` (default: "
                "<project>-<env>-cfn-role of the account, from templates/github-oidc.yaml; none "
                "against a local endpoint; '' for the caller's own rights. plan passes it for a "
                "first create, or when the stack lacks it, and where the caller may not pass it "
                "computes the review without it and says so)",
            )

    def add(name: str, **kw) -> argparse.ArgumentParser:
        # json/markdown: a failure is a document too, with the error and the exit code.
        return subparsers.add_parser(
            name, parents=cliopts.shared("params", "region", "profile", "endpoint-url", "local", "output"), **kw
        )

    d = add(
        "deploy",
        help="package, create a change set, review it, execute it",
        **_help(
            "Upload the templates, create a change set for the root stack and every nested stack, show the "
            "review (each change with its cause and whether it replaces), ask, execute it and follow the events "
            "to the end. Removing or replacing a stateful resource is refused unless --allow-replace.",
            [
                "python build.py deploy --params params/prod.json",
                "python build.py deploy --params params/prod.json --yes --output markdown >> $GITHUB_STEP_SUMMARY",
                "python build.py deploy --params params/prod.json --local      # a rehearsal on moto's server",
            ],
        ),
    )
    common(d, packages=True)
    g = d.add_mutually_exclusive_group()
    g.add_argument("--yes", action="store_true", help="approve without asking")
    g.add_argument("--no-execute", action="store_true", help="stop after the review; leave the change set")
    guard = d.add_mutually_exclusive_group()
    guard.add_argument(
        "--allow-replace",
        action="store_true",
        help="allow removing or replacing stateful resources (RDS, ElastiCache, ECR, VPC, subnets)",
    )
    guard.add_argument(
        "--accept-conditional",
        action="store_true",
        help="go ahead when every guarded change is only 'Replacement: Conditional'; the stack "
        "policies stay and deny an actual replacement (the update then fails and rolls back). "
        f"{ACCEPT_CONDITIONAL_ENV}=<change set name> does the same for that one change set "
        "(CI)",
    )
    d.add_argument(
        "--replace-failed",
        action="store_true",
        help="delete a failed first create (ROLLBACK_COMPLETE or ROLLBACK_FAILED) and create it again",
    )
    d.add_argument(
        "--no-rollback-triggers",
        dest="rollback_triggers",
        action="store_false",
        help="do not hand the stack's critical alarms to CloudFormation as rollback triggers (and remove "
        "any it had): for a deploy meant to change what those alarms watch",
    )
    d.add_argument(
        "--no-rollback",
        action="store_true",
        help="first create only: if it fails, keep what was made to debug it (ExecuteChangeSet "
        "DisableRollback; the stack ends CREATE_FAILED). Then: deploy --replace-failed",
    )
    d.add_argument(
        "--no-wait-healthy",
        action="store_true",
        help="end when CloudFormation does; do not wait for the target groups to become healthy",
    )
    d.add_argument(
        "--change-set",
        metavar="NAME",
        help="execute this change set left by `plan`, only once it is proven to hold what this checkout "
        "builds (its templates, nested ones included, parameters, capabilities and the stack's "
        "role, read back from CloudFormation; never its description), else exit 3. `reviewed`: "
        "the newest waiting change set so proven (what a pull request's plan left), else exit 3 "
        "with the reason. `reviewed-or-new`: that, or else a change set of this deploy's own, "
        "whose review says it is not the one a pull request showed",
    )
    d.add_argument(
        "--change-set-id",
        metavar="ID",
        help="with --change-set NAME: the change set found under NAME must have this ChangeSetId (its ARN, "
        "or the ARN's last part), else exit 3. A name is unique only among existing change sets; the "
        "ID pins the one that was reviewed (CI hands it from the plan to the approved deploy)",
    )
    d.set_defaults(func=cmd_deploy, discard=False)
    preflight_hook.add_arguments(d)

    p = add(
        "plan",
        help="deploy --no-execute: the review only, change set left for review",
        **_help(
            "Create the change set and show the review without executing anything. The templates are uploaded "
            "under the bucket's plan/ prefix, which a deploy never reads.",
            [
                "python build.py plan --params params/prod.json",
                "python build.py plan --params params/prod.json --discard --output markdown > review.md",
            ],
        ),
    )
    common(p, packages=True)
    p.add_argument(
        "--no-rollback-triggers",
        dest="rollback_triggers",
        action="store_false",
        help="the change set names no rollback triggers (and removes the stack's), as deploy's option; a "
        "reviewed change set keeps what it was made with",
    )
    p.add_argument(
        "--discard",
        action="store_true",
        help="delete the change set after the review (CI reviews of pull requests leave nothing behind)",
    )
    # A plan passes the service role only where the stack does not already
    # carry it (a first create): an update uses the stack's role without any
    # iam:PassRole (flow.Deployment._role_to_pass).
    p.set_defaults(
        func=cmd_deploy,
        no_execute=True,
        yes=False,
        replace_failed=False,
        accept_conditional=False,
        no_rollback=False,
        artifact_area="plan",
        change_set=None,
    )
    preflight_hook.add_arguments(p)

    k = add(
        "package",
        help="upload the templates and print the packaged root's URL",
        **_help(
            "Upload the nested templates (and the root) to the artifact bucket under content-addressed keys and "
            "print the root's URL, pinned to the object version; nothing in CloudFormation changes.",
            [
                "python build.py package --params params/prod.json",
                "python build.py package --params params/prod.json --bucket my-templates --output json",
            ],
        ),
    )
    common(k, stack=False, packages=True)
    k.set_defaults(func=cmd_package)

    c = add(
        "cancel",
        help="cancel the stack's running update (it rolls back)",
        **_help(
            "CancelUpdateStack on the root stack: the running update stops and rolls back to the last good state. "
            "Refused unless the stack is UPDATE_IN_PROGRESS (the only state CancelUpdateStack accepts; a create "
            "cannot be cancelled). Then follow the rollback with `status`.",
            [
                "python build.py cancel --params params/prod.json",
                "python build.py cancel --params params/prod.json && python build.py status --params params/prod.json",
            ],
        ),
    )
    common(c)
    c.set_defaults(func=cmd_cancel)

    r = add(
        "continue-rollback",
        help="continue a rollback that failed (UPDATE_ROLLBACK_FAILED)",
        **_help(
            "ContinueUpdateRollback on the root stack. Fix the cause first (a resource changed or deleted outside "
            "CloudFormation); or name with --skip the resources whose rollback failed, as `status` and `deploy` "
            "print them (DatabaseStack/Database): CloudFormation then marks them rolled back without touching them, "
            "and they may no longer match the template. Refused unless the stack is UPDATE_ROLLBACK_FAILED, and for "
            "a --skip that is not a resource whose rollback failed.",
            [
                "python build.py continue-rollback --params params/prod.json",
                "python build.py continue-rollback --params params/prod.json --skip DatabaseStack/Database",
            ],
        ),
    )
    common(r)
    r.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="RESOURCE",
        help="a resource whose rollback failed, as `status` names it (Nested/LogicalId); repeatable",
    )
    r.set_defaults(func=cmd_continue_rollback)

    h = add(
        "changesets",
        help="list or delete this project's change sets on the stack",
        **_help(
            "List the change sets on the root stack that this tool made (plan, deploy: named deploy-<time>-<commit>-"
            "<random>, Description 'wealist-cfn ...'), or delete them by name (all of them without names). A change "
            "set someone else made is listed with --everything and never deleted here.",
            [
                "python build.py changesets list --params params/prod.json",
                "python build.py changesets delete --params params/prod.json deploy-20261128-181900-abc1234-9f3e",
                "python build.py changesets delete --params params/prod.json      # every one of this tool's",
            ],
        ),
    )
    common(h)
    h.add_argument("action", choices=("list", "delete"))
    h.add_argument("names", nargs="*", metavar="NAME", help="change sets to delete (default: all of this tool's)")
    h.add_argument("--everything", action="store_true", help="list: also change sets this tool did not make")
    h.set_defaults(func=cmd_changesets)

    s = add(
        "status",
        help="watch the stack's current or last operation again",
        **_help(
            "Follow the stack's current (or last) operation to its end, print its events and the first cause of "
            "a failure, and put the protective stack policies back.",
            [
                "python build.py status --params params/prod.json",
                "python build.py status --params params/prod.json --output json",
            ],
        ),
    )
    common(s)
    s.set_defaults(func=cmd_status)


# -- printing ---------------------------------------------------------------------------------


def _print_until_interrupted(steps, dep, out, args) -> bool:
    """Show each step of a deploy phase; on Ctrl-C (or SIGTERM, turned into
    the same by :func:`signals.sigterm_as_interrupt`) print the block of what
    the deploy left behind and return False."""
    try:
        for item in steps:
            _print_event(item, out, args)
    except KeyboardInterrupt:
        print("\ninterrupted:", file=sys.stderr)
        for line in dep.left_behind:
            print(f"  {line}", file=sys.stderr)
        return False
    return True


NOWHERE = cliopts.NOWHERE


def _progress_stream(args):
    """Where progress lines go: stdout for text, stderr beside a document, nowhere with -q."""
    if getattr(args, "quiet", False):
        return NOWHERE
    return sys.stdout if args.output == "text" else sys.stderr


def _result_stream(args):
    """Where the result goes (shown with -q too): stdout for text, else stderr beside the document."""
    return sys.stdout if args.output == "text" else sys.stderr


def _print_event(item, out, args) -> None:
    """Hand one item of the engine to this command's view (view.py) and
    to the timeline its JSON document carries."""
    shown = getattr(args, "view", None)
    if shown is None:
        quiet = getattr(args, "quiet", False)
        stream = _result_stream(args) if quiet else out
        shown = args.view = view.for_stream(
            stream,
            quiet=quiet,
            color=cliopts.color_enabled(args, stream),
            stack_name=getattr(args, "stack_name", "") or "",
        )
        args.timeline = view.Timeline()
    shown(item)
    args.timeline(item)


def _print_shell(sh: flow.Shell, args, out) -> int:
    """``status`` on a REVIEW_IN_PROGRESS shell: what is in it and the next
    command. Exit 0: nothing runs and nothing is broken."""
    n = sh.stack_name
    print(
        f"stack {n} is REVIEW_IN_PROGRESS: a stack shell made by a CREATE change set that was not executed; "
        f"it holds no resources and no operation runs in it",
        file=out,
    )
    if sh.error:
        print(f"  its change sets could not be listed ({sh.error})", file=out)
    for name, status, execution in sh.change_sets:
        print(f"  change set {name}: {status}, {execution}", file=out)
    ready = [name for name, _, execution in sh.change_sets if execution == "AVAILABLE"]
    if ready:
        print(
            f"  create the stack from a reviewed one: python build.py deploy --stack-name {n} --params "
            f"{args.params} --change-set {ready[-1]}",
            file=out,
        )
    print(f"  or create it afresh: python build.py deploy --stack-name {n} --params {args.params}", file=out)
    print(f"  or remove the shell (and its change sets): aws cloudformation delete-stack --stack-name {n}", file=out)
    args.document.data.update(
        {
            "status": "REVIEW_IN_PROGRESS",
            "stackId": sh.stack_id,
            "changeSets": [{"name": a, "status": b, "executionStatus": c} for a, b, c in sh.change_sets],
        }
    )
    return EXIT_OK


def _params_label(args) -> str:
    """``params/prod.json (--env prod)``: the file and how it was chosen."""
    choice = getattr(args, "params_choice", None)
    if choice is None or choice.source == "--params":
        return str(args.params)
    how = (
        f"{choice.source} {choice.env}"
        if choice.source == "--env"
        else f"{choice.source}={choice.env}"
        if choice.source == cliopts.ENV_VAR
        else f"env {choice.env} in {choice.source}"
    )
    return f"{args.params} ({how})"


def _outcome(result: flow.Result) -> dict:
    c = result.final.first_cause
    return {
        "status": result.final.status,
        "stackId": result.stack_id,
        "firstCause": None
        if not c
        else {"where": c.where, "type": c.resource_type, "status": c.status, "reason": c.reason},
        "outputs": {o["OutputKey"]: o.get("OutputValue", "") for o in result.outputs},
    }


def _options(args) -> flow.Options:
    kw = dict(
        stack_name=getattr(args, "stack_name", "") or "",
        params=args.params,
        bucket=getattr(args, "bucket", None),
        region=args.region,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
        allow_replace=getattr(args, "allow_replace", False),
        replace_failed=getattr(args, "replace_failed", False),
        artifact_area=getattr(args, "artifact_area", "deploy"),
        role_arn=getattr(args, "role_arn", None),
        change_set=getattr(args, "change_set", None),
        change_set_id=getattr(args, "change_set_id", None),
        no_rollback=getattr(args, "no_rollback", False),
        rollback_triggers=getattr(args, "rollback_triggers", True),
    )
    if getattr(args, "templates", None):
        kw["templates_dir"] = args.templates
    if kw["change_set_id"] is not None and (
        not kw["change_set_id"].strip() or kw["change_set"] in (None, changeset.REVIEWED, changeset.REVIEWED_OR_NEW)
    ):
        raise CommandError(
            "--change-set-id needs a non-empty ID and --change-set NAME (the change set it pins)", EXIT_USAGE
        )
    return flow.Options(**kw)


class Document:
    """What ``--output json|markdown`` writes to stdout. A failure writes one
    too, with the error and the exit code, so a pull-request comment or a
    ``| jq`` step never gets an empty stdout."""

    def __init__(self, fmt: str):
        self.fmt = fmt
        self.data: dict = {}
        self.written = False

    def write(
        self, code: int, *, error: str | None = None, details: tuple[str, ...] = (), extra: dict | None = None
    ) -> int:
        if self.fmt == "text" or self.written:
            return code
        self.written = True
        if error is not None:
            self.data["error"] = {"message": error, "details": list(details), **(extra or {})}
        if self.fmt == "json":
            self.data["exitCode"] = code
            print(json.dumps(self.data, indent=2, default=str))
        elif error is not None:
            stack = self.data.get("stack")
            lines = [f"### {'`' + stack + '`: ' if stack else ''}failed (exit {code})", "", f"> {error}"]
            lines += [f"> {d}" for d in details]
            print("\n".join(lines))
        return code


def resolve_stack_name(args, cfg: config.Config) -> str:
    """``--stack-name`` or ``<Project>-<Environment>``; a name CloudFormation
    would reject, or one that contradicts the params file (unless
    ``--force-stack-name``), is a one-line :class:`CommandError` (exit 2)."""
    default = cfg.name_prefix
    name = args.stack_name if args.stack_name is not None else default
    if not STACK_NAME.fullmatch(name):
        raise CommandError(
            f"--stack-name {name!r}: CloudFormation accepts only letters, digits and hyphens, "
            f"starting with a letter, at most 128 characters",
            EXIT_USAGE,
        )
    if name != default and not getattr(args, "force_stack_name", False):
        raise CommandError(
            f"--stack-name {name} contradicts {cfg.path}: Project-Environment is {default}; "
            f"leave out --stack-name, or add --force-stack-name if {name} is meant",
            EXIT_USAGE,
        )
    return name


def _with_endpoint(args, run) -> int:
    """Run ``run(deployment_factory)``; with ``--local`` inside a fresh local endpoint.

    The parameter file, ``--region``, the stack name and ``--endpoint-url``
    are checked first, so that bad input is refused before anything starts
    (no AWS client, no local endpoint). Every error ends here as one line and
    a defined exit code (and the failure document with ``--output``)."""
    doc = args.document = Document(args.output)
    # The Target of the Deployment made, asked when it is made (one plain
    # GET to a custom endpoint, none for AWS), for the error lines below.
    targets: list[target_mod.Target] = []

    def _made(dep: flow.Deployment) -> flow.Deployment:
        targets.append(dep.aws.target)
        return dep

    try:
        cfg = config.load(args.params)
        # Which file and every value with where it came from (cliopts, config.Config.source).
        doc.data.update(cliopts.params_document(args, cfg))
        region = cfg.region_for(args.region)
        if hasattr(args, "stack_name"):
            args.stack_name = resolve_stack_name(args, cfg)
            doc.data["stack"] = args.stack_name
        check_endpoint_url(args.endpoint_url)
        if not args.local and not args.local_oneshot:
            return run(lambda opts: _made(flow.Deployment(opts)))
        if args.endpoint_url:
            raise CommandError("--local starts its own endpoint; leave out --endpoint-url", EXIT_USAGE)
        if args.profile:
            raise CommandError("--local uses fixed local credentials; leave out --profile", EXIT_USAGE)
        progress = _progress_stream(args)
        ep = localenv.use(args, region) if args.local else None
        with contextlib.nullcontext(ep.url) if ep else local.endpoint() as url:
            print(
                f"local endpoint: {url} (PID {ep.pid}; a rehearsal: nothing reaches AWS)"
                if ep
                else f"local endpoint at {url} in this process, one-shot: it and everything it holds "
                f"stop when this command ends (a rehearsal: nothing reaches AWS)",
                file=progress,
            )

            def factory(opts):
                opts.endpoint_url = url
                opts.change_set_interval = min(opts.change_set_interval, local.POLL_SECONDS)
                opts.poll_interval = min(opts.poll_interval, local.POLL_SECONDS)
                dep = flow.Deployment(opts, aws=Aws(region, endpoint_url=url, local_credentials=True))
                if not ep:
                    # One-shot: the endpoint ends with this command, so no
                    # earlier `bootstrap --local` can have run on it; the
                    # command runs bootstrap itself, and says so. With
                    # `local up`, preflight stops a deploy that skipped it.
                    from wealist_cfn.ops import bootstrap

                    made = bootstrap.run(dep.config, dep.aws)
                    print(
                        f"local endpoint (one-shot): bootstrap ran first: {made.count('created')} created "
                        f"(parameters, secrets, the deploy bucket and its files)",
                        file=progress,
                    )
                return _made(dep)

            return run(factory)
    except Exception as exc:  # noqa: BLE001 - mapped to one line, or re-raised
        failure = describe_error(exc, profile=args.profile, params=args.params)
        if failure is None:
            raise
        # Worded for the endpoint the command talked to, as far as it got
        # (asked while the endpoint ran: a one-shot one is gone by now).
        target = targets[-1] if targets else target_mod.aws_target()
        failure.message = target.message(failure.message)
        failure.details = tuple(target.message(d) for d in failure.details)
        print(f"error: {failure.message}", file=sys.stderr)
        for line in failure.details:
            print(f"  {line}", file=sys.stderr)
        return doc.write(failure.exit_code, error=failure.message, details=failure.details, extra=failure.data)


def cmd_deploy(args) -> int:
    with signals.sigterm_as_interrupt():
        return _with_endpoint(args, lambda factory: _deploy(args, factory(_options(args))))


def _deploy(args, dep: flow.Deployment) -> int:
    fmt = args.output
    out = _progress_stream(args)
    result_out = _result_stream(args)
    if getattr(args, "document", None) is None:
        args.document = Document(fmt)
    doc: dict = args.document.data
    doc["stack"] = dep.opts.stack_name

    def finish(code: int) -> int:
        return args.document.write(code)

    stop = preflight_hook.before_change_set(args, dep, out, doc)  # preflight, cost change; see cli/preflight_hook.py
    if stop is not None:
        return finish(stop)
    if not _print_until_interrupted(dep.prepare(), dep, out, args):
        return 130
    plan = dep.plan
    target = dep.aws.target
    target.mark_computed_details(plan.review)
    n = dep.opts.stack_name
    if plan.no_changes:
        print(f"no changes: {n} already matches the templates and parameters", file=result_out)
        for line in plan.cleaned:
            print(f"  {line}", file=result_out)
        doc["result"] = {"status": "NO_CHANGES"}
        if fmt == "markdown":
            print(f"### `{n}`: no changes")
        return finish(EXIT_OK)
    only_create = gate.first_create_only(
        no_rollback=dep.opts.no_rollback,
        change_set_type=plan.change_set.change_set_type,
        stack_name=n,
        status=plan.state.status,
    )
    if not only_create.go:
        print(only_create.message, file=sys.stderr)
        for line in dep.cleanup():
            print(f"  {line}", file=sys.stderr)
        doc["result"] = {"status": "REFUSED"}
        return finish(EXIT_REFUSED)
    review = plan.review
    review.params_file = _params_label(args)
    doc["review"] = review.to_dict()
    if fmt == "markdown":
        print(review_mod.render_markdown(review))
    elif fmt == "text" and not (getattr(args, "quiet", False) and args.yes):
        # The review is a plan's result, and what a person approves; -q --yes leaves it out.
        print(review_mod.render_text(review, color=cliopts.color_enabled(args, sys.stdout)))
    cs = plan.change_set
    execute_hint, delete_hint = target.change_set_hints(cs.id, args.params, oneshot=_oneshot(args))
    guard = gate.replacement(
        review.guarded,
        change_set_name=cs.name,
        allow_replace=dep.opts.allow_replace,
        accept_conditional=args.accept_conditional,
        accepted_by_name=os.environ.get(ACCEPT_CONDITIONAL_ENV, ""),
        executes=not args.no_execute,
    )
    if guard.outcome == gate.ACCEPTED_CONDITIONAL:
        print(guard.message, file=out)
    elif not guard.go:
        print(guard.message, file=sys.stderr)
        for line in guard.details:
            print(f"  {line}", file=sys.stderr)
        left = dep.cleanup()
        for line in left or [
            f"the change set is left for review; the stack policy denies it in AWS too. Delete it: {delete_hint}"
        ]:
            print(f"  {line}", file=sys.stderr)
        doc["result"] = {"status": "REFUSED"}
        return finish(EXIT_REFUSED)
    if args.no_execute and args.discard:
        left = dep.discard()
        print(f"change set {cs.name} reviewed and deleted (--discard)", file=result_out)
        for line in left[1:]:
            print(line, file=out)
        doc["result"] = {"status": "PLANNED", "changeSetId": cs.id, "deleted": True}
        return finish(EXIT_OK)
    if args.no_execute:
        dep.keep()
        out = result_out  # what follows is the plan's result: where the change set is and what to do with it
        print(f"change set {cs.name} left for review (not executed)", file=out)
        if target.proves_change_sets is False:
            # moto reports no Capabilities and its GetTemplate ignores ChangeSetName: nothing can be proven there.
            print(
                f"  {target.name} cannot prove a change set's content, so `deploy --change-set` refuses it "
                "there; `deploy --local` makes its own",
                file=out,
            )
        else:
            print(
                f"  execute exactly this one: python build.py deploy --stack-name {n} --params {args.params} "
                f"--change-set {cs.name}",
                file=out,
            )
        print(f"  delete:  {delete_hint}", file=out)
        if review.guarded:
            print("  note: it holds guarded changes; a deploy needs --allow-replace", file=out)
        doc["result"] = {"status": "PLANNED", "changeSetId": cs.id, "changeSetName": cs.name}
        if fmt == "markdown":
            print(
                f"\nChange set `{cs.name}` is left for review. A deploy executes it (`deploy --change-set "
                f"{cs.name}`, or `--change-set reviewed`) only once it proves the change set holds exactly "
                f"what its own checkout builds."
            )
            # CI hands the ID on (deploy.yml): it pins this change set, which its name alone does not.
            print(f"\nChange set ID: `{cs.id}`")
        return finish(EXIT_OK)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    answer = None
    if not args.yes and interactive:
        try:
            answer = input(f"Execute change set {cs.name} on {n}? [y/N] ")
        except (KeyboardInterrupt, EOFError):  # Ctrl-C / Ctrl-D at the prompt: a "no"
            print(file=sys.stderr)
            answer = ""
    approved = gate.approval(yes=args.yes, interactive=interactive, answer=answer)
    if not approved.go:
        if approved.message:
            print(approved.message, file=sys.stderr)
        for line in dep.cleanup() or [
            f"change set {cs.name} left; execute it with: {execute_hint}",
            f"  or delete it: {delete_hint}",
        ]:
            print(line, file=sys.stderr)
        doc["result"] = {"status": "NOT_APPROVED", "changeSetId": cs.id}
        return finish(EXIT_REFUSED)
    if not _print_until_interrupted(dep.execute(), dep, out, args):
        said = target.stopped_watching(args.params, oneshot=_oneshot(args))
        if said and dep.executing:
            print(said, file=sys.stderr)
        return 130
    result = dep.result
    doc["result"] = _outcome(result)
    doc["timeline"] = getattr(getattr(args, "timeline", None), "entries", [])
    if fmt == "markdown":
        cause = result.final.first_cause
        print(f"\n**{result.final.status}**" + (f": first cause `{cause.where}`: {cause.reason}" if cause else ""))
    if not result.final.ok:
        return finish(EXIT_FAILED)
    return finish(_verify_health(args, dep, out, doc))


def _verify_health(args, dep: flow.Deployment, out, doc: dict) -> int:
    """After a successful create or update: wait until the stack serves."""
    target = dep.aws.target
    if args.no_wait_healthy or target.reports_instance_health is False:
        why = "--no-wait-healthy" if args.no_wait_healthy else f"{target.name}: no instance runs the services"
        print(f"target health not checked ({why})", file=out)
        return EXIT_OK
    print("waiting for the target groups to become healthy", file=out)
    outcome = None
    for item in health.wait(dep.aws, dep.config, dep.opts.stack_name):
        if isinstance(item, health.Progress):
            print(
                f"  {int(item.waited)}s: {item.healthy}/{item.total} target groups ready; waiting for "
                f"{', '.join(item.pending)}",
                file=out,
            )
        else:
            outcome = item
    doc["health"] = outcome.to_dict()
    for line in health.lines(outcome):
        print(line, file=out)
    if outcome.ok:
        print(
            f"serving: every released service and the monitoring targets are healthy ({int(outcome.waited)}s)",
            file=_result_stream(args),
        )
        return EXIT_OK
    print(
        f"error: target groups still unhealthy after {int(outcome.waited)}s (the stack itself is "
        f"{dep.result.final.status})",
        file=sys.stderr,
    )
    return EXIT_FAILED


def _oneshot(args) -> bool:
    """Whether this command started its own one-shot endpoint (which the
    wording of what is left behind depends on)."""
    return bool(getattr(args, "local_oneshot", False))


def cmd_package(args) -> int:
    def run(factory):
        dep = factory(_options(args))
        out = _progress_stream(args)
        if not _print_until_interrupted(dep.package(upload_root=True), dep, out, args):
            return 130
        url = dep.packaged.root_url
        if args.output == "json":
            args.document.data.update(
                {"rootTemplateUrl": url, "bucket": dep.bucket, "objects": [o.__dict__ for o in dep.packaged.objects]}
            )
            return args.document.write(EXIT_OK)
        print(url)
        return EXIT_OK

    return _with_endpoint(args, run)


def cmd_status(args) -> int:
    with signals.sigterm_as_interrupt():
        return _status(args)


def _status(args) -> int:
    def run(factory):
        dep = factory(_options(args))
        out = _progress_stream(args)
        dep.aws.check_credentials()
        result = None
        began = False  # an error before the first event is the command's own, not the watch's
        try:
            for item in flow.watch(dep.aws, args.stack_name):
                began = True
                if isinstance(item, flow.Shell):
                    return args.document.write(_print_shell(item, args, out))
                _print_event(item, out, args)
                if isinstance(item, flow.Result):
                    result = item
            if result.final.ok:
                # What an interrupted first create can leave: deletion protection off.
                for item in flow.repair_deletion_protection(dep.aws, dep.config, args.stack_name):
                    _print_event(item, out, args)
                    if isinstance(item, flow.Result):
                        result = item
        except KeyboardInterrupt:
            where = dep.aws.target.where
            print(
                f"\nstopped watching; the operation goes on {where}. Follow it again: python build.py status "
                f"--stack-name {args.stack_name} --params {args.params}",
                file=sys.stderr,
            )
            return 130
        except flow.WATCH_ERRORS as exc:
            if not began:
                raise
            raise CommandError(
                f"lost track of the operation while watching it ({flow._why(exc)}); it goes on in AWS",
                EXIT_FAILED,
                details=(
                    f"follow it again: python build.py status --stack-name {args.stack_name} --params {args.params}",
                ),
            ) from None
        code = EXIT_OK if result.final.ok else EXIT_FAILED
        if args.output == "json":
            args.document.data.update(_outcome(result))
            args.document.data["timeline"] = getattr(getattr(args, "timeline", None), "entries", [])
        if result.final.ok and dep.aws.target.reports_instance_health is not False:
            snapshot = health.check(dep.aws, dep.config, args.stack_name)
            print("target health:", file=out)
            for line in health.lines(snapshot):
                print(line, file=out)
            args.document.data["health"] = health.Outcome(snapshot).to_dict()
        return args.document.write(code)

    return _with_endpoint(args, run)


# -- cancel, continue-rollback, changesets -----------------------------------------------------


def _simple(args, body) -> int:
    """Run ``body(dep, out)`` for a command that only needs the stack's AWS."""

    def run(factory):
        dep = factory(_options(args))
        dep.aws.check_credentials()
        out = _progress_stream(args)
        return args.document.write(body(dep, out))

    return _with_endpoint(args, run)


def cmd_cancel(args) -> int:
    def body(dep, out):
        operations.cancel(dep.aws, args.stack_name)
        print(f"cancel requested: the update of {args.stack_name} stops and rolls back", file=out)
        print(f"  follow it: python build.py status --stack-name {args.stack_name} --params {args.params}", file=out)
        args.document.data["result"] = {"status": "CANCEL_REQUESTED"}
        return EXIT_OK

    return _simple(args, body)


def cmd_continue_rollback(args) -> int:
    def body(dep, out):
        _, skipped = operations.continue_rollback(dep.aws, args.stack_name, args.skip)
        print(
            f"rollback of {args.stack_name} continues"
            + (
                f", skipping {', '.join(skipped)} (marked rolled "
                f"back without being touched: they may no longer match the template)"
                if skipped
                else ""
            ),
            file=out,
        )
        print(f"  follow it: python build.py status --stack-name {args.stack_name} --params {args.params}", file=out)
        args.document.data["result"] = {"status": "CONTINUE_REQUESTED", "skipped": skipped}
        return EXIT_OK

    return _simple(args, body)


def cmd_changesets(args) -> int:
    def body(dep, out):
        if args.action == "list":
            rows = operations.list_change_sets(dep.aws, args.stack_name, everything=args.everything)
            for r in rows:
                mark = "" if r.ours else "  (not made by this tool)"
                print(f"{r.name}  {r.status}  {r.execution_status}  {r.created}{mark}", file=out)
            if not rows:
                print(f"no change set of this tool on {args.stack_name}", file=out)
            args.document.data["changeSets"] = [r.__dict__ for r in rows]
            return EXIT_OK
        if args.everything:
            raise CommandError("--everything only lists; delete takes this tool's change sets only", EXIT_USAGE)
        lines = operations.delete_change_sets(dep.aws, args.stack_name, args.names)
        for line in lines or [f"no change set of this tool on {args.stack_name}"]:
            print(line, file=out)
        args.document.data["deleted"] = lines
        return EXIT_OK

    return _simple(args, body)
