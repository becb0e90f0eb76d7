"""Fault injection: a real gunicorn server on loopback over the test's own database and media, clients
that retry with the same idempotency key, and one reconciliation that fails on lost or double-counted data.

Every server is started in its own session (process group) and killed in teardown; every loop here is
bounded in count and in time.
"""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum

from billing.models import MonthlyUsage, UsageRecord
from predictions.models import Prediction
from soak.run import children_of  # one /proc reader for the soak and the fault tests
from tests.batch.conftest import api  # noqa: F401 - the REST client fixture test_batch_jobs_heal uses

ROOT = Path(__file__).resolve().parents[2]
SERVER_SETTINGS = "tests.faults.server_settings"
BOOT_TIMEOUT_SECONDS = 90  # two workers importing Django + scikit-learn on a busy 2-core machine
REQUEST_TIMEOUT_SECONDS = 60
RETRYABLE_GRAPHQL_CODES = {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"}

requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (terminates the test database's backends)"
)

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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gunicorn_executable() -> str:
    beside_python = Path(sys.executable).parent / "gunicorn"
    return str(beside_python if beside_python.exists() else ROOT / ".venv" / "bin" / "gunicorn")


class GunicornServer:
    """`gunicorn mlapi.wsgi` with the project's gunicorn.conf.py, bound to 127.0.0.1 on a free port."""

    def __init__(
        self,
        *,
        workers: int,
        database_url: str,
        media_root: str,
        log_path: Path,
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
    ):
        self.workers = workers
        self.database_url = database_url
        self.media_root = media_root
        self.log_path = log_path
        self.port = port or free_port()
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "GunicornServer":
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": SERVER_SETTINGS,
            "DATABASE_URL": self.database_url,
            "MEDIA_ROOT": self.media_root,
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "warning",
            **self.extra_env,
        }
        command = [
            _gunicorn_executable(), "mlapi.wsgi",
            "-c", str(ROOT / "gunicorn.conf.py"),
            "-b", f"127.0.0.1:{self.port}",
            "-w", str(self.workers),
            "--timeout", "60",
            "--graceful-timeout", "5",
        ]  # fmt: skip
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.wait_until_serving(workers=self.workers)
        return self

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def worker_pids(self) -> list[int]:
        return children_of(self.process.pid) if self.process else []

    def wait_until_serving(self, *, workers: int, timeout: float = BOOT_TIMEOUT_SECONDS) -> None:
        """Until `workers` workers run and /healthz answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            if len(self.worker_pids()) >= workers:
                try:
                    if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                        return
                except requests.RequestException:
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not serve within {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        workers = self.worker_pids()
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)  # our own session: the master and its workers
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            except ProcessLookupError:
                pass
        for pid in workers:  # a worker the master could not reap (it is in the same group, but be sure)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


@pytest.fixture
def gunicorn_server(transactional_db, tmp_path):
    """Starts servers on the test database; stops them before the database is flushed."""
    servers: list[GunicornServer] = []

    def start(*, workers: int, database_url: str, extra_env: dict | None = None) -> GunicornServer:
        server = GunicornServer(
            workers=workers,
            database_url=database_url,
            media_root=str(settings.MEDIA_ROOT),
            log_path=tmp_path / f"gunicorn-{len(servers)}.log",
            extra_env=extra_env,
        )
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


def postgres_url(settings_dict: dict) -> str:
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{quote(settings_dict['NAME'], safe='')}"


@dataclass
class ServerDatabase:
    """The test database as a server process can reach it; `collect()` makes the server's writes visible here."""

    url: str
    _file: Path | None = None

    def collect(self) -> None:
        if self._file is not None:  # SQLite in memory: copy the server's file back over the test database
            source = sqlite3.connect(self._file)
            try:
                source.backup(connection.connection)
            finally:
                source.close()


@pytest.fixture
def server_database(transactional_db, tmp_path):
    """Call after the committed set-up (user, token, model): PostgreSQL is shared as it is; an in-memory
    SQLite test database is copied to a file the server uses, and copied back by `collect()`."""

    def share() -> ServerDatabase:
        settings_dict = connection.settings_dict
        if connection.vendor == "postgresql":
            return ServerDatabase(url=postgres_url(settings_dict))
        if connection.vendor != "sqlite":
            pytest.skip(f"no fault server for {connection.vendor}")
        name = str(settings_dict["NAME"])
        if not connection.is_in_memory_db():
            return ServerDatabase(url=f"sqlite:///{name}")
        path = tmp_path / "server.sqlite3"
        connection.ensure_connection()
        target = sqlite3.connect(path)
        try:
            connection.connection.backup(target)
        finally:
            target.close()
        return ServerDatabase(url=f"sqlite:///{path}", _file=path)

    return share


# --- Clients --------------------------------------------------------------------------------------


@dataclass
class Ack:
    """What a client was told for one idempotency key, once a call finally succeeded."""

    key: str
    prediction_ids: list[str]
    amount: Decimal
    predictions: int
    attempts: int
    replayed: bool


@dataclass
class ClientStats:
    acks: dict[str, Ack] = field(default_factory=dict)
    failures: Counter = field(default_factory=Counter)
    gave_up: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # of the successful attempts

    @property
    def retried_keys(self) -> list[str]:
        return [key for key, ack in self.acks.items() if ack.attempts > 1]


class RetryableFailure(Exception):
    """5xx, a dropped connection, or GraphQL's INTERNAL_SERVER_ERROR or SERVICE_UNAVAILABLE: retry."""


def graphql_call(session: requests.Session, *, base_url: str, token: str, variables: dict):
    try:
        response = session.post(
            f"{base_url}/graphql/",
            json={"query": CREATE_PREDICTION, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    except requests.RequestException as error:
        raise RetryableFailure(type(error).__name__) from error
    if response.status_code >= 500:
        raise RetryableFailure(f"HTTP {response.status_code}")
    body = response.json()
    codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}
    if codes & RETRYABLE_GRAPHQL_CODES:
        raise RetryableFailure("GraphQL " + ",".join(sorted(c for c in codes if c)))
    assert response.status_code == 200 and not body.get("errors"), body
    payload = body["data"]["createPrediction"]
    assert payload["errors"] == [], payload["errors"]
    return (
        [p["id"] for p in payload["predictions"]],
        Decimal(payload["cost"]["amount"]),
        payload["cost"]["predictions"],
        payload["replayed"],
    )


def rest_call(session: requests.Session, *, base_url: str, token: str, model_name: str, body: dict, key: str):
    try:
        response = session.post(
            f"{base_url}/api/v1/models/{model_name}/predict",
            json=body,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    except requests.RequestException as error:
        raise RetryableFailure(type(error).__name__) from error
    if response.status_code >= 500:
        raise RetryableFailure(f"HTTP {response.status_code}")
    assert response.status_code in (200, 201), response.text[:500]
    payload = response.json()
    return (
        [p["id"] for p in payload["predictions"]],
        Decimal(payload["cost"]["amount"]),
        payload["cost"]["predictions"],
        payload["replayed"],
    )


def call_until_acknowledged(call, *, key: str, stats: ClientStats, max_attempts: int, deadline: float) -> None:
    """Retries `call` (same key, same body) until it succeeds, `max_attempts` or `deadline`."""
    for attempt in range(1, max_attempts + 1):
        if time.monotonic() > deadline:
            break
        started = time.monotonic()
        try:
            ids, amount, count, replayed = call()
        except RetryableFailure as failure:
            stats.failures[str(failure)] += 1
            time.sleep(min(0.05 * attempt, 0.5))
            continue
        stats.seconds.append(time.monotonic() - started)
        stats.acks[key] = Ack(
            key=key, prediction_ids=ids, amount=amount, predictions=count, attempts=attempt, replayed=replayed
        )
        return
    stats.gave_up.append(key)


# --- Reconciliation -------------------------------------------------------------------------------


def assert_books_balance(*, user, acks: dict[str, Ack]) -> None:
    """Stored data == what clients were told: nothing lost, nothing stored or billed twice."""
    records = list(UsageRecord.objects.filter(user=user))
    by_key = {r.idempotency_key: r for r in records}
    # one usage record per acknowledged key, and none for anything else
    assert len(records) == len(by_key) == len(acks), (len(records), len(by_key), len(acks))
    assert set(by_key) == set(acks)
    # every acknowledged prediction id is stored once, under its call's usage record; nothing else is stored
    acknowledged_ids = [pid for ack in acks.values() for pid in ack.prediction_ids]
    assert len(acknowledged_ids) == len(set(acknowledged_ids))
    stored = {str(pk): usage_id for pk, usage_id in Prediction.objects.filter(user=user).values_list("pk", "usage_id")}
    assert set(stored) == set(acknowledged_ids)
    for key, ack in acks.items():
        assert {stored[pid] for pid in ack.prediction_ids} == {by_key[key].pk}, key
        assert ack.predictions == len(ack.prediction_ids) == by_key[key].predictions, key
        assert ack.amount == by_key[key].amount, key
    # no half-written call: each record's predictions are all there; no record without predictions
    per_record = dict(
        Prediction.objects.filter(usage__user=user)
        .order_by()
        .values("usage_id")
        .annotate(n=Count("pk"))
        .values_list("usage_id", "n")
    )
    assert per_record == {r.pk: r.predictions for r in records}
    assert not Prediction.objects.filter(user=user).exclude(usage__user=user).exists()
    assert not Prediction.objects.filter(usage__user=user).exclude(user=user).exists()
    # the month's counter and the bill
    counted = MonthlyUsage.objects.filter(user=user).aggregate(n=Sum("predictions"))["n"] or 0
    assert counted == sum(r.predictions for r in records) == len(acknowledged_ids)
    billed = sum((r.amount for r in records), Decimal(0))  # in Python: SQLite's SUM() adds floats
    assert billed == sum((ack.amount for ack in acks.values()), Decimal(0))
