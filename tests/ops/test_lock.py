"""requirements.lock, the hashed install of the jobs that hold AWS
credentials (`pip install --require-hashes`): it must hold exactly the
runtime pins of requirements.txt and their dependencies, at the versions
constraints.txt pins, and no test tool. `make lock` regenerates it."""

from __future__ import annotations

import re

from .tools import ROOT


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path) -> dict[str, str]:
    pins = {}
    for line in (ROOT / path).read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][\w.-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", line)
        if m:
            pins[_norm(m.group(1))] = m.group(2)
    return pins


def _lock() -> dict[str, dict]:
    """name -> {version, hashes, via}: pip-compile's entries, with the
    `# via` lines that say which input asked for each."""
    entries: dict[str, dict] = {}
    current = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][\w.-]*)==(\S+)", line)
        if m:
            current = entries[_norm(m.group(1))] = {"version": m.group(2), "hashes": [], "via": []}
            continue
        if current is None:
            continue
        h = re.search(r"--hash=sha256:([0-9a-f]{64})", line)
        if h:
            current["hashes"].append(h.group(1))
        via = re.match(r"^\s+#\s+(?:via\s+)?(-r requirements\.txt|-c constraints\.txt|[\w.-]+)\s*$", line)
        if via and via.group(1) != "via":
            current["via"].append(via.group(1))
    return entries


def test_the_lock_holds_every_runtime_pin_at_its_version():
    lock, runtime = _lock(), _pins("requirements.txt")
    assert runtime and set(runtime) <= set(lock)
    assert {n: lock[n]["version"] for n in runtime} == runtime


def test_the_lock_asks_for_nothing_but_requirements_txt():
    """What the lock installs at the top level is exactly requirements.txt:
    everything else is there because one of those needs it."""
    lock, runtime = _lock(), _pins("requirements.txt")
    top = {n for n, e in lock.items() if "-r requirements.txt" in e["via"]}
    assert top == set(runtime)
    for name, entry in lock.items():
        assert entry["via"], f"requirements.lock: {name} says nothing of why it is there"


def test_every_locked_version_is_the_one_constraints_txt_pins():
    lock, pinned = _lock(), _pins("constraints.txt")
    disagree = {n: (e["version"], pinned.get(n)) for n, e in lock.items() if pinned.get(n) != e["version"]}
    assert disagree == {}, "requirements.lock and constraints.txt disagree (run make lock)"


def test_every_locked_package_has_hashes_and_no_test_tool_is_locked():
    lock = _lock()
    assert all(e["hashes"] for e in lock.values())
    dev_only = set(_pins("requirements-dev.txt")) - set(_pins("requirements.txt"))
    assert dev_only and not dev_only & set(lock)
    text = (ROOT / "requirements.lock").read_text()
    # Hashes are PyPI's: no local index or find-links baked into the file.
    options = [line for line in text.splitlines() if line.startswith("-")]
    assert options == []
