"""Run experiments: deploy each one's template through the project's own
change-set engine (:mod:`wealist_cfn.deploy.changeset`, watched by
:class:`wealist_cfn.deploy.events.Watcher`, nested templates packaged by
:mod:`wealist_cfn.deploy.package`), observe with read-only calls, decide,
and delete what the run made on every way out, Ctrl-C included.

:func:`run` is a generator of :class:`Progress` lines; it returns the
:class:`Report` (``StopIteration.value``; :func:`drive` collects both). A
Ctrl-C (or SIGTERM under :func:`wealist_cfn.deploy.signals.sigterm_as_interrupt`)
stops the experiment running, deletes what it made, marks the report
interrupted and runs nothing more; a second Ctrl-C during the clean-up stops
it, and whatever is still in the account is listed with the command that
removes it. Every wait is bounded.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import botocore.exceptions

from wealist_cfn.cfn import templates as tpl

from ..aws import Aws, error_code, error_message, keeping_last_call
from ..deploy import changeset, events
from ..deploy import package as package_mod
from ..errors import CommandError
from . import estimate
from .model import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, Experiment, Verdict, inconclusive

# Bounds (estimate.py, where the worst case is added up from them).
CHANGE_SET_TIMEOUT = estimate.CHANGE_SET_TIMEOUT
OPERATION_TIMEOUT = estimate.OPERATION_TIMEOUT
DELETE_TIMEOUT = estimate.DELETE_TIMEOUT


def stack_name(project: str, experiment_id: str, run_id: str) -> str:
    """``<project>-proof-<id>-<run>``: CreateStack's StackName allows
    letters, digits and hyphens, at most 128 characters."""
    return f"{project}-proof-{experiment_id}-{run_id}"[:128]


def short_stack_name(run_id: str, length: int) -> str:
    """A root stack name of exactly ``length`` characters (at least 8), for
    an experiment whose outcome depends on the name's length: a letter, the
    run's random part first (so that a short name stays unique), then its
    time, padded with zeros."""
    length = max(length, 8)
    return (f"p{run_id[-4:]}{run_id[:-4]}" + "0" * length)[:length]


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{now:%m%d%H%M}{uuid.uuid4().hex[:4]}"


@dataclass
class Progress:
    """A line worth telling the user while the run goes on."""

    experiment: str
    message: str


@dataclass
class Step:
    """One change set the experiment made, and how its execute ended."""

    change_set: changeset.ChangeSet
    final: events.Final | None = None
    events: list[events.StackEvent] = field(default_factory=list)


@dataclass
class Leftover:
    """Something the run made that is still in the account. ``scheduled``:
    AWS removes it by itself at a set time (a KMS key pending deletion);
    listed with the command to inspect it, not counted as a failed clean-up."""

    what: str
    command: str
    scheduled: bool = False


@dataclass
class Result:
    experiment: str
    outcome: str
    reason: str
    evidence: dict = field(default_factory=dict)
    seconds: float = 0.0
    stacks: list[str] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)


@dataclass
class Report:
    account: str
    region: str
    run_id: str
    started: str
    estimate: estimate.Estimate
    results: list[Result] = field(default_factory=list)
    left: list[Leftover] = field(default_factory=list)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.interrupted and not self.unremoved and all(r.outcome == HOLDS for r in self.results)

    @property
    def unremoved(self) -> list[Leftover]:
        """What is left that nothing will remove unless someone does."""
        return [x for x in self.left if not x.scheduled]


class Context:
    """What an experiment's act and observe functions work with: the AWS
    clients, the experiment's stack name, and deploy helpers that record
    everything they make so that :meth:`cleanup` can remove it."""

    def __init__(
        self,
        aws: Aws,
        experiment: Experiment,
        *,
        project: str,
        environment: str,
        run_id: str,
        role_arn: str | None,
        sleep: Callable[[float], None] = time.sleep,
        interval: float = 10.0,
        say: Callable[[str], None] = lambda _m: None,
        root_length: int | None = None,
    ):
        self.aws, self.experiment, self.project, self.environment, self.run_id = (
            aws,
            experiment,
            project,
            environment,
            run_id,
        )
        # <Project>-<Environment>: the names the environment's service role
        # may act on (stacks, buckets, templates) begin with it.
        self.prefix = f"{project}-{environment}"
        self.stack = stack_name(self.prefix, experiment.id, run_id)
        if experiment.root_as_long_as_production:
            # root_length: the environment's root stack name's (the CLI
            # gives params/prod.json's, or --params' when longer).
            self.stack = short_stack_name(run_id, root_length or len(self.prefix))
        self.role_arn = role_arn if experiment.service_role else None
        self.sleep, self.interval, self.say = sleep, interval, say
        self.stacks: dict[str, str] = {}  # stack name -> stack ID, every stack this experiment made
        self.objects: list[tuple[str, str, str]] = []  # (bucket, key, version) uploaded by this experiment
        self.recorded: dict = {}  # responses the act phase read (they are evidence too)
        self.steps: list[Step] = []
        self.removals: list[tuple[str, Callable[[], None], str]] = []
        # What the stacks' deletion leaves to AWS to finish later (KMS keys):
        # (stack name, what, command); listed once that stack is deleted.
        self.scheduled: list[tuple[str, str, str]] = []

    # -- deploying -------------------------------------------------------------------------

    def _template_set(self, templates: dict[str, str], folder: Path) -> tpl.TemplateSet:
        for name, text in templates.items():
            (folder / name).write_text(text, encoding="utf-8")
        return tpl.read(folder, next(iter(templates)))

    def package(
        self, templates: dict[str, str] | None = None, *, stack: str | None = None
    ) -> tuple[str | None, str | None]:
        """(inline root body, root URL): the root inline; nested children
        uploaded to the project's artifact bucket under
        ``plan/<prefix>/proof/<stack>/`` (the area the environment's service
        role may read), versioned, pinned by ``versionId``."""
        stack = stack or self.stack
        templates = templates or self.experiment.templates
        with tempfile.TemporaryDirectory(prefix="wealist-proof-") as folder:
            tset = self._template_set(templates, Path(folder))
            if len(tset.texts) == 1:
                return tset.root_text, None
            account = self.aws.account or self.aws.check_credentials()
            bucket = package_mod.default_bucket(self.project, account, self.aws.region)
            package_mod.ensure_bucket(self.aws, bucket, create=True)
            packaged = package_mod.package(
                self.aws, tset, bucket, prefix=f"{package_mod.key_prefix(self.prefix, 'plan')}/proof/{stack}"
            )
        self.objects += [(bucket, o.key, o.version_id) for o in packaged.objects if o.uploaded]
        return packaged.root_body, packaged.root_url

    def change_set(
        self,
        templates: dict[str, str] | None = None,
        parameters: dict[str, str] | None = None,
        *,
        stack: str | None = None,
        packaged: tuple[str | None, str | None] | None = None,
        extra_tags: dict[str, str] | None = None,
    ) -> changeset.ChangeSet:
        """A change set of ``templates`` (default: the experiment's; or what
        :meth:`package` returned) on the stack, computed and not executed.
        Its stack is recorded at once, for the clean-up."""
        stack = stack or self.stack
        body, url = packaged or self.package(templates, stack=stack)
        state = _status(self.aws, stack)
        cs_type = "CREATE" if state in (None, "REVIEW_IN_PROGRESS") else "UPDATE"

        def made(cs: changeset.ChangeSet) -> None:
            self.stacks.setdefault(stack, cs.stack_id or stack)

        cs = changeset.create(
            self.aws,
            stack_name=stack,
            change_set_type=cs_type,
            parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
            tags=self.tags(extra_tags),
            template_body=body,
            template_url=url,
            commit=changeset.git_commit(),
            role_arn=self.role_arn,
            sleep=self.sleep,
            interval=min(self.interval, 5.0),
            timeout=CHANGE_SET_TIMEOUT,
            on_created=made,
        )
        self.say(f"change set {cs.name} on {stack}: {cs.status} {cs.execution_status}".rstrip())
        return cs

    def execute(
        self, cs: changeset.ChangeSet, *, retain_except_on_create: bool = False, timeout: float = OPERATION_TIMEOUT
    ) -> Step:
        """Execute the change set and watch it to its end (bounded)."""
        stack_id = cs.stack_id or self.stacks.get(self.stack, self.stack)
        seen, since = events.Watcher.mark(self.aws, stack_id)
        token = f"wealist-proof-{uuid.uuid4()}"
        kw = {"ChangeSetName": cs.id, "ClientRequestToken": token}
        if retain_except_on_create and cs.change_set_type == "CREATE":
            kw["RetainExceptOnCreate"] = True
        self.aws.cfn.execute_change_set(**kw)
        self.say(f"executing {cs.name}")
        watcher = events.Watcher(
            self.aws,
            stack_id,
            token=token,
            seen=seen,
            since=since,
            sleep=self.sleep,
            interval=self.interval,
            timeout=timeout,
        )
        step = Step(cs)
        for item in watcher.watch():
            if isinstance(item, events.Final):
                step.final = item
        step.events = watcher.events
        self.steps.append(step)
        cause = step.final.first_cause
        self.recorded[f"step {len(self.steps)}: {cs.change_set_type} {cs.name}"] = {
            "StackStatus": step.final.status,
            "StackStatusReason": step.final.reason,
            "FirstCause": None
            if cause is None
            else {"Where": cause.where, "ResourceStatus": cause.status, "ResourceStatusReason": cause.reason},
        }
        self.say(f"{cs.name}: {step.final.status}")
        return step

    def deploy(
        self,
        templates: dict[str, str] | None = None,
        parameters: dict[str, str] | None = None,
        *,
        retain_except_on_create: bool = False,
        extra_tags: dict[str, str] | None = None,
    ) -> Step:
        """Change set and execute: a create, or an update of the stack."""
        return self.execute(
            self.change_set(templates, parameters, extra_tags=extra_tags),
            retain_except_on_create=retain_except_on_create,
        )

    def tags(self, extra: dict[str, str] | None = None) -> list[dict]:
        extra = [{"Key": k, "Value": v} for k, v in (extra or {}).items()]
        return [
            {"Key": "Project", "Value": self.project},
            {"Key": "Environment", "Value": self.environment},
            {"Key": "ManagedBy", "Value": "wealist-cfn"},
        ] + extra

    def after_delete(self, what: str, remove: Callable[[], None], command: str) -> None:
        """Something the stack's deletion leaves (a Retain resource): removed
        at clean-up once the stacks are deleted (their deletion may still
        touch it, e.g. a bucket's policy), or listed with ``command``.
        ``remove`` must accept that the thing is already gone."""
        self.removals.append((what, remove, command))

    def deleted_later(self, what: str, command: str, stack: str | None = None) -> None:
        """Something the deletion of ``stack`` only schedules for deletion
        (a KMS key: its delete handler calls ScheduleKeyDeletion): listed as
        left, with ``command``, once the stack is deleted."""
        self.scheduled.append((stack or self.stack, what, command))

    # -- observing --------------------------------------------------------------------------

    def wait_for(
        self, read: Callable[[], dict], done: Callable[[dict], bool], *, timeout: float, interval: float | None = None
    ) -> dict:
        """Call ``read`` until ``done`` says its answer is the one awaited, at
        most ``timeout`` seconds (slept time); returns the last answer."""
        waited, interval = 0.0, interval or self.interval
        while True:
            answer = read()
            if done(answer) or waited >= timeout:
                return answer
            self.sleep(interval)
            waited += interval

    def output(self, key: str, stack: str | None = None) -> str:
        st = self.aws.cfn.describe_stacks(StackName=self.stacks.get(stack or self.stack, stack or self.stack))
        for o in st["Stacks"][0].get("Outputs", []) or []:
            if o["OutputKey"] == key:
                return o["OutputValue"]
        raise CommandError(f"{stack or self.stack} has no output {key}")

    # -- cleaning up ------------------------------------------------------------------------

    def cleanup(self) -> tuple[list[str], list[Leftover], bool]:
        """Delete every stack and uploaded object this experiment made, then
        remove what the stacks' deletion leaves (Retain resources). Never
        raises; a Ctrl-C here stops the clean-up, what remains is listed
        with the command that removes it, and the third value says the
        clean-up was interrupted (the run then stops)."""
        done: list[str] = []
        left: list[Leftover] = []
        region = self.aws.region
        pending = dict(self.stacks)
        objects = list(self.objects)
        removals = list(self.removals)
        try:
            for name, sid in list(pending.items()):
                outcome = _delete_stack(self.aws, sid, sleep=self.sleep, interval=self.interval)
                if outcome:
                    left.append(
                        Leftover(
                            f"stack {name} ({outcome})",
                            f"aws cloudformation delete-stack --stack-name {sid} --region {region}",
                        )
                    )
                else:
                    done.append(f"deleted stack {name}")
                    left += [
                        Leftover(what, command, scheduled=True)
                        for stack, what, command in self.scheduled
                        if stack == name
                    ]
                del pending[name]
            for what, remove, command in list(removals):
                try:
                    remove()
                    done.append(f"removed {what}")
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # noqa: BLE001 - reported with the command that removes it
                    left.append(Leftover(f"{what} ({_why(exc)})", command))
                removals.remove((what, remove, command))
            for bucket, key, version in list(objects):
                try:
                    kw = {"Bucket": bucket, "Key": key}
                    if version:
                        kw["VersionId"] = version
                    self.aws.s3.delete_object(**kw)
                    done.append(f"deleted s3://{bucket}/{key}")
                except botocore.exceptions.ClientError as exc:
                    left.append(
                        Leftover(f"s3://{bucket}/{key} ({error_code(exc)})", _delete_object(bucket, key, version))
                    )
                objects.remove((bucket, key, version))
        except KeyboardInterrupt:
            for name, sid in pending.items():
                left.append(
                    Leftover(
                        f"stack {name} (clean-up interrupted)",
                        f"aws cloudformation delete-stack --stack-name {sid} --region {region}",
                    )
                )
            for what, _remove, command in removals:
                left.append(Leftover(f"{what} (clean-up interrupted)", command))
            for bucket, key, version in objects:
                left.append(
                    Leftover(f"s3://{bucket}/{key} (clean-up interrupted)", _delete_object(bucket, key, version))
                )
            return done, left, True
        return done, left, False


def _delete_object(bucket: str, key: str, version: str) -> str:
    return f"aws s3api delete-object --bucket {bucket} --key {key}" + (f" --version-id {version}" if version else "")


def _status(aws: Aws, stack: str) -> str | None:
    try:
        return aws.cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    except botocore.exceptions.ClientError as exc:
        if "does not exist" in error_message(exc):
            return None
        raise


def _delete_stack(aws: Aws, stack_id: str, *, sleep, interval: float, timeout: float = DELETE_TIMEOUT) -> str:
    """DeleteStack and wait until it is gone: "" then, else what it still
    is. A stack still being created is deleted at once (DeleteStack stops
    the create); an update still running is cancelled first
    (CancelUpdateStack) and its rollback awaited, as DeleteStack refuses a
    stack in UPDATE_IN_PROGRESS. Never raises, except KeyboardInterrupt."""
    try:
        with keeping_last_call():
            waited, cancelled, deleting = 0.0, False, False
            while True:
                status = _status(aws, stack_id)
                if status in (None, "DELETE_COMPLETE"):
                    return ""
                if status == "DELETE_FAILED" and deleting:
                    return "DELETE_FAILED"
                if status == "UPDATE_IN_PROGRESS" and not cancelled:
                    aws.cfn.cancel_update_stack(StackName=stack_id)
                    cancelled = True
                elif not deleting and (not events.is_running(status) or status == "CREATE_IN_PROGRESS"):
                    aws.cfn.delete_stack(StackName=stack_id)
                    deleting = True
                if waited >= timeout:
                    return f"still {status} after {int(waited)}s"
                sleep(interval)
                waited += interval
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - a clean-up reports, it never hides what led here
        return f"deleting it failed: {_why(exc)}"


def _why(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return f"{error_code(exc)}: {error_message(exc)}"
    if isinstance(exc, (CommandError, events.WatchTimeout)):
        return str(exc)
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"


def run(
    aws: Aws,
    experiments: list[Experiment],
    *,
    project: str,
    environment: str,
    role_arn: str | None,
    run_id: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    interval: float = 10.0,
    root_length: int | None = None,
) -> Iterator[Progress]:
    """Run each experiment in turn; yield progress; return the Report."""
    run_id = run_id or new_run_id()
    account = aws.account or aws.check_credentials()
    report = Report(
        account,
        aws.region,
        run_id,
        datetime.now(timezone.utc).isoformat(timespec="seconds"),
        estimate.total(experiments, aws.region),
    )
    pending = list(experiments)
    try:
        while pending:
            exp = pending.pop(0)
            messages: list[str] = []
            ctx = Context(
                aws,
                exp,
                project=project,
                environment=environment,
                run_id=run_id,
                role_arn=role_arn,
                sleep=sleep,
                interval=interval,
                say=messages.append,
                root_length=root_length,
            )
            # In the report before its first line is shown: a Ctrl-C that
            # lands on that line leaves it there, not started.
            result = Result(exp.id, NOT_RUN, "not started: the run was interrupted")
            report.results.append(result)
            yield Progress(exp.id, f"start: {ctx.stack}" if exp.templates else "start (no stack needed)")
            began = time.monotonic()
            stop = False
            try:
                verdict = _attempt(ctx, exp)
                result.outcome, result.reason, result.evidence = verdict.outcome, verdict.reason, verdict.evidence
            except KeyboardInterrupt:
                result.outcome, result.reason = NOT_RUN, "interrupted (Ctrl-C or SIGTERM) before a verdict"
                report.interrupted = True
                raise
            finally:
                result.stacks = list(ctx.stacks)
                if ctx.stacks or ctx.objects or ctx.removals:
                    done, left, stop = ctx.cleanup()
                    result.cleaned = done
                    report.left += left
                result.seconds = round(time.monotonic() - began, 1)
            if stop:
                # Ctrl-C during the clean-up of an experiment that had ended:
                # the run stops there, as for one inside an experiment.
                raise KeyboardInterrupt
            for m in messages:
                yield Progress(exp.id, m)
            yield Progress(exp.id, f"{result.outcome}: {result.reason}")
    except KeyboardInterrupt:
        report.interrupted = True
        for exp in pending:
            report.results.append(Result(exp.id, NOT_RUN, "not started: the run was interrupted"))
    return report


def _attempt(ctx: Context, exp: Experiment) -> Verdict:
    """act, observe, decide. An error is an inconclusive verdict naming it:
    the assumption was not tested, which is not the same as failing."""
    if exp.service_role and not ctx.role_arn:
        return inconclusive(
            "not run: it needs the environment's service role (pass --params FILE of the sandbox "
            "environment whose templates/github-oidc.yaml is deployed)"
        )
    try:
        exp.act(ctx)
        responses = dict(ctx.recorded)
        responses.update(exp.observe(ctx))
    except Exception as exc:  # noqa: BLE001 - any error leaves the assumption untested, never the run half-done
        return inconclusive(
            f"the experiment could not complete: {_why(exc)}",
            error=_why(exc),
            **({k: v for k, v in ctx.recorded.items()}),
        )
    verdict = exp.verdict(responses)
    if verdict.outcome not in (HOLDS, FAILS, INCONCLUSIVE):
        raise ValueError(f"{exp.id}: verdict outcome {verdict.outcome!r}")
    return verdict


def drive(progress: Iterator[Progress], on_progress: Callable[[Progress], None] = lambda _p: None) -> Report:
    """Consume :func:`run`, handing each line on; return its Report."""
    item = None
    while True:
        try:
            item = next(progress) if item is None else progress.throw(item)
        except StopIteration as stop:
            return stop.value
        try:
            on_progress(item)
            item = None
        except KeyboardInterrupt as exc:
            # Interrupted while printing: the run is between two steps, with
            # nothing of its own pending; it records the stop and returns.
            item = exc
