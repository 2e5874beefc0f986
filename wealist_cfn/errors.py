"""The exit statuses of every command and the one exception type the
library raises for something the user can act on.

A :class:`CommandError` is one line of text and the exit status the command
line ends with (2: bad input, usage or credentials; 1: AWS said no or the
operation failed; 3: refused). Bad parameter files raise
:class:`~wealist_cfn.config.ConfigError` instead, also exit 2.
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3


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
