"""Tests take what they share from non-test modules (tests/helpers/, or a
package's own helper modules such as tests/iamtrace/check.py), never from
another test module, and find them without editing ``sys.path``: a test
module imported by another runs its module-level code twice under two
names, and its tests can be collected twice.

No stand-in: the syntax trees of tests/ are read.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _is_test_module(name: str) -> bool:
    return any(part.startswith("test_") for part in name.split("."))


def offences(tree: ast.AST) -> list[str]:
    """Each import of a test module, and each call of sys.path.insert/append, in ``tree``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if _is_test_module(a.name)]
        elif isinstance(node, ast.ImportFrom):
            if _is_test_module(node.module or ""):
                found.append(f"{node.lineno}: from {'.' * node.level}{node.module} import ...")
            found += [
                f"{node.lineno}: from {'.' * node.level}{node.module or ''} import {a.name}"
                for a in node.names
                if a.name.startswith("test_")
            ]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("insert", "append")
            and ast.unparse(node.func.value) == "sys.path"
        ):
            found.append(f"{node.lineno}: sys.path.{node.func.attr}(...)")
    return found


def test_no_test_module_imports_another_or_edits_sys_path():
    found = {}
    for path in sorted(TESTS.rglob("*.py")):
        hits = offences(ast.parse(path.read_text(encoding="utf-8")))
        if hits:
            found[path.relative_to(TESTS).as_posix()] = hits
    assert found == {}, found


def test_the_check_finds_each_kind():
    source = (
        "import test_config\n"
        "from .test_release import x\n"
        "from . import test_drift_calls\n"
        "from tests.ops.test_release import y\n"
        "import sys\n"
        "def f():\n"
        "    sys.path.insert(0, 'instance-files/config')\n"
        "    sys.path.append('x')\n"
        "from helpers.release import GROUP\n"
        "from . import check\n"
        "code = 'sys.path.insert(0, x)'\n"
    )
    assert offences(ast.parse(source)) == [
        "1: import test_config",
        "2: from .test_release import ...",
        "3: from . import test_drift_calls",
        "4: from tests.ops.test_release import ...",
        "7: sys.path.insert(...)",
        "8: sys.path.append(...)",
    ]
