"""The package's rooms import downward only, and no two rooms need each other.

Reads every import of every module under wealist_cfn/ with :mod:`ast`
(absolute and relative, at the top, inside functions and under
``TYPE_CHECKING``), gives each module its room, and fails on an import that
runs against the rule below or on a cycle between rooms, naming the module
and the line. Nothing is imported or run; no AWS is involved.

The rule (README.md, "The rooms", draws the same):

    tier 0  core          settings, parameters, names, regions, value rules; errors
    tier 1  config        parameter files (config.py, offerings.py)
            stacks        the templates: troposphere, never boto3
            cfn           reading a template set: the YAML loader, the model
            policyeval    IAM policy evaluation
    tier 2  aws           session, retries, error descriptions, call tracing
    tier 3  lint deploy preflight ops daytwo prove
            rehearsal     the moto endpoint: sees only core, cfn, aws, policyeval
    tier 4  cli           argparse and printing; the only room that may import
                          the rehearsal and hand it to the engine

A room may import a room of a lower tier, or one of its own tier as long as
the two do not import each other (directly or round a longer loop).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "wealist_cfn"

TIERS = {
    "core": 0,
    "config": 1,
    "stacks": 1,
    "cfn": 1,
    "policyeval": 1,
    "aws": 2,
    "lint": 3,
    "deploy": 3,
    "preflight": 3,
    "ops": 3,
    "daytwo": 3,
    "prove": 3,
    "rehearsal": 3,
    "cli": 4,
}
# Modules at the package's top level and the room they belong to.
TOP_LEVEL = {
    "wealist_cfn": "core",  # __version__
    "wealist_cfn.errors": "core",
    "wealist_cfn.config": "config",
    "wealist_cfn.offerings": "config",
    "wealist_cfn.__main__": "cli",
}
# The rehearsal stands beside the engine but is reached only from the cli;
# it sees these rooms and nothing else.
REHEARSAL_SEES = {"core", "cfn", "aws", "policyeval", "rehearsal"}


def room_of(module: str) -> str:
    if module in TOP_LEVEL:
        return TOP_LEVEL[module]
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in TIERS:
        return parts[1]
    raise KeyError(f"{module}: no room (add it to TOP_LEVEL or move it into a room)")


def module_name(path: Path, package: Path) -> str:
    rel = path.relative_to(package.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def known_modules(package: Path) -> set[str]:
    return {module_name(p, package) for p in package.rglob("*.py")}


def imports_of(path: Path, package: Path, modules: set[str]) -> list[tuple[int, str]]:
    """(line, module) for every import of a wealist_cfn module in a file.
    ``from pkg import name`` counts as an import of ``pkg.name`` when that is
    a module, else of ``pkg``."""
    name = module_name(path, package)
    is_pkg = path.name == "__init__.py"
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == package.name]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != package.name:
                continue
            for alias in node.names:
                full = f"{source}.{alias.name}"
                found.append((node.lineno, full if full in modules else source))
    return found


def arrows(package: Path) -> list[tuple[str, int, str, str, str]]:
    """(module, line, imported module, its room, the imported room) for every
    import between two different rooms."""
    modules = known_modules(package)
    out = []
    for path in sorted(package.rglob("*.py")):
        name = module_name(path, package)
        src = room_of(name)
        for line, target in imports_of(path, package, modules):
            dst = room_of(target)
            if dst != src:
                out.append((name, line, target, src, dst))
    return out


def against_the_rule(src: str, dst: str) -> str | None:
    if src == "rehearsal" and dst not in REHEARSAL_SEES:
        return f"the rehearsal sees only {', '.join(sorted(REHEARSAL_SEES - {'rehearsal'}))}"
    if dst == "rehearsal" and src != "cli":
        return "only the cli reaches the rehearsal (the engine is handed it)"
    if TIERS[dst] > TIERS[src]:
        return f"{dst} (tier {TIERS[dst]}) is above {src} (tier {TIERS[src]})"
    return None


def back_arrows(package: Path) -> list[str]:
    return [
        f"{module}:{line} imports {target}: {src} -> {dst}, {why}"
        for module, line, target, src, dst in arrows(package)
        if (why := against_the_rule(src, dst))
    ]


def room_cycles(package: Path) -> list[str]:
    """Each cycle between rooms, with one import per arrow round it."""
    edges: dict[str, dict[str, str]] = {}
    for module, line, target, src, dst in arrows(package):
        edges.setdefault(src, {}).setdefault(dst, f"{module}:{line} imports {target}")
    cycles, seen = [], set()

    def walk(start: str, room: str, path: list[str]) -> None:
        for nxt in sorted(edges.get(room, {})):
            if nxt == start:
                loop = path + [start]
                key = frozenset(loop)
                if key not in seen:
                    seen.add(key)
                    steps = "; ".join(edges[a][b] for a, b in zip(loop, loop[1:]))
                    cycles.append(f"{' -> '.join(loop)} ({steps})")
            elif nxt not in path and nxt > start:
                walk(start, nxt, path + [nxt])

    for room in sorted(edges):
        walk(room, room, [room])
    return cycles


def test_every_module_has_a_room():
    for name in sorted(known_modules(PACKAGE)):
        room_of(name)


def test_no_import_runs_back_up_the_layers():
    found = back_arrows(PACKAGE)
    assert not found, "imports against the layer rule:\n" + "\n".join(found)


def test_no_cycle_between_rooms():
    found = room_cycles(PACKAGE)
    assert not found, "rooms that import each other:\n" + "\n".join(found)


@pytest.fixture
def tiny(tmp_path):
    """A package with the rooms' shape, to show the checks fail."""
    pkg = tmp_path / "wealist_cfn"
    for room in ("core", "stacks", "deploy", "preflight", "rehearsal", "cli"):
        (pkg / room).mkdir(parents=True)
        (pkg / room / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "names.py").write_text("SECRET = 'x'\n")
    return pkg


def test_a_template_importing_the_engine_is_named(tiny):
    (tiny / "deploy" / "flow.py").write_text("from ..core import names\n")
    (tiny / "stacks" / "iam.py").write_text("import os\n\ndef f():\n    from ..deploy import flow\n")
    assert back_arrows(tiny) == [
        "wealist_cfn.stacks.iam:4 imports wealist_cfn.deploy.flow: stacks -> deploy, "
        "deploy (tier 3) is above stacks (tier 1)"
    ]


def test_the_engine_reaching_the_rehearsal_is_named(tiny):
    (tiny / "rehearsal" / "server.py").write_text("X = 1\n")
    (tiny / "deploy" / "flow.py").write_text("from wealist_cfn.rehearsal import server\n")
    (tiny / "cli" / "deploy.py").write_text("from wealist_cfn.rehearsal import server\n")
    found = back_arrows(tiny)
    assert len(found) == 1 and found[0].startswith("wealist_cfn.deploy.flow:1 imports wealist_cfn.rehearsal.server")


def test_two_rooms_of_one_tier_importing_each_other_are_a_cycle(tiny):
    (tiny / "deploy" / "flow.py").write_text("from wealist_cfn.preflight import checks\n")
    (tiny / "preflight" / "checks.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..deploy import flow\n"
    )
    assert back_arrows(tiny) == []
    assert room_cycles(tiny) == [
        "deploy -> preflight -> deploy (wealist_cfn.deploy.flow:1 imports "
        "wealist_cfn.preflight.checks; wealist_cfn.preflight.checks:3 imports "
        "wealist_cfn.deploy.flow)"
    ]
