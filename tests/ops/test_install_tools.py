"""scripts/install-test-tools.sh leaves no policy-rc.d behind.

The script writes /usr/sbin/policy-rc.d (exit 101) so that installing the
prometheus and postgresql packages does not start their servers. invoke-rc.d
consults that file for every service on the machine (Debian's policy-rc.d
interface, /usr/share/doc/init-system-helpers/README.policy-rc.d), so a copy
left behind by a failed apt-get stops every later service start on the
machine. Runs the real script with apt-get replaced by a shim on PATH (no
package is installed) and the file's path moved into a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Only these commands are on PATH, so the script finds none of the checkers
# and goes to apt-get.
BASE_COMMANDS = ("bash", "dirname", "id", "ls", "tee", "chmod", "rm", "cat", "uname", "env", "sh")


def _run(tmp_path: Path, apt_exit: int, pre_existing: bool) -> tuple[subprocess.CompletedProcess, Path, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in BASE_COMMANDS:
        found = shutil.which(name)
        assert found, name
        (bin_dir / name).symlink_to(found)
    policy = tmp_path / "policy-rc.d"
    seen = tmp_path / "seen-during-install"
    # apt-get: `update` succeeds; `install` records whether the policy file
    # was in place, then ends with the given status.
    (bin_dir / "apt-get").write_text(
        "#!/bin/sh\n"
        'if [ "$1" = install ] || [ "$3" = install ] || [ "$4" = install ]; then\n'
        f'  [ -x "{policy}" ] && echo present > "{seen}"\n'
        f"  exit {apt_exit}\n"
        "fi\n"
        "exit 0\n"
    )
    (bin_dir / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
    for shim in ("apt-get", "sudo"):
        (bin_dir / shim).chmod(0o755)
    if pre_existing:
        policy.write_text("#!/bin/sh\n# the machine's own\nexit 0\n")
        policy.chmod(0o755)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "WEALIST_POLICY_RC_D": str(policy)}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install-test-tools.sh"), "/nonexistent/python"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, policy, seen


@pytest.mark.parametrize("apt_exit", [100, 0], ids=["apt-get fails", "apt-get succeeds"])
def test_policy_rc_d_is_in_place_during_the_install_and_gone_after(tmp_path, apt_exit):
    result, policy, seen = _run(tmp_path, apt_exit, pre_existing=False)
    assert seen.exists(), f"the policy file was not in place while apt-get installed:\n{result.stderr}"
    if apt_exit:
        assert result.returncode != 0, "a failed apt-get must fail the script"
    assert not policy.exists(), f"policy-rc.d left behind (apt-get exit {apt_exit}):\n{result.stderr}"


def test_a_policy_rc_d_the_machine_already_had_is_kept(tmp_path):
    result, policy, _ = _run(tmp_path, 100, pre_existing=True)
    assert result.returncode != 0
    assert policy.read_text().startswith("#!/bin/sh\n# the machine's own"), "the machine's own file was removed"
    assert os.access(policy, os.X_OK)
