"""instance-files/config/db-init.sql against a real PostgreSQL server (Debian's,
started for the test on a Unix socket): creates each service's role and
database, is idempotent, quotes hostile names and passwords safely, applies a
rotated password, and keeps one service out of the other's database."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .tools import ROOT, missing, require

sys.path.insert(0, str(ROOT / "instance-files" / "config"))
import render  # noqa: E402

SQL = ROOT / "instance-files" / "config" / "db-init.sql"
MASTER_PW = "Master1pw"

pytestmark = pytest.mark.slow


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else require(name)


@pytest.fixture(scope="module")
def postgres():
    """A throwaway server as the `postgres` OS user when run as root (PostgreSQL
    refuses root); its directory sits directly in /tmp, which that user can reach."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    require("psql")
    base = Path(tempfile.mkdtemp(prefix="wealist-pg-"))
    as_user = []
    if os.geteuid() == 0:
        if not shutil.which("runuser"):
            missing("runuser (util-linux), to run PostgreSQL as its own user when tests run as root,")
        as_user = ["runuser", "-u", "postgres", "--"]
        os.chmod(base, 0o755)
        shutil.chown(base, "postgres")
    pwfile = base / "pw"
    pwfile.write_text(MASTER_PW + "\n")
    if as_user:
        shutil.chown(pwfile, "postgres")
    data = base / "data"
    subprocess.run([*as_user, initdb, "-D", str(data), "-U", "master", "-A", "scram-sha-256",
                    f"--pwfile={pwfile}"], check=True, capture_output=True)
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-w", "-l", str(base / "log"),
                    "-o", f"-k {base} -c listen_addresses=''", "start"], check=True, capture_output=True)
    try:
        yield str(base)
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _psql(host, user, password, db, *args, env_extra=None):
    env = {"PATH": os.environ["PATH"], "PGHOST": host, "PGUSER": user, "PGPASSWORD": password, "PGDATABASE": db,
           **(env_extra or {})}
    return subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *args], env=env, capture_output=True,
                          text=True)


def _init(host, name, user, password):
    return _psql(host, "master", MASTER_PW, "postgres", "-f", str(SQL), env_extra={
        "WEALIST_DB_NAME": name, "WEALIST_DB_USER": user,
        "WEALIST_DB_PASSWORD_VERIFIER": render.scram_verifier(password)})


def _query(host, sql):
    r = _psql(host, "master", MASTER_PW, "postgres", "-At", "-c", sql)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


HOSTILE_USER = 'svc"; DROP ROLE master; --'
HOSTILE_PW = "p'w\"; DROP DATABASE postgres; -- $x"


def test_creates_role_and_database_once_and_is_safe_to_repeat(postgres):
    for _ in range(2):
        r = _init(postgres, "wealist_user_db", HOSTILE_USER, HOSTILE_PW)
        assert r.returncode == 0, r.stderr
    assert _query(postgres, "select datname || ':' || pg_get_userbyid(datdba) from pg_database "
                            "where datname = 'wealist_user_db'") == f"wealist_user_db:{HOSTILE_USER}"
    assert _query(postgres, "select count(*) from pg_roles where rolname = 'master'") == "1"
    login = _psql(postgres, HOSTILE_USER, HOSTILE_PW, "wealist_user_db", "-At", "-c",
                  "create table t (id int); select current_user")
    assert login.returncode == 0, login.stderr
    assert login.stdout.strip() == HOSTILE_USER
    # The password reached the server only as a SCRAM verifier.
    assert _query(postgres, f"select rolpassword like 'SCRAM-SHA-256$%' from pg_authid "
                            f"where rolname = '{HOSTILE_USER.replace(chr(39), chr(39) * 2)}'") == "t"


def test_a_rotated_password_replaces_the_old_one(postgres):
    assert _init(postgres, "wealist_board_db", "wealist_board_service", "Old1password").returncode == 0
    assert _init(postgres, "wealist_board_db", "wealist_board_service", "New1password").returncode == 0
    old = _psql(postgres, "wealist_board_service", "Old1password", "wealist_board_db", "-c", "select 1")
    new = _psql(postgres, "wealist_board_service", "New1password", "wealist_board_db", "-c", "select 1")
    assert old.returncode != 0 and new.returncode == 0


def test_one_service_cannot_connect_to_the_others_database(postgres):
    assert _init(postgres, "iso_a_db", "iso_a", "A1password").returncode == 0
    assert _init(postgres, "iso_b_db", "iso_b", "B1password").returncode == 0
    r = _psql(postgres, "iso_a", "A1password", "iso_b_db", "-c", "select 1")
    assert r.returncode != 0 and "permission denied" in r.stderr


def test_missing_inputs_stop_before_any_change(postgres):
    r = _psql(postgres, "master", MASTER_PW, "postgres", "-f", str(SQL),
              env_extra={"WEALIST_DB_NAME": "x_db", "WEALIST_DB_USER": "x", "WEALIST_DB_PASSWORD_VERIFIER": "plain"})
    assert r.returncode != 0
    assert _query(postgres, "select count(*) from pg_roles where rolname = 'x'") == "0"
