"""One entry of a build cache (the lint cache and the emitted-YAML cache,
both under ``.lint-cache/``): written atomically, or not at all."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_json(directory: Path, target: Path, entry: dict) -> None:
    """Write ``entry`` to ``target`` inside ``directory`` so that a reader
    sees the old entry or the new one, never half of one. A cache that
    cannot be written is skipped: the next build computes the entry again."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(entry, out)
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass
