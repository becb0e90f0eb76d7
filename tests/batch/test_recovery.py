"""Stalled jobs (no chunk moved for BATCH_STALE_SECONDS) are found by the sweeper and by resume, and
finished exactly once; a chunk that cannot reach the database never fails its job. In-process (no broker);
tests/faults/test_batch_jobs_heal.py does the same with real workers, RabbitMQ and a PostgreSQL outage."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.db.models import F, Sum

from batch import tasks
from batch.models import BatchChunk, BatchJob, BatchResultRow
from batch.services.chunks import batch_chunk_run
from batch.services.jobs import batch_job_create, batch_job_dispatch
from batch.services.recovery import batch_jobs_sweep
from batch.services.uploads import batch_upload_create
from billing.models import MonthlyUsage, UsageRecord
from mlapi.celery import app
from predictions.services import ModelRef
from tests.batch.conftest import iris_csv

JOBS = "/api/v1/batch-jobs"
STALE = 60


@pytest.fixture
def stalled_job(make_user, iris_model, settings):
    """A 12-row job in chunks of 5: chunk 0 done, chunks 1 and 2 sent and begun, then nothing for `age` s
    (their messages lost, their worker gone)."""
    settings.BATCH_CHUNK_ROWS = 5
    settings.BATCH_STALE_SECONDS = STALE

    def make(*, age: float = STALE + 1, user=None):
        user = user or make_user()
        upload = batch_upload_create(user=user, stream=io.BytesIO(iris_csv(12)), filename="rows.csv")
        job = batch_job_create(user=user, model_ref=ModelRef(name="iris"), upload=upload, dispatch=False)
        BatchChunk.objects.filter(job=job).update(enqueued_at=job.created_at, started_at=job.created_at, attempts=1)
        batch_chunk_run(job_id=job.pk, index=0)
        _age(job, seconds=age)
        job.refresh_from_db()
        assert (job.status, job.chunks_done) == ("running", 1)
        return job

    return make


def _age(job, *, seconds: float) -> None:
    """Moves every sign of life of `job` `seconds` into the past."""
    back = timedelta(seconds=seconds)
    BatchJob.objects.filter(pk=job.pk).update(created_at=F("created_at") - back, started_at=F("started_at") - back)
    for field in ("enqueued_at", "started_at", "done_at"):
        BatchChunk.objects.filter(job=job, **{f"{field}__isnull": False}).update(**{field: F(field) - back})


def _assert_finished_exactly_once(job) -> None:
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.chunks_done) == ("succeeded", 12, 3)
    assert BatchResultRow.objects.filter(job=job).count() == 12
    usage = UsageRecord.objects.filter(user=job.user)
    assert sorted(usage.values_list("idempotency_key", flat=True)) == [f"batch:{job.pk}:{i}" for i in range(3)]
    assert usage.aggregate(n=Sum("predictions"))["n"] == 12 == MonthlyUsage.objects.get(user=job.user).predictions


def test_the_sweeper_finishes_a_stalled_job_exactly_once(stalled_job):
    # given
    job = stalled_job()
    # when
    swept = batch_jobs_sweep()
    # then: exactly its two unfinished chunks, run here (no broker)
    assert [(s.job_id, s.chunks) for s in swept] == [(str(job.pk), [1, 2])]
    _assert_finished_exactly_once(job)
    assert list(BatchChunk.objects.filter(job=job).order_by("index").values_list("attempts", flat=True)) == [1, 2, 2]
    # and a second sweep finds nothing
    assert batch_jobs_sweep() == []


def test_the_sweeper_leaves_moving_and_stopped_jobs_alone(stalled_job):
    # given: a job whose chunk was begun within the threshold, and stalled jobs that are not running
    moving = stalled_job(age=STALE - 10)
    stopped = {status: stalled_job() for status in ("paused", "failed", "cancelled")}
    for status, job in stopped.items():
        BatchJob.objects.filter(pk=job.pk).update(status=status)
    # when
    swept = batch_jobs_sweep()
    # then
    assert swept == []
    assert BatchResultRow.objects.count() == 4 * 5
    moving.refresh_from_db()
    assert (moving.status, moving.chunks_done) == ("running", 1)


def test_the_sweeper_finishes_a_queued_job_whose_dispatch_never_happened(make_user, iris_model, settings):
    # given: committed, but its process died before the after-commit dispatch
    settings.BATCH_CHUNK_ROWS = 5
    settings.BATCH_STALE_SECONDS = STALE
    user = make_user()
    upload = batch_upload_create(user=user, stream=io.BytesIO(iris_csv(12)), filename="rows.csv")
    job = batch_job_create(user=user, model_ref=ModelRef(name="iris"), upload=upload, dispatch=False)
    _age(job, seconds=STALE + 1)
    # when
    swept = batch_jobs_sweep()
    # then
    assert [s.chunks for s in swept] == [[0, 1, 2]]
    _assert_finished_exactly_once(job)


def test_batch_sweep_command_finishes_stalled_jobs(stalled_job, capsys):
    job = stalled_job()

    call_command("batch_sweep")

    assert "1 stalled job(s)" in capsys.readouterr().out
    _assert_finished_exactly_once(job)


def test_batch_sweep_command_can_be_told_a_shorter_threshold(stalled_job, capsys):
    job = stalled_job(age=5)

    call_command("batch_sweep")
    untouched = BatchJob.objects.get(pk=job.pk).chunks_done
    call_command("batch_sweep", "--stale-seconds", "1")

    assert untouched == 1
    _assert_finished_exactly_once(job)


def test_resume_finishes_a_stalled_running_job(stalled_job, issue_token, api):
    # given
    job = stalled_job()
    token = issue_token(job.user)
    # when
    response = api.post(f"{JOBS}/{job.pk}/resume", token)
    # then
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "succeeded"
    _assert_finished_exactly_once(job)


def test_resume_of_a_running_job_whose_chunks_move_is_refused(stalled_job, issue_token, api):
    # given
    job = stalled_job(age=STALE - 10)
    token = issue_token(job.user)
    # when
    response = api.post(f"{JOBS}/{job.pk}/resume", token)
    # then
    assert response.status_code == 409
    assert [e["code"] for e in response.json()["errors"]] == ["INVALID_TRANSITION"]
    job.refresh_from_db()
    assert (job.status, job.chunks_done) == ("running", 1)


def test_dispatch_stamps_when_chunks_were_sent_and_the_task_when_they_began(stalled_job, settings):
    # given: a job whose remaining chunks are sent again
    job = stalled_job()
    before = BatchChunk.objects.get(job=job, index=1).enqueued_at
    # when
    batch_job_dispatch(job_id=job.pk, background=False)
    # then
    chunk = BatchChunk.objects.get(job=job, index=1)
    assert chunk.enqueued_at > before and chunk.started_at >= chunk.enqueued_at and chunk.attempts == 2


def test_a_chunk_that_cannot_reach_the_database_leaves_its_job_running_for_the_sweeper(
    stalled_job, settings, monkeypatch
):
    # given: the database refuses every attempt of chunk 1 (retries run at once here: no broker)
    settings.BATCH_CHUNK_DATABASE_RETRIES = 2
    job = stalled_job()
    attempts = []

    def database_down(**kwargs):
        attempts.append(kwargs["index"])
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks, "batch_chunk_run", database_down)
    # when
    result = tasks.run_batch_chunk.apply(args=(str(job.pk), 1))
    # then: retried, then left unfinished: the job is not failed (it used to be, after its retries)
    assert attempts == [1, 1, 1] and result.successful()
    job.refresh_from_db()
    assert (job.status, job.error_code, job.chunks_done) == ("running", "", 1)
    # when: the database is back and the sweeper comes by
    monkeypatch.undo()
    _age(job, seconds=STALE + 1)
    batch_jobs_sweep()
    # then
    _assert_finished_exactly_once(job)


def test_a_failure_that_cannot_be_recorded_is_retried_until_it_is(stalled_job, monkeypatch):
    # given: chunk 1 crashes, and the first attempt to record that meets a database that went away
    job = stalled_job()
    records = []
    record = tasks.batch_chunk_fail

    def crash(**kwargs):
        raise ValueError("boom")

    def record_once_the_database_is_back(**kwargs):
        records.append(kwargs["index"])
        if len(records) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        record(**kwargs)

    monkeypatch.setattr(tasks, "batch_chunk_run", crash)
    monkeypatch.setattr(tasks, "batch_chunk_fail", record_once_the_database_is_back)
    # when
    result = tasks.run_batch_chunk.apply(args=(str(job.pk), 1))
    # then: the task was retried rather than consumed, and the failure is recorded (resumable)
    assert records == [1, 1] and isinstance(result.result, ValueError)
    job.refresh_from_db()
    assert (job.status, job.error_code) == ("failed", "INTERNAL_ERROR")


def test_beat_sweeps_every_minute_and_the_sweep_task_is_registered(settings):
    app.loader.import_default_modules()

    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "batch.tasks.sweep_batch_jobs"]

    assert [e["schedule"] for e in entries] == [60]
    assert "batch.tasks.sweep_batch_jobs" in app.tasks
    assert settings.BATCH_STALE_SECONDS > settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]


@pytest.mark.django_db(transaction=True)
def test_resume_of_a_stalled_job_with_the_broker_down_fails_it_for_a_later_resume(stalled_job, issue_token, api):
    from tests.batch.conftest import celery_sending_to

    # given
    job = stalled_job()
    token = issue_token(job.user)
    # when: no broker listens
    with celery_sending_to("redis://127.0.0.1:1/0"):
        response = api.post(f"{JOBS}/{job.pk}/resume", token)
    # then: answered, not crashed; the job says why and resumes once jobs can run (here: in-process)
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["error"]["code"]) == ("failed", "QUEUE_UNAVAILABLE")
    assert api.post(f"{JOBS}/{job.pk}/resume", token).status_code == 200
    _assert_finished_exactly_once(job)
