"""A `docker` stand-in for the boot rehearsal: what the startup script asks of
Docker, done on the host with the rules Docker itself applies.

* ``docker run --env-file F -v SRC:DST[:ro] IMAGE CMD...``: F is read by
  Docker's env-file rules (docker/cli ``pkg/kvfile``: leading whitespace of a
  line dropped, ``#`` lines and empty lines skipped, KEY up to the first
  ``=``, no whitespace in KEY, the rest of the line the value *as it is*,
  quotes included, no interpolation). A value wrapped in one pair of quotes
  is refused: Docker v28 drops that pair, earlier versions keep it, so the
  value would depend on the instance's Docker. CMD runs on the host with
  only those variables (and PATH), DST paths mapped back to SRC.
* ``docker compose -f FILE pull|up|ps``: FILE is first validated and
  resolved by Compose V2's own ``config`` (env files and ``.env`` included);
  ``up`` writes the resolved configuration of the services it starts to
  ``$DOCKER_STATE/compose-up-<file>.json``; ``ps --services --status
  running`` lists the services ``up`` started.
* ``info``, ``login`` (the password on stdin must not be empty), ``pull``:
  recorded.

Every call is appended to ``$CALLS``. Needs ``$COMPOSE_BIN`` (Compose V2's
binary) and ``$DOCKER_STATE`` (a directory).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _fail(message: str, code: int = 125) -> None:
    print(f"docker (stand-in): {message}", file=sys.stderr)
    sys.exit(code)


def parse_env_file(path: str) -> dict[str, str]:
    """Docker's kvfile rules (see the module docstring)."""
    out = {}
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        _fail(f"invalid env file ({path}): invalid utf8 bytes")
    text = text.removeprefix("\ufeff")
    for line in text.split("\n"):
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not key:
            _fail(f"invalid env file ({path}): no variable name on line '{line}'")
        if any(c in key for c in " \t"):
            _fail(f"invalid env file ({path}): variable '{key}' contains whitespaces")
        if not sep:
            continue  # KEY alone: taken from the caller's environment; never written by render.py
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            _fail(f"env file {path}: {key}'s value is wrapped in quotes; Docker versions disagree on it")
        out[key] = value
    return out


def run(args: list[str]) -> int:
    env_files, mounts, i = [], {}, 0
    while i < len(args) and args[i].startswith("-"):
        flag = args[i]
        if flag in ("--rm", "-i", "-t"):
            i += 1
        elif flag in ("--env-file", "-v", "--volume", "--network"):
            if flag == "--env-file":
                env_files.append(args[i + 1])
            elif flag in ("-v", "--volume"):
                src, dst = args[i + 1].split(":")[:2]
                mounts[dst] = src
            i += 2
        else:
            _fail(f"run: flag {flag} is not modelled")
    image, command = args[i], args[i + 1:]
    env = {"PATH": os.environ["PATH"]}
    for f in env_files:
        if os.stat(f).st_mode & 0o077:
            _fail(f"env file {f} is readable by others")
        env.update(parse_env_file(f))
    command = [mounts.get(a, a) for a in command]
    with open(os.environ["CALLS"], "a") as log:
        log.write(f"docker-run-image {image}\n")
    return subprocess.run(command, env=env).returncode


def compose(args: list[str]) -> int:
    if args[:1] == ["version"]:
        return subprocess.run([os.environ["COMPOSE_BIN"], "version"]).returncode
    if args[0] != "-f":
        _fail("compose: -f FILE expected")
    file, verb, rest = args[1], args[2], args[3:]
    state = Path(os.environ["DOCKER_STATE"])
    started = state / f"compose-up-{Path(file).stem}.json"
    if verb == "ps":
        if rest != ["--services", "--status", "running"]:
            _fail(f"compose ps {rest} is not modelled")
        if started.exists():
            print("\n".join(json.loads(started.read_text())["services"]))
        return 0
    resolved = subprocess.run([os.environ["COMPOSE_BIN"], "-f", file, "config", "--format", "json"],
                              capture_output=True, text=True)
    if resolved.returncode != 0:
        sys.stderr.write(resolved.stderr)
        return resolved.returncode
    config = json.loads(resolved.stdout)
    names = [a for a in rest if not a.startswith("-")]
    unknown = set(names) - set(config["services"])
    if unknown:
        _fail(f"compose {verb}: no such service: {', '.join(sorted(unknown))}", 1)
    if verb == "up":
        chosen = names or sorted(config["services"])
        started.write_text(json.dumps({"services": chosen,
                                       "config": {n: config["services"][n] for n in chosen}}))
    elif verb != "pull":
        _fail(f"compose {verb} is not modelled")
    return 0


def main(argv: list[str]) -> int:
    with open(os.environ["CALLS"], "a") as log:
        log.write("docker " + " ".join(argv) + "\n")
    if not argv:
        _fail("no command")
    cmd, rest = argv[0], argv[1:]
    if cmd == "info" or cmd == "pull":
        return 0
    if cmd == "login":
        if "--password-stdin" in rest and not sys.stdin.read().strip():
            _fail("login: empty password on stdin", 1)
        return 0
    if cmd == "run":
        return run(rest)
    if cmd == "compose":
        return compose(rest)
    _fail(f"{cmd} is not modelled")
    return 125


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
