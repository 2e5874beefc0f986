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
* Logging of what ``compose up`` starts, as dockerd's ``awslogs`` driver
  does it (moby daemon/logger/awslogs/cloudwatchlogs.go; options:
  https://docs.docker.com/engine/logging/drivers/awslogs/): awslogs-group is
  required; the stream (awslogs-stream, else the container ID) is created
  with CreateLogStream in CloudWatch Logs, here moto at
  ``$AWS_ENDPOINT_URL``; a missing group is created only with
  awslogs-create-group true. When the stream cannot be created (no group,
  no credentials), ``mode: blocking`` (the default) fails the container's
  start; ``mode: non-blocking`` starts it and the driver keeps retrying in
  the background: written to ``$DOCKER_STATE/awslogs-errors.log``. The
  streams created are listed in the ``up`` state file.
  Not modelled: PutLogEvents, the buffer, the dual-logging cache.

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
    image, command = args[i], args[i + 1 :]
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
    resolved = subprocess.run(
        [os.environ["COMPOSE_BIN"], "-f", file, "config", "--format", "json"], capture_output=True, text=True
    )
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
        streams = []
        for n in chosen:
            stream = _awslogs(n, config["services"][n].get("logging", {}), state)
            if stream:
                streams.append(stream)
        started.write_text(
            json.dumps({"services": chosen, "streams": streams, "config": {n: config["services"][n] for n in chosen}})
        )
    elif verb != "pull":
        _fail(f"compose {verb} is not modelled")
    return 0


def _awslogs(service: str, logging: dict, state: Path) -> str | None:
    """Start-up of the awslogs driver for one container (module docstring);
    returns ``group/stream`` when the stream exists, exits as ``docker`` would
    when the driver refuses the container's start."""
    if logging.get("driver") != "awslogs":
        return None
    opts = logging.get("options", {})
    group = opts.get("awslogs-group", "")
    if not group:
        _fail(f"{service}: must specify a value for log opt 'awslogs-group'", 1)
    if opts.get("mode", "blocking") not in ("blocking", "non-blocking"):
        _fail(f"{service}: invalid mode {opts['mode']!r}", 1)
    create_group = opts.get("awslogs-create-group", "false").lower() in ("1", "t", "true")
    stream = opts.get("awslogs-stream") or f"{service}-container-id"
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    logs = boto3.client(
        "logs",
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=opts.get("awslogs-region") or os.environ.get("AWS_REGION"),
    )
    try:
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except logs.exceptions.ResourceNotFoundException:
            if not create_group:
                raise
            logs.create_log_group(logGroupName=group)
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    except (ClientError, BotoCoreError) as exc:
        if opts.get("mode") != "non-blocking":
            _fail(f"{service}: failed to create Cloudwatch log stream: {exc}", 1)
        with open(state / "awslogs-errors.log", "a") as err:
            err.write(f"{service}: Error while trying to initialize awslogs, retrying: {exc}\n")
        return None
    return f"{group}/{stream}"


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
