"""Deploy-time sequencing: a change set that a service would refuse in one
update (updaterules.py) is never executed, whatever the flags; the error
names the two deploys that get there instead. And what a deploy leaves to a
later step: a changed launch template reaches running instances only
through a rollout."""

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


def rollout_notes(rows) -> list[tuple[str, str, str]]:
    """(where, resource type, message) for each launch template the update
    modifies. An Auto Scaling group's running instances keep the launch
    template version they were launched with; only instances launched after
    the update (scale-out, replacement, instance refresh) use the new one
    (EC2 Auto Scaling user guide, "Change the launch template for an Auto
    Scaling group": new instances are launched with the new configuration,
    existing instances are not affected)."""
    out = []
    for r in rows:
        if r.resource_type == "AWS::EC2::LaunchTemplate" and r.action == "Modify":
            group = "monitoring" if r.logical_id.lower().startswith("monitoring") else "backend"
            flag = " --group monitoring" if group == "monitoring" else ""
            out.append((r.where, r.resource_type,
                        f"running {group} instances keep the old launch template version; only instances launched "
                        f"after this update get it. Replace them when it is done: python build.py rollout "
                        f"--params PARAMS{flag}"))
    return out
