"""The Target: what the endpoint a command talks to can and cannot answer.

Three kinds, told apart by what the endpoint answers, never by whether
``--endpoint-url`` is set:

* **AWS** (no endpoint URL): every capability holds.
* **the local rehearsal**: an endpoint that answers ``GET`` :data:`PATH`
  with its capability document (:data:`DOCUMENT_KIND`, the capabilities it
  has and lacks, the preflight calls it does not answer as AWS does). The
  rehearsal declares these itself (``wealist_cfn/rehearsal/compat.py``,
  ``TARGET_DOCUMENT``); nothing here imports it.
* **an unknown custom endpoint**: any other ``--endpoint-url`` (a plain
  moto or LocalStack server, a proxy), or one whose answer to that request
  is not such a document. Each capability is ``None`` (not known), and each
  place that asks says what it does then: show what the endpoint answers,
  and never quietly skip a step AWS would take.

Each capability is a named boolean on :class:`Target` (``True`` / ``False``
/ ``None`` for not known). The messages a command prints for the
rehearsal (repeat a command with ``--local``; an AWS CLI step that would
reach AWS, not the endpoint, replaced by the local way out) come from here
too, so the engine and the command line never test for local mode.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# The request the rehearsal answers: one cheap GET, made once per Aws.
PATH = "/_wealist-cfn/target"
DOCUMENT_KIND = "wealist-cfn local rehearsal"
DOCUMENT_VERSION = 1
# Bounded: a loopback endpoint that does not answer in 2 s is asked again,
# then after 4 s: 6 s (and half a second of slack per attempt) at most, then
# "unknown".
PROBE_SECONDS = 2.0
PROBE_ATTEMPTS = 2

# Every capability, and what it means when it holds (as on AWS).
CAPABILITIES: dict[str, str] = {
    "runs_under_roles": "the deploy runs under the environment's IAM roles (the service role, the plan role)",
    "rolls_back_failed_create": "a create that fails rolls back (ROLLBACK_*), so deletion protection is deferred",
    "switches_protection_by_update": "a parameter-only update that switches DeletionProtection on leaves the "
    "stack readable",
    "supports_termination_protection": "UpdateTerminationProtection is answered",
    "evaluates_alarms": "CloudWatch alarms are evaluated, so rollback triggers can act on them",
    "reports_instance_health": "instances run the services and target groups report their health",
    "proves_change_sets": "DescribeChangeSet reports Capabilities and GetTemplate honours ChangeSetName",
    "answers_drift": "DetectStackDrift answers as CloudFormation does",
    "models_deletion_protection": "DeleteStack honours an RDS instance's DeletionProtection",
    "enforces_ssm_parameter_policies": "Parameter Store applies parameter policies (expiration, notification)",
    "publishes_prices": "the Price List API (pricing:GetProducts) answers",
    "holds_real_secrets": "secrets written there are the ones running services use",
    "serves_the_internet": "what the stack exposes is reachable from the internet",
    "runs_aws_cli_steps": "an `aws ...` command line printed as a next step reaches this endpoint",
}


@dataclass(frozen=True)
class Target:
    """What one endpoint answers. Build with :func:`aws_target`,
    :func:`unknown`, :func:`from_document` or :func:`probe`."""

    kind: str  # "aws" | "rehearsal" | "unknown"
    name: str  # how output names it: "AWS", "the local endpoint", "the endpoint at URL"
    # Preflight's read calls the endpoint does not answer as AWS does:
    # "service:Operation" -> how it answers instead.
    unanswered: dict = field(default_factory=dict)
    # The review note for change details the endpoint computed itself, and
    # the mark its nested change set names carry.
    change_details_mark: str = ""
    change_details_note: str = ""
    runs_under_roles: bool | None = None
    rolls_back_failed_create: bool | None = None
    switches_protection_by_update: bool | None = None
    supports_termination_protection: bool | None = None
    evaluates_alarms: bool | None = None
    reports_instance_health: bool | None = None
    proves_change_sets: bool | None = None
    answers_drift: bool | None = None
    models_deletion_protection: bool | None = None
    enforces_ssm_parameter_policies: bool | None = None
    publishes_prices: bool | None = None
    holds_real_secrets: bool | None = None
    serves_the_internet: bool | None = None
    runs_aws_cli_steps: bool | None = None

    @property
    def answers_known(self) -> bool:
        """Whether the endpoint's answers are known (AWS, or declared by the
        endpoint): there a failed preflight check blocks."""
        return self.kind != "unknown"

    @property
    def where(self) -> str:
        return {"aws": "in AWS", "rehearsal": "on the local endpoint"}.get(self.kind, f"on {self.name}")

    def capabilities(self) -> dict[str, bool | None]:
        return {name: getattr(self, name) for name in CAPABILITIES}

    # -- messages ---------------------------------------------------------------------------------
    # An endpoint that runs no AWS CLI step gets the local way out instead,
    # and each `python build.py` command its --local.

    def message(self, text: str) -> str:
        """An error line as it applies here: an AWS CLI command (which
        would reach AWS, not this endpoint) becomes the local way out."""
        return text if self.runs_aws_cli_steps is not False else local_message(text)

    def follow_up(self, line: str) -> str:
        return line if self.runs_aws_cli_steps is not False else local_follow_up(line)

    def preflight_text(self, text: str) -> str:
        return text if self.runs_aws_cli_steps is not False else local_preflight_text(text)

    def change_set_hints(self, change_set_id: str, params, *, oneshot: bool = False) -> tuple[str, str]:
        """(execute, delete) hints for a change set left on this endpoint."""
        if self.runs_aws_cli_steps is not False:
            return (
                f"aws cloudformation execute-change-set --change-set-name {change_set_id}",
                f"aws cloudformation delete-change-set --change-set-name {change_set_id}",
            )
        return local_change_set_hints(params, oneshot=oneshot)

    def stopped_watching(self, params, *, oneshot: bool = False) -> str | None:
        """What to say when the user stops watching an operation that goes
        on here; None where the command's own line says it."""
        if self.runs_aws_cli_steps is not False:
            return None
        return local_stopped_watching(params, oneshot=oneshot)

    def mark_computed_details(self, review) -> None:
        """Add the note that says a review's details were computed by the
        endpoint, not reported by CloudFormation."""
        mark, note = self.change_details_mark, self.change_details_note
        if mark and note and any(mark in (r.nested_change_set or "") for r in review.rows) and note not in review.notes:
            review.notes.append(note)


def aws_target() -> Target:
    return Target("aws", "AWS", **{name: True for name in CAPABILITIES})


def unknown(url: str) -> Target:
    return Target("unknown", f"the endpoint at {url}")


def from_document(doc: object, url: str) -> Target:
    """The Target a capability document declares; :func:`unknown` for
    anything that is not one (another server's JSON, a wrong version)."""
    if not isinstance(doc, dict) or doc.get("kind") != DOCUMENT_KIND or doc.get("version") != DOCUMENT_VERSION:
        return unknown(url)
    caps = doc.get("capabilities") or {}
    unanswered = doc.get("unanswered") or {}
    if not isinstance(caps, dict) or not isinstance(unanswered, dict):
        return unknown(url)
    # A capability the document does not state (an older rehearsal) stays not known.
    values = {name: caps[name] for name in CAPABILITIES if isinstance(caps.get(name), bool)}
    details = doc.get("changeDetails") or {}
    return Target(
        "rehearsal",
        "the local endpoint",
        unanswered={str(k): str(v) for k, v in unanswered.items()},
        change_details_mark=str(details.get("mark", "")),
        change_details_note=str(details.get("note", "")),
        **values,
    )


def probe(url: str, *, loopback: bool, timeout: float = PROBE_SECONDS, attempts: int = PROBE_ATTEMPTS) -> Target:
    """Ask the endpoint at ``url`` for its capability document.

    Only a ``loopback`` endpoint is asked: the rehearsal binds 127.0.0.1
    alone (rehearsal/server.py), so a document from any other host is not
    the rehearsal's, and an endpoint elsewhere (AWS behind a VPC endpoint
    or a proxy) gets no request it did not ask for. The request goes direct
    (no HTTP(S)_PROXY, as the AWS clients do for loopback; aws.Aws) and
    follows no redirect. An endpoint that answers anything but the document
    (an error status, another server's JSON, bytes that are not HTTP) is
    "unknown" at once; one that does not answer in time is asked again,
    ``attempts`` times in all, each wait twice the last (a busy ``local up``
    server answers late, and taking it for an unknown endpoint would switch
    off what the rehearsal stands in for). Every attempt is bounded as a
    whole, not per socket read: a server that trickles bytes cannot hold it."""
    if not loopback:
        return unknown(url)
    parts = urlsplit(url)
    probe_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}{PATH}"
    wait = timeout
    for _ in range(max(1, attempts)):
        answer = _ask_once(probe_url, wait)
        if answer is not _NO_ANSWER:
            break
        wait *= 2
    else:
        return unknown(url)
    if answer is None:
        return unknown(url)
    try:
        return from_document(json.loads(answer), url)
    except ValueError:
        return unknown(url)


# A slow answer: ask again (probe); None: answered, but not with the document.
_NO_ANSWER = object()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 3xx itself is the answer: not the document


def _ask_once(probe_url: str, seconds: float):
    """The body of one GET (at most 256 KiB), None for an answer that is not
    a 200, or ``_NO_ANSWER`` when the whole exchange took longer than
    ``seconds`` (a worker thread does it; the caller waits that long and no
    longer)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    result: list = [_NO_ANSWER]

    def ask() -> None:
        try:
            with opener.open(
                urllib.request.Request(probe_url, headers={"Accept": "application/json"}), timeout=seconds
            ) as resp:
                result[0] = resp.read(256 * 1024) if resp.status == 200 else None
        except TimeoutError:  # socket.timeout is TimeoutError since Python 3.10
            pass  # stays _NO_ANSWER: asked again
        except urllib.error.URLError as exc:
            result[0] = _NO_ANSWER if isinstance(exc.reason, TimeoutError) else None
        except (OSError, ValueError, http.client.HTTPException):
            # Refused or reset, a malformed URL, or bytes that are not HTTP
            # (BadStatusLine, LineTooLong, InvalidURL: http.client raises
            # these through urllib unwrapped).
            result[0] = None

    worker = threading.Thread(target=ask, name="target-probe", daemon=True)
    worker.start()
    worker.join(seconds + 0.5)
    return _NO_ANSWER if worker.is_alive() else result[0]


# -- the rehearsal's wording ------------------------------------------------------------------------

LOCAL_START_OVER = "`python build.py local down` and `local up` (start over: the local endpoint holds nothing on disk)"
_AWS_CLI_ANYWHERE = re.compile(r"(?:\(or: )?aws [a-z0-9-]+ [a-z0-9-]+(?: [^;\n]*?)?(?=\)|;|$)\)?", re.M)
_BUILD_PY = re.compile(r"`(python build\.py [^`]*)`")
_AWS_CLI = re.compile(r":? aws [a-z0-9-]+ [a-z0-9-]+ .*$", re.S)
# A preflight fix that runs an AWS CLI command, at its start or within the sentence.
_AWS_FIX = re.compile(r"^(\s*)fix: (?:.*\W)?aws [a-z0-9-]+ [a-z][a-z0-9-]*.*$", re.M)
_OUR_FIX = re.compile(r"^(\s*fix: python build\.py (?:(?!--local).)*)$", re.M)


def local_message(text: str) -> str:
    return _AWS_CLI_ANYWHERE.sub(LOCAL_START_OVER, text)


def local_follow_up(line: str) -> str:
    """A follow-up hint as it applies on the local endpoint: each
    ``python build.py`` command gets ``--local``; an AWS CLI step (which
    would reach AWS) is replaced by what it means locally."""
    line = _BUILD_PY.sub(lambda m: f"`{m.group(1)} --local`" if "--local" not in m.group(1) else m.group(0), line)
    if _AWS_CLI.search(line):
        line = _AWS_CLI.sub(
            "; on AWS an AWS CLI step applies it, and the local endpoint runs no database or cache "
            "that could take it: nothing to do locally",
            line,
        )
    return line


def local_preflight_text(text: str) -> str:
    """Preflight's text for the local endpoint: a fix that is an AWS CLI
    command would reach AWS, not the endpoint; ours gain ``--local``."""
    text = _AWS_FIX.sub(r"\1fix: none on the local endpoint (an AWS CLI command: run preflight against AWS)", text)
    return _OUR_FIX.sub(r"\1 --local", text)


def local_command(name: str, params, *extra: str) -> str:
    """The ``python build.py`` line that repeats ``name`` on the local endpoint."""
    given = f" --params {params}" if params else ""
    return f"python build.py {name}{given}{''.join(' ' + e for e in extra)} --local"


def local_change_set_hints(params, *, oneshot: bool) -> tuple[str, str]:
    if oneshot:
        gone = (
            "nothing: the one-shot endpoint stopped with this command; to rehearse an update run "
            "`python build.py local up`, then " + local_command("deploy", params, "--yes")
        )
        return gone, "nothing to delete: the one-shot endpoint and everything it held are gone"
    return (
        local_command("deploy", params, "--yes") + " (a new change set with the same content)",
        "`python build.py local down` (drops it with everything the local endpoint holds)",
    )


def local_stopped_watching(params, *, oneshot: bool) -> str:
    if oneshot:
        return "\nstopped; the one-shot local endpoint stopped with this command and everything it held is gone"
    return "\nstopped watching; the local endpoint finishes the operation. See the stack with:\n  " + local_command(
        "status", params
    )
