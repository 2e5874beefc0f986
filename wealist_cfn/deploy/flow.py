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

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import botocore.exceptions

from .. import cfnmodel
from .. import config as config_mod
from ..aws import Aws, error_code, error_message
from ..errors import EXIT_FAILED, EXIT_USAGE, CommandError
from ..parameters import PARAMS_BY_NAME
from ..settings import TEMPLATES_DIR
from . import changeset, events, policy, stackstate
from . import package as package_mod
from . import review as review_mod
from . import templates as tpl


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
    templates_dir: Path = TEMPLATES_DIR
    sleep: Callable[[float], None] = time.sleep
    poll_interval: float = 5.0
    change_set_interval: float = 2.0
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

    @property
    def total_resources(self) -> int:
        """Resources the operation touches: one row each in the review."""
        return len(self.review.rows)


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
        self.bucket: str | None = None
        self.packaged: package_mod.Packaged | None = None

    # -- packaging ---------------------------------------------------------------------------

    def package(self, *, upload_root: bool = False) -> Iterator[Info]:
        account = self.aws.account or self.aws.check_credentials()
        template_set = tpl.read(self.opts.templates_dir)
        bucket = self.opts.bucket or package_mod.default_bucket(self.config.project, account, self.region)
        try:
            created = package_mod.ensure_bucket(self.aws, bucket, create=self.opts.bucket is None)
            if created:
                yield Info(f"created S3 bucket {bucket} for templates (default encryption, versioning, "
                           f"all public access blocked)")
            prefix = package_mod.key_prefix(self.config.name_prefix, self.opts.artifact_area)
            packaged = package_mod.package(self.aws, template_set, bucket, prefix=prefix)
            if upload_root and packaged.root_url is None:
                packaged.root_url = package_mod.upload_root(self.aws, packaged, prefix=prefix)
        except botocore.exceptions.ClientError as exc:
            raise client_error(exc, "packaging") from None
        self.bucket = bucket
        for o in packaged.objects:
            if o.replaced:
                yield Info(f"warning: s3://{bucket}/{o.key} held other bytes than {o.name} (someone else wrote "
                           f"to the bucket); uploaded {o.name} again")
        if packaged.unpinned:
            yield Info(f"warning: s3://{bucket} reported no object versions (versioning off?): the TemplateURLs "
                       f"are not pinned to the bytes checked here")
        skipped = len(packaged.objects) - packaged.uploads
        yield Info(f"packaged {len(packaged.objects)} templates to s3://{bucket}: {packaged.uploads} uploaded, "
                   f"{skipped} already there; root "
                   f"{'inline' if packaged.root_body is not None and not upload_root else packaged.root_url}")
        self.packaged = packaged

    # -- phase 1 -----------------------------------------------------------------------------

    def prepare(self) -> Iterator[Info | stackstate.Waiting]:
        o = self.opts
        yield from self.package()
        packaged = self.packaged
        try:
            state = None
            for item in stackstate.settle(self.aws, o.stack_name, sleep=o.sleep, interval=o.poll_interval):
                if isinstance(item, stackstate.Waiting):
                    yield item
                else:
                    state = item
            if stackstate.check_deployable(self.aws, state, replace_failed=o.replace_failed) == "replace":
                yield Info(f"deleting {o.stack_name} (ROLLBACK_COMPLETE, nothing in it was kept) to create it again")
                yield from stackstate.delete_failed(self.aws, state, sleep=o.sleep, interval=o.poll_interval)
                state = stackstate.StackState(o.stack_name, None)
            cs_type = state.change_set_type
            tags = [{"Key": "Project", "Value": self.config.project},
                    {"Key": "Environment", "Value": self.config.environment},
                    {"Key": "ManagedBy", "Value": "wealist-cfn"}]
            role_arn = self.service_role_arn()
            if role_arn:
                yield Info(f"CloudFormation acts as {role_arn}")
            cs = changeset.create(
                self.aws, stack_name=o.stack_name, change_set_type=cs_type, role_arn=role_arn,
                parameters=self.config.cfn_parameters(), tags=tags, template_body=packaged.root_body,
                template_url=packaged.root_url, commit=changeset.git_commit(), sleep=o.sleep,
                interval=o.change_set_interval)
            if cs.no_changes:
                changeset.delete(self.aws, cs)
                self.plan = Plan(state, cs, review_mod.Review(o.stack_name, cs_type), no_changes=True)
                return
            review = changeset.describe(self.aws, cs, o.stack_name, sleep=o.sleep, interval=o.change_set_interval)
        except botocore.exceptions.ClientError as exc:
            raise client_error(exc, "preparing the change set") from None
        if cs_type == "UPDATE":
            review.parameters = review_mod.parameter_changes(state.parameters, self.config.values)
        if cs_type == "CREATE" and not any(r.nested_change_set for r in review.rows) and \
                (not review.rows or packaged.child_files):
            # An endpoint that lists no nested change sets for a create (moto)
            # still creates everything: show what the templates declare.
            review.rows = _rows_from_templates(packaged, self.config)
            review.notes.append("the endpoint reported no nested change sets for this create; the rows inside "
                                "nested stacks are read from the templates")
        elif cs_type == "UPDATE" and review.rows and not any(r.nested_change_set for r in review.rows) and \
                any(r.resource_type == cfnmodel.NESTED and r.action == "Modify" for r in review.rows):
            review.notes.append("the endpoint reported no nested change sets: changes inside nested stacks "
                                "are not listed")
        review_mod.analyse(review)
        if cs_type == "UPDATE" and changeset.is_empty(review):
            changeset.delete(self.aws, cs)
            self.plan = Plan(state, cs, review, no_changes=True)
            return
        self.plan = Plan(state, cs, review)

    def service_role_arn(self) -> str | None:
        """The RoleARN to hand CloudFormation: the one given, or by default
        the environment's service role (templates/github-oidc.yaml), which
        must exist. A local endpoint gets none unless one is given."""
        o = self.opts
        if o.role_arn != SERVICE_ROLE_DEFAULT:
            return o.role_arn or None
        if o.endpoint_url:
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
                    f"first (docs/deploy.md, 'The service role'), or name another with --role-arn", EXIT_USAGE,
                ) from None
            # Not allowed to look: CloudFormation will say whether it can use it.
        return arn

    # -- phase 2 -----------------------------------------------------------------------------

    def discard(self) -> None:
        """Delete the planned change set (a review that is not meant to run)."""
        changeset.delete(self.aws, self.plan.change_set)

    def execute(self) -> Iterator[Info | events.StackEvent | events.Progress | events.Final | Result]:
        plan, o, aws = self.plan, self.opts, self.aws
        assert plan and not plan.no_changes
        stack_id = plan.change_set.stack_id or plan.state.stack_id
        relaxed: list[str] = []
        try:
            if plan.change_set.change_set_type == "UPDATE":
                fixed = policy.protect(aws, stack_id)
                if fixed:
                    yield Info(f"stack policy set on {', '.join(p or 'root' for p in fixed)} (denies replacing "
                               f"or deleting stateful resources)")
                if o.allow_replace and plan.review.guarded:
                    paths = {_stack_path(c.where) for c in plan.review.guarded}
                    relaxed = policy.relax(aws, stack_id, paths)
                    yield Info(f"--allow-replace: stack policy relaxed on {', '.join(p or 'root' for p in relaxed)} "
                               f"for this update only")
            seen, since = events.Watcher.mark(aws, stack_id)
            token = f"wealist-{uuid.uuid4()}"
            aws.cfn.execute_change_set(ChangeSetName=plan.change_set.id, ClientRequestToken=token)
            yield Info(f"executing change set {plan.change_set.name}")
            watcher = events.Watcher(aws, stack_id, total=plan.total_resources, token=token, seen=seen,
                                     sleep=o.sleep, interval=o.poll_interval)
            final = None
            for item in watcher.watch():
                if isinstance(item, events.Final):
                    final = item
                yield item
            for item in finish(aws, stack_id, final, new=plan.change_set.change_set_type == "CREATE"):
                if isinstance(item, Result):
                    self.result = item
                yield item
        except botocore.exceptions.ClientError as exc:
            raise client_error(exc, "executing the change set") from None


def finish(aws: Aws, stack_id: str, final: events.Final, *, new: bool) -> Iterator[Info | Result]:
    """After a final state: protective policies back on (also after a
    rollback: a relaxed policy must not outlive the operation), termination
    protection on a new stack, then the :class:`Result` with the outputs."""
    if not final.status.startswith("DELETE") and final.status != "ROLLBACK_COMPLETE":
        fixed = policy.protect(aws, stack_id)
        if fixed:
            yield Info(f"stack policy set on {', '.join(p or 'root' for p in fixed)} (denies replacing or "
                       f"deleting stateful resources)")
    if new and final.ok:
        try:
            aws.cfn.update_termination_protection(StackName=stack_id, EnableTerminationProtection=True)
            yield Info("termination protection enabled on the new stack")
        except Exception as exc:  # noqa: BLE001 - moto's 500 is not a ClientError
            if not aws.endpoint_url:
                raise
            # moto answers HTTP 500 (not implemented); AWS has it.
            yield Info(f"termination protection: not supported by the endpoint ({type(exc).__name__})")
    st = stackstate.describe(aws, stack_id)
    yield Result(final, st.outputs if final.ok else [], stack_id)


def _stack_path(where: str) -> str:
    """The stack that holds the resource at ``where`` ("A/B/Res" -> "A/B")."""
    return where.rsplit("/", 1)[0] if "/" in where else ""


def _rows_from_templates(packaged: package_mod.Packaged, config) -> list[review_mod.Row]:
    """What the templates create for these parameters: Conditions evaluated,
    so a cost-mode review does not list the multi-AZ NAT gateways."""
    resolved = cfnmodel.resolve_set(packaged.templates, config.values, root_name=packaged.root_name,
                                    region=config.region, child_files=packaged.child_files)
    return [review_mod.Row(path="" if path == "Root" else path, action="Add", logical_id=lid,
                           resource_type=res.get("Type", "?"))
            for path, stack in resolved.items() for lid, res in stack.resources.items()]


def watch(aws: Aws, stack_name: str, *, sleep=time.sleep, interval: float = 5.0
          ) -> Iterator[Info | events.StackEvent | events.Progress | events.Final]:
    """``status``: follow the stack's current (or last) operation to its end,
    then put the protective stack policies back."""
    state = stackstate.describe(aws, stack_name)
    if state.status is None:
        raise CommandError(f"stack {stack_name} does not exist", EXIT_USAGE)
    evs = aws.cfn.describe_stack_events(StackName=state.stack_id).get("StackEvents", [])
    start = next((e for e in evs if e.get("LogicalResourceId") == stack_name and
                  e.get("ResourceType") == cfnmodel.NESTED and e.get("ResourceStatus", "").endswith("_IN_PROGRESS")
                  and e.get("PhysicalResourceId") == state.stack_id), None)
    w = events.Watcher(aws, state.stack_id, since=start["Timestamp"] if start else None, sleep=sleep,
                       interval=interval)
    final = None
    for item in w.watch():
        if isinstance(item, events.Final):
            final = item
        yield item
    yield from finish(aws, state.stack_id, final, new=False)
