"""The one exception type the deploy library raises on purpose.

Every error a user can act on is a :class:`DeployError`: one line of text and
the exit status the command line should end with (2: bad input, usage or
credentials; 1: AWS said no or the deploy failed; 3: refused).
"""

from __future__ import annotations

EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 1, 2, 3


class DeployError(Exception):
    """Something the user can act on. ``str()`` is the one line to print;
    ``details`` are further lines (a hint, the commands to run next)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED, details: tuple[str, ...] = ()):
        super().__init__(message)
        self.exit_code = exit_code
        self.details = tuple(details)
