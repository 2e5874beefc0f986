"""Code that runs on the instances, loaded in-process from its file for the
tests: instance-files/config/render.py (run by the instances' python3 at
boot) and the docker stand-in's env-file parser (tests/ops/standins/docker.py).

They are scripts, not a package; each is loaded once by its path and kept in
``sys.modules`` under its file's name, so every test module sees the same
module object (a monkeypatch in one is what the others see), as the
``sys.path`` insert before it did, without putting their folders on the
import path.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
RENDER_PATH = ROOT / "instance-files" / "config" / "render.py"
STANDINS = ROOT / "tests" / "ops" / "standins"


def load_script(path: Path, name: str | None = None) -> ModuleType:
    """The module of a script file, loaded once."""
    name = name or path.stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


render = load_script(RENDER_PATH)
