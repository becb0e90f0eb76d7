"""CPU seconds of the servers under test and of their PostgreSQL backends, from /proc (Linux; standard library).

A server's CPU is the sum over the processes of its process group (each server is started in its own session):
user + system time of the live ones plus the children they have reaped (a recycled gunicorn worker's time is in
its master's cutime/cstime). PostgreSQL's is the backends serving the bench database (found by their process
title, "postgres: [cluster:] <user> <database> …"); the shared background processes (WAL writer, checkpointer) are not
counted. A backend that exits inside a window loses its time: the servers keep their connections open.
"""

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class ProcStat:
    pid: int
    pgrp: int
    cpu_seconds: float  # utime + stime + cutime + cstime


def proc_stat_parse(text: str, pid: int) -> ProcStat:
    """One /proc/<pid>/stat line (the command name may hold spaces and parentheses)."""
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): pgrp is field 5, utime..cstime are fields 14..17.
    ticks = sum(int(value) for value in fields[11:15])
    return ProcStat(pid=pid, pgrp=int(fields[2]), cpu_seconds=ticks / _TICKS)


def _stats(proc: Path = PROC):
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                yield proc_stat_parse((entry / "stat").read_text(), int(entry.name))
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile


def group_cpu_seconds(pgid: int, *, proc: Path = PROC) -> float:
    return sum(stat.cpu_seconds for stat in _stats(proc) if stat.pgrp == pgid)


def postgres_backend_pids(database: str, *, proc: Path = PROC) -> list[int]:
    pids = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if backend_database(title) == database:
            pids.append(int(entry.name))
    return pids


def backend_database(title: str) -> str | None:
    """The database of a backend's process title: "postgres: [cluster:] user database host(port) state"
    (Debian's clusters add "15/main:"); None for other processes."""
    parts = title.split()
    if not parts or parts[0] != "postgres:":
        return None
    rest = parts[1:]
    if rest and rest[0].endswith(":"):
        rest = rest[1:]
    return rest[1] if len(rest) >= 3 else None


def pids_cpu_seconds(pids, *, proc: Path = PROC) -> dict[int, float]:
    seconds = {}
    for pid in pids:
        try:
            seconds[pid] = proc_stat_parse((proc / str(pid) / "stat").read_text(), pid).cpu_seconds
        except (OSError, ValueError, IndexError):
            continue
    return seconds


class CpuMeter:
    """CPU spent by one server's process group and by the database's backends between start() and stop()."""

    def __init__(self, *, pgid: int, database: str | None, proc: Path = PROC):
        self.pgid, self.database, self.proc = pgid, database, proc
        self._server = 0.0
        self._backends: dict[int, float] = {}

    def start(self) -> None:
        self._server = group_cpu_seconds(self.pgid, proc=self.proc)
        self._backends = pids_cpu_seconds(self._backend_pids(), proc=self.proc)

    def _backend_pids(self) -> list[int]:
        return postgres_backend_pids(self.database, proc=self.proc) if self.database else []

    def stop(self) -> tuple[float, float]:
        """(server CPU seconds, PostgreSQL CPU seconds) since start(); a backend new since then counts whole."""
        server = group_cpu_seconds(self.pgid, proc=self.proc) - self._server
        now = pids_cpu_seconds(self._backend_pids(), proc=self.proc)
        database = sum(seconds - self._backends.get(pid, 0.0) for pid, seconds in now.items())
        return server, database
