"""Deploy-time sequencing: a change set that a service would refuse in one
update (updaterules.py) is never executed, whatever the flags; the error
names the two deploys that get there instead."""

from __future__ import annotations

from ..errors import EXIT_REFUSED, CommandError
from . import updaterules


def refuse_one_step(review) -> None:
    """Raise :class:`CommandError` (exit 3) when ``review`` holds a change a
    service refuses in one update."""
    if review is None or review.change_set_type != "UPDATE":
        return
    found = updaterules.violations(review.rows, review.parameters)
    if found:
        first = found[0]
        raise CommandError(f"refused: {first.where}: {first.message()}", EXIT_REFUSED,
                           details=tuple(f"{v.where}: {v.message()}" for v in found[1:]))
