"""The deploy flow, in two phases the command line drives:

1. :meth:`Deployment.prepare`: validate, check credentials, package, settle
   the stack's state, create the change set, build the review. Nothing in
   the stack changes.
2. :meth:`Deployment.execute`: (after the caller's approval) protect or
   relax stack policies, execute, watch the events to a final state, put the
   protective policies back, enable termination protection on a new stack,
   read the outputs.

Both are generators of plain data objects; the command line prints them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import botocore.exceptions

from wealist_cfn.aws import pages
from wealist_cfn.cfn import model as cfnmodel
from wealist_cfn.cfn import templates as tpl
from wealist_cfn.core.parameters import PARAMS_BY_NAME
from wealist_cfn.core.settings import TEMPLATES_DIR

from .. import config as config_mod
from ..aws import Aws, error_code, error_message, keeping_last_call
from ..errors import EXIT_FAILED, EXIT_REFUSED, EXIT_USAGE, CommandError
from . import changeset, events, policy, sequence, stackstate, triggers, verify
from . import package as package_mod
from . import review as review_mod

DELETION_PROTECTION = "DeletionProtection"
HEALTH_CHECK_TYPE = "BackendHealthCheckType"  # derived, never the params file's (ops/releasestate.py)


@dataclass
class Options:
    stack_name: str
    params: Path
    bucket: str | None = None
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    allow_replace: bool = False
    replace_failed: bool = False
    # NAME: execute that change set once proven (deploy/verify.py); "reviewed":
    # the newest proven one, else exit 3; "reviewed-or-new": that, else our own.
    change_set: str | None = None
    # With a named change_set: the ChangeSetId (its ARN, or the ARN's last
    # part) the change set found under that name must have. A name is unique
    # only among existing change sets; the ID is never reused, and a change
    # set cannot be changed, so the ID pins what a person approved.
    change_set_id: str | None = None
    templates_dir: Path = TEMPLATES_DIR
    sleep: Callable[[float], None] = time.sleep
    poll_interval: float = 5.0
    change_set_interval: float = 2.0
    watch_timeout: float = events.WATCH_TIMEOUT
    # First create only: keep what a failed create made (ExecuteChangeSet
    # DisableRollback); the stack ends CREATE_FAILED.
    no_rollback: bool = False
    # The stack's critical alarms as RollbackConfiguration (triggers.py).
    rollback_triggers: bool = True
    artifact_area: str = "deploy"  # "plan": templates go under plan/, which a deploy never reads
    # The role CloudFormation acts with (CreateChangeSet's RoleARN). None:
    # the caller's own rights (or the role the stack already has);
    # SERVICE_ROLE_DEFAULT: <project>-<env>-cfn-role of the caller's account.
    role_arn: str | None = None


SERVICE_ROLE_DEFAULT = "default"


@dataclass
class Info:
    """A line worth telling the user."""

    message: str


@dataclass
class Plan:
    state: stackstate.StackState
    change_set: changeset.ChangeSet
    review: review_mod.Review
    no_changes: bool = False
    # A no-op's change set is deleted at once: one line each for what was
    # removed, is being removed, or was left (DeleteChangeSet can fail).
    cleaned: list[str] = field(default_factory=list)

    @property
    def total_resources(self) -> int:
        """Resources the operation touches: one row each in the review."""
        return len(self.review.rows)

    @property
    def totals(self) -> dict[str, int]:
        """Resources the operation touches in each stack (nested path; "" the root)."""
        return dict(Counter(r.path for r in self.review.rows))


@dataclass
class Result:
    final: events.Final
    outputs: list[dict] = field(default_factory=list)
    stack_id: str = ""


def client_error(exc: botocore.exceptions.ClientError, doing: str) -> CommandError:
    return CommandError(f"{doing}: {error_code(exc)}: {error_message(exc)}", EXIT_FAILED)


def _mask(key: str, value: str | None) -> str | None:
    spec = PARAMS_BY_NAME.get(key)
    if value is not None and spec is not None and spec.no_echo:
        return "****"
    return value


class Deployment:
    def __init__(self, opts: Options, aws: Aws | None = None):
        self.opts = opts
        # Parameters are validated before any AWS call (ConfigError: exit 2).
        self.config = config_mod.load(opts.params)
        self.region = self.config.region_for(opts.region)
        self.aws = aws or Aws(self.region, opts.profile, opts.endpoint_url)
        self.plan: Plan | None = None
        self.result: Result | None = None
        self.final: events.Final | None = None  # the watched operation's end, once seen
        self.bucket: str | None = None
        self.packaged: package_mod.Packaged | None = None
        self.template_set: tpl.TemplateSet | None = None
        # A change set this run made and has not executed, and whether this
        # run made the REVIEW_IN_PROGRESS stack shell it sits in: what
        # :meth:`cleanup` removes on every exit path that does not execute.
        self._made: changeset.ChangeSet | None = None
        self._made_shell = False
        self.left_behind: list[str] = []  # after a Ctrl-C: what stays and how to remove it
        self.executing = False  # ExecuteChangeSet was accepted: the operation runs in AWS
        self.derived_health = None  # releasestate.Derived, once _prepare has read it

    # -- packaging ---------------------------------------------------------------------------

    def package(self, *, upload_root: bool = False) -> Iterator[Info]:
        account = self.aws.account or self.aws.check_credentials()
        template_set = self.template_set = tpl.read(self.opts.templates_dir)
        default = package_mod.default_bucket(self.config.project, account, self.region)
        bucket = self.opts.bucket or default
        self._check_bucket_readable(bucket, default)
        done: list[package_mod.Upload] = []  # objects in place, in the order they were checked or written
        created = None  # whether this run made the bucket; None: stopped before that was known
        sent: list[str] = []  # "CreateBucket" once it is sent: a stop after it leaves a bucket
        repaired: list[str] = []
        try:
            # Against AWS a plan never creates the bucket: its role may only
            # read the bucket's settings (a pull request must not choose
            # versioning or encryption), so main's first deploy makes it. An
            # endpoint without roles (the rehearsal): the plan still creates
            # it. Not known: as on AWS.
            planning = self.opts.artifact_area == "plan" and self.aws.target.runs_under_roles is not False
            created = package_mod.ensure_bucket(
                self.aws,
                bucket,
                create=self.opts.bucket is None and not planning,
                missing=f"S3 bucket {bucket} does not exist yet: a plan never creates it; the first deploy from "
                f"main (or `python build.py package` by an administrator) does"
                if planning
                else None,
                sent=sent,
                repaired=repaired,
            )
            if repaired:
                yield Info(
                    f"S3 bucket {bucket} lacked {', '.join(repaired)} (a run stopped while creating it?): set now"
                )
            if created:
                yield Info(
                    f"created S3 bucket {bucket} for templates (default encryption, versioning, "
                    f"all public access blocked)"
                )
            prefix = package_mod.key_prefix(self.config.name_prefix, self.opts.artifact_area)
            # A plan reads (never writes) what a deploy stored: unchanged
            # templates keep the URLs the deployed stack names.
            reuse = package_mod.key_prefix(self.config.name_prefix) if self.opts.artifact_area == "plan" else None
            packaged = package_mod.package(
                self.aws, template_set, bucket, prefix=prefix, reuse_prefix=reuse, objects=done
            )
            if upload_root and packaged.root_url is None:
                packaged.root_url = package_mod.upload_root(self.aws, packaged, prefix=prefix)
        except botocore.exceptions.ClientError as exc:
            raise client_error(exc, "packaging") from None
        except KeyboardInterrupt:
            self.left_behind = self._stopped_packaging(bucket, done, created, upload_root, bool(sent))
            raise
        self.bucket = bucket
        for o in packaged.objects:
            if o.replaced:
                yield Info(
                    f"warning: s3://{bucket}/{o.key} held other bytes than {o.name} (someone else wrote "
                    f"to the bucket); uploaded {o.name} again"
                )
        if packaged.unpinned:
            yield Info(
                f"warning: s3://{bucket} reported no object versions (versioning off?): the TemplateURLs "
                f"are not pinned to the bytes checked here"
            )
        skipped = len(packaged.objects) - packaged.uploads
        yield Info(
            f"packaged {len(packaged.objects)} templates to s3://{bucket}: {packaged.uploads} uploaded, "
            f"{skipped} already there; root "
            f"{'inline' if packaged.root_body is not None and not upload_root else packaged.root_url}"
        )
        self.packaged = packaged

    def _stopped_packaging(
        self,
        bucket: str,
        done: list[package_mod.Upload],
        created: bool | None,
        upload_root: bool,
        create_sent: bool = False,
    ) -> list[str]:
        """What a Ctrl-C during packaging leaves, one line each: the objects
        written and those found in place, the templates not reached, and
        that no change set exists and the stack is as it was. An object in
        place is harmless: its key is its content's hash, nothing reads it
        until a change set names it, and the next run reuses it."""
        names = [n for n in self.template_set.texts if n != self.template_set.root_name or upload_root]
        reached = {o.name for o in done}
        written = [o for o in done if o.uploaded]
        lines = []
        if created:
            lines.append(f"created S3 bucket {bucket} (it stays: the next run uses it)")
        elif created is None and create_sent:
            lines.append(
                f"stopped while creating S3 bucket {bucket}: CreateBucket was sent, so the bucket may "
                f"exist without all its settings (public access block, default encryption, versioning, "
                f"lifecycle rules); the next deploy checks them and sets what is missing; no template "
                f"was uploaded"
            )
        elif created is None:
            lines.append(f"stopped while checking S3 bucket {bucket}; no template was uploaded")
        if written:
            lines.append(
                f"uploaded {len(written)} template(s) to s3://{bucket}: "
                + ", ".join(f"{o.name} ({o.key})" for o in written)
            )
        if len(done) > len(written):
            lines.append(f"already there, not written: {', '.join(o.name for o in done if not o.uploaded)}")
        rest = [n for n in names if n not in reached]
        if rest:
            lines.append(f"not uploaded ({len(rest)} of {len(names)}): {', '.join(rest)}")
        if written:
            lines.append(
                "what was uploaded is stored under content-addressed keys: nothing reads it until a change "
                "set names it, and the next run reuses it"
            )
        what = "the package command makes no change set" if upload_root else "no change set was made"
        lines.append(f"{what}; nothing in stack {self.opts.stack_name or self.config.name_prefix} changed")
        return lines

    def _check_bucket_readable(self, bucket: str, default: str) -> None:
        """The service role (templates/github-oidc.yaml) reads nested
        templates from the artifact bucket only, and a plan's change set is
        computed with the stack's role, the same one: any other ``--bucket``
        would fail deep in CloudFormation with AccessDenied on a
        TemplateURL. Refused here, before anything is uploaded, unless the
        caller names another role (or the endpoint has no roles, as the
        rehearsal; not known: as on AWS)."""
        o = self.opts
        if (
            bucket == default
            or self.aws.target.runs_under_roles is False
            or o.role_arn not in (SERVICE_ROLE_DEFAULT, "")
        ):
            return
        raise CommandError(
            f"--bucket {bucket}: the service role {self.config.name_prefix}-cfn-role reads nested templates only "
            f"from the artifact bucket {default}; leave out --bucket, or name a role that may read {bucket} "
            f"with --role-arn",
            EXIT_USAGE,
        )

    # -- phase 1 -----------------------------------------------------------------------------

    def digest(self) -> str:
        """What the change set is made from: the templates as committed and
        the parameters. Not the packaged copies: their URLs name the artifact
        area (plan/ or deploy/) and object versions, which differ between the
        plan that made a change set and the deploy that executes it."""
        return changeset.content_hash(dict(self.template_set.texts), self.config.cfn_parameters())

    def prepare(self) -> Iterator[Info | stackstate.Waiting]:
        yield from self.package()
        try:
            yield from self._prepare()
        except BaseException as exc:
            # An error or Ctrl-C after the change set exists: it is not going to
            # be executed, so it goes (and the stack shell this run made).
            with keeping_last_call():
                left = self.cleanup()
            if isinstance(exc, CommandError):
                exc.details = tuple(exc.details) + tuple(left)
                raise
            if isinstance(exc, botocore.exceptions.ClientError):
                err = client_error(exc, "preparing the change set")
                err.details = tuple(left)
                raise err from None
            with keeping_last_call():
                self.left_behind = left + self._stopped_before_execute()
            raise
        if self.plan.no_changes:
            # Nothing waits on its deletion unless a shell must go after it:
            # DeleteChangeSet is accepted at once and CloudFormation finishes
            # it on its own (a no-op of an existing stack has no shell).
            self.plan.cleaned = self.cleanup(wait=self._made_shell)

    def _prepare(self) -> Iterator[Info | stackstate.Waiting]:
        o = self.opts
        packaged = self.packaged
        state = None
        for item in stackstate.settle(self.aws, o.stack_name, sleep=o.sleep, interval=o.poll_interval):
            if isinstance(item, stackstate.Waiting):
                yield item
            else:
                state = item
        yield from self._derive_health_check_type(state)
        unreviewed = None
        if o.change_set in (changeset.REVIEWED, changeset.REVIEWED_OR_NEW):
            adopted, why = yield from self._reviewed(state)
            if adopted:
                return
            if o.change_set == changeset.REVIEWED:
                first_create = state.status in (None, "REVIEW_IN_PROGRESS")
                way_out = (
                    "nothing was executed; a first create is made by the deploy itself, with the service "
                    "role: deploy with --change-set reviewed-or-new, or without --change-set"
                    if first_create
                    else "nothing was executed; plan again from this commit, or deploy with --change-set "
                    "reviewed-or-new to make and execute a change set of this deploy's own"
                )
                raise CommandError(
                    f"refused: no change set on {o.stack_name} is proven to hold what this checkout builds: {why[0]}",
                    EXIT_REFUSED,
                    details=tuple(why[1:]) + (way_out,),
                )
            unreviewed = (
                f"NOT the change set a pull request's plan showed: made by this deploy from this checkout ({why[0]})"
            )
            for line in why:
                yield Info(line)
            yield Info(
                "--change-set reviewed-or-new: this deploy makes and executes a change set of its own; "
                "the review below is not the one a pull request's plan showed"
            )
            o.change_set = None
        elif o.change_set:
            self._adopt(state)
            return
        verdict = stackstate.check_deployable(self.aws, state, replace_failed=o.replace_failed)
        if verdict == "replace":
            yield Info(
                f"deleting {o.stack_name} ({state.status}: {stackstate.REPLACE_WHY[state.status]}) to "
                f"create it again"
                + (
                    " (rolled back first, RetainExceptOnCreate: what it made goes too)"
                    if state.status == "CREATE_FAILED"
                    else ""
                )
            )
            yield from stackstate.delete_failed(self.aws, state, sleep=o.sleep, interval=o.poll_interval)
            state = stackstate.StackState(o.stack_name, None)
        cs_type = state.change_set_type
        tags = self._tags()
        role_arn = self._role_to_pass(state, cs_type)
        if role_arn:
            yield Info(f"CloudFormation acts as {role_arn}")

        def made(cs: changeset.ChangeSet) -> None:
            self._made = cs
            self._made_shell = state.status is None

        def create(role: str | None) -> changeset.ChangeSet:
            return changeset.create(
                self.aws,
                stack_name=o.stack_name,
                change_set_type=cs_type,
                role_arn=role,
                parameters=self._create_parameters(cs_type),
                tags=tags,
                template_body=packaged.root_body,
                template_url=packaged.root_url,
                commit=changeset.git_commit(),
                digest=self.digest(),
                sleep=o.sleep,
                interval=o.change_set_interval,
                on_created=made,
                rollback_configuration=self.rollback_triggers(cs_type),
            )

        role_note = None
        try:
            cs = create(role_arn)
        except CommandError as exc:
            # A plan passes the service role where it can; a caller without
            # iam:PassRole on it gets the review computed without it, and says so.
            if not (role_arn and o.artifact_area == "plan" and "iam:PassRole" in str(exc)):
                raise
            role_note = (
                f"computed without the service role {role_arn}: the caller may not pass it "
                f"(iam:PassRole); executed by hand, this change set would not run as the service role"
            )
            yield Info(f"plan: {role_note}")
            cs = create(None)
        if cs.no_changes:
            self.plan = Plan(state, cs, review_mod.Review(o.stack_name, cs_type), no_changes=True)
            return
        if cs.execution_status and cs.execution_status != changeset.EXECUTABLE:
            raise CommandError(
                f"change set {cs.name} is {cs.status} but not executable "
                f"(ExecutionStatus {cs.execution_status}): {cs.reason or 'no reason given'}",
                EXIT_FAILED,
            )
        self._review(state, cs)
        for note in (unreviewed, role_note):
            if note:
                self.plan.review.description = note + (
                    f"; {self.plan.review.description}" if self.plan.review.description else ""
                )

    def _derive_health_check_type(self, state: stackstate.StackState) -> Iterator[Info]:
        """``BackendHealthCheckType`` is not the params file's: it follows
        the release tags in Parameter Store and the target groups' health
        (ops/releasestate.py says why a root parameter and not an
        out-of-band switch). Before the change set, so the digest, the
        proof of an adopted change set and the review all see the value."""
        from ..ops import bootstrap, releasestate

        deployed = None if state.change_set_type == "CREATE" else releasestate.deployed_value(state.parameters)
        try:
            derived = releasestate.derive(
                self.aws.client("ssm"),
                self.aws.client("autoscaling"),
                self.aws.client("elbv2"),
                bootstrap.parameter_prefix(self.config),
                f"{self.config.name_prefix}-backend-asg",
                deployed,
            )
        except botocore.exceptions.ClientError as exc:
            raise client_error(
                exc, f"reading the release tags and target health for {releasestate.PARAMETER}"
            ) from None
        except LookupError as exc:
            raise CommandError(
                f"{releasestate.PARAMETER}: {exc}; the stack exists but its backend group does "
                f"not: check the compute stack",
                EXIT_FAILED,
            ) from None
        self.config = self.config.with_values(**{releasestate.PARAMETER: derived.value})
        self.derived_health = derived
        yield Info(derived.source())

    # -- executing a change set this run did not make -----------------------------------------

    def _expected(self) -> verify.Expected:
        """What a change set of this deploy's own would hold: the packaged
        templates and their bytes, the file's parameters (over the root's
        defaults), the capabilities, the tags, the service role and the
        artifact bucket."""
        packaged = self.packaged
        root = packaged.templates[packaged.root_name]
        params = {
            k: str(v["Default"])
            for k, v in (root.get("Parameters") or {}).items()
            if isinstance(v, dict) and "Default" in v
        }
        params.update({p["ParameterKey"]: p["ParameterValue"] for p in self.config.cfn_parameters()})
        no_echo = {
            k
            for k, v in (root.get("Parameters") or {}).items()
            if isinstance(v, dict) and str(v.get("NoEcho", "")).lower() == "true"
        }
        # The bytes package.py uploads: a template as committed, unless it
        # names a local child, whose URL packaging rewrote (then its dump).
        texts = {}
        for name, data in packaged.templates.items():
            if name != packaged.root_name:
                committed = self.template_set.texts[name]
                local = any(
                    tpl.is_local_url(p.get("TemplateURL")) for p in tpl.nested_stacks(tpl.load(committed)).values()
                )
                texts[name] = tpl.dump(data) if local else committed
        return verify.Expected(
            root_name=packaged.root_name,
            templates=packaged.templates,
            child_files=packaged.child_files,
            parameters=params,
            capabilities=frozenset(changeset.CAPABILITIES),
            role_arn=self.service_role_arn(),
            no_echo=frozenset(no_echo),
            tags=frozenset((t["Key"], t["Value"]) for t in self._tags()),
            texts=texts,
            bucket=packaged.bucket,
            list_parameters=verify.list_parameters(root),
            rollback_alarms=(
                triggers.alarm_names(self.config.name_prefix) if self.opts.rollback_triggers else frozenset()
            ),
            monitoring_minutes=triggers.monitoring_minutes(),
        )

    def _reviewed(self, state: stackstate.StackState):
        """``--change-set reviewed`` / ``reviewed-or-new``: adopt the newest
        waiting change set that is proven to hold what this checkout builds.
        Returns (True, []) once adopted, else (False, reasons): the first line
        says why none was, the others name each candidate and its refusal.
        An API error raises (exit 1): it never counts as "none proven"."""
        o = self.opts
        own = o.change_set == changeset.REVIEWED_OR_NEW
        if state.status in (None, "REVIEW_IN_PROGRESS"):
            # Nothing proves the role a first create would run with: a change
            # set's RoleARN is not readable, and the stack has none yet.
            where = (
                f"stack {o.stack_name} does not exist yet"
                if state.status is None
                else f"stack {o.stack_name} is REVIEW_IN_PROGRESS (not created yet)"
            )
            return False, [
                f"{where}: a first create is never adopted"
                + ("; this deploy makes it itself, with the service role" if own else "")
            ]
        found, skipped = changeset.candidates(self.aws, o.stack_name)
        if not found:
            return False, [
                f"none is waiting on {o.stack_name} (executing any change set deletes all others)"
                + (
                    f"; {skipped} other(s) are not executable or were made without IncludeNestedStacks"
                    if skipped
                    else ""
                )
            ]
        expected = self._expected()
        examined = found[: changeset.MAX_CANDIDATES]
        more = len(found) - len(examined)
        if more:
            # Anyone who may create change sets can push a real one out of the
            # window; say so rather than let it happen silently.
            yield Info(
                f"{len(found)} change sets wait on {o.stack_name}: only the newest {len(examined)} are "
                f"examined, {more} older one(s) are not (delete the change sets that are not meant to run)"
            )
        refused = []
        for c in examined:
            verdict = verify.prove(
                self.aws,
                c["ChangeSetId"],
                expected,
                name=c.get("ChangeSetName", ""),
                stack_id=state.stack_id,
                stack_role=state.role_arn or None,
            )
            if verdict.ok:
                cs = changeset.ChangeSet(
                    verdict.name,
                    c["ChangeSetId"],
                    state.stack_id,
                    "UPDATE",
                    c.get("Status", ""),
                    execution_status=c.get("ExecutionStatus", ""),
                    description=c.get("Description", "") or "",
                )
                yield Info(
                    f"change set {cs.name}, found waiting on the stack, is proven to hold what this checkout "
                    f"builds (templates of {len(verdict.read)} stack(s), parameters, capabilities, options, "
                    f"tags, role): it is the one reviewed below"
                )
                changeset.check_executable(self.aws, cs)
                o.change_set = cs.name
                self._review(state, cs)
                self._describe_adopted(
                    verdict,
                    "a change set found waiting on the stack, proven equal to this checkout (not by its description)",
                )
                return True, []
            refused.append(f"  {verdict.line()}")
        head = f"{len(examined)} change set(s) waiting, none proven" + (f" ({more} older not examined)" if more else "")
        return False, [head] + refused

    def _describe_adopted(self, verdict: verify.Verdict, what: str) -> None:
        """The adopted change set's review says what it is and which SSM
        parameter values it was computed with (resolved when it was made,
        not now: an older change set deploys the older value, e.g. an AMI)."""
        review = self.plan.review
        review.description = f"{what}; {review.description}" if review.description else what
        review.notes.extend(verdict.notes)
        for key, value in sorted(verdict.resolved.items()):
            review.notes.append(
                f"{key} was resolved to {value} when the change set was made; executing it "
                f"deploys that value even if the SSM parameter has changed since"
            )

    def _adopt(self, state: stackstate.StackState) -> None:
        """``deploy --change-set NAME``: that change set, if it is still
        executable and proven to hold what this checkout builds."""
        o = self.opts
        if state.status is None:
            raise CommandError(
                f"stack {o.stack_name} does not exist, so it has no change set {o.change_set}", EXIT_USAGE
            )
        cs = changeset.lookup(self.aws, o.stack_name, o.change_set, stack_status=state.status)
        if o.change_set_id and not changeset.same_id(cs.id, o.change_set_id):
            raise CommandError(
                f"refused: change set {cs.name} on {o.stack_name} is {cs.id}, not the approved {o.change_set_id}: "
                f"the approved one was deleted and another made under its name",
                EXIT_REFUSED,
                details=("nothing was executed and no stack policy was changed; plan again",),
            )
        if cs.change_set_type == "CREATE":
            raise CommandError(
                f"refused: change set {cs.name} is a first create (stack {o.stack_name} is REVIEW_IN_PROGRESS), "
                f"which is never executed by name: nothing proves the role it would run with",
                EXIT_REFUSED,
                details=(
                    "nothing was executed; deploy without --change-set makes a fresh one that carries the service role",
                ),
            )
        changeset.check_executable(self.aws, cs)
        verdict = verify.prove(
            self.aws, cs.id, self._expected(), name=cs.name, stack_id=state.stack_id, stack_role=state.role_arn or None
        )
        if not verdict.ok:
            raise CommandError(
                f"refused: {verdict.line()}",
                EXIT_REFUSED,
                details=(
                    "nothing was executed and no stack policy was changed; check out the "
                    "commit that made it and its parameter file, or plan again",
                ),
            )
        self._review(state, cs)
        self._describe_adopted(
            verdict,
            "proven equal to this checkout (templates, parameters, capabilities, "
            "options, role; not by its description)",
        )

    def _role_to_pass(self, state: stackstate.StackState, cs_type: str) -> str | None:
        """The RoleARN of a change set this run makes. A plan passes the
        service role too, so that a plan's first create carries it; on an
        update of a stack that already has it, it passes none: CloudFormation
        uses the stack's role then (CreateChangeSet, ``RoleARN``), and the
        pull-request role needs no iam:PassRole for it."""
        if self.opts.artifact_area != "plan":
            return self.service_role_arn()
        try:
            role = self.service_role_arn()
        except CommandError:
            return None  # no service role yet (github-oidc.yaml not deployed): a review needs none
        return None if cs_type == "UPDATE" and state.role_arn == role else role

    def rollback_triggers(self, cs_type: str) -> dict | None:
        """The RollbackConfiguration for this run's change set (triggers.py);
        its notes go into the review."""
        t = triggers.for_change_set(self.aws, self.config.name_prefix, cs_type, enabled=self.opts.rollback_triggers)
        self._trigger_notes = t.notes
        return t.configuration

    def _tags(self) -> list[dict]:
        return [
            {"Key": "Project", "Value": self.config.project},
            {"Key": "Environment", "Value": self.config.environment},
            {"Key": "ManagedBy", "Value": "wealist-cfn"},
        ]

    def _defer_protection(self, cs_type: str) -> bool:
        """A first create with deletion protection on makes the database and
        load balancer without it: a create that fails after they exist must
        be able to roll back (an RDS instance or ALB with deletion protection
        cannot be deleted, and the stack would end ROLLBACK_FAILED). The same
        deploy switches it on by an update once the create succeeded.

        Not where a create never rolls back or that update cannot be made
        (the rehearsal: moto's failure is an API error and the stack stays
        IN_PROGRESS, and its DescribeStacks answers HTTP 500 after that
        update). Not known: as on AWS, where the deferral is the safe way."""
        target = self.aws.target
        return (
            cs_type == "CREATE"
            and self.config.values.get(DELETION_PROTECTION) == "true"
            and target.rolls_back_failed_create is not False
            and target.switches_protection_by_update is not False
        )

    def _create_parameters(self, cs_type: str) -> list[dict]:
        params = self.config.cfn_parameters()
        if self._defer_protection(cs_type):
            params = [
                dict(p, ParameterValue="false") if p["ParameterKey"] == DELETION_PROTECTION else p for p in params
            ]
        return params

    def _review(self, state: stackstate.StackState, cs: changeset.ChangeSet) -> None:
        o, packaged, cs_type = self.opts, self.packaged, cs.change_set_type
        review = changeset.describe(self.aws, cs, o.stack_name, sleep=o.sleep, interval=o.change_set_interval)
        review.values = review_mod.effective_values(self.config, _mask)
        review.params_file = str(self.config.path)
        if cs_type == "UPDATE":
            review.parameters = review_mod.parameter_changes(state.parameters, self.config.values)
        if (
            cs_type == "CREATE"
            and not any(r.nested_change_set for r in review.rows)
            and (not review.rows or packaged.child_files)
        ):
            # An endpoint that lists no nested change sets for a create (moto)
            # still creates everything: show what the templates declare.
            review.rows = _rows_from_templates(packaged, self.config)
            review.notes.append(
                "the endpoint reported no nested change sets for this create; the rows inside "
                "nested stacks are read from the templates"
            )
        elif (
            cs_type == "UPDATE"
            and review.rows
            and not any(r.nested_change_set for r in review.rows)
            and any(r.resource_type == cfnmodel.NESTED and r.action == "Modify" for r in review.rows)
        ):
            review.notes.append(
                "the endpoint reported no nested change sets: changes inside nested stacks are not listed"
            )
        if cs_type == "UPDATE" and not review.rows:
            if not o.change_set and self._deployed_matches(state):
                # AWS fails a change set that changes nothing; an endpoint that
                # answers CREATE_COMPLETE instead (moto) has nothing to apply:
                # the deployed root template and parameters are these ones.
                self.plan = Plan(state, cs, review, no_changes=True)
                return
            # CREATE_COMPLETE and AVAILABLE with no resource change: Outputs or
            # Exports only (the root template differs). Executed like any other.
            review.notes.append(
                "no resource changes: the change set changes the stack's Outputs or Exports "
                "only, and executing it applies them"
            )
        if self._defer_protection(cs_type):
            review.notes.append(
                "deletion protection (database, load balancer) is created off and switched on by "
                "a second change set in this same deploy once the create succeeded, so a failed "
                "first create can roll back completely"
            )
        derived = self.derived_health
        if derived is not None and (derived.held or state.parameters.get(HEALTH_CHECK_TYPE, "EC2") != derived.value):
            # The flip (or why it is held back) and where the value came from.
            review.notes.append(derived.source())
        review.notes += getattr(self, "_trigger_notes", [])
        review_mod.analyse(review)
        self.plan = Plan(state, cs, review)

    def service_role_arn(self) -> str | None:
        """The RoleARN to hand CloudFormation: the one given, or by default
        the environment's service role (templates/github-oidc.yaml), which
        must exist. An endpoint without roles (the rehearsal) gets none
        unless one is given; one whose roles are not known is held to the
        role as AWS is (``--role-arn ''`` sends none)."""
        o = self.opts
        if o.role_arn != SERVICE_ROLE_DEFAULT:
            return o.role_arn or None
        if self.aws.target.runs_under_roles is False:
            return None
        name = f"{self.config.name_prefix}-cfn-role"
        account = self.aws.account or self.aws.check_credentials()
        partition = self.aws.session.get_partition_for_region(self.region)
        arn = f"arn:{partition}:iam::{account}:role/{name}"
        try:
            self.aws.client("iam").get_role(RoleName=name)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                raise CommandError(
                    f"service role {arn} does not exist: deploy templates/github-oidc.yaml for this environment "
                    f"first (docs/deploy.md, 'The service role'), or name another with --role-arn",
                    EXIT_USAGE,
                ) from None
            # Not allowed to look: CloudFormation will say whether it can use it.
        return arn

    def _deployed_matches(self, state: stackstate.StackState) -> bool:
        """The stack's current root template and parameters are exactly what
        this change set was made from (a child's change shows in the root as
        a new content-addressed TemplateURL)."""
        try:
            body = self.aws.cfn.get_template(StackName=state.stack_id or state.name, TemplateStage="Original").get(
                "TemplateBody"
            )
        except botocore.exceptions.ClientError:
            return False
        deployed = tpl.load(body) if isinstance(body, str) else body
        ours = self.packaged.templates.get(self.packaged.root_name)
        given = {p["ParameterKey"]: p.get("ParameterValue", "") for p in self.config.cfn_parameters()}
        return deployed == ours and {k: review_mod.list_value(v) for k, v in state.parameters.items()} == given

    def cleanup(self, *, wait: bool = True) -> list[str]:
        """Delete the change set this run made and did not execute, and the
        REVIEW_IN_PROGRESS shell this run made when nothing else sits in it.
        Returns one line per thing removed or left (with how to remove it).
        ``wait=False``: DeleteChangeSet only, not followed to its end."""
        cs, self._made = self._made, None
        if cs is None or not cs.id:
            return []
        n = self.opts.stack_name
        lines = []
        if not wait and not self._made_shell:
            try:
                changeset.delete(self.aws, cs)
            except Exception as exc:  # noqa: BLE001 - an error path: never hide the error that led here
                return [
                    f"left change set {cs.name} ({exc}); delete it: aws cloudformation delete-change-set "
                    f"--stack-name {n} --change-set-name {cs.name}"
                ]
            return [f"deleting change set {cs.name} (not executed); CloudFormation finishes it"]
        try:
            # Bounded: a change set with nested ones is deleted asynchronously,
            # and the shell can go only once it is.
            pending = changeset.delete_and_wait(
                self.aws, cs, sleep=self.opts.sleep, interval=self.opts.change_set_interval
            )
        except Exception as exc:  # noqa: BLE001 - an error path: never hide the error that led here
            return [
                f"left change set {cs.name} ({exc}); delete it: aws cloudformation delete-change-set "
                f"--stack-name {n} --change-set-name {cs.name}"
            ]
        if pending.startswith("DELETE_FAILED"):
            return [
                f"change set {cs.name} (not executed) could not be deleted ({pending}); delete it: aws "
                f"cloudformation delete-change-set --stack-name {n} --change-set-name {cs.name}"
            ]
        if pending:
            lines.append(f"deleting change set {cs.name} (not executed): {pending}; CloudFormation finishes it")
        else:
            lines.append(f"deleted change set {cs.name} (not executed)")
        if self._made_shell:
            lines.append(stackstate.delete_review_shell(self.aws, cs.stack_id or n, n, ours=cs.id))
        return lines

    def keep(self) -> None:
        """The change set stays on purpose (``plan``): cleanup no longer removes it."""
        self._made = None

    # -- phase 2 -----------------------------------------------------------------------------

    def discard(self) -> list[str]:
        """Delete the planned change set (a review that is not meant to run),
        and the stack shell this run made for it."""
        if self._made is None:
            changeset.delete(self.aws, self.plan.change_set)
            return [f"deleted change set {self.plan.change_set.name} (not executed)"]
        return self.cleanup()

    def execute(self) -> Iterator[Info | events.StackEvent | events.Progress | events.Final | Result]:
        """Execute the planned change set and watch it.

        Every way out that is not a clean end (an AWS error, a refused
        execute, an error or the overall bound while watching, expired
        credentials, Ctrl-C or SIGTERM at any moment) ends in one block
        (:meth:`stopped`): the stack's state read at that moment, what still
        runs in AWS, what this run put back or could not, and the command that
        resumes or repairs. ExecuteChangeSet counts as possibly started from
        the moment it is sent: an interrupt during the call may come after
        AWS accepted it, so the change set is then read, never assumed. A
        relaxed stack policy is put back only when nothing runs (putting it
        back mid-update would deny the approved replacement); otherwise the
        block gives the command, and ``status`` puts it back at the end."""
        plan, o, aws = self.plan, self.opts, self.aws
        assert plan and not plan.no_changes
        cs = plan.change_set
        stack_id = cs.stack_id or plan.state.stack_id
        new = cs.change_set_type == "CREATE"
        relaxed: list[str] = []
        sent = started = False
        protection_off = False
        made = self._made
        token = ""
        self.final = None
        try:
            # Only AVAILABLE can run (DescribeChangeSet: ExecutionStatus). Checked
            # before any policy is touched: an OBSOLETE change set (the stack
            # changed during a long approval) leaves the policies as they are.
            changeset.check_executable(aws, cs)
            sequence.refuse_one_step(plan.review)  # even with --allow-replace: the service would refuse it
            if cs.change_set_type == "UPDATE":
                fixed = policy.protect(aws, stack_id)
                if fixed:
                    yield Info(
                        f"stack policy set on {', '.join(p or 'root' for p in fixed)} (denies replacing "
                        f"or deleting stateful resources)"
                    )
                if o.allow_replace and plan.review.guarded:
                    paths = {_stack_path(c.where) for c in plan.review.guarded}
                    relaxed = sorted(paths)  # an error half-way through still restores them all
                    relaxed = policy.relax(aws, stack_id, paths)
                    yield Info(
                        f"--allow-replace: stack policy relaxed on {', '.join(p or 'root' for p in relaxed)} "
                        f"for this update only"
                    )
            seen, since = events.Watcher.mark(aws, stack_id)
            old_ops = events.Watcher.operations(aws, stack_id) if not new else set()
            token = f"wealist-{uuid.uuid4()}"
            kw = {"ChangeSetName": cs.id, "ClientRequestToken": token}
            if new and o.no_rollback:
                # Keep what a failed create made, to debug it: no rollback at all
                # (ExecuteChangeSet DisableRollback). Clean-up is deploy
                # --replace-failed (or rollback-stack / delete-stack).
                kw["DisableRollback"] = True
            elif new:
                # A failed first create deletes what it made, Retain resources
                # included (ExecuteChangeSet RetainExceptOnCreate), so a retry
                # does not trip over fixed names. A resource whose delete fails
                # (a bucket that is not empty) is still left: see stopped().
                kw["RetainExceptOnCreate"] = True
            # From here the change set may run in AWS: not ours to delete.
            self._made = None
            sent = self.executing = True
            aws.cfn.execute_change_set(**kw)
            started = True
            yield Info(f"executing change set {cs.name}")
            if new:
                # At once, not after the watch: a Ctrl-C or a CI timeout must not
                # leave a new stack unprotected. It does not stop a rollback.
                yield from _termination_protection(aws, stack_id)
            watcher = events.Watcher(
                aws,
                stack_id,
                total=plan.total_resources,
                totals=plan.totals,
                token=token,
                seen=seen,
                since=since,
                old_operations=old_ops,
                sleep=o.sleep,
                interval=o.poll_interval,
                timeout=o.watch_timeout,
            )
            yield from self._follow(watcher, stack_id)
            final = self.final
            relaxed = []
            if final.ok and self._defer_protection(cs.change_set_type):
                protection_off = True
                yield from self._switch_on_protection(stack_id)
                protection_off = False
        except BaseException as exc:
            with keeping_last_call():
                lines = self.stopped(
                    exc,
                    cs,
                    stack_id,
                    made=made,
                    sent=sent,
                    started=started,
                    relaxed=relaxed,
                    protection_off=protection_off,
                    token=token,
                )
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                self.left_behind = lines
                raise
            if isinstance(exc, CommandError):
                exc.details = tuple(exc.details) + tuple(lines)
                raise
            if started and self.final is None and isinstance(exc, WATCH_ERRORS):
                raise CommandError(
                    f"lost track of the operation while watching it ({_why(exc)}); it goes on in AWS",
                    EXIT_FAILED,
                    details=tuple(lines),
                ) from None
            if isinstance(exc, botocore.exceptions.ClientError):
                doing = "switching deletion protection on" if protection_off else "executing the change set"
                err = client_error(exc, doing)
                err.details = tuple(lines)
                raise err from None
            if isinstance(exc, WATCH_ERRORS):
                raise CommandError(_why(exc), EXIT_FAILED, details=tuple(lines)) from None
            self.left_behind = lines
            raise

    def _stopped_before_execute(self) -> list[str]:
        """The block for a stop while preparing: the state read now, and that
        nothing of this run runs (another operation the run was waiting for
        may). Never raises."""
        n, o = self.opts.stack_name, self.opts
        state, read_error = _read_state(self.aws, n)
        now = time.strftime("%H:%M:%S UTC", time.gmtime())
        lines = [
            f"stack {n}: its state could not be read now ({read_error})"
            if state is None
            else f"stack {n}: {state.status or 'does not exist'} (read at {now})"
        ]
        other = f"; the {state.status} it was waiting for goes on" if state and events.is_running(state.status) else ""
        lines.append(f"in AWS: no change set of this run was executed; nothing of this deploy runs{other}")
        lines.append(f"next: python build.py deploy --stack-name {n} --params {o.params}")
        return lines

    def stopped(
        self,
        exc: BaseException,
        cs: changeset.ChangeSet,
        stack_id: str,
        *,
        made,
        sent: bool,
        started: bool,
        relaxed: list[str],
        protection_off: bool,
        token: str = "",
    ) -> list[str]:
        """The block every unclean end of :meth:`execute` prints: the stack's
        state read now, what still runs in AWS, what was put back or not, and
        the next command. Never raises."""
        o, aws, n = self.opts, self.aws, self.opts.stack_name
        status_cmd = f"python build.py status --stack-name {n} --params {o.params}"
        lines: list[str] = []
        began: bool | None = started  # None: cannot tell
        decided_by_delete = False
        if sent and not started:
            if isinstance(exc, botocore.exceptions.ClientError):
                began = False  # ExecuteChangeSet itself answered with an error
            else:
                began, said = _execution_began(aws, cs, token, stack_id or n)
                lines += said
                decided_by_delete = began is False
        if began is False:
            self.executing = False
            if decided_by_delete:
                # The change set is deleted already; only the shell is left to clean.
                if self._made_shell and made is not None:
                    lines.append(stackstate.delete_review_shell(aws, cs.stack_id or n, n, ours=cs.id))
            else:
                self._made = made
                lines += self.cleanup()
        state, read_error = _read_state(aws, stack_id or n)
        status = state.status if state else None
        if decided_by_delete and events.is_running(status):
            # Deleted, so not executed; yet the stack runs an operation: another's, or
            # one this tool cannot tell apart. Said, never taken as "nothing runs".
            began = None
            lines.append(
                f"the stack is {status} although change set {cs.name} was deleted unexecuted: an "
                f"operation runs that may not be this deploy's"
            )
        now = time.strftime("%H:%M:%S UTC", time.gmtime())
        if state is None:
            lines.append(f"stack {n}: its state could not be read now ({read_error})")
        else:
            lines.append(f"stack {n}: {status or 'does not exist'} (read at {now})")
        running = events.is_running(status) if state else (began is not False and self.final is None)
        if began is False:
            lines.append(f"in AWS: change set {cs.name} was not executed; nothing of this deploy runs")
        elif running:
            lines.append(
                "in AWS: the operation goes on; stopping this command does not stop it (`cancel` stops an update)"
                if cs.change_set_type == "UPDATE"
                else "in AWS: the create goes on; stopping this command does not stop it"
            )
        elif began is None and state is None:
            lines.append(f"in AWS: whether change set {cs.name} started could not be read")
        else:
            lines.append("in AWS: nothing runs")
        if relaxed:
            lines.append(_restore(aws, stack_id, relaxed, running=bool(running or began is None)))
        if (
            self._defer_protection(cs.change_set_type)
            and began is not False
            and (protection_off or self.final is None or not self.final.ok)
        ):
            lines.append(
                "deletion protection is off (database, load balancer): a first create makes them without "
                "it and switches it on once the create is complete; `status` does that"
            )
        if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED") and cs.change_set_type == "CREATE" and self.final is None:
            lines += leftovers(aws, stack_id or n, n)
        if began is False and status in (None, events.REVIEW):
            lines.append(f"next: python build.py deploy --stack-name {n} --params {o.params}")
        elif status == "ROLLBACK_COMPLETE" or status == "ROLLBACK_FAILED":
            lines.append(f"next: python build.py deploy --stack-name {n} --params {o.params} --replace-failed")
        else:
            lines.append(
                f"next: {status_cmd}  (follows the operation to its end and repairs what this run left: "
                f"stack policies, termination and deletion protection)"
            )
        return lines

    def _follow(
        self, watcher: events.Watcher, stack_id: str
    ) -> Iterator[events.StackEvent | events.Progress | events.Final | Result]:
        """Watch an operation to its final state (``self.final`` as soon as
        it is seen: an error after it means nothing runs any more), then read
        the stack's outputs into ``self.result``."""
        self.final = None
        for item in watcher.watch():
            if isinstance(item, events.Final):
                self.final = item
            yield item
        for item in finish(self.aws, stack_id, self.final, new=False):
            if isinstance(item, Result):
                self.result = item
            yield item

    def _switch_on_protection(
        self, stack_id: str
    ) -> Iterator[Info | events.StackEvent | events.Progress | events.Final | Result]:
        """The second half of a first create: an update that only turns
        deletion protection on (the review said so). It is executed only when
        it holds no guarded change; otherwise it is left with the command."""
        o, aws = self.opts, self.aws
        yield Info("switching deletion protection on (second change set of this first create)")
        cs = changeset.create(
            aws,
            stack_name=o.stack_name,
            change_set_type="UPDATE",
            parameters=self.config.cfn_parameters(),
            tags=self._tags(),
            template_body=self.packaged.root_body,
            template_url=self.packaged.root_url,
            commit=changeset.git_commit(),
            digest=self.digest(),
            sleep=o.sleep,
            interval=o.change_set_interval,
        )
        if cs.no_changes:
            yield Info("deletion protection: nothing to change (the endpoint reports no changes)")
            return
        self._made, self._made_shell = cs, False
        review = changeset.describe(aws, cs, o.stack_name, sleep=o.sleep, interval=o.change_set_interval)
        review_mod.analyse(review)
        if review.guarded:
            self._made = None
            raise CommandError(
                f"the change set that switches deletion protection on ({cs.name}) holds guarded changes; not executed",
                EXIT_FAILED,
                details=(
                    f"review it: aws cloudformation describe-change-set --stack-name {o.stack_name} "
                    f"--change-set-name {cs.name}",
                    f"until it runs, deletion protection is off: python build.py deploy --stack-name "
                    f"{o.stack_name} --params {o.params} --change-set {cs.name}",
                ),
            )
        changeset.check_executable(aws, cs)
        token = f"wealist-{uuid.uuid4()}"
        seen, since = events.Watcher.mark(aws, stack_id)
        aws.cfn.execute_change_set(ChangeSetName=cs.id, ClientRequestToken=token)
        self._made = None
        watcher = events.Watcher(
            aws, stack_id, token=token, seen=seen, since=since, sleep=o.sleep, interval=o.poll_interval
        )
        yield from self._follow(watcher, stack_id)
        if self.final.ok:
            yield Info("deletion protection switched on (database, load balancer)")


# What can end a watch without a final state: API errors after botocore's
# retries (Throttling, ExpiredToken), connection and credential errors, and
# the watch's own bound. None of them says anything about the operation.
WATCH_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, events.WatchTimeout)


def _why(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return f"{error_code(exc)}: {error_message(exc)}"
    if isinstance(exc, events.WatchTimeout):
        return f"the watch gave up: {exc}"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")


def _read_state(aws: Aws, stack: str) -> tuple[stackstate.StackState | None, str]:
    try:
        return stackstate.describe(aws, stack), ""
    except Exception as exc:  # noqa: BLE001 - an error path: report, never hide the first error
        return None, _why(exc) if not isinstance(exc, CommandError) else str(exc)


_EXECUTED = ("EXECUTE_IN_PROGRESS", "EXECUTE_COMPLETE", "EXECUTE_FAILED")


def _token_seen(aws: Aws, stack: str, token: str) -> bool:
    """An event of the stack's newest page carries this run's request token
    (ExecuteChangeSet ClientRequestToken: "All events triggered by a given
    stack operation are assigned the same client request token")."""
    if not token:
        return False
    try:
        page = aws.cfn.describe_stack_events(StackName=stack)
    except Exception:  # noqa: BLE001 - an error path: "not seen" decides nothing here
        return False
    return any(e.get("ClientRequestToken") == token for e in page.get("StackEvents", []))


def _execution_began(aws: Aws, cs: changeset.ChangeSet, token: str, stack: str) -> tuple[bool | None, list[str]]:
    """After an interrupt during ExecuteChangeSet: did AWS take it? Returns
    (True: began, False: not executed, None: cannot tell) and the lines that
    say how that was decided.

    ExecutionStatus AVAILABLE read now proves nothing: ExecuteChangeSet is
    asynchronous, and a request in flight may be processed after the read.
    The delete decides: DeleteChangeSet is refused while the change set is
    executed (InvalidChangeSetStatus, "An operation on this ChangeSet is
    currently in progress": aws/aws-cdk#26182), and once it is accepted
    the change set can no longer be executed (ExecuteChangeSet needs it
    AVAILABLE). OBSOLETE or UNAVAILABLE are not taken as "began": they are
    deleted like AVAILABLE. An executed status, or an event with this run's
    ClientRequestToken, says it began."""
    code = ""
    try:
        execution = aws.cfn.describe_change_set(ChangeSetName=cs.id).get("ExecutionStatus")
    except botocore.exceptions.ClientError as exc:
        code, execution = error_code(exc), None
    except Exception:  # noqa: BLE001 - an error path: report "cannot tell"
        execution = None
    if execution in _EXECUTED or _token_seen(aws, stack, token):
        return True, []
    if code == "ChangeSetNotFound":
        return None, [
            f"change set {cs.name} is gone and no event of this run's request was read: whether it was "
            f"executed is not known"
        ]
    try:
        aws.cfn.delete_change_set(ChangeSetName=cs.id)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "InvalidChangeSetStatus":
            return True, [f"change set {cs.name} could not be deleted ({error_message(exc)}): it is being executed"]
        return None, [
            f"change set {cs.name} could not be deleted ({error_code(exc)}: {error_message(exc)}): "
            f"whether it was executed is not known"
        ]
    except Exception as exc:  # noqa: BLE001 - an error path: report "cannot tell"
        return None, [f"change set {cs.name} could not be deleted ({_why(exc)}): whether it was executed is not known"]
    try:
        after = aws.cfn.describe_change_set(ChangeSetName=cs.id)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ChangeSetNotFound":
            return False, [f"deleted change set {cs.name} (not executed: DeleteChangeSet is refused while one runs)"]
        return None, [f"deleted change set {cs.name}; reading it back failed ({error_code(exc)})"]
    except Exception as exc:  # noqa: BLE001
        return None, [f"deleted change set {cs.name}; reading it back failed ({_why(exc)})"]
    if after.get("ExecutionStatus") in _EXECUTED:
        return True, []
    if str(after.get("Status", "")).startswith("DELETE"):
        # A change set with nested ones is deleted asynchronously.
        return False, [
            f"deleting change set {cs.name} (not executed: DeleteChangeSet accepted it); CloudFormation finishes it"
        ]
    return None, [
        f"change set {cs.name} is still there ({after.get('Status')}, {after.get('ExecutionStatus')}) "
        f"after its delete was accepted: whether it was executed is not known"
    ]


def leftovers(aws: Aws, stack: str, name: str) -> list[str]:
    """After a failed first create: what its rollback did not delete.

    ExecuteChangeSet's RetainExceptOnCreate deletes even Retain resources
    made by the failed create, but a delete can fail: the access-log bucket
    is versioned and, once the load balancer's logging was on, holds ELB's
    test object (and versions), so S3 refuses DeleteBucket (BucketNotEmpty)
    and the stack ends ROLLBACK_FAILED. A resource whose delete failed or was
    skipped (DELETE_FAILED, DELETE_SKIPPED) is still in the account; one line
    names each, with the way to remove it."""
    out = []
    for where, rtype, physical, status in stackstate.resources_in(aws, stack, {"DELETE_FAILED", "DELETE_SKIPPED"}):
        how = {
            "AWS::S3::Bucket": f"empty every object version, then: aws s3api delete-bucket --bucket {physical}",
            "AWS::Logs::LogGroup": f"aws logs delete-log-group --log-group-name {physical}",
        }.get(rtype, "delete it in its console, or keep it")
        out.append(f"left behind: {where} ({rtype}) {physical or '(no physical ID)'}: {status}; {how}")
    if not out:
        out.append(f"left behind: nothing the rollback reports (no DELETE_FAILED or DELETE_SKIPPED resource in {name})")
    return out


def _restore(aws: Aws, stack_id: str, relaxed: list[str], *, running: bool) -> str:
    """Put the protective policy back after an interrupted execute; one line
    says so, or gives the exact command when it cannot be done now."""
    cmd = (
        f"aws cloudformation set-stack-policy --stack-name {{STACK}} --stack-policy-body "
        f"'{json.dumps(policy.PROTECT, separators=(',', ':'))}'"
    )
    where = ", ".join(p or "root" for p in relaxed)
    if not running:
        try:
            policy.protect(aws, stack_id)
            return f"stack policy put back on {where} (denies replacing or deleting stateful resources)"
        except (CommandError, botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
            pass
    try:
        ids = policy.stack_ids(aws, stack_id)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
        ids = {"": stack_id}
    # A nested stack's ID that cannot be read now is named, not guessed.
    targets = " ; ".join(
        cmd.replace("{STACK}", ids.get(p) or (stack_id if not p else f"<stack ID of {p}>")) for p in relaxed
    )
    why = "the update still runs" if running else "putting it back failed"
    return (
        f"stack policy still relaxed on {where} ({why}); once the stack is final run `python build.py "
        f"status` or: {targets}"
    )


def _termination_protection(aws: Aws, stack_id: str) -> Iterator[Info]:
    try:
        aws.cfn.update_termination_protection(StackName=stack_id, EnableTerminationProtection=True)
        yield Info("termination protection enabled on the new stack")
    except Exception as exc:  # noqa: BLE001 - moto's 500 is not a ClientError
        if aws.target.supports_termination_protection:
            raise
        # The rehearsal declares it unanswered (moto answers HTTP 500); an
        # endpoint not known to answer it says so instead of failing.
        yield Info(f"termination protection: not supported by {aws.target.name} ({type(exc).__name__})")


def finish(aws: Aws, stack_id: str, final: events.Final, *, new: bool) -> Iterator[Info | Result]:
    """After a final state: protective policies back on (also after a
    rollback: a relaxed policy must not outlive the operation), termination
    protection on a new stack, then the :class:`Result` with the outputs."""
    # A failed first create (ROLLBACK_*) takes no update, only a delete: no policy to put back.
    if not final.status.startswith("DELETE") and final.status not in (
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "CREATE_FAILED",
    ):
        fixed = policy.protect(aws, stack_id)
        if fixed:
            yield Info(
                f"stack policy set on {', '.join(p or 'root' for p in fixed)} (denies replacing or "
                f"deleting stateful resources)"
            )
    if final.status == "CREATE_FAILED":
        yield Info(
            "rollback is off (--no-rollback): what the create made is kept, as it failed, to debug it; "
            "when done: python build.py deploy --replace-failed (rolls it back with RetainExceptOnCreate, "
            "which deletes what the create made, Retain resources included; then deletes the stack and "
            "creates it again). A plain delete-stack would keep the ECR repositories, the access-log "
            "bucket and the flow-log group, and the next create would fail on their names"
        )
    if final.status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED"):
        # A failed first create: RetainExceptOnCreate deleted what it could;
        # name what is still in the account rather than promise nothing is.
        for line in leftovers(aws, stack_id, stack_id.split("/")[1] if stack_id.startswith("arn:") else stack_id):
            yield Info(line)
    st = stackstate.describe(aws, stack_id)
    if new and final.ok and not st.termination_protection:
        # ``status`` after an interrupted first deploy, or a stack made by hand.
        yield from _termination_protection(aws, stack_id)
    yield Result(final, st.outputs if final.ok else [], stack_id)


# A stack that can take an update (UpdateStack / a change set's execute:
# not *_IN_PROGRESS, not a failed create, not *_FAILED).
UPDATABLE = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
}


# The repair reuses the deployed template (UsePreviousTemplate), so CloudFormation
# reads the nested TemplateURLs the stack names again; an object gone from the
# artifact bucket (ops/artifacts.py) fails it, and a deploy packages them anew.
_REDEPLOY = (
    "if the reason names a template URL or S3 (an artifact the stack's template names is gone): run a "
    "deploy, which packages the templates again and switches deletion protection on: python build.py "
    "deploy --stack-name {n} --params {p}"
)


def repair_deletion_protection(
    aws: Aws, config, stack_name: str, *, sleep=time.sleep, interval: float = 5.0, change_set_interval: float = 2.0
) -> Iterator[Info | events.StackEvent | events.Progress | events.Final | Result]:
    """``status``: switch deletion protection on when the params file says
    ``DeletionProtection=true`` and the stack still has ``false`` (a first
    create interrupted, or failed, before its second change set ran).

    The change set changes that one parameter and nothing else: the
    template is the stack's own (``UsePreviousTemplate``) and every other
    parameter keeps its value (``UsePreviousValue``), so no pending template
    change of the working tree rides along. It is executed only when its
    review holds no guarded change; otherwise it is left with its name."""
    if config.values.get(DELETION_PROTECTION) != "true":
        return
    st = stackstate.describe(aws, stack_name)
    if st.status is None or st.parameters.get(DELETION_PROTECTION) != "false":
        return
    what = "deletion protection is off on the stack (database, load balancer) and the params file says true"
    if aws.target.switches_protection_by_update is False:
        yield Info(f"{what}; not switched on against {aws.target.name} (its DescribeStacks fails after that update)")
        return
    if st.status not in UPDATABLE:
        yield Info(f"{what}; the stack is {st.status}, which takes no update: run status again once it is complete")
        return
    yield Info(f"{what}: switching it on (a change set of that parameter only)")
    params = [
        {"ParameterKey": k, "ParameterValue": "true"}
        if k == DELETION_PROTECTION
        else {"ParameterKey": k, "UsePreviousValue": True}
        for k in st.parameters
    ]
    name = changeset.new_name(changeset.git_commit()).replace("deploy-", "protect-", 1)
    try:
        resp = aws.cfn.create_change_set(
            StackName=st.stack_id,
            ChangeSetName=name,
            ChangeSetType="UPDATE",
            UsePreviousTemplate=True,
            Parameters=params,
            Capabilities=changeset.CAPABILITIES,
            IncludeNestedStacks=True,
            ClientToken=name,
            Description=f"wealist-cfn status: switch {DELETION_PROTECTION} on",
        )
    except botocore.exceptions.ClientError as exc:
        err = client_error(exc, "CreateChangeSet switching deletion protection on")
        err.details = (_REDEPLOY.format(n=stack_name, p=getattr(config, "path", "FILE")),)
        raise err from None
    cs = changeset.ChangeSet(name, resp["Id"], resp.get("StackId", st.stack_id), "UPDATE")
    desc = changeset.wait(aws, cs.id, sleep=sleep, interval=change_set_interval)
    cs.status, cs.reason = desc.get("Status", ""), desc.get("StatusReason", "") or ""
    if cs.status == "FAILED":
        raise CommandError(
            f"the change set switching deletion protection on ({name}) FAILED: {cs.reason or 'no reason given'}",
            EXIT_FAILED,
            details=(
                f"delete it: aws cloudformation delete-change-set --change-set-name {cs.id}",
                _REDEPLOY.format(n=stack_name, p=getattr(config, "path", "FILE")),
            ),
        )
    review = changeset.describe(aws, cs, stack_name, sleep=sleep, interval=change_set_interval)
    review_mod.analyse(review)
    if review.guarded:
        raise CommandError(
            f"the change set switching deletion protection on ({name}) holds guarded changes; not executed",
            EXIT_FAILED,
            details=(f"review it: aws cloudformation describe-change-set --change-set-name {cs.id}",),
        )
    changeset.check_executable(aws, cs)
    seen, since = events.Watcher.mark(aws, st.stack_id)
    token = f"wealist-{uuid.uuid4()}"
    aws.cfn.execute_change_set(ChangeSetName=cs.id, ClientRequestToken=token)
    watcher = events.Watcher(aws, st.stack_id, token=token, seen=seen, since=since, sleep=sleep, interval=interval)
    final = None
    for item in watcher.watch():
        if isinstance(item, events.Final):
            final = item
        yield item
    yield from finish(aws, st.stack_id, final, new=False)
    if final.ok:
        yield Info("deletion protection switched on (database, load balancer)")


def _stack_path(where: str) -> str:
    """The stack that holds the resource at ``where`` ("A/B/Res" -> "A/B")."""
    return where.rsplit("/", 1)[0] if "/" in where else ""


def _rows_from_templates(packaged: package_mod.Packaged, config) -> list[review_mod.Row]:
    """What the templates create for these parameters: Conditions evaluated,
    so a cost-mode review does not list the multi-AZ NAT gateways."""
    resolved = cfnmodel.resolve_set(
        packaged.templates,
        config.values,
        root_name=packaged.root_name,
        region=config.region,
        child_files=packaged.child_files,
    )
    return [
        review_mod.Row(
            path="" if path == "Root" else path, action="Add", logical_id=lid, resource_type=res.get("Type", "?")
        )
        for path, stack in resolved.items()
        for lid, res in stack.resources.items()
    ]


# The root's own event that opens an operation a user or tool started;
# rollbacks and cleanups only continue one.
_STARTS = {"CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "IMPORT_IN_PROGRESS"}


def operation_start(aws: Aws, stack_id: str, stack_name: str) -> dict | None:
    """The first root event of the stack's current (or last) operation: the
    newest root ``CREATE|UPDATE|DELETE|IMPORT_IN_PROGRESS`` of the stack
    itself, read through as many pages as it takes (a long rollback pushes
    it off the first page)."""
    for page in pages.pages(aws.cfn, "describe_stack_events", StackName=stack_id):
        for e in page.get("StackEvents", []):  # newest first
            if (
                e.get("ResourceType") == cfnmodel.NESTED
                and e.get("PhysicalResourceId") == stack_id
                and e.get("LogicalResourceId") == stack_name
                and e.get("ResourceStatus") in _STARTS
            ):
                return e
    return None


@dataclass
class Shell:
    """``status`` on a REVIEW_IN_PROGRESS stack: the change sets in it
    (name, Status, ExecutionStatus); no operation runs."""

    stack_name: str
    stack_id: str
    change_sets: list[tuple[str, str, str]] = field(default_factory=list)
    error: str = ""  # ListChangeSets failed: why


def shell(aws: Aws, state: stackstate.StackState) -> Shell:
    out = Shell(state.name, state.stack_id)
    try:
        for page in aws.cfn.get_paginator("list_change_sets").paginate(StackName=state.stack_id):
            out.change_sets += [
                (c.get("ChangeSetName", "?"), c.get("Status", "?"), c.get("ExecutionStatus", "?"))
                for c in page.get("Summaries", [])
            ]
    except botocore.exceptions.ClientError as exc:
        out.error = f"{error_code(exc)}: {error_message(exc)}"
    return out


def watch(
    aws: Aws, stack_name: str, *, sleep=time.sleep, interval: float = 5.0
) -> Iterator[Info | events.StackEvent | events.Progress | events.Final | Result]:
    """``status``: follow the stack's current (or last) operation from its
    first event to its end, nested stacks included, then put the protective
    stack policies back and switch on termination protection of a created
    stack that lacks it."""
    state = stackstate.describe(aws, stack_name)
    if state.status is None:
        raise CommandError(f"stack {stack_name} does not exist", EXIT_USAGE)
    if state.status == events.REVIEW:
        # Nothing runs in a shell, and nothing will by itself: report it, end.
        yield shell(aws, state)
        return
    start = operation_start(aws, state.stack_id, stack_name)
    w = events.Watcher(aws, state.stack_id, since=start["Timestamp"] if start else None, sleep=sleep, interval=interval)
    final = None
    for item in w.watch():
        if isinstance(item, events.Final):
            final = item
        yield item
    yield from finish(aws, state.stack_id, final, new=final.status == "CREATE_COMPLETE")
