"""SIGTERM as Ctrl-C for the commands that start or follow a stack operation.

When a GitHub Actions job is cancelled (or times out), the runner sends
SIGINT to the step's entry process, then SIGTERM if it has not exited within
7500 ms, then ends the process tree 2500 ms later ("Workflow cancellation
reference", docs.github.com/en/actions/reference/workflow-cancellation-reference).
Python's default for SIGTERM ends the process at once: no block saying what
runs in AWS and what was put back. Here SIGTERM raises KeyboardInterrupt, so
it takes the same path a Ctrl-C takes, and every way to stop ends with the
same truth.

A SIGTERM that follows an interrupt already being handled (the runner's
SIGINT, then its SIGTERM 7.5 s later) is ignored, so the block is written
whole; a second Ctrl-C from a person still stops at once.

The runner signals the step's process alone, not its process group
(actions/runner, src/Runner.Sdk/ProcessInvoker.cs). That process is the bash
running the step's script (``bash -e {0}``, a file), and bash passes neither
signal to a child it waits for, nor execs a script's last command by itself
(it does so only for a one-command ``bash -c``): without ``exec`` python never
sees the signal and goes on running, orphaned, while the ``if: always()``
status step runs beside it. The workflows therefore ``exec`` every deploy and
rollout (tests/ops/test_workflows.py checks it, and that the signal arrives).
The ``status`` step afterwards repairs what a killed deploy left.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


class _Handler:
    def __init__(self):
        self.interrupted = False

    def sigint(self, signum, frame):  # a signal handler's signature
        self.interrupted = True
        raise KeyboardInterrupt

    def sigterm(self, signum, frame):
        if self.interrupted:
            return  # already stopping: let the block finish
        self.interrupted = True
        raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside: SIGTERM raises KeyboardInterrupt in the main thread, once. The
    previous handlers come back on the way out. Signal handlers can only be
    set from the main thread; elsewhere nothing is changed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    h = _Handler()
    previous = signal.signal(signal.SIGTERM, h.sigterm), signal.signal(signal.SIGINT, h.sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
