"""Batch jobs that heal themselves, with real servers: Celery workers and beat on RabbitMQ, a gunicorn
without a broker, and a PostgreSQL of the test's own that it stops (tests/faults/pg_cluster.py).

Every job here lives in that throwaway cluster: this thread's default database connection points at it
for the test (`_default_database`), and the worker, beat, gunicorn and manage.py processes get its URL.
RabbitMQ: BATCH_TEST_AMQP_URL (default: guest on 127.0.0.1, vhost /), one queue per test session.

Short settings make a stall visible in seconds: BATCH_STALE_SECONDS=4, a sweep every 2 s, and chunk
retries for an unreachable database of 1+2+4+8+16 s (5, ~31 s), shorter than the 40 s outage.
Each test ends with the books: one result row per input row, one usage record per chunk, nothing twice.
"""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest
import requests
from django.apps import apps
from django.core.management import call_command
from django.db import connection, connections
from django.db.models import Count, Sum
from django.db.utils import load_backend
from django.test.utils import override_settings
from django.utils import timezone

from batch.models import BatchChunk, BatchJob, BatchResultRow
from billing.models import MonthlyUsage, UsageRecord
from tests.batch.conftest import (
    CHUNK_TASK,
    PROJECT_DIR,
    WORKER_QUEUE,
    Workers,
    api,  # noqa: F401 - a fixture
    celery_sending_to,
    iris_csv,
    wait_for,
)
from tests.faults.pg_cluster import ThrowawayCluster, free_port, requires_pg_binaries

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), requires_pg_binaries]
DBNAME = "mlapi_heal"

AMQP_URL = os.environ.get("BATCH_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
JOBS = "/api/v1/batch-jobs"
STALE_SECONDS = 4
SHORT_SETTINGS = {
    "BATCH_STALE_SECONDS": str(STALE_SECONDS),
    "BATCH_SWEEP_INTERVAL_SECONDS": "2",
    "BATCH_CHUNK_DATABASE_RETRIES": "5",
    "BATCH_CHUNK_ROWS": "1000",
}
OUTAGE_SECONDS = 40
KILL_RECOVERY_BOUND_SECONDS = 60


# --- The throwaway database, as this thread's default connection -----------------------------------


@contextmanager
def _default_database(entry: dict):
    """Inside the block, Django's default connection in this thread is one to `entry` (ORM, services, the
    test client); the test database's own connection is kept aside and put back."""
    from django.contrib.contenttypes.models import ContentType

    full = connections.configure_settings({"default": dict(entry)})["default"]
    wrapper = load_backend(full["ENGINE"]).DatabaseWrapper(full, "default")
    previous = connections["default"]
    connections["default"] = wrapper
    ContentType.objects.clear_cache()  # cached per alias: the other database's ids
    try:
        yield wrapper
    finally:
        wrapper.close()
        connections["default"] = previous
        ContentType.objects.clear_cache()


@pytest.fixture(scope="module")
def throwaway_postgres(django_db_blocker):
    cluster = ThrowawayCluster(port=free_port(), settings={"max_connections": "50"})
    try:
        cluster.init()
        cluster.start()
        cluster.execute(f"CREATE DATABASE {DBNAME}")
    except (OSError, subprocess.SubprocessError) as error:
        cluster.destroy()
        pytest.skip(f"cannot start a throwaway PostgreSQL: {error}")
    # The tables straight from the models (as pytest --nomigrations): seconds, not the half a minute that
    # replaying every migration takes here. The migrations themselves are tested by the rest of the suite.
    unmigrated = override_settings(MIGRATION_MODULES={app.label: None for app in apps.get_app_configs()})
    try:
        with django_db_blocker.unblock(), _default_database(cluster.database_settings(DBNAME)), unmigrated:
            call_command("migrate", run_syncdb=True, verbosity=0)
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def on_throwaway_postgres(transactional_db, throwaway_postgres, settings):
    settings.BATCH_CHUNK_ROWS = int(SHORT_SETTINGS["BATCH_CHUNK_ROWS"])
    settings.BATCH_STALE_SECONDS = STALE_SECONDS
    with _default_database(throwaway_postgres.database_settings(DBNAME)):
        try:
            yield throwaway_postgres
        finally:
            if not throwaway_postgres.running:
                throwaway_postgres.start()
            connection.close()
            call_command("flush", interactive=False, verbosity=0)


# --- Celery on RabbitMQ -----------------------------------------------------------------------------


def _amqp():
    import kombu

    broker = kombu.Connection(AMQP_URL, connect_timeout=3)
    try:
        broker.ensure_connection(max_retries=1)
    except Exception as error:  # noqa: BLE001 - any reason it cannot be reached
        pytest.skip(f"no RabbitMQ at {AMQP_URL}: {error}")
    return broker


def _queue_purge() -> int:
    """Drops the messages waiting in this session's queue (not those a worker holds): a broker that lost them."""
    with _amqp() as broker:
        return broker.default_channel.queue_purge(WORKER_QUEUE) or 0


def _consumers() -> int:
    with _amqp() as broker:
        try:
            return broker.default_channel.queue_declare(WORKER_QUEUE, passive=True).consumer_count
        except Exception:  # noqa: BLE001 - no such queue yet: no worker has declared it
            return 0


class CeleryProcesses(Workers):
    """Workers (tests/batch/conftest.py) plus one beat, on RabbitMQ and the throwaway database."""

    WORKERS = 2

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.beat: subprocess.Popen | None = None

    def start(self) -> subprocess.Popen:
        """As Workers.start, holding one message at a time (a solo pool's default concurrency is the number
        of CPUs, and its prefetch with it) and logging every task received and done (read on a failure)."""
        log = (self.log_dir / f"worker-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "mlapi", "worker",
                "--pool=solo", "--concurrency=1", "--without-gossip", "--without-mingle", "--without-heartbeat",
                "-Q", WORKER_QUEUE, "-l", "info", "-n", f"{WORKER_QUEUE}-{len(self.processes)}@%h",
            ],
            cwd=PROJECT_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n" + path.read_text(errors="replace")[-6000:]
            for path in sorted(self.log_dir.glob("worker-*.log"))
        )

    def workers_alive(self) -> list[subprocess.Popen]:
        return [p for p in self.processes if p is not self.beat and p.poll() is None]

    def ensure_running(self) -> None:
        """WORKERS workers consuming and one beat, whatever an earlier test killed."""
        for _ in range(self.WORKERS - len(self.workers_alive())):
            self.start()
        if self.beat is None or self.beat.poll() is not None:
            self.beat = self._start_beat()
        wait_for(lambda: _consumers() >= self.WORKERS, timeout=120, interval=0.5, what="the workers", logs=self.logs)

    def _start_beat(self) -> subprocess.Popen:
        log = (self.log_dir / "worker-beat.log").open("ab")
        process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "mlapi", "beat", "-l", "warning",
                "--schedule", str(self.log_dir / "beat-schedule"),
            ],
            cwd=PROJECT_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.processes.append(process)
        return process


@pytest.fixture(scope="module")
def celery_processes(throwaway_postgres, tmp_path_factory):
    """Started at first use and shared by this module's Celery tests: a boot takes tens of seconds on a
    busy machine. A test without Celery stops them (`stop_all`): beat would sweep its jobs."""
    from django.conf import settings

    env = {
        **os.environ,
        **SHORT_SETTINGS,
        "DJANGO_SETTINGS_MODULE": "tests.batch.worker_settings",
        "DATABASE_URL": throwaway_postgres.url(DBNAME),
        "TEST_CELERY_BROKER_URL": AMQP_URL,
        "BATCH_TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "BATCH_TEST_QUEUE": WORKER_QUEUE,
        "PYTHONUNBUFFERED": "1",
    }
    processes = CeleryProcesses(env=env, log_dir=tmp_path_factory.mktemp("celery"))
    try:
        yield processes
    finally:
        processes.stop_all()
        with _amqp() as broker:
            broker.default_channel.queue_delete(WORKER_QUEUE)


@pytest.fixture
def celery(on_throwaway_postgres, celery_processes, monkeypatch):
    """Two workers and beat running; this process sends chunks to them and never runs one itself."""
    from batch import tasks
    from batch.services import jobs

    def not_here(**kwargs):
        raise AssertionError("a chunk ran in the test process, not in a worker")

    monkeypatch.setattr(jobs, "batch_job_run_inline", not_here)
    monkeypatch.setattr(tasks, "batch_chunk_run", not_here)
    _amqp().release()  # skips without RabbitMQ
    celery_processes.ensure_running()
    _queue_purge()  # what an earlier test left (sweeps; chunks of jobs since flushed)
    with celery_sending_to(AMQP_URL, routes={CHUNK_TASK: {"queue": WORKER_QUEUE}}):
        yield celery_processes


@pytest.fixture
def without_celery(celery_processes):
    celery_processes.stop_all()


# --- Jobs and books ---------------------------------------------------------------------------------


# Enough 1,000-row chunks that a job is still under way when PostgreSQL goes down: 12,000 rows took about half a
# second on two workers once chunks got faster (2026-12-01), and a job already done healed nothing.
UNDER_WAY_ROWS = 36_000


def _submit(api, token, rows: int) -> str:
    response = api.post(JOBS, token, {"model": "iris", "file": _file(rows)})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _file(rows: int):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("rows.csv", iris_csv(rows))


def _job(job_id) -> BatchJob:
    return BatchJob.objects.get(pk=job_id)


def _in_hand(job_id):
    """Chunks a worker has begun and not finished."""
    return BatchChunk.objects.filter(job_id=job_id, started_at__isnull=False, done_at__isnull=True)


def _assert_stored_and_billed_exactly_once(job_id, rows: int) -> None:
    job = _job(job_id)
    assert (job.status, job.rows_done, job.rows_failed, job.chunks_done) == ("succeeded", rows, 0, job.chunks_total)
    results = BatchResultRow.objects.filter(job=job)
    assert results.count() == rows
    assert sorted(results.values_list("row_number", flat=True)) == list(range(1, rows + 1))
    usage = UsageRecord.objects.filter(user=job.user, idempotency_key__startswith=f"batch:{job.pk}:")
    assert sorted(usage.values_list("idempotency_key", flat=True)) == sorted(
        f"batch:{job.pk}:{index}" for index in range(job.chunks_total)
    )
    assert not usage.values("idempotency_key").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert usage.aggregate(n=Sum("predictions"))["n"] == rows
    # the month's counter agrees with the user's usage records (every job of theirs)
    billed = UsageRecord.objects.filter(user=job.user).aggregate(n=Sum("predictions"))["n"]
    assert MonthlyUsage.objects.get(user=job.user).predictions == billed


# --- The faults -------------------------------------------------------------------------------------


def test_postgres_down_longer_than_the_retries_then_back_the_job_finishes_exactly_once(
    celery, make_user, issue_token, api, iris_model, throwaway_postgres
):
    # given: a job under way on two workers, beat sweeping
    token = issue_token(make_user())
    job_id = _submit(api, token, UNDER_WAY_ROWS)
    wait_for(lambda: _job(job_id).rows_done >= 2_000, timeout=90, what="some chunks to be done", logs=celery.logs)
    assert _job(job_id).status == BatchJob.Status.RUNNING  # still under way, or this test proves nothing
    # when: PostgreSQL crashes and stays down longer than a chunk's retries (~31 s)
    throwaway_postgres.stop(mode="immediate")
    time.sleep(OUTAGE_SECONDS)
    throwaway_postgres.start()
    back_at = timezone.now()
    started = time.monotonic()
    connection.close()
    # then: the job is not failed, nor stranded: the sweeper queues its chunks again and it finishes
    wait_for(lambda: _job(job_id).status not in BatchJob.ACTIVE, timeout=90, what="the job to finish", logs=celery.logs)
    finished_after = time.monotonic() - started
    requeued = BatchChunk.objects.filter(job_id=job_id, enqueued_at__gte=back_at).count()
    print(f"\nPostgreSQL down {OUTAGE_SECONDS} s; job finished {finished_after:.1f} s after it was back; "
          f"chunks queued again by the sweeper: {requeued}")  # fmt: skip
    _assert_stored_and_billed_exactly_once(job_id, UNDER_WAY_ROWS)
    assert requeued > 0  # the retries alone did not do it: they had run out


def test_broker_messages_lost_mid_job_the_sweeper_completes_it_exactly_once(
    celery, make_user, issue_token, api, iris_model
):
    # given: a job under way on two workers, beat sweeping
    token = issue_token(make_user())
    job_id = _submit(api, token, 12_000)
    wait_for(lambda: _job(job_id).rows_done >= 2_000, timeout=90, what="some chunks to be done", logs=celery.logs)
    # when: the queued messages are lost
    lost_at = timezone.now()
    started = time.monotonic()
    purged = _queue_purge()
    # then
    assert purged > 0
    wait_for(lambda: _job(job_id).status not in BatchJob.ACTIVE, timeout=90, what="the job to finish", logs=celery.logs)
    requeued = BatchChunk.objects.filter(job_id=job_id, enqueued_at__gte=lost_at).count()
    print(f"\n{purged} messages purged; job finished {time.monotonic() - started:.1f} s later; "
          f"chunks queued again by the sweeper: {requeued}")  # fmt: skip
    _assert_stored_and_billed_exactly_once(job_id, 12_000)
    assert requeued > 0


def test_workers_sigkilled_mid_job_the_job_is_done_within_a_minute_exactly_once(
    celery, make_user, issue_token, api, iris_model, settings
):
    # given: a chunk in a worker's hands, and no beat (RabbitMQ alone gives a dead worker's chunk back)
    celery.kill(celery.beat)
    settings.BATCH_CHUNK_ROWS = 5_000
    token = issue_token(make_user())
    job_id = _submit(api, token, 30_000)
    wait_for(lambda: _in_hand(job_id).exists(), timeout=90, interval=0.01, what="a chunk in hand", logs=celery.logs)
    # when: every worker is SIGKILLed (the OOM killer's way) and their supervisor starts new ones
    in_hand = set(_in_hand(job_id).values_list("index", flat=True))
    killed_at = timezone.now()
    started = time.monotonic()
    for worker in celery.workers_alive():
        celery.kill(worker)
    celery.start()
    celery.start()
    # then
    wait_for(lambda: _job(job_id).status not in BatchJob.ACTIVE, timeout=90, what="the job to finish", logs=celery.logs)
    recovered = time.monotonic() - started
    again = BatchChunk.objects.filter(job_id=job_id, attempts__gt=1)
    redone = [(c.index, c.attempts, round((c.done_at - killed_at).total_seconds(), 1)) for c in again]
    print(f"\nworkers SIGKILLed mid-job: job finished {recovered:.1f} s later (new workers' boot included); "
          f"in hand {sorted(in_hand)}; (chunk, attempts, done s after the kill): {redone}")  # fmt: skip
    _assert_stored_and_billed_exactly_once(job_id, 30_000)
    assert recovered < KILL_RECOVERY_BOUND_SECONDS  # was 693 s on Redis with a 600 s visibility time-out
    assert redone  # the chunk in hand at the kill was delivered again (no sweeper, no database retry here)


def test_without_a_broker_jobs_of_a_killed_web_worker_are_finished_by_resume_and_by_the_sweeper(
    without_celery, on_throwaway_postgres, make_user, issue_token, api, iris_model, gunicorn_server, settings, tmp_path
):
    # given: a gunicorn without a broker, scoring two jobs in background threads
    settings.BATCH_INLINE_MAX_ROWS = 1_000_000  # a resume here runs inside its request (this thread's database)
    user = make_user()
    token = issue_token(user)
    env = {
        **SHORT_SETTINGS,
        "TEST_CELERY_BROKER_URL": "",
        "BATCH_INLINE_MAX_ROWS": "5000",
        "DATABASE_URL": on_throwaway_postgres.url(DBNAME),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    server = gunicorn_server(workers=1, database_url=on_throwaway_postgres.url(DBNAME), extra_env=env)
    job_ids = []
    for _ in range(2):
        response = requests.post(
            f"{server.url}{JOBS}",
            headers={"Authorization": f"Bearer {token}"},
            data={"model": "iris"},
            files={"file": ("rows.csv", iris_csv(10_000))},
            timeout=60,
        )
        assert response.status_code == 201, response.text
        job_ids.append(response.json()["id"])
    resumed_id, swept_id = job_ids
    wait_for(lambda: all(_job(j).rows_done >= 1_000 for j in job_ids), timeout=90, what="both jobs under way")
    # when: the worker is SIGKILLed: its threads die with it
    (pid,) = server.worker_pids()
    os.kill(pid, signal.SIGKILL)
    # then: both jobs are stuck running; one still warm is not resumable yet
    assert {_job(j).status for j in job_ids} == {"running"}
    too_early = api.post(f"{JOBS}/{resumed_id}/resume", token)
    assert too_early.status_code == 409
    assert [e["code"] for e in too_early.json()["errors"]] == ["INVALID_TRANSITION"]
    time.sleep(STALE_SECONDS + 1)
    assert {_job(j).rows_done < 10_000 for j in job_ids} == {True}
    # when: one is resumed, and the sweeper is run on demand for the rest
    resumed = api.post(f"{JOBS}/{resumed_id}/resume", token)
    sweep = subprocess.run(
        [sys.executable, "manage.py", "batch_sweep"],
        cwd=PROJECT_DIR,
        env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "tests.faults.server_settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then
    assert resumed.status_code == 200, resumed.content
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    assert f"{swept_id}:" in sweep.stdout and "1 stalled job(s)" in sweep.stdout, sweep.stdout
    for job_id in job_ids:
        _assert_stored_and_billed_exactly_once(job_id, 10_000)
