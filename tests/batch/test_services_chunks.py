import io
import threading
import time

import pytest
from django.core.files.storage import default_storage
from django.db.models import Sum

from batch.models import BatchChunk, BatchJob, BatchResultRow
from batch.services.chunks import ChunkOutcome, batch_chunk_run
from batch.services.jobs import batch_job_create, batch_job_resume
from batch.services.uploads import batch_upload_create
from batch.tasks import run_batch_chunk
from billing.models import MonthlyUsage, UsageRecord
from predictions.registry.cache import loaded_models_clear
from predictions.services import ModelRef
from tests.batch.conftest import iris_csv


@pytest.fixture
def queued_job(make_user, iris_model, settings):
    """A 12-row iris job in chunks of 5, stored but not dispatched."""
    settings.BATCH_CHUNK_ROWS = 5

    def make(rows: int = 12, user=None):
        user = user or make_user()
        upload = batch_upload_create(user=user, stream=io.BytesIO(iris_csv(rows)), filename="rows.csv")
        return batch_job_create(user=user, model_ref=ModelRef(name="iris"), upload=upload, dispatch=False)

    return make


def _billed(job) -> tuple[int, int, int, int]:
    usage = UsageRecord.objects.filter(user=job.user)
    return (
        BatchResultRow.objects.filter(job=job).count(),
        usage.count(),
        usage.aggregate(total=Sum("predictions"))["total"] or 0,
        MonthlyUsage.objects.filter(user=job.user).aggregate(total=Sum("predictions"))["total"] or 0,
    )


def test_running_the_same_chunk_task_twice_stores_and_bills_nothing_new(queued_job):
    # given
    job = queued_job()
    run_batch_chunk.apply(args=(str(job.pk), 0))
    once = _billed(job)
    # when
    again = run_batch_chunk.apply(args=(str(job.pk), 0)).result
    # then
    assert again == ChunkOutcome.REPLAYED.value
    assert _billed(job) == once == (5, 1, 5, 5)
    job.refresh_from_db()
    assert (job.rows_done, job.chunks_done, job.status) == (5, 1, "running")


def test_a_replay_that_gets_past_the_claim_is_stopped_by_the_database_constraints(queued_job):
    # given: chunk 0 stored, then its claim undone (as if a duplicate raced past the done_at check)
    job = queued_job()
    assert batch_chunk_run(job_id=job.pk, index=0) == ChunkOutcome.DONE
    once = _billed(job)
    BatchChunk.objects.filter(job=job, index=0).update(done_at=None)
    # when
    outcome = batch_chunk_run(job_id=job.pk, index=0)
    # then: the unique (job, row_number) and usage idempotency key refuse it as a whole
    assert outcome == ChunkOutcome.REPLAYED
    assert _billed(job) == once
    job.refresh_from_db()
    assert job.rows_done == 5


def test_the_last_chunk_flips_the_job_to_succeeded_whatever_the_order(queued_job):
    job = queued_job()

    outcomes = [batch_chunk_run(job_id=job.pk, index=i) for i in (2, 0, 1)]

    assert outcomes == [ChunkOutcome.DONE] * 3
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.chunks_done, job.rows_total) == ("succeeded", 12, 3, 12)
    assert job.started_at <= job.finished_at
    rows = list(BatchResultRow.objects.filter(job=job).order_by("row_number").values_list("row_number", "line"))
    assert rows == [(n, n + 1) for n in range(1, 13)]
    keys = UsageRecord.objects.filter(user=job.user).values_list("idempotency_key", flat=True)
    assert sorted(keys) == [f"batch:{job.pk}:{i}" for i in range(3)]


def test_an_unloadable_model_fails_the_job_and_a_resume_finishes_it(queued_job, django_capture_on_commit_callbacks):
    # given: the model's artifact is gone
    job = queued_job()
    artifact = job.model.artifact.name
    with default_storage.open(artifact, "rb") as stream:
        data = stream.read()
    default_storage.delete(artifact)
    loaded_models_clear()
    # when
    outcome = batch_chunk_run(job_id=job.pk, index=0)
    # then
    job.refresh_from_db()
    assert outcome == ChunkOutcome.FAILED
    assert (job.status, job.error_code, job.rows_done) == ("failed", "MODEL_UNAVAILABLE", 0)
    # when: the artifact is back and the job resumed
    default_storage.save(artifact, io.BytesIO(data))
    with django_capture_on_commit_callbacks(execute=True):
        batch_job_resume(user=job.user, job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.error_code, job.rows_done) == ("succeeded", "", 12)


def test_chunks_of_a_stopped_job_are_skipped(queued_job):
    job = queued_job()
    BatchJob.objects.filter(pk=job.pk).update(status=BatchJob.Status.CANCELLED)

    assert batch_chunk_run(job_id=job.pk, index=0) == ChunkOutcome.SKIPPED
    assert batch_chunk_run(job_id="00000000-0000-0000-0000-000000000000", index=0) == ChunkOutcome.SKIPPED
    assert _billed(job) == (0, 0, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_a_large_job_runs_in_a_background_thread(make_user, iris_model, settings, monkeypatch):
    # given: jobs above 10 rows leave the request to a thread, held at a gate until the call has returned
    from batch.services import jobs

    settings.BATCH_INLINE_MAX_ROWS = 10
    settings.BATCH_CHUNK_ROWS = 50
    gate, run_inline = threading.Event(), jobs.batch_job_run_inline
    monkeypatch.setattr(jobs, "batch_job_run_inline", lambda **kwargs: gate.wait(10) and run_inline(**kwargs))
    user = make_user()
    upload = batch_upload_create(user=user, stream=io.BytesIO(iris_csv(400)), filename="rows.csv")
    # when
    job = batch_job_create(user=user, model_ref=ModelRef(name="iris"), upload=upload)
    gate.set()
    # then: the call returned before running anything; the thread finishes the job
    assert job.status == "queued"
    deadline = time.monotonic() + 30
    while job.status != "succeeded" and time.monotonic() < deadline:
        time.sleep(0.05)
        job.refresh_from_db()
    assert (job.status, job.rows_done) == ("succeeded", 400)
    assert UsageRecord.objects.filter(user=user).aggregate(total=Sum("predictions"))["total"] == 400


@pytest.mark.django_db(transaction=True)
def test_a_job_that_cannot_be_queued_fails_and_resumes_later(make_user, iris_model, settings):
    from tests.batch.conftest import celery_sending_to

    # given: no broker listening
    settings.BATCH_CHUNK_ROWS = 5
    user = make_user()
    upload = batch_upload_create(user=user, stream=io.BytesIO(iris_csv(12)), filename="rows.csv")
    # when
    with celery_sending_to("redis://127.0.0.1:1/0"):
        job = batch_job_create(user=user, model_ref=ModelRef(name="iris"), upload=upload)
    # then: the request does not crash; the job says why and keeps its chunks
    assert (job.status, job.error_code, job.rows_done) == ("failed", "QUEUE_UNAVAILABLE", 0)
    # when: resumed once jobs can run (here: in-process)
    job = batch_job_resume(user=user, job_id=job.pk)
    assert (job.status, job.rows_done, job.error_code) == ("succeeded", 12, "")


def test_a_chunk_costs_the_same_queries_whatever_its_size_but_one_insert_per_batch_of_rows(queued_job, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.BATCH_CHUNK_ROWS = 1000
    user = queued_job(rows=1).user
    warm, small, large = (queued_job(rows=n, user=user) for n in (5, 5, 1000))
    batch_chunk_run(job_id=warm.pk, index=0)  # loads the model (once per process) and the month's counter

    with CaptureQueriesContext(connection) as small_queries:
        batch_chunk_run(job_id=small.pk, index=0)
    with CaptureQueriesContext(connection) as large_queries:
        batch_chunk_run(job_id=large.pk, index=0)

    def split(queries):
        inserts = [q for q in queries if q["sql"].startswith('INSERT INTO "batch_batchresultrow"')]
        return len(queries) - len(inserts), len(inserts)

    assert split(small_queries)[0] == split(large_queries)[0]
    # SQLite re-reads the tier in force inside the charge's transaction (PostgreSQL's charge statement checks it)
    assert split(small_queries)[0] <= (12 if connection.vendor == "postgresql" else 13)
    if connection.vendor == "postgresql":  # one COPY per chunk (not a query Django captures), no INSERT
        assert split(small_queries)[1] == split(large_queries)[1] == 0
    else:
        rows_per_insert = min(1000, connection.ops.bulk_batch_size(["column"] * 6, [None] * 1000))  # 166 on SQLite
        assert split(small_queries)[1] == 1
        assert split(large_queries)[1] == -(-1000 // rows_per_insert)
    large.refresh_from_db()
    assert (large.status, large.rows_done) == ("succeeded", 1000)


@pytest.mark.django_db(transaction=True)
def test_a_chunk_whose_job_is_removed_while_it_scores_stores_and_bills_nothing(queued_job, monkeypatch):
    # given: chunk 0 has read its rows when its job is cancelled and removed by retention
    from django.db import transaction

    import batch.services.chunks as chunks
    from batch.services.retention import _jobs_remove

    job = queued_job()
    real = chunks._chunk_read

    def read_then_remove(job_, chunk):
        read = real(job_, chunk)
        BatchJob.objects.filter(pk=job_.pk).update(status=BatchJob.Status.CANCELLED)
        with transaction.atomic():
            assert _jobs_remove(BatchJob.objects.filter(pk=job_.pk)) == 1
        return read

    monkeypatch.setattr(chunks, "_chunk_read", read_then_remove)
    # when
    outcome = batch_chunk_run(job_id=job.pk, index=0)
    # then: the result rows (no database foreign key to the job) were not written for a job that is gone
    assert outcome in (ChunkOutcome.REPLAYED, ChunkOutcome.SKIPPED)
    assert not BatchJob.objects.filter(pk=job.pk).exists()
    assert BatchResultRow.objects.filter(job_id=job.pk).count() == 0
    assert UsageRecord.objects.filter(user=job.user).count() == 0


def test_a_chunk_whose_charge_is_refused_after_its_rows_were_copied_stores_nothing(queued_job, make_user, monkeypatch):
    # given: a quota of 20, and an online call that takes all of it while chunk 0 is being scored
    from django.utils import timezone

    import predictions.services.metering as metering
    from billing.models import PricingTier

    user = make_user(tier=PricingTier.objects.create(name="capped", monthly_quota=20, rate_limit_per_minute=None))
    job = queued_job(user=user)
    real = metering.rows_score

    def score_then_quota_taken(**kwargs):
        scored = real(**kwargs)
        period = timezone.now().date().replace(day=1)
        MonthlyUsage.objects.update_or_create(user=user, period=period, defaults={"predictions": 20})
        return scored

    monkeypatch.setattr(metering, "rows_score", score_then_quota_taken)
    # when: the chunk copies its rows, then its charge is refused under the counter's lock
    outcome = batch_chunk_run(job_id=job.pk, index=0)
    # then: the rows copied before the charge were rolled back with it; the chunk stays to be done
    assert outcome == ChunkOutcome.PAUSED
    assert BatchResultRow.objects.filter(job=job).count() == 0
    assert UsageRecord.objects.filter(user=user).count() == 0
    assert BatchChunk.objects.get(job=job, index=0).done_at is None
    job.refresh_from_db()
    assert (job.status, job.rows_done) == ("paused", 0)
