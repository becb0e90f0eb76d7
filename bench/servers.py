"""Starting and stopping the servers under test, on loopback, each in its own process group.

Standard library only. Every process is started in a new session, so stopping it signals the whole
group (gunicorn's and uvicorn's workers, MLServer's inference workers) and nothing outlives the run.
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

LOOPBACK = "127.0.0.1"


class ServerError(RuntimeError):
    """A server did not start, died, or answered the probe wrongly; `details` holds its log's tail."""

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.details = details


_taken: set[int] = set()


def free_port() -> int:
    """A free loopback port: the OS's choice, or the next free one of BENCH_PORTS ("19200-19299") if set."""
    span = os.environ.get("BENCH_PORTS")
    if not span:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            return sock.getsockname()[1]
    low, high = (int(part) for part in span.split("-"))
    for port in range(low, high + 1):
        if port in _taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
        _taken.add(port)
        return port
    raise ServerError(f"no free port in BENCH_PORTS={span}")


def cpu_count() -> int:
    """The CPUs this process may run on (a container's cpuset), as gunicorn.conf.py counts them."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class ManagedProcess:
    """A child process and its group: started with output to a log file, always stopped."""

    def __init__(
        self, name: str, argv: list[str], *, env: dict[str, str], cwd: Path, log_path: Path, stop_grace_s: float = 10.0
    ):
        self.name, self.argv, self.env, self.cwd, self.log_path = name, argv, env, cwd, log_path
        self.stop_grace_s = stop_grace_s
        self.process: subprocess.Popen | None = None

    def start(self) -> "ManagedProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace_s: float | None = None) -> None:
        """SIGTERM to the group, SIGKILL to whatever is left after the grace time. Safe to call twice."""
        if self.process is None:
            return
        grace_s = self.stop_grace_s if grace_s is None else grace_s
        pgid = self.process.pid  # start_new_session: the group id is the leader's pid
        _signal_group(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(pgid, signal.SIGKILL)  # stragglers: workers that ignored the leader's exit
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> "ManagedProcess":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def http_request(
    method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 10.0
) -> tuple[int, bytes]:
    """One request; the status and body even for 4xx/5xx. Connection failures raise OSError."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def http_json(method: str, url: str, *, payload=None, headers: dict[str, str] | None = None, timeout: float = 10.0):
    """POST/GET JSON; returns (status, decoded JSON or None when the body is not JSON)."""
    body = json.dumps(payload).encode() if payload is not None else None
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    status, raw = http_request(method, url, body=body, headers=all_headers, timeout=timeout)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def wait_ready(process: ManagedProcess, url: str, *, timeout_s: float = 60.0, interval_s: float = 0.25) -> float:
    """Polls `url` until it answers 200; returns the seconds it took. Fails fast if the process dies."""
    started = time.monotonic()
    last = "no answer"
    while time.monotonic() - started < timeout_s:
        if not process.alive:
            raise ServerError(
                f"{process.name} exited with code {process.process.returncode} before it was ready", process.log_tail()
            )
        try:
            status, _ = http_request("GET", url, timeout=2.0)
            if status == 200:
                return time.monotonic() - started
            last = f"HTTP {status}"
        except OSError as error:
            last = type(error).__name__
        time.sleep(interval_s)
    raise ServerError(f"{process.name} not ready at {url} after {timeout_s:.0f} s ({last})", process.log_tail())
