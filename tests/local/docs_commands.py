"""Reading the commands out of the documentation and running them as a user
runs them: the fenced blocks of a Markdown page with the marker written
before each, and the shell environment of a user whose virtualenv is active.
Shared by the rehearsal tests of docs/deploy.md, docs/first-day.md and the
runbooks."""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

TOOL = "python build.py"
# An HTML comment alone on the line before a fence: how a page says what a block is.
_MARKER = re.compile(r"^\s*<!--\s*(.*?)\s*-->\s*$")
_FENCE = re.compile(r"^(\s*)```(\S*)\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: its info string, its text (indentation
    removed), the marker comment before it (or ``None``) and its line."""

    page: Path
    line: int
    info: str
    text: str
    marker: str | None

    @property
    def where(self) -> str:
        return f"{self.page.name}:{self.line}"


def fenced_blocks(page: Path) -> list[Block]:
    lines = page.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, info, start = m.group(1), m.group(2), i
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        assert i < len(lines), f"{page.name}:{start + 1}: fence never closed"
        before = next((ln for ln in reversed(lines[:start]) if ln.strip()), "")
        mark = _MARKER.match(before)
        blocks.append(Block(page, start + 1, info, "\n".join(body), mark.group(1) if mark else None))
        i += 1
    return blocks


def commands(block: Block) -> list[str]:
    """The block's shell commands: continuation lines joined, a quoted value
    that spans lines kept in one command, blank lines and whole-line comments
    dropped."""
    joined = re.sub(r"\\\n\s*", " ", block.text)
    out, pending = [], ""
    for line in joined.splitlines():
        if not pending and (not line.strip() or line.strip().startswith("#")):
            continue
        pending = f"{pending}\n{line}" if pending else line.strip()
        try:
            shlex.split(pending)
        except ValueError:  # an open quote: the command goes on on the next line
            continue
        out.append(pending)
        pending = ""
    assert not pending, f"{block.where}: a quote never closed: {pending}"
    return out


def is_tool_command(command: str) -> bool:
    return command == TOOL or command.startswith(TOOL + " ")


def without_comment(command: str) -> str:
    """``command`` without a trailing ``# ...`` comment (shlex knows quoting)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=False)
    lexer.whitespace_split, lexer.commenters = True, "#"
    words = list(lexer)
    return shlex.join(words)


def user_env(state_dir: Path) -> dict:
    """The environment of a user's shell after ``. .venv/bin/activate``, with
    a local-endpoint state folder of the caller's own: ``python`` in the docs
    is the project's interpreter, and no endpoint override leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env["WEALIST_CFN_LOCAL_DIR"] = str(state_dir)
    venv_bin = Path(sys.executable).parent
    assert (venv_bin / "python").exists()
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    return env
