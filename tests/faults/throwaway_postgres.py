"""A PostgreSQL cluster of the test's own, which it may stop and start: initdb + pg_ctl from Debian's
/usr/lib/postgresql/<version>/bin, data and socket in a temporary directory, listening on 127.0.0.1 only.

The machine's shared server is never touched. Run as root (as here), the cluster runs as the `postgres`
OS user (initdb refuses root); otherwise as the current user. Tuned for throughput, not durability
(fsync off): an immediate stop is a crash of the server, not of the machine, so nothing is lost.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PORTS = range(18700, 18800)  # this project's fault tests' range for a stoppable PostgreSQL
DATABASE = "mlapi_outage"


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    for port in PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


class ThrowawayPostgres:
    def __init__(self):
        bin_dir = _bin_dir()
        if bin_dir is None:
            raise FileNotFoundError("no pg_ctl (PostgreSQL server binaries) on this machine")
        self.bin_dir = bin_dir
        self.run_as = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="mlapi-throwaway-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.user = self.run_as or pwd.getpwuid(os.geteuid()).pw_name
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _run(self, *command: str, timeout: float = 60) -> None:
        subprocess.run(
            [str(self.bin_dir / command[0]), *command[1:]],
            check=True,
            timeout=timeout,
            capture_output=True,
            user=self.run_as,
            group=self.run_as,
            extra_groups=[] if self.run_as else None,
            cwd=self.root,
        )

    def create(self) -> "ThrowawayPostgres":
        self._run(
            "initdb", "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"
        )
        options = [
            f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-k {self.root}",
            "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off", "-c max_connections=50",
        ]  # fmt: skip
        (self.data / "postgresql.auto.conf").write_text("")  # options go on the pg_ctl command line
        self._options = " ".join(options)
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, DATABASE)
        return self

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "immediate") -> None:
        """`immediate` is a crash (every backend killed at once); `fast` a clean shutdown."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        if self.running:
            try:
                self.stop()
            except subprocess.SubprocessError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def settings(self) -> dict:
        """The database's entry for settings.DATABASES."""
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": DATABASE,
            "USER": self.user,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
        }
