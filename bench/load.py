"""Driving wrk: one fixed POST per scenario, fixed concurrency and duration, loopback only."""

import json
import shutil
import subprocess
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from bench.report import LevelResult, parse_wrk_output

LUA_SCRIPT = Path(__file__).resolve().parent / "post.lua"
# A 2xx body with a non-empty "errors" list: GraphQL top-level or payload errors, REST error bodies.
ERROR_LIST_PATTERN = '"errors"%s*:%s*%[%s*{'
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Scenario:
    """What wrk sends to one target: the same request, over and over."""

    target: str
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    error_pattern: str = ""


def wrk_path() -> str:
    path = shutil.which("wrk")
    if not path:
        raise RuntimeError("wrk is not installed (apt-get install -y wrk); bench/run.sh installs it")
    return path


def wrk_version() -> str:
    result = subprocess.run([wrk_path(), "-v"], capture_output=True, text=True, timeout=10)
    first = (result.stdout or result.stderr).strip().splitlines()
    return first[0].split(" [")[0] if first else "wrk"


def threads_for(connections: int) -> int:
    return min(2, connections)


def run_wrk(
    scenario: Scenario, *, connections: int, duration_s: float, workdir: Path, timeout_s: float = 10.0
) -> LevelResult:
    """One bounded wrk run against a loopback URL; parsed from post.lua's JSON summary."""
    host = urllib.parse.urlsplit(scenario.url).hostname
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"load tests target loopback only, not {host!r}")
    workdir.mkdir(parents=True, exist_ok=True)
    body_file = workdir / f"{scenario.target}.body.json"
    headers_file = workdir / f"{scenario.target}.headers.txt"
    body_file.write_bytes(scenario.body)
    headers_file.write_text("".join(f"{name}: {value}\n" for name, value in scenario.headers.items()))
    threads = threads_for(connections)
    argv = [
        wrk_path(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s:g}s",
        f"--timeout={timeout_s:g}s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        scenario.url,
    ]
    env = {
        "PATH": "/usr/bin:/bin",
        "BENCH_BODY_FILE": str(body_file),
        "BENCH_HEADERS_FILE": str(headers_file),
        "BENCH_ERROR_PATTERN": scenario.error_pattern,
    }
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=duration_s + timeout_s + 30)
    (workdir / f"{scenario.target}.c{connections}.wrk.txt").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"wrk exited {result.returncode}: {result.stderr.strip()[-500:]}")
    return parse_wrk_output(result.stdout, target=scenario.target, connections=connections, threads=threads)


def scenario_json(scenario: Scenario) -> dict:
    """What the results file records about a scenario (never the token)."""
    headers = {
        name: ("<redacted>" if name.lower() == "authorization" else value) for name, value in scenario.headers.items()
    }
    return {
        "url": scenario.url,
        "body": json.loads(scenario.body),
        "headers": headers,
        "error_pattern": scenario.error_pattern,
    }
