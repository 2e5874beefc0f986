"""The exit statuses of every command and the one exception type the
library raises for something the user can act on.

A :class:`CommandError` is one line of text and the exit status the command
line ends with (2: bad input, usage or credentials; 1: AWS said no or the
operation failed; 3: refused). Bad parameter files raise
:class:`~wealist_cfn.config.ConfigError` instead, also exit 2.
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3

# The "exit codes" section of every command's --help.
EXIT_CODES_HELP = """exit codes:
  0    done (or nothing to do)
  1    failed: AWS refused a call, the endpoint could not be reached, or the operation failed
  2    bad input: parameter file, arguments, stack name, endpoint URL, profile or credentials
  3    refused: a guarded change without --allow-replace, not approved, or another operation running
  130  interrupted (Ctrl-C); an operation already started goes on in AWS"""


class CommandError(Exception):
    """Something the user can act on. ``str()`` is the one line to print;
    ``details`` are further lines (a hint, the commands to run next); ``data``
    is structured detail for a ``--output json`` document."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED, details: tuple[str, ...] = (),
                 data: dict | None = None):
        super().__init__(message)
        self.exit_code = exit_code
        self.details = tuple(details)
        self.data = data or {}
