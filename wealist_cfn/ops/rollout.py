"""Rollout: replace the instances of an Auto Scaling group with an instance
refresh, with no loss of capacity, and follow it to its end.

New instances boot with the current launch template and the current release
parameters (image tags), so a rollout is how a new image or a rotated secret
reaches the servers. The defaults keep every healthy instance serving while
replacements start: MinHealthyPercentage 100 and MaxHealthyPercentage 200
launch each new instance before an old one is terminated, and an instance
counts as healthy only after the warm-up.

:func:`start` refuses cleanly (:class:`RefreshInProgress`) when the group
already has a refresh running; :func:`follow` polls DescribeInstanceRefreshes
and returns the final :class:`RefreshState`, or raises
:class:`RefreshTimedOut` naming what still runs and how to follow or stop it.
:func:`release` sets released image tags, rolls out, and on failure or
timeout puts the previous tags back and rolls out again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from botocore.exceptions import ClientError

from wealist_cfn.core import bootbudget

from ..aws import error_code, error_message
from ..config import Config
from ..errors import EXIT_REFUSED, EXIT_USAGE, CommandError
from . import releasestate

SUCCESS = "Successful"
# The warm-up a refresh waits on a new instance before it counts it healthy
# and moves on, while the group is on EC2 checks. EC2 checks pass as soon as
# the instance runs, so with the group's DefaultInstanceWarmup (180 s) a
# refresh could replace the next old instance before the new one's services
# answer ("Set the default instance warmup", Auto Scaling user guide: the
# warm-up is the time until a new instance is considered to contribute).
# The measured cold boot (docs/operations.md, "How long a boot takes") is
# not enough: a boot that gives up marks itself Unhealthy only once its hold
# ends (bootbudget.GIVE_UP_MARK_SECONDS after InService), and a warm-up that
# ends before that counts the failed instance healthy.
MEASURED_BOOT_SECONDS = 240
EC2_CHECK_WARMUP = bootbudget.EC2_CHECK_WARMUP_SECONDS
# A refresh in these states is over and did not do what was asked.
FAILURE_STATES = ("Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed")
GROUPS = ("backend", "monitoring")


class RolloutError(CommandError, RuntimeError):
    """The refresh could not be started or followed (exit 1; bad preferences:
    2). ``str()`` is the line to print."""


class RefreshInProgress(RolloutError):
    """Another instance refresh is running on the group; nothing was started (exit 3)."""

    exit_code = EXIT_REFUSED

    def __init__(self, group: str, running: "RefreshState | None"):
        self.group, self.running = group, running
        what = f" ({running.refresh_id}, {running.status}, {running.percentage}% done)" if running else ""
        super().__init__(
            f"an instance refresh is already running on {group}{what}; wait for it, or cancel it "
            f"with: aws autoscaling cancel-instance-refresh --auto-scaling-group-name {group}"
        )


@dataclass(frozen=True)
class Preferences:
    min_healthy: int = 100
    max_healthy: int = 200
    warmup: int | None = None  # seconds; None: the group's DefaultInstanceWarmup
    skip_matching: bool = False  # False: a release with an unchanged template still replaces

    def __post_init__(self) -> None:
        # Checked once, when made: start() never sends what the API refuses or what replaces nothing.
        if not 0 <= self.min_healthy <= 100:
            raise RolloutError("--min-healthy must be between 0 and 100", EXIT_USAGE)
        if not 100 <= self.max_healthy <= 200 or self.max_healthy - self.min_healthy > 100:
            raise RolloutError(
                "--max-healthy must be between 100 and 200, and at most 100 above --min-healthy", EXIT_USAGE
            )
        if self.min_healthy == 100 and self.max_healthy == 100:
            raise RolloutError(
                "--min-healthy 100 needs --max-healthy above 100, or no instance can be replaced", EXIT_USAGE
            )

    def to_api(self) -> dict:
        prefs = {
            "MinHealthyPercentage": self.min_healthy,
            "MaxHealthyPercentage": self.max_healthy,
            "SkipMatching": self.skip_matching,
        }
        if self.warmup is not None:
            prefs["InstanceWarmup"] = self.warmup
        return prefs


@dataclass(frozen=True)
class RefreshState:
    refresh_id: str
    status: str
    percentage: int
    instances_to_update: int | None
    reason: str

    @property
    def done(self) -> bool:
        return self.status == SUCCESS or self.status in FAILURE_STATES

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCESS

    @classmethod
    def from_api(cls, r: dict) -> "RefreshState":
        return cls(
            refresh_id=r["InstanceRefreshId"],
            status=r["Status"],
            percentage=int(r.get("PercentageComplete") or 0),
            instances_to_update=r.get("InstancesToUpdate"),
            reason=r.get("StatusReason", ""),
        )


def group_name(cfg: Config, group: str = "backend") -> str:
    return f"{cfg.name_prefix}-{group}-asg"


def _error(exc: ClientError) -> RolloutError:
    return RolloutError(f"{exc.operation_name}: {error_code(exc)}: {error_message(exc)}")


def running_refresh(autoscaling, group: str) -> RefreshState | None:
    """The group's unfinished refresh, if any (the newest comes first)."""
    resp = autoscaling.describe_instance_refreshes(AutoScalingGroupName=group, MaxRecords=5)
    for r in resp.get("InstanceRefreshes", []):
        state = RefreshState.from_api(r)
        if not state.done:
            return state
    return None


def start(autoscaling, group: str, prefs: Preferences = Preferences()) -> str:
    """Start a rolling instance refresh; return its id."""
    try:
        resp = autoscaling.start_instance_refresh(
            AutoScalingGroupName=group, Strategy="Rolling", Preferences=prefs.to_api()
        )
    except ClientError as exc:
        if error_code(exc) == "InstanceRefreshInProgress":
            try:
                running = running_refresh(autoscaling, group)
            except ClientError:
                running = None
            raise RefreshInProgress(group, running) from None
        raise _error(exc) from None
    return resp["InstanceRefreshId"]


def follow(
    autoscaling,
    group: str,
    refresh_id: str,
    *,
    poll_seconds: float = 15.0,
    timeout_seconds: float = 3600.0,
    on_progress: Callable[[RefreshState], None] = lambda s: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> RefreshState:
    """Poll until the refresh ends; ``on_progress`` sees every change of status or percentage."""
    deadline = clock() + timeout_seconds
    last = None
    while True:
        try:
            resp = autoscaling.describe_instance_refreshes(AutoScalingGroupName=group, InstanceRefreshIds=[refresh_id])
        except ClientError as exc:
            raise _error(exc) from None
        found = resp.get("InstanceRefreshes", [])
        if not found:
            raise RolloutError(f"instance refresh {refresh_id} of {group} not found")
        state = RefreshState.from_api(found[0])
        if last is None or (state.status, state.percentage) != (last.status, last.percentage):
            on_progress(state)
        last = state
        if state.done:
            return state
        if clock() >= deadline:
            raise RefreshTimedOut(group, state, timeout_seconds)
        sleep(poll_seconds)


class RefreshTimedOut(RolloutError):
    """Following gave up; the refresh itself goes on in AWS."""

    def __init__(self, group: str, state: RefreshState, timeout_seconds: float):
        self.group, self.state = group, state
        left = "" if state.instances_to_update is None else f", {state.instances_to_update} instances still to replace"
        reason = f" ({state.reason})" if state.reason else ""
        super().__init__(
            f"instance refresh {state.refresh_id} of {group} still {state.status} at {state.percentage}%{left} "
            f"after {timeout_seconds:.0f}s{reason}. It goes on in AWS, and a new rollout of {group} is refused "
            f"until it ends. Follow it: aws autoscaling describe-instance-refreshes --auto-scaling-group-name "
            f"{group} --instance-refresh-ids {state.refresh_id}. Stop it (instances already replaced stay): "
            f"aws autoscaling cancel-instance-refresh --auto-scaling-group-name {group}. Then run the rollout "
            f"again to finish the replacement."
        )


def cancel_and_wait(
    autoscaling,
    group: str,
    *,
    poll_seconds: float = 15.0,
    timeout_seconds: float = 1800.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> RefreshState | None:
    """Cancel the group's running refresh, if any, and wait until it has
    stopped (Cancelling -> Cancelled); the state it ended in, or None."""
    running = running_refresh(autoscaling, group)
    if running is None:
        return None
    try:
        autoscaling.cancel_instance_refresh(AutoScalingGroupName=group)
    except ClientError as exc:
        # It ended between the two calls.
        if error_code(exc) != "ActiveInstanceRefreshNotFound":
            raise _error(exc) from None
    return follow(
        autoscaling,
        group,
        running.refresh_id,
        poll_seconds=poll_seconds,
        timeout_seconds=timeout_seconds,
        sleep=sleep,
        clock=clock,
    )


# -- releasing an image tag ------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetCheck:
    """For a group on EC2 checks, where Auto Scaling verifies nothing about
    the services: after the refresh, the released services' target groups
    must report every InService instance healthy within ``timeout_seconds``
    (the grace period), or the release failed and is rolled back."""

    elbv2: object
    target_groups: tuple[str, ...]
    timeout_seconds: float


def wait_healthy(
    autoscaling,
    group: str,
    check: TargetCheck,
    *,
    poll_seconds: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> list[str]:
    """Poll DescribeTargetHealth until every InService instance is healthy
    in every checked target group; what is still not, at the deadline."""
    deadline = clock() + check.timeout_seconds
    while True:
        try:
            problems = releasestate.target_problems(autoscaling, check.elbv2, group, check.target_groups)
        except ClientError as exc:
            raise _error(exc) from None
        except LookupError as exc:
            raise RolloutError(str(exc)) from None
        if not problems or clock() >= deadline:
            return problems
        sleep(poll_seconds)


@dataclass
class Release:
    """What a release did: the tags it set and found, how the refresh
    ended, and whether the previous tags were put back and rolled out."""

    group: str
    tags: dict[str, str]  # parameter name -> the released tag
    previous: dict[str, str]  # parameter name -> the tag it replaced
    refresh: RefreshState | None = None
    error: str = ""  # why the release failed (a timeout, a failed refresh)
    restored: bool = False
    rollback: RefreshState | None = None
    rollback_error: str = ""
    unhealthy: list[str] = field(default_factory=list)  # what the target check found after the refresh

    @property
    def succeeded(self) -> bool:
        return self.refresh is not None and self.refresh.succeeded and not self.unhealthy and not self.error


def release(
    ssm,
    autoscaling,
    group: str,
    tags: dict[str, str],
    *,
    prefs: Preferences = Preferences(),
    targets: TargetCheck | None = None,
    poll_seconds: float = 15.0,
    timeout_seconds: float = 3600.0,
    on_progress: Callable[[str, RefreshState], None] = lambda what, s: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Release:
    """Set the released image tags, replace the group's instances, and when
    that does not succeed put the previous tags back and replace them again,
    so no later launch boots a failed image.

    Nothing is written while another refresh runs on the group
    (:class:`RefreshInProgress`) or when a tag parameter does not exist.

    ``targets`` (a group on EC2 checks): a refresh that succeeds proves only
    that the new instances run, so the release succeeds only once the
    released services' target groups report every InService instance
    healthy (:func:`wait_healthy`); otherwise it fails and is rolled back
    like a failed refresh."""
    previous = {}
    for name in tags:
        try:
            previous[name] = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError as exc:
            if error_code(exc) == "ParameterNotFound":
                raise RolloutError(f"{name} does not exist: run build.py bootstrap first") from None
            raise _error(exc) from None
    try:
        running = running_refresh(autoscaling, group)
    except ClientError as exc:
        raise _error(exc) from None
    if running is not None:
        raise RefreshInProgress(group, running)

    result = Release(group, dict(tags), previous)
    written = []
    try:
        for name, tag in tags.items():
            ssm.put_parameter(Name=name, Value=tag, Type="String", Overwrite=True)
            written.append(name)
    except ClientError as exc:
        for name in written:
            ssm.put_parameter(Name=name, Value=previous[name], Type="String", Overwrite=True)
        raise _error(exc) from None
    follow_kw = dict(poll_seconds=poll_seconds, timeout_seconds=timeout_seconds, sleep=sleep, clock=clock)
    try:
        refresh_id = start(autoscaling, group, prefs)
        result.refresh = follow(
            autoscaling, group, refresh_id, on_progress=lambda st: on_progress("release", st), **follow_kw
        )
        if result.refresh.succeeded and targets is not None:
            result.unhealthy = wait_healthy(
                autoscaling, group, targets, poll_seconds=poll_seconds, sleep=sleep, clock=clock
            )
            if result.unhealthy:
                result.error = (
                    f"the refresh succeeded, but after {targets.timeout_seconds:.0f}s "
                    f"{'; '.join(result.unhealthy)} (the group is on EC2 checks, which do not "
                    f"look at the services)"
                )
        if result.succeeded:
            return result
        if not result.error:
            result.error = f"the refresh ended {result.refresh.status}: {result.refresh.reason or 'no reason given'}"
    except RefreshTimedOut as exc:
        result.refresh, result.error = exc.state, str(exc)
    except RolloutError as exc:
        result.error = str(exc)

    # Put the previous tags back first: whatever happens next, new launches
    # boot the image that ran before.
    for name, tag in previous.items():
        try:
            ssm.put_parameter(Name=name, Value=tag, Type="String", Overwrite=True)
        except ClientError as exc:
            raise RolloutError(
                f"{result.error}; restoring {name} failed too ({error_code(exc)}: {error_message(exc)}): new "
                f"launches boot the failed tag until you run: aws ssm put-parameter --name {name} --value {tag} "
                f"--type String --overwrite"
            ) from None
    result.restored = True
    try:
        cancel_and_wait(autoscaling, group, **follow_kw)
        rollback_id = start(autoscaling, group, prefs)
        result.rollback = follow(
            autoscaling, group, rollback_id, on_progress=lambda st: on_progress("rollback", st), **follow_kw
        )
    except RolloutError as exc:
        result.rollback_error = str(exc)
    except ClientError as exc:
        result.rollback_error = str(_error(exc))
    return result
