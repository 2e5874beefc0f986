"""The templates are the same bytes whatever the interpreter's hash seed:
built in two separate processes with different PYTHONHASHSEED values (set
iteration order differs between them), compared byte for byte, and with
the committed files. No endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = (
    "import sys, json\n"
    "from wealist_cfn.stacks import synth\n"
    "sys.stdout.write(json.dumps([(r.filename, r.text) for r in synth.synthesize()]))\n"
)


def _build(seed: str) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, check=True, timeout=120
    ).stdout


def test_two_processes_with_different_hash_seeds_build_the_same_bytes():
    first, second = _build("1"), _build("4242")
    assert len(first) > 10_000
    assert first == second
    # And they are what is committed (build.py --check compares in one process only).
    for name, text in json.loads(first):
        assert (ROOT / "templates" / name).read_text() == text, name
