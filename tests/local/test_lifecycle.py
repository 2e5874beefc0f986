"""``local up | status | down``: one background process per state folder,
idempotent, loopback only, stopped by its PID and nothing else.

Stand-in: moto's server (5.2.5) in its own process; these tests check the
process handling, which involves no AWS rule."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import pid_alive, port_is_free, run_cli


def _state(env) -> dict:
    from pathlib import Path

    return json.loads((Path(env["WEALIST_CFN_LOCAL_DIR"]) / "endpoint.json").read_text())


def test_up_is_idempotent_and_down_frees_the_port(local_env):
    up = run_cli("local", "up", env=local_env)
    assert up.returncode == 0, up.stderr
    state = _state(local_env)
    pid, port = state["pid"], state["port"]
    assert pid_alive(pid)
    assert f"PID {pid}" in up.stdout and f":{port}" in up.stdout
    assert not port_is_free(port)

    again = run_cli("local", "up", env=local_env)
    assert again.returncode == 0
    assert "already running" in again.stdout and f"PID {pid}" in again.stdout
    assert _state(local_env)["pid"] == pid, "a second up must not start a second server"

    status = run_cli("local", "status", env=local_env)
    assert status.returncode == 0
    assert f"port {port}, PID {pid}" in status.stdout
    assert "stacks in ap-northeast-2: none" in status.stdout

    down = run_cli("local", "down", env=local_env)
    assert down.returncode == 0
    assert f"PID {pid}" in down.stdout and "gone" in down.stdout
    assert not pid_alive(pid)
    assert port_is_free(port)

    after = run_cli("local", "status", env=local_env)
    assert after.returncode == 1
    assert after.stdout.strip() == "no local endpoint is running: start one with `python build.py local up`"


def _listeners(port: int) -> list[str]:
    """Local addresses listening on ``port``, from /proc/net/tcp and tcp6
    (LISTEN is state 0A; addresses are little-endian hex)."""
    import ipaddress
    from pathlib import Path

    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                raw = bytes.fromhex(addr)
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.append(str(ipaddress.ip_address(raw)))
    return found


def test_listens_on_loopback_only(local_env):
    assert run_cli("local", "up", env=local_env).returncode == 0
    assert _listeners(_state(local_env)["port"]) == ["127.0.0.1"]


def test_down_never_signals_a_process_it_did_not_start(local_env, tmp_path):
    """A PID file naming another process (a recycled PID) is not acted on."""
    from pathlib import Path

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        folder = Path(local_env["WEALIST_CFN_LOCAL_DIR"])
        folder.mkdir(parents=True)
        (folder / "endpoint.json").write_text(
            json.dumps({"pid": other.pid, "port": 1, "url": "http://localhost:1", "started": 0})
        )
        down = run_cli("local", "down", env=local_env)
        assert down.returncode == 0
        assert down.stdout.strip() == "no local endpoint was running"
        assert other.poll() is None, "local down signalled a process that is not its server"
    finally:
        other.kill()
        other.wait()


def test_every_command_says_when_no_endpoint_runs(local_env):
    for args in (
        ["deploy", "--params", "params/prod.json", "--local", "--yes"],
        ["plan", "--params", "params/prod.json", "--local"],
        ["package", "--params", "params/prod.json", "--local"],
        ["status", "--params", "params/prod.json", "--local"],
        ["bootstrap", "--params", "params/prod.json", "--local"],
        ["rollout", "--params", "params/prod.json", "--local"],
        ["preflight", "--params", "params/prod.json", "--local"],
        ["diff", "--params", "params/prod.json", "--local"],
        ["drift", "--params", "params/prod.json", "--local"],
        ["outputs", "--params", "params/prod.json", "--local"],
        ["events", "--params", "params/prod.json", "--local"],
        ["destroy", "--params", "params/dev.json", "--local"],
    ):
        r = run_cli(*args, env=local_env)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.strip().splitlines() == [
            "error: no local endpoint is running: start one with `python build.py local up`"
        ], (args, r.stderr)
        assert "Traceback" not in r.stderr


def test_oneshot_mode_says_so_and_leaves_nothing(local_env):
    """Stand-in: moto's server inside the command (the old ``--local``)."""
    r = run_cli("deploy", "--params", "params/prod.json", "--local-oneshot", "--yes", env=local_env)
    assert r.returncode == 0, r.stderr
    assert "one-shot: it and everything it holds stop when this command ends" in r.stdout
    assert "final state: CREATE_COMPLETE" in r.stdout
    status = run_cli("local", "status", env=local_env)
    assert status.returncode == 1, "the one-shot endpoint must not stay behind as a local endpoint"


def test_restore_replays_what_the_previous_endpoint_held(local_env):
    """Stand-in: moto's server and its request recorder (moto_api recorder:
    every request appended to a file, replayed in order); IDs match on
    replay because the server seeds moto's ID generator."""
    assert run_cli("local", "up", env=local_env).returncode == 0
    # Preflight stops a deploy on an endpoint nothing was bootstrapped on, as on AWS.
    assert run_cli("bootstrap", "--params", "params/prod.json", "--local", env=local_env).returncode == 0
    first = run_cli("deploy", "--params", "params/prod.json", "--local", "--yes", env=local_env)
    assert first.returncode == 0, first.stderr
    vpc = [line for line in first.stdout.splitlines() if line.startswith("output VpcId = ")]
    assert vpc
    down = run_cli("local", "down", env=local_env)
    assert "`python build.py local up --restore`" in down.stdout

    up = run_cli("local", "up", "--restore", env=local_env)
    assert up.returncode == 0, up.stderr
    assert "recorded requests replayed" in up.stdout
    port = _state(local_env)["port"]
    again = run_cli("deploy", "--params", "params/prod.json", "--local", "--yes", env=local_env)
    assert again.returncode == 0, again.stderr
    assert "no changes: wealist-prod already matches" in again.stdout
    status = run_cli("status", "--params", "params/prod.json", "--local", env=local_env)
    assert vpc[0] in status.stdout, "the restored stack has other IDs than the recorded one"

    # A plain `up` starts empty.
    assert run_cli("local", "down", env=local_env).returncode == 0
    assert port_is_free(port)
    assert run_cli("local", "up", env=local_env).returncode == 0
    assert "stacks in ap-northeast-2: none" in run_cli("local", "status", env=local_env).stdout
    # The recording holds request bodies (local secrets included): owner-only, in the state folder.
    from pathlib import Path

    recording = Path(local_env["WEALIST_CFN_LOCAL_DIR"]) / "recording.jsonl"
    assert recording.stat().st_mode & 0o077 == 0
