"""The rehearsal script in docs/deploy.md runs exactly as written, so the
docs cannot drift from the code; afterwards no server is left and its port
is free.

Stand-in: moto's server (5.2.5) in its own process, with the layers of
:mod:`wealist_cfn.rehearsal.server`; the rules each layer keeps are tested in
test_updates.py and tests/deploy/test_local_compat.py."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT, pid_alive, port_is_free
from .docs_commands import user_env

DOC = ROOT / "docs" / "deploy.md"


def script_lines() -> list[str]:
    text = DOC.read_text()
    section = text[text.index("### Rehearsal script") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "docs/deploy.md: no ```sh block under '### Rehearsal script'"
    return [line for line in block.group(1).splitlines() if line.strip()]


def documented_review() -> list[str]:
    text = DOC.read_text()
    section = text[text.index("### Rehearsal script") :]
    block = re.findall(r"```text\n(.*?)```", section, re.S)[0]
    return block.splitlines()


def test_script_has_the_rehearsal_steps_in_order():
    steps = [line.split(" --")[0] for line in script_lines() if line.startswith("python build.py")]
    assert steps == [
        "python build.py local up",
        "python build.py bootstrap",
        "python build.py deploy",
        "python build.py plan",
        "python build.py deploy",
        "python build.py deploy",
        "python build.py rollout",
        "python build.py local down",
    ]


def test_rehearsal_script_runs_as_written(tmp_path):
    env = user_env(tmp_path / "state")
    made = ROOT / "params-multiaz.local.json"
    existed = made.exists()
    outputs, pid, port = [], None, None
    try:
        for line in script_lines():
            r = subprocess.run(["bash", "-c", line], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            outputs.append((line, r))
            assert r.returncode == 0, f"{line}\n{r.stdout}\n{r.stderr}"
            if line == "python build.py local up":
                m = re.search(r"localhost:(\d+) \(127\.0\.0\.1 only, PID (\d+)\)", r.stdout)
                assert m, r.stdout
                port, pid = int(m.group(1)), int(m.group(2))
    finally:
        if (tmp_path / "state" / "endpoint.json").exists():
            subprocess.run([sys.executable, "build.py", "local", "down"], cwd=ROOT, env=env, timeout=60)
        if not existed:
            made.unlink(missing_ok=True)
    by_step = {line: r.stdout for line, r in outputs}
    plan = next(out for line, out in by_step.items() if " plan " in line)
    deploys = [r for line, r in outputs if " deploy " in line]
    assert "no changes" in deploys[2].stdout
    assert "final state: UPDATE_COMPLETE" in deploys[1].stdout
    assert "Summary: 8 add, 9 modify" in plan
    rollout = next(out for line, out in by_step.items() if "rollout" in line)
    assert "rollout of wealist-prod-backend-asg succeeded" in rollout
    assert not pid_alive(pid), "local down left the server running"
    assert port_is_free(port), "the endpoint's port is still taken after local down"

    # The review shown in the docs is the one the tool prints (change-set name and commit aside).
    def normal(lines):
        return [
            re.sub(r"deploy-\d{8}-\d{6}-\w+-\w+|commit [^\s;]+(; content sha256:[0-9a-f]+)?", "X", ln).rstrip()
            for ln in lines
        ]

    printed = normal(plan.splitlines())
    shown = normal(documented_review())
    missing = [line for line in shown if line not in printed]
    assert shown and not missing, (
        "docs/deploy.md shows another review than the tool prints; not printed:\n"
        + "\n".join(missing)
        + "\nprinted:\n"
        + "\n".join(printed)
    )
    assert [ln for ln in printed if ln.startswith(("Summary", "wealist-prod"))] == [
        ln for ln in shown if ln.startswith(("Summary", "wealist-prod"))
    ]


def test_script_needs_no_file_outside_the_repo():
    for line in script_lines():
        assert "/tmp" not in line and "~" not in line, line
    assert Path(ROOT / ".gitignore").read_text().count("*.local.json") == 1
