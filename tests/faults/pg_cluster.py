"""A throwaway PostgreSQL cluster a fault test may stop, freeze and starve: `initdb` + `pg_ctl` from
/usr/lib/postgresql/*/bin, run as the postgres OS user, data in its own temporary directory, on a port
the test chooses (or the first free one in FREE_PORTS). The machine's shared server is never touched.
Tuned for throughput, not durability (fsync off): an immediate stop is a crash of the server, not of
the machine, so nothing is lost.
"""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg2
import pytest

from soak.run import children_of

_BIN_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name))
PG_BIN = Path(_BIN_DIRS[-1]) if _BIN_DIRS else None
OS_USER = "postgres"
FREE_PORTS = range(18900, 19000)  # the fault tests' range for a cluster that needs no fixed port


def free_port() -> int:
    for port in FREE_PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {FREE_PORTS.start}-{FREE_PORTS.stop - 1}")


def _os_user_exists() -> bool:
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        return False
    return True


requires_pg_binaries = pytest.mark.skipif(
    PG_BIN is None or not _os_user_exists() or os.geteuid() != 0 or shutil.which("runuser") is None,
    reason="needs PostgreSQL's server binaries, the postgres OS user and root (to run them as postgres)",
)


class ThrowawayCluster:
    def __init__(self, *, port: int, settings: dict[str, str] | None = None):
        self.port = port
        self.settings = {
            "listen_addresses": "127.0.0.1",
            "fsync": "off",
            "synchronous_commit": "off",
            **(settings or {}),
        }
        self.root = Path(tempfile.mkdtemp(prefix=f"mlapi-pg-{port}-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"

    def _as_postgres(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["runuser", "-u", OS_USER, "--", *args], capture_output=True, text=True, timeout=timeout, check=True
        )

    def init(self) -> "ThrowawayCluster":
        user = pwd.getpwnam(OS_USER)
        os.chown(self.root, user.pw_uid, user.pw_gid)
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")
        return self

    def start(self) -> None:
        options = " ".join([f"-p {self.port}", f"-k {self.root}", *(f"-c {k}={v}" for k, v in self.settings.items())])
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return None

    @property
    def running(self) -> bool:
        return self.postmaster_pid() is not None

    def database_settings(self, dbname: str) -> dict:
        """The database's entry for settings.DATABASES."""
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": dbname,
            "USER": "postgres",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
        }

    def freeze(self) -> None:
        """SIGSTOP the postmaster: open sessions keep working, every new connection hangs."""
        os.kill(self.postmaster_pid(), signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.postmaster_pid(), signal.SIGCONT)

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres"):
        sql = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, connect_timeout=5)
        sql.autocommit = True
        return sql

    def execute(self, statement: str, params=None, *, dbname: str = "postgres") -> None:
        """One statement in autocommit on a connection of its own (CREATE DATABASE cannot run in a block)."""
        sql = self.connect(dbname)
        try:
            with sql.cursor() as cursor:
                cursor.execute(statement, params)
        finally:
            sql.close()

    def destroy(self) -> None:
        pid = self.postmaster_pid()
        if pid is not None:
            for process in [pid, *children_of(pid)]:
                try:
                    os.kill(process, signal.SIGCONT)  # a frozen cluster cannot shut down
                except ProcessLookupError:
                    pass
            try:
                self.stop(mode="immediate")
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.root, ignore_errors=True)
