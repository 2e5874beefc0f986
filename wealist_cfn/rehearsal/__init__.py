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

from wealist_cfn.errors import EXIT_USAGE, CommandError
from wealist_cfn.rehearsal import control

NOT_RUNNING = "no local endpoint is running: start one with `python build.py local up`"
# Fixed dummy credentials: a rehearsal never needs, and never picks up, real ones.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


def add_option(parser: argparse.ArgumentParser, *, oneshot: bool = False) -> None:
    """The rehearsal's own option of a command: ``--local-oneshot`` when
    ``oneshot``. ``--local`` is one of the options every command shares
    (``cliopts.shared("local")``)."""
    if oneshot:
        parser.add_argument(
            "--local-oneshot",
            action="store_true",
            help="start a throwaway local endpoint in this process and stop it on exit (a first "
            "create only: nothing is kept)",
        )


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
