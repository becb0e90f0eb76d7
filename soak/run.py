#!/usr/bin/env python
"""Soak test: gunicorn + PostgreSQL under a fixed request rate for minutes, then the books must balance.

    .venv/bin/python soak/run.py [--minutes 5] [--rate 50] [--database-url postgres://.../mlapi_soak]

Loopback only. Recreates the database (its name must contain "soak"), migrates, seeds the demo models,
creates a "soak" tier (no quota, no rate limit, no allowance: every prediction is billed), an API client
and a token, starts `gunicorn mlapi.wsgi -c gunicorn.conf.py` with production settings (one worker per
core), and sends createPrediction (GraphQL) and POST /api/v1/models/<name>/predict (REST) calls in turn,
iris and bank-marketing in turn, each with a unique idempotency key, at a fixed rate from a thread pool.
Every 10 s it samples each worker's RSS. At the end it reconciles the database with the responses, builds
the month's invoices and runs `manage.py billing_reconcile --include-drafts` on them, and writes
soak/results/<timestamp>.json and soak/results/latest.md. Exit status 0 only if there was no error,
no worker died and every reconciliation line holds (1: soak failed, 2: set-up failed). A target rate the
machine cannot sustain is reported ("target rate NOT reached"), not failed: the client waits for a free
thread rather than queue without bound.
"""

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "soak" / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mlapi_soak"
RSS_INTERVAL_SECONDS = 10
REQUEST_TIMEOUT_SECONDS = 30
BATCH_EVERY = 10  # every 10th call is a batch
BATCH_SIZE = 10
ERROR_SAMPLES = 10

CREATE_PREDICTION = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) {
    predictions { id }
    cost { amount currency predictions }
    replayed
    errors { field code message }
  }
}
"""

SOAK_TIER = """
from billing.models import PricingTier
PricingTier.objects.update_or_create(name="soak", defaults=dict(
    monthly_fee=0, included_predictions=0, price_per_prediction="0.0004", price_per_cpu_second="0.05",
    price_per_mb="0.001", monthly_quota=None, rate_limit_per_minute=None))
"""

BANK_JOBS = ["admin.", "blue-collar", "management", "retired", "services", "student", "technician"]


class SoakError(RuntimeError):
    """The set-up failed: no figures."""


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# --- Set-up ---------------------------------------------------------------------------------------


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_reset(*, database_url: str) -> str:
    """Drops and creates the database; returns the server's version. Only a name containing "soak"."""
    import psycopg2
    from psycopg2 import sql

    parts = urllib.parse.urlsplit(database_url)
    name = parts.path.lstrip("/")
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise SoakError(f"the soak runs on PostgreSQL, not {parts.scheme!r}")
    if "soak" not in name:
        raise SoakError(f"refusing to drop database {name!r}: use a name containing 'soak'")
    connection = psycopg2.connect(
        urllib.parse.urlunsplit(parts._replace(path="/postgres", query="")), connect_timeout=10
    )
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
    finally:
        connection.close()


def project_env(*, database_url: str, media_root: Path, minutes: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"CACHE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        DJANGO_SETTINGS_MODULE="mlapi.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=database_url,
        # Production settings require Redis (the rate limit's shared cache); the soak tier has no rate
        # limit, so nothing is written there.
        REDIS_URL=os.environ.get("SOAK_REDIS_URL", "redis://127.0.0.1:6379/15"),
        MEDIA_ROOT=str(media_root),
        STATIC_ROOT=str(media_root.parent / "static"),
        LOG_LEVEL="WARNING",  # one JSON line per request otherwise
        OAUTH2_ACCESS_TOKEN_EXPIRE_SECONDS=str(int(max(3600, minutes * 60 + 900))),
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 300) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise SoakError(f"manage.py {args[0]} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


class Server:
    """gunicorn in its own session (process group); `stop()` ends the master and its workers."""

    def __init__(self, *, env: dict[str, str], workers: int, max_requests: int, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        gunicorn = Path(sys.executable).parent / "gunicorn"
        self.process = subprocess.Popen(
            [
                str(gunicorn), "mlapi.wsgi",
                "-c", str(ROOT / "gunicorn.conf.py"),
                "-b", f"127.0.0.1:{self.port}",
                "-w", str(workers),
                "--max-requests", str(max_requests),
            ],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def workers(self) -> list[int]:
        return children_of(self.process.pid)

    def wait_ready(self, *, timeout: float, session) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SoakError(f"gunicorn exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                if session.get(f"{self.url}/readyz", timeout=5, headers=PROXY_HEADERS).status_code == 200:
                    return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.5)
        raise SoakError(f"gunicorn not ready within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._log.close()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return sorted(found)


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


# --- Load -----------------------------------------------------------------------------------------

# As a TLS-terminating proxy would send them: production settings trust X-Forwarded-Proto.
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


def iris_row(rng: random.Random) -> dict:
    return {
        "sepal_length": round(rng.uniform(4.3, 7.9), 1),
        "sepal_width": round(rng.uniform(2.0, 4.4), 1),
        "petal_length": round(rng.uniform(1.0, 6.9), 1),
        "petal_width": round(rng.uniform(0.1, 2.5), 1),
    }


def bank_row(rng: random.Random) -> dict:
    return {
        "age": rng.randint(18, 89),
        "job": rng.choice(BANK_JOBS),
        "marital": rng.choice(["divorced", "married", "single"]),
        "education": rng.choice(["primary", "secondary", "tertiary", "unknown"]),
        "balance": float(rng.randint(-500, 9000)),
        "housing": rng.choice(["no", "yes"]),
        "duration": rng.randint(5, 1200),
        "campaign": rng.randint(1, 9),
    }


class Load:
    """Open-loop: call i is due at start + i / rate, whether or not earlier calls have answered."""

    def __init__(self, *, base_url: str, token: str, rate: float, seconds: float, threads: int, run_id: str):
        self.base_url = base_url
        self.token = token
        self.rate = rate
        self.seconds = seconds
        self.run_id = run_id
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="soak")
        self.slots = threading.BoundedSemaphore(threads)
        self.planned = 0
        self.send_seconds = 0.0
        self.late_starts = 0  # calls that started more than 1 s after they were due
        self.local = threading.local()
        self.lock = threading.Lock()
        self.sent = 0
        self.ok = 0
        self.errors: Counter = Counter()
        self.error_samples: list[str] = []
        self.latency_ms: list[float] = []  # the request itself
        self.delay_ms: list[float] = []  # from when it was due (includes waiting for a free thread)
        self.acknowledged_predictions = 0
        self.acknowledged_calls = 0
        self.prediction_ids: set[str] = set()
        self.duplicate_ids = 0
        self.billed = Decimal(0)
        self.replayed = 0
        self.by_kind: Counter = Counter()

    def session(self):
        import requests

        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
            self.local.session.headers.update({"Authorization": f"Bearer {self.token}", **PROXY_HEADERS})
        return self.local.session

    def run(self, *, stop: threading.Event) -> None:
        """Sends for `seconds` of wall time. When every thread is busy (the server is behind), the next call
        waits for one, so the backlog stays bounded; the lateness shows in `latency_from_due_ms`."""
        started = time.monotonic()
        end = started + self.seconds
        index = 0
        while not stop.is_set():
            due = started + index / self.rate
            if due >= end or time.monotonic() >= end:
                break
            pause = due - time.monotonic()
            if pause > 0:
                stop.wait(pause)
            while not self.slots.acquire(timeout=0.5):
                if stop.is_set() or time.monotonic() >= end:
                    break
            else:
                if time.monotonic() - due > 1:
                    self.late_starts += 1
                self.pool.submit(self.call_in_slot, index, due)
                index += 1
                continue
            break
        self.planned = int(self.rate * self.seconds)
        self.send_seconds = time.monotonic() - started
        self.pool.shutdown(wait=True)

    def call_in_slot(self, index: int, due: float) -> None:
        try:
            self.call(index, due)
        finally:
            self.slots.release()

    def call(self, index: int, due: float) -> None:
        rng = random.Random(index)
        api = "graphql" if index % 2 == 0 else "rest"
        model = "iris" if index % 4 < 2 else "bank-marketing"
        make_row = iris_row if model == "iris" else bank_row
        batch = index % BATCH_EVERY == BATCH_EVERY - 1
        rows = [make_row(rng) for _ in range(BATCH_SIZE if batch else 1)]
        key = f"soak-{self.run_id}-{index}"
        begun = time.monotonic()
        try:
            if api == "graphql":
                field = {"instances": rows} if batch else {"features": rows[0]}
                response = self.session().post(
                    f"{self.base_url}/graphql/",
                    json={
                        "query": CREATE_PREDICTION,
                        "variables": {"input": {"modelName": model, "idempotencyKey": key, **field}},
                    },
                    timeout=REQUEST_TIMEOUT_SECONDS,
                )
                body = response.json() if response.status_code == 200 else None
                payload = (body or {}).get("data", {}) or {}
                payload = payload.get("createPrediction")
                if response.status_code != 200 or body.get("errors") or not payload or payload["errors"]:
                    raise RuntimeError(f"graphql HTTP {response.status_code}: {response.text[:300]}")
            else:
                response = self.session().post(
                    f"{self.base_url}/api/v1/models/{model}/predict",
                    json={"instances": rows} if batch else {"features": rows[0]},
                    headers={"Idempotency-Key": key},
                    timeout=REQUEST_TIMEOUT_SECONDS,
                )
                if response.status_code != 201:
                    raise RuntimeError(f"rest HTTP {response.status_code}: {response.text[:300]}")
                payload = response.json()
            ids = [p["id"] for p in payload["predictions"]]
            cost = payload["cost"]
            if len(ids) != len(rows) or cost["predictions"] != len(rows):
                raise RuntimeError(f"{api}: {len(rows)} rows, {len(ids)} ids, cost for {cost['predictions']}")
        except Exception as error:  # noqa: BLE001 - every failure is counted, none retried
            with self.lock:
                self.sent += 1
                self.errors[f"{api} {type(error).__name__}"] += 1
                if len(self.error_samples) < ERROR_SAMPLES:
                    self.error_samples.append(f"#{index} {api} {model}: {error}"[:400])
            return
        finished = time.monotonic()
        with self.lock:
            self.sent += 1
            self.ok += 1
            self.by_kind[f"{api} {model}"] += 1
            self.latency_ms.append((finished - begun) * 1000)
            self.delay_ms.append((finished - due) * 1000)
            self.acknowledged_calls += 1
            self.acknowledged_predictions += len(ids)
            before = len(self.prediction_ids)
            self.prediction_ids.update(ids)
            self.duplicate_ids += len(ids) - (len(self.prediction_ids) - before)
            self.billed += Decimal(cost["amount"])
            self.replayed += bool(payload.get("replayed"))


class RssSampler(threading.Thread):
    def __init__(self, *, server: Server, interval: float, deadline: float):
        super().__init__(name="rss", daemon=True)
        self.server = server
        self.interval = interval
        self.deadline = deadline
        self.stopped = threading.Event()
        self.samples: list[dict] = []  # {"t": s since start, "pid": ..., "rss_kib": ...}
        self.started_at = time.monotonic()

    def sample(self) -> None:
        t = round(time.monotonic() - self.started_at, 1)
        for pid in self.server.workers():
            rss = rss_kib(pid)
            if rss is not None:
                self.samples.append({"t": t, "pid": pid, "rss_kib": rss})

    def run(self) -> None:
        while not self.stopped.is_set() and time.monotonic() < self.deadline:
            self.sample()
            self.stopped.wait(self.interval)
        self.sample()


# --- Reconciliation -------------------------------------------------------------------------------


def reconcile(*, database_url: str, username: str, load: Load) -> list[dict]:
    """Each line: what is compared, the figures, and whether they agree."""
    import psycopg2

    connection = psycopg2.connect(database_url, connect_timeout=10)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM accounts_user WHERE username = %s", [username])
            (user_id,) = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM predictions_prediction WHERE user_id = %s", [user_id])
            (stored,) = cursor.fetchone()
            cursor.execute(
                "SELECT count(*), count(DISTINCT idempotency_key), "
                "coalesce(sum(predictions), 0), coalesce(sum(amount), 0) "
                "FROM billing_usagerecord WHERE user_id = %s",
                [user_id],
            )
            records, keys, recorded, billed = cursor.fetchone()
            cursor.execute(
                "SELECT coalesce(sum(predictions), 0) FROM billing_monthlyusage WHERE user_id = %s", [user_id]
            )
            (counted,) = cursor.fetchone()
            cursor.execute(
                "SELECT count(*) FROM billing_usagerecord u WHERE u.user_id = %s AND u.predictions <> "
                "(SELECT count(*) FROM predictions_prediction p WHERE p.usage_id = u.id)",
                [user_id],
            )
            (half_written,) = cursor.fetchone()
    finally:
        connection.close()
    lines = [
        ("predictions stored == usage records' predictions == acknowledged",
         [stored, int(recorded), load.acknowledged_predictions]),
        ("usage records == distinct keys == calls acknowledged", [records, keys, load.acknowledged_calls]),
        ("monthly usage counter == usage records' predictions", [int(counted), int(recorded)]),
        ("usage records whose prediction count differs", [half_written, 0]),
        ("prediction ids returned twice", [load.duplicate_ids, 0]),
        ("billed (sum of UsageRecord.amount) == sum of returned costs", [Decimal(billed), load.billed]),
    ]  # fmt: skip
    return [
        {"check": name, "figures": [str(f) for f in figures], "ok": len(set(figures)) == 1} for name, figures in lines
    ]


def billing_reconcile(*, env: dict[str, str], months: list[str]) -> dict:
    """The months' draft invoices, built now, held to the closed-month arithmetic by `manage.py billing_reconcile`
    (usage lines = usage records, counters = records' predictions). Exit status 1 = a difference, not a set-up
    failure."""
    for month in months:
        manage("generate_invoices", "--period", month, env=env)
    result = subprocess.run(
        [sys.executable, "manage.py", "billing_reconcile", "--include-drafts", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if result.returncode not in (0, 1):
        raise SoakError(f"manage.py billing_reconcile failed ({result.returncode}):\n{result.stderr[-3000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report["exit_status"] = result.returncode
    return report


# --- Report ---------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))], 1)


def summarize(*, args, load: Load, sampler: RssSampler, checks: list[dict], started: datetime, elapsed: float,
              database: str, workers: int, worker_pids_seen: set[int], server_alive: bool) -> dict:  # fmt: skip
    per_worker: dict[int, list[dict]] = {}
    for sample in sampler.samples:
        per_worker.setdefault(sample["pid"], []).append(sample)
    rss = [
        {
            "pid": pid,
            "first_mib": round(samples[0]["rss_kib"] / 1024, 1),
            "last_mib": round(samples[-1]["rss_kib"] / 1024, 1),
            "max_mib": round(max(s["rss_kib"] for s in samples) / 1024, 1),
            "first_t": samples[0]["t"],
            "last_t": samples[-1]["t"],
            "samples": len(samples),
        }
        for pid, samples in sorted(per_worker.items())
    ]
    restarts = max(0, len(worker_pids_seen) - workers)
    errors = sum(load.errors.values())
    workers_held = server_alive and (args.max_requests > 0 or restarts == 0)  # recycling off: a new pid = a crash
    passed = load.ok > 0 and errors == 0 and all(c["ok"] for c in checks) and workers_held
    return {
        "passed": passed,
        "started_at": started.isoformat(timespec="seconds"),
        "duration_s": round(elapsed, 1),
        "settings": {
            "minutes": args.minutes, "rate_per_s": args.rate, "client_threads": args.threads,
            "gunicorn_workers": workers, "max_requests": args.max_requests, "database": database, "host_cores": cores(),
        },
        "requests": {
            "planned": load.planned,
            "sent": load.sent,
            "ok": load.ok,
            "errors": errors,
            "achieved_rate_per_s": round(load.sent / load.send_seconds, 1) if load.send_seconds else None,
            "started_over_1s_late": load.late_starts,
            "rate_reached": bool(load.send_seconds) and load.sent / load.send_seconds >= 0.95 * args.rate,
            "replayed": load.replayed,
            "by_kind": dict(load.by_kind),
            "error_kinds": dict(load.errors),
            "error_samples": load.error_samples,
        },
        "latency_ms": {
            "p50": percentile(load.latency_ms, 50), "p90": percentile(load.latency_ms, 90),
            "p99": percentile(load.latency_ms, 99), "max": round(max(load.latency_ms), 1) if load.latency_ms else None,
            "mean": round(statistics.fmean(load.latency_ms), 1) if load.latency_ms else None,
        },
        "latency_from_due_ms": {"p50": percentile(load.delay_ms, 50), "p99": percentile(load.delay_ms, 99)},
        "rss_per_worker": rss,
        "worker_restarts": restarts,
        "server_alive_at_end": server_alive,
        "reconciliation": checks,
        "rss_samples": sampler.samples,
    }  # fmt: skip


def markdown(summary: dict) -> str:
    s, r, lat = summary["settings"], summary["requests"], summary["latency_ms"]
    out = [
        f"# Soak {summary['started_at']}: {'PASSED' if summary['passed'] else 'FAILED'}"
        + (
            ""
            if r["rate_reached"]
            else f" (target rate NOT reached: {r['achieved_rate_per_s']} of {s['rate_per_s']} req/s)"
        ),
        "",
        f"- {s['minutes']} min at {s['rate_per_s']} req/s, {s['client_threads']} client threads, "
        f"{s['gunicorn_workers']} gunicorn workers (max_requests {s['max_requests']}), "
        f"{s['host_cores']} cores, {s['database']}",
        f"- requests planned {r['planned']}, sent {r['sent']}, ok {r['ok']}, errors {r['errors']}, "
        f"achieved {r['achieved_rate_per_s']} req/s, "
        f"started over 1 s late {r['started_over_1s_late']}, replayed {r['replayed']}",
        "- by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(r["by_kind"].items())),
        f"- latency ms: p50 {lat['p50']}, p90 {lat['p90']}, p99 {lat['p99']}, max {lat['max']} "
        f"(from due time: p50 {summary['latency_from_due_ms']['p50']}, p99 {summary['latency_from_due_ms']['p99']})",
        f"- worker restarts {summary['worker_restarts']}; server alive at end: {summary['server_alive_at_end']}",
    ]
    if r["error_kinds"]:
        out.append(f"- errors: {r['error_kinds']}")
        out += [f"  - `{sample}`" for sample in r["error_samples"]]
    out += [
        "",
        "| worker pid | RSS first MiB | RSS last MiB | RSS max MiB | sampled from..to s |",
        "|---|---|---|---|---|",
    ]
    out += [
        f"| {w['pid']} | {w['first_mib']} | {w['last_mib']} | {w['max_mib']} | {w['first_t']}..{w['last_t']} |"
        for w in summary["rss_per_worker"]
    ]
    out += ["", "| reconciliation | figures | ok |", "|---|---|---|"]
    out += [
        f"| {c['check']} | {' / '.join(c['figures'])} | {'yes' if c['ok'] else '**NO**'} |"
        for c in summary["reconciliation"]
    ]
    return "\n".join(out) + "\n"


# --- Main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second (default 50)")
    parser.add_argument("--threads", type=int, default=32, help="client thread pool size")
    parser.add_argument("--workers", type=int, default=cores(), help="gunicorn workers (default: cores)")
    parser.add_argument(
        "--max-requests", type=int, default=0,
        help="gunicorn worker recycling; 0 (default) keeps workers for the whole run so a leak shows in RSS "
        "(gunicorn.conf.py's production value is 1000)",
    )  # fmt: skip
    parser.add_argument("--database-url", default=os.environ.get("SOAK_DATABASE_URL", DEFAULT_DATABASE_URL))
    args = parser.parse_args(argv)
    if not (0 < args.minutes <= 120) or not (0 < args.rate <= 1000) or not (1 <= args.threads <= 256):
        parser.error("bounds: 0 < minutes <= 120, 0 < rate <= 1000, 1 <= threads <= 256")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import requests

    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(tempfile.mkdtemp(prefix="mlapi-soak-"))
    server: Server | None = None
    try:
        log(f"database {urllib.parse.urlsplit(args.database_url).path.lstrip('/')}: drop and create")
        version = database_reset(database_url=args.database_url)
        parts = urllib.parse.urlsplit(args.database_url)
        database = f"PostgreSQL {version} ({parts.hostname}:{parts.port or 5432}{parts.path})"
        env = project_env(database_url=args.database_url, media_root=workdir / "media", minutes=args.minutes)
        log("migrate, seed_demo, soak tier, create_api_client")
        manage("migrate", "--noinput", env=env)
        manage("seed_demo", env=env)
        manage("shell", "-c", SOAK_TIER, env=env)
        credentials = json.loads(
            manage("create_api_client", "--username", "soak", "--tier", "soak", env=env).strip().splitlines()[-1]
        )

        log(f"gunicorn: {args.workers} workers, max_requests {args.max_requests}")
        server = Server(
            env=env, workers=args.workers, max_requests=args.max_requests, log_path=workdir / "gunicorn.log"
        )
        session = requests.Session()
        server.wait_ready(timeout=120, session=session)
        response = session.post(
            f"{server.url}/o/token/",
            data={"grant_type": "client_credentials", "scope": "read predict"},
            auth=(credentials["client_id"], credentials["client_secret"]),
            headers=PROXY_HEADERS,
            timeout=30,
        )
        if response.status_code != 200:
            raise SoakError(f"no token: HTTP {response.status_code} {response.text[:300]}")
        token = response.json()["access_token"]

        seconds = args.minutes * 60
        load = Load(
            base_url=server.url, token=token, rate=args.rate, seconds=seconds, threads=args.threads, run_id=stamp
        )
        sampler = RssSampler(server=server, interval=RSS_INTERVAL_SECONDS, deadline=time.monotonic() + seconds + 120)
        worker_pids_seen: set[int] = set(server.workers())
        stop = threading.Event()
        log(f"load: {args.rate} req/s for {args.minutes} min")
        sampler.start()
        load_thread = threading.Thread(target=load.run, kwargs={"stop": stop}, name="load", daemon=True)
        t0 = time.monotonic()
        load_thread.start()
        next_report = t0 + 30
        while load_thread.is_alive():
            load_thread.join(timeout=1)
            worker_pids_seen.update(server.workers())
            if time.monotonic() >= next_report:
                next_report += 30
                log(f"  {time.monotonic() - t0:.0f} s: sent {load.sent}, errors {sum(load.errors.values())}")
            if time.monotonic() > t0 + seconds + REQUEST_TIMEOUT_SECONDS + 60:
                stop.set()
                raise SoakError("the load did not finish in time")
        elapsed = time.monotonic() - t0
        sampler.stopped.set()
        sampler.join(timeout=10)
        server_alive = server.process.poll() is None

        log("reconcile")
        checks = reconcile(database_url=args.database_url, username="soak", load=load)
        months = sorted({f"{started:%Y-%m}", f"{datetime.now(UTC):%Y-%m}"})
        log(f"generate_invoices {', '.join(months)}; billing_reconcile --include-drafts")
        billing = billing_reconcile(env=env, months=months)
        checks.append(
            {
                "check": "billing_reconcile: invoiced usage lines == usage records, counters == records' predictions",
                "figures": [f"{billing['invoices_checked']} invoices", f"{billing['differences']} differences"],
                "ok": billing["ok"] and billing["exit_status"] == 0 and billing["invoices_checked"] > 0,
            }
        )
        summary = summarize(
            args=args, load=load, sampler=sampler, checks=checks, started=started, elapsed=elapsed,
            database=database, workers=args.workers, worker_pids_seen=worker_pids_seen, server_alive=server_alive,
        )  # fmt: skip
        summary["billing_reconcile"] = billing
        if not summary["passed"]:
            summary["gunicorn_log_tail"] = server.log_tail(60)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"{stamp}.json").write_text(json.dumps(summary, indent=2) + "\n")
        report = markdown(summary)
        (RESULTS / "latest.md").write_text(report)
        print()
        print(report)
        log(f"written {RESULTS / f'{stamp}.json'} and {RESULTS / 'latest.md'}")
        return 0 if summary["passed"] else 1
    except SoakError as error:
        log(f"soak aborted: {error}")
        return 2
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
