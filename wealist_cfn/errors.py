"""The exit statuses of every command, the one error base, and the one
mapper from an exception to what the command line shows.

:data:`EXIT_CODES` is the table: every command's ``--help`` prints it
(:data:`EXIT_CODES_HELP`) and so does the README (tests/test_cli_errors_table.py
compares them). A :class:`CommandError` is something the user can act on:
one line of text and its exit status. Every error the command line shows
derives from it (``config.ConfigError``, ``ops.bootstrap.BootstrapError``,
``ops.rollout.RolloutError``, ...), each subclass with its own default
status. :func:`explain` turns any exception into the lines and the status
the command line ends with; botocore's errors are described by the
translator ``wealist_cfn.aws`` registers (:func:`register`), so this module
stays a leaf that imports nothing of the project.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
# The shell's codes for a command ended by SIGINT (128 + 2) and SIGPIPE (128 + 13).
EXIT_INTERRUPTED, EXIT_SIGPIPE = 130, 141

# The one exit-code table.
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "done (or nothing to do)"),
    (EXIT_FAILED, "failed: AWS refused a call, the endpoint could not be reached, or the operation failed"),
    (EXIT_USAGE, "bad input: parameter file, arguments, stack name, endpoint URL, profile or credentials"),
    (EXIT_REFUSED, "refused: a guarded change without --allow-replace, not approved, or another operation running"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C); an operation already started goes on in AWS"),
    (EXIT_SIGPIPE, "the reader of the output went away (a closed pipe); an operation already started goes on in AWS"),
)

# The "exit codes" section of every command's --help.
EXIT_CODES_HELP = "exit codes:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES)


class CommandError(Exception):
    """Something the user can act on. ``str()`` is the one line to print;
    ``details`` are further lines (a hint, the commands to run next); ``data``
    is structured detail for a ``--output json`` document. A subclass sets
    its own default ``exit_code``."""

    exit_code: int = EXIT_FAILED

    def __init__(
        self, message: str = "", exit_code: int | None = None, details: tuple[str, ...] = (), data: dict | None = None
    ):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
        self.details = tuple(details)
        self.data = data or {}


@dataclass
class Failure:
    """An exception as the one line, further lines and exit code the command line ends with."""

    message: str
    exit_code: int
    details: tuple[str, ...] = ()
    data: dict = field(default_factory=dict)

    def lines(self) -> list[str]:
        """What goes to stderr: ``error: <message>``, then each detail indented."""
        if not self.message:
            return []
        return [f"error: {self.message}", *(f"  {d}" for d in self.details)]


# Functions that describe an exception of a library below the command line
# (botocore's, through wealist_cfn.aws), or return None for one they do not know.
_TRANSLATORS: list[Callable[..., Failure | None]] = []


def register(translator: Callable[..., Failure | None]) -> None:
    if translator not in _TRANSLATORS:
        _TRANSLATORS.append(translator)


def explain(exc: BaseException, *, profile: str | None = None, params=None) -> Failure | None:
    """The one mapper: the line, further lines and exit code for ``exc``;
    None for what is not an expected error (a bug, shown as such by the
    caller). ``profile`` and ``params`` are the command's, named in the way
    out of a credentials problem."""
    if isinstance(exc, KeyboardInterrupt):
        return Failure("interrupted; an operation already started goes on in AWS", EXIT_INTERRUPTED)
    if isinstance(exc, BrokenPipeError):
        # Nothing to say: the reader is gone (the caller may note a running operation).
        return Failure("", EXIT_SIGPIPE)
    for translate in _TRANSLATORS:
        failure = translate(exc, profile=profile, params=params)
        if failure is not None:
            return failure
    if isinstance(exc, CommandError):
        return Failure(str(exc), exc.exit_code, exc.details, exc.data)
    return None
