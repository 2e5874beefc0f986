"""The rehearsal stays in its room: no product module imports moto, and none
decides what to do from whether an endpoint URL is set.

What an endpoint can answer is the Target's (wealist_cfn/aws/target.py): the
local rehearsal says so itself when asked, an endpoint that says nothing is
an unknown one. The endpoint URL is transport only, read in aws.py (the
loopback proxy bypass, path-style S3 URLs). No stand-in: this reads the
source's syntax trees.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "wealist_cfn"
# The rehearsal (moto's server, what it patches, the strict layer).
REHEARSAL = ("rehearsal/",)
# Transport: the session, its clients, the URLs it writes, and the Target it asks.
TRANSPORT = ("aws/",)


def _modules(excluded: tuple[str, ...]) -> list[tuple[str, ast.Module]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(excluded):
            continue
        found.append((rel, ast.parse(path.read_text(), filename=str(path))))
    return found


def moto_imports(tree: ast.Module) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name == "moto" or a.name.startswith("moto.") for a in node.names):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "moto":
            lines.append(node.lineno)
    return lines


def _names_endpoint_url(node: ast.AST) -> bool:
    """Whether ``node``'s value is decided by ``endpoint_url``, ``x.endpoint_url``
    or ``getattr(x, "endpoint_url", ...)`` (``(x.endpoint_url or "").startswith(...)``
    too). A call's arguments are not looked into: ``Aws(..., opts.endpoint_url)``
    passes the URL on, it does not test it."""
    if isinstance(node, ast.Name):
        return node.id == "endpoint_url"
    if isinstance(node, ast.Attribute):
        return node.attr == "endpoint_url" or _names_endpoint_url(node.value)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id == "getattr" and len(node.args) >= 2:
            name = node.args[1]
            return isinstance(name, ast.Constant) and name.value == "endpoint_url"
        return _names_endpoint_url(node.func)
    return any(_names_endpoint_url(child) for child in ast.iter_child_nodes(node))


def _only_raises(node: ast.If) -> bool:
    """``if <options conflict>: raise ...``: checking the command line's
    input, not choosing a behaviour."""
    return len(node.body) == 1 and isinstance(node.body[0], ast.Raise) and not node.orelse


def endpoint_url_tests(tree: ast.Module) -> list[int]:
    """Lines where ``endpoint_url`` is tested: an if/while/assert/ternary
    condition, a comprehension filter, ``not``, ``and``/``or``, or a comparison."""
    lines = []
    for node in ast.walk(tree):
        tested: list[ast.AST] = []
        if isinstance(node, ast.If) and not _only_raises(node):
            tested = [node.test]
        elif isinstance(node, (ast.While, ast.IfExp, ast.Assert)):
            tested = [node.test]
        elif isinstance(node, ast.comprehension):
            tested = list(node.ifs)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            tested = [node.operand]
        elif isinstance(node, ast.BoolOp):
            tested = list(node.values)
        elif isinstance(node, ast.Compare):
            tested = [node.left, *node.comparators]
        if any(_names_endpoint_url(t) for t in tested):
            lines.append(node.lineno)
    return sorted(set(lines))


def test_no_product_module_imports_moto():
    found = {rel: lines for rel, tree in _modules(REHEARSAL) if (lines := moto_imports(tree))}
    assert found == {}, f"moto imported outside the rehearsal: {found}"


def test_no_product_module_tests_the_endpoint_url():
    found = {rel: lines for rel, tree in _modules(REHEARSAL + TRANSPORT) if (lines := endpoint_url_tests(tree))}
    assert found == {}, (
        f"behaviour chosen by whether an endpoint URL is set (ask aws.target, "
        f"wealist_cfn/aws/target.py, for a named capability instead): {found}"
    )


@pytest.mark.parametrize(
    "source, expected",
    [
        ("if opts.endpoint_url:\n    x = 1\n", [1]),
        ("ok = not aws.endpoint_url\n", [1]),
        ("y = 1 if endpoint_url else 2\n", [1]),
        ("z = (aws.endpoint_url or '').startswith('http://')\n", [1]),
        ("w = getattr(args, 'endpoint_url', None) is None\n", [1]),
        ("if args.endpoint_url:\n    raise CommandError('leave out --endpoint-url')\n", []),
        ("aws = Aws(region, endpoint_url=args.endpoint_url)\n", []),
        ("aws = given or Aws(region, opts.profile, opts.endpoint_url)\n", []),
    ],
)
def test_the_check_sees_each_form_of_test(source, expected):
    """The detector itself: each way of testing the URL is found; passing it
    on (to a client) and refusing conflicting options are not tests."""
    assert endpoint_url_tests(ast.parse(source)) == expected


def test_the_check_sees_a_moto_import():
    assert moto_imports(ast.parse("import moto\nfrom moto.server import X\nfrom .moto import y\n")) == [1, 2]
