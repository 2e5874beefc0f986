"""A persistent local AWS endpoint for rehearsals: ``python build.py local
up | down | status`` (:mod:`.cli`, :mod:`.control`), the server process
(:mod:`.server`) with the compatibility layer, the local change-set model
(:mod:`.changemodel`) and the local instance-refresh answer
(:mod:`.refresh`), and the one helper every command uses for ``--local``.

To give a command ``--local``: call :func:`add_option` on its parser, and
:func:`use` first thing in its handler (after its input is validated). ``use``
points ``args.endpoint_url`` at the running endpoint and sets the region and
dummy credentials in the environment, so every boto3 client the command
makes reaches the local endpoint and nothing else.
"""

from __future__ import annotations

import argparse
import os
import re

from wealist_cfn.errors import EXIT_USAGE, CommandError
from wealist_cfn.rehearsal import control
from wealist_cfn.rehearsal.changemodel import LOCAL_MARK

NOT_RUNNING = "no local endpoint is running: start one with `python build.py local up`"
# Fixed dummy credentials: a rehearsal never needs, and never picks up, real ones.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
LOCAL_DETAILS_NOTE = ("change details are local: moto reports no nested change sets, replacement or property "
                      "details, so they were computed from the templates and the resource schemas' "
                      "createOnlyProperties (AWS's own review may differ where replacement depends on a value)")


def add_option(parser: argparse.ArgumentParser, *, oneshot: bool = False) -> None:
    """The rehearsal's own option of a command: ``--local-oneshot`` when
    ``oneshot``. ``--local`` is one of the options every command shares
    (``cliopts.shared("local")``)."""
    if oneshot:
        parser.add_argument("--local-oneshot", action="store_true",
                            help="start a throwaway local endpoint in this process and stop it on exit (a first "
                                 "create only: nothing is kept)")


def use(args: argparse.Namespace, region: str | None = None) -> control.Endpoint | None:
    """For ``--local``: the running endpoint, with ``args.endpoint_url``
    set to it and the environment set to reach it (region, dummy
    credentials, ``AWS_ENDPOINT_URL``, no profile or config files). None
    without ``--local``. A one-line :class:`CommandError` (exit 2) when no
    endpoint runs, or with ``--endpoint-url`` / ``--profile``."""
    if not getattr(args, "local", False):
        return None
    if getattr(args, "endpoint_url", None):
        raise CommandError("--local uses the local endpoint; leave out --endpoint-url", EXIT_USAGE)
    if getattr(args, "profile", None):
        raise CommandError("--local uses fixed local credentials; leave out --profile", EXIT_USAGE)
    ep = control.running()
    if ep is None:
        raise CommandError(NOT_RUNNING, EXIT_USAGE)
    args.endpoint_url = ep.url
    environment(ep.url, region)
    return ep


def environment(url: str, region: str | None = None) -> None:
    """Point every AWS SDK client of this process at ``url`` with dummy credentials."""
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(key, None)
    os.environ.update(CREDENTIALS)
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_ENDPOINT_URL"] = url
    if region:
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region


def command(name: str, args: argparse.Namespace, *extra: str) -> str:
    """The ``python build.py`` line that repeats ``name`` on the local endpoint."""
    params = f" --params {args.params}" if getattr(args, "params", None) else ""
    return f"python build.py {name}{params}{''.join(' ' + e for e in extra)} --local"


def mark_local_details(review) -> None:
    """Add the note that says a review's details come from the local model."""
    if any(LOCAL_MARK in (r.nested_change_set or "") for r in review.rows) and LOCAL_DETAILS_NOTE not in review.notes:
        review.notes.append(LOCAL_DETAILS_NOTE)


def change_set_hints(args: argparse.Namespace) -> tuple[str, str]:
    """(execute, delete) hints for a change set left on a local endpoint:
    only ``python build.py`` commands that work there."""
    if getattr(args, "local_oneshot", False):
        gone = ("nothing: the one-shot endpoint stopped with this command; to rehearse an update run "
                "`python build.py local up`, then " + command("deploy", args, "--yes"))
        return gone, "nothing to delete: the one-shot endpoint and everything it held are gone"
    return (command("deploy", args, "--yes") + " (a new change set with the same content)",
            "`python build.py local down` (drops it with everything the local endpoint holds)")


def stopped_watching(args: argparse.Namespace) -> str:
    if getattr(args, "local_oneshot", False):
        return "\nstopped; the one-shot local endpoint stopped with this command and everything it held is gone"
    return ("\nstopped watching; the local endpoint finishes the operation. See the stack with:\n  "
            + command("status", args))


_BUILD_PY = re.compile(r"`(python build\.py [^`]*)`")
_AWS_CLI = re.compile(r":? aws [a-z0-9-]+ [a-z0-9-]+ .*$", re.S)


def local_follow_up(line: str) -> str:
    """A follow-up hint as it applies on the local endpoint: each
    ``python build.py`` command gets ``--local``; an AWS CLI step (which
    would reach AWS) is replaced by what it means locally."""
    line = _BUILD_PY.sub(lambda m: f"`{m.group(1)} --local`" if "--local" not in m.group(1) else m.group(0), line)
    if _AWS_CLI.search(line):
        line = _AWS_CLI.sub("; on AWS an AWS CLI step applies it, and the local endpoint runs no database or cache "
                            "that could take it: nothing to do locally", line)
    return line


_AWS_CLI_ANYWHERE = re.compile(r"(?:\(or: )?aws [a-z0-9-]+ [a-z0-9-]+(?: [^;\n]*?)?(?=\)|;|$)\)?", re.M)
LOCAL_START_OVER = "`python build.py local down` and `local up` (start over: the local endpoint holds nothing on disk)"


def local_message(text: str) -> str:
    """An error line as it applies on the local endpoint: an AWS CLI command
    (which would reach AWS, not the endpoint) becomes the local way out."""
    return _AWS_CLI_ANYWHERE.sub(LOCAL_START_OVER, text)
