"""Batch-job fixtures: input files, REST/GraphQL submission helpers, and a real Celery worker process."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
PROJECT_DIR = Path(__file__).resolve().parents[2]
WORKER_REDIS_URL = os.environ.get("BATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
# Per test session: sessions running at the same time (SQLite and PostgreSQL, two people) share the
# Redis db but never each other's chunks, which their workers would look up in the wrong database.
WORKER_QUEUE = f"batch-test-{os.getpid()}"
CHUNK_TASK = "batch.tasks.run_batch_chunk"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "worker: starts a real Celery worker process against Redis (BATCH_TEST_REDIS_URL, db 13)"
    )
    _sqlite_test_database_in_a_file()


def _sqlite_test_database_in_a_file() -> None:
    """The worker tests' worker process must open the test database: on SQLite it cannot be in memory.

    Setting it here (at collection, before any test database exists) applies to the whole session, so
    it does not depend on which test creates the database first. A TEST NAME already set is kept.
    """
    from django.conf import settings
    from django.db import connections

    for database in (settings.DATABASES["default"], connections["default"].settings_dict):
        test = database.setdefault("TEST", {})
        if database["ENGINE"] == "django.db.backends.sqlite3" and not test.get("NAME"):
            test["NAME"] = os.path.join(tempfile.gettempdir(), f"mlapi-test-{os.getpid()}.sqlite3")


# --- Files ------------------------------------------------------------------------------------------


def iris_matrix(rows: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], size=(rows, 4)).round(1)


def iris_csv(rows: int, seed: int = 0) -> bytes:
    body = "\n".join(",".join(map(str, r)) for r in iris_matrix(rows, seed).tolist())
    return (",".join(IRIS_COLUMNS) + "\n" + body + "\n").encode()


def iris_jsonl(rows: int, seed: int = 0) -> bytes:
    return "".join(
        json.dumps(dict(zip(IRIS_COLUMNS, r, strict=True))) + "\n" for r in iris_matrix(rows, seed).tolist()
    ).encode()


@pytest.fixture
def upload_file():
    return lambda content, name="rows.csv": SimpleUploadedFile(name, content)


# --- API helpers ------------------------------------------------------------------------------------


@pytest.fixture
def api(client):
    """REST calls with a bearer token: api.get(path, token), api.post(path, token, data, multipart=True)."""

    class Api:
        @staticmethod
        def get(path, token, **extra):
            return client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}", **extra)

        @staticmethod
        def post(path, token, data=None, *, multipart=True):
            if multipart:
                return client.post(path, data or {}, HTTP_AUTHORIZATION=f"Bearer {token}")
            return client.post(
                path, json.dumps(data or {}), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
            )

    return Api()


@pytest.fixture
def submit(api, django_capture_on_commit_callbacks):
    """POST /api/v1/batch-jobs with a file; the job's after-commit dispatch runs (in-process without a broker)."""

    def post(token, content: bytes, *, name="rows.csv", model="iris", **fields):
        with django_capture_on_commit_callbacks(execute=True):
            return api.post(
                "/api/v1/batch-jobs", token, {"model": model, "file": SimpleUploadedFile(name, content), **fields}
            )

    return post


def results(response) -> bytes:
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def results_jsonl(response) -> list[dict]:
    return [json.loads(line) for line in results(response).decode().splitlines()]


# --- A real worker ----------------------------------------------------------------------------------


def broker_client():
    import redis

    client = redis.Redis.from_url(WORKER_REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis at {WORKER_REDIS_URL}: {error}")
    return client


def broker_backlog(client) -> tuple[int, int]:
    """(messages waiting in this session's queue, messages delivered but not acknowledged)."""
    unacked = sum(1 for raw in client.hvals("unacked") if json.loads(raw)[2] == WORKER_QUEUE)
    return client.llen(WORKER_QUEUE), unacked


def _broker_forget(client) -> None:
    for tag, raw in client.hgetall("unacked").items():
        if json.loads(raw)[2] == WORKER_QUEUE:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    client.delete(WORKER_QUEUE)


def _database_url(settings_dict: dict) -> str:
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{auth}{settings_dict.get('HOST') or '127.0.0.1'}{port}/{settings_dict['NAME']}"


class Workers:
    """Starts `celery -A mlapi worker --pool=solo` processes on the test database, media and a Redis db."""

    def __init__(self, *, env: dict, log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        log = (self.log_dir / f"worker-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "mlapi",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-Q",
                WORKER_QUEUE,
                "-l",
                "warning",
                "-n",
                f"{WORKER_QUEUE}-{len(self.processes)}@%h",
            ],
            cwd=PROJECT_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not time out in practice
                pass

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.log_dir.glob("worker-*.log")))


@contextmanager
def celery_sending_to(broker_url: str, *, routes: dict | None = None):
    """This process sends tasks to `broker_url` (not eagerly) inside the block.

    Celery caches its router and broker pools on first use: they are dropped here, not closed (kombu
    keeps one pool per URL for the process, reused by the next block on the same URL)."""
    from mlapi.celery import app

    def forget_cached() -> None:
        app.amqp.__dict__.pop("router", None)
        app._pool = None
        app.amqp._producer_pool = None

    previous = {key: app.conf[key] for key in ("broker_url", "task_always_eager", "task_routes")}
    app.conf.update(broker_url=broker_url, task_always_eager=False, task_routes=routes or {})
    forget_cached()
    try:
        yield app
    finally:
        app.conf.update(**previous)
        forget_cached()


@pytest.fixture
def worker_env(transactional_db, settings, monkeypatch):
    """The test process sends chunks to this session's queue on Redis; the environment of its workers."""
    from django.db import connection

    from batch import tasks
    from batch.services import jobs

    def not_here(**kwargs):
        raise AssertionError("a chunk ran in the test process, not in the worker")

    monkeypatch.setattr(jobs, "batch_job_run_inline", not_here)
    monkeypatch.setattr(tasks, "batch_chunk_run", not_here)
    redis_client = broker_client()
    _broker_forget(redis_client)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.batch.worker_settings",
        "DATABASE_URL": _database_url(connection.settings_dict),
        "TEST_CELERY_BROKER_URL": WORKER_REDIS_URL,
        "BATCH_TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CELERY_VISIBILITY_TIMEOUT": "4",
        "PYTHONUNBUFFERED": "1",
    }
    try:
        with celery_sending_to(WORKER_REDIS_URL, routes={CHUNK_TASK: {"queue": WORKER_QUEUE}}):
            yield env
    finally:
        _broker_forget(redis_client)


@pytest.fixture
def workers(worker_env, tmp_path):
    pool = Workers(env=worker_env, log_dir=tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()


def wait_for(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition", logs=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what}" + (f"\n--- worker logs ---\n{logs()}" if logs else "")
    )
