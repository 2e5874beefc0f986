"""How a deploy, plan, package or status shows what the engine yields.

The engine (:mod:`.flow`, :mod:`.events`) yields plain data: ``Info``
lines, ``Waiting``, ``StackEvent``, ``Progress`` (per stack: done/total and
the resource in progress the longest), ``Final`` and ``Result``. A view
prints them; nothing here calls AWS or decides anything.

* :class:`LiveView`, on a terminal: one line per stack with its resources
  done out of its total and its slowest resource in progress with its age,
  redrawn in place at most every ``min_interval`` seconds; messages and
  failures scroll above it.
* :class:`LogView`, anywhere else (a CI log, a file, a pipe): one plain line
  per event and a ``progress: N of M`` line when the count changes.
* :class:`QuietView` (``-q``): only the result: the final state, the first
  cause of a failure and the outputs.
* :class:`Timeline` records the same data for ``--output json``.
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

from . import events, flow, stackstate

RED, BOLD, RESET = "\033[31m", "\033[1m", "\033[0m"


def age(seconds: float) -> str:
    s = max(0, int(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def event_line(ev: events.StackEvent) -> str:
    reason = f"  {ev.reason}" if ev.reason else ""
    return f"{ev.timestamp:%H:%M:%S}  {ev.status:<28} {ev.where}  ({ev.resource_type}){reason}"


def result_lines(item) -> list[str]:
    """The lines every view prints for the end of an operation."""
    if isinstance(item, events.Final):
        out = [f"final state: {item.status}"]
        if item.first_cause:
            c = item.first_cause
            out.append(f"first cause: {c.where} ({c.resource_type}) {c.status}: {c.reason}")
        return out
    if isinstance(item, flow.Result):
        return [f"output {o['OutputKey']} = {o.get('OutputValue', '')}" for o in item.outputs]
    return []


class LogView:
    """Plain lines, as a log wants them."""

    def __init__(self, out):
        self.out = out
        self._last: tuple[int, int] | None = None

    def __call__(self, item) -> None:
        for line in self.lines(item):
            print(line, file=self.out)

    def lines(self, item) -> list[str]:
        if isinstance(item, flow.Info):
            return [item.message]
        if isinstance(item, stackstate.Waiting):
            return [f"waiting: another operation is running ({item.status}, {int(item.waited)}s so far)"]
        if isinstance(item, events.StackEvent):
            return [event_line(item)]
        if isinstance(item, events.Progress):
            # The engine also yields a Progress each poll while something runs (for a live view's
            # ages); a log gets a line only when the count moves.
            if item.total and (item.done, item.total) != self._last:
                self._last = (item.done, item.total)
                return [f"progress: {item.done} of {item.total} resources done"]
            return []
        return result_lines(item)

    def close(self) -> None:
        pass


class QuietView(LogView):
    """``-q``: the result only; errors go to stderr from the command itself."""

    def lines(self, item) -> list[str]:
        return result_lines(item)


class LiveView:
    """One line per stack, redrawn in place on a terminal."""

    def __init__(
        self,
        out,
        *,
        stack_name: str = "",
        color: bool = False,
        min_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        width: int | None = None,
    ):
        self.out, self.stack_name, self.color = out, stack_name, color
        self.min_interval, self.clock, self.now = min_interval, clock, now
        self.width = width or shutil.get_terminal_size((120, 24)).columns
        self.progress: events.Progress | None = None
        self._drawn = 0  # lines of the block now on screen
        self._last_draw: float | None = None
        self._log = LogView(out)
        self.redraws = 0
        # The newest event's server time, and the local monotonic clock when
        # it was first seen: ages count from there, so a terminal whose
        # wall clock is off by minutes still shows the right ones.
        self._at: datetime | None = None
        self._at_seen = 0.0

    def _clear(self) -> None:
        if self._drawn:
            # Up to the block's first line, then clear to the end of the screen.
            self.out.write(f"\033[{self._drawn}F\033[J")
            self._drawn = 0

    def _print(self, text: str) -> None:
        self._clear()
        self.out.write(text + "\n")
        self._draw()

    def rows(self) -> list[str]:
        if self.progress is None:
            return []
        now = self._server_now()
        names = [r.path or self.stack_name or "(root)" for r in self.progress.stacks]
        pad = max((len(n) for n in names), default=0)
        out = [f"progress: {self.progress.done} of {self.progress.total} resources done"]
        for name, r in zip(names, self.progress.stacks):
            text = f"  {name.ljust(pad)}  {r.done:>3}/{r.total:<3}"
            if r.slowest:
                since = age((now - r.slowest_since).total_seconds()) if r.slowest_since else "?"
                text += f"  {r.slowest} ({r.slowest_type}) {r.slowest_status} {since}"
            elif r.done >= r.total:
                text += "  done"
            out.append(text[: self.width - 1])
        return out

    def _server_now(self) -> datetime:
        """CloudFormation's time now, as near as the events tell it: the
        newest event's timestamp (``Progress.at``) plus the time elapsed here
        since it was first seen. The local wall clock only without one."""
        at = self.progress.at if self.progress is not None else None
        if at is None:
            return self.now()
        if at != self._at:
            self._at, self._at_seen = at, self.clock()
        return at + timedelta(seconds=self.clock() - self._at_seen)

    def _draw(self) -> None:
        lines = self.rows()
        for line in lines:
            self.out.write(line + "\n")
        self._drawn = len(lines)
        self._last_draw = self.clock()
        self.redraws += 1
        self.out.flush()

    def __call__(self, item) -> None:
        if isinstance(item, events.Progress):
            self.progress = item
            due = self._last_draw is None or self.clock() - self._last_draw >= self.min_interval
            if due:
                self._clear()
                self._draw()
            return
        if isinstance(item, events.StackEvent):
            # Failures stay on screen above the block; the rest is in the counts.
            if item.status.endswith("_FAILED"):
                text = event_line(item)
                self._print(f"{RED}{text}{RESET}" if self.color else text)
            return
        if isinstance(item, (events.Final, flow.Result)):
            self._clear()
            self._draw()  # the last state of every stack, whatever the rate
            self._drawn = 0  # left on screen
            for line in result_lines(item):
                self.out.write((f"{BOLD}{line}{RESET}" if self.color and line.startswith("final") else line) + "\n")
            self.out.flush()
            return
        for line in self._log.lines(item):
            self._print(line)

    def close(self) -> None:
        self._drawn = 0
        self.out.flush()


def for_stream(out, *, quiet: bool = False, color: bool = False, stack_name: str = ""):
    """The view for ``out``: quiet, live on a terminal, else a log."""
    if quiet:
        return QuietView(out)
    try:
        live = out.isatty()
    except (AttributeError, ValueError):
        live = False
    return LiveView(out, stack_name=stack_name, color=color) if live else LogView(out)


class Timeline:
    """The events and the moving counts of an operation, for ``--output json``."""

    def __init__(self):
        self.entries: list[dict] = []
        self._last = None

    def __call__(self, item) -> None:
        if isinstance(item, events.StackEvent):
            self.entries.append(
                {
                    "time": item.timestamp.isoformat(),
                    "kind": "event",
                    "stack": item.path,
                    "logicalId": item.logical_id,
                    "type": item.resource_type,
                    "status": item.status,
                    "reason": item.reason,
                }
            )
        elif isinstance(item, events.Progress):
            key = (item.done, item.total, tuple((r.path, r.done, r.total, r.slowest) for r in item.stacks))
            if key != self._last:
                self._last = key
                self.entries.append(
                    {
                        "time": item.at.isoformat() if item.at else None,
                        "kind": "progress",
                        "done": item.done,
                        "total": item.total,
                        "stacks": [r.to_dict() for r in item.stacks],
                    }
                )
        elif isinstance(item, events.Final):
            self.entries.append({"kind": "final", "status": item.status, "reason": item.reason})
