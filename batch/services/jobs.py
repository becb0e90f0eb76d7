"""Batch job lifecycle: submit, dispatch (to Celery, or in-process without a broker), cancel, resume.

States: queued -> running -> succeeded | failed | cancelled | paused; paused and failed jobs resume to
queued. Every transition is a conditional UPDATE on the current status, so concurrent chunks, cancels
and resumes never overwrite each other.

Without a broker (CELERY_TASK_ALWAYS_EAGER: no CELERY_BROKER_URL, `make run`, the tests) a job with at
most BATCH_INLINE_MAX_ROWS remaining rows runs inside the submitting request, after its commit; a larger
one runs in a background thread of the web process, so the request answers at once. Such a thread dies
with its process (a dev-server reload): the job then stalls, and `manage.py batch_sweep` or a resume
finishes it (batch/services/recovery.py); production runs a broker, workers and beat.

Each chunk records when it was last sent (`enqueued_at`) and begun (`started_at`, `attempts`): the
sweeper tells a stalled job from one whose chunks are merely waiting in the queue by them.
"""

import logging
import threading
from collections.abc import Callable
from typing import BinaryIO

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from batch.error_codes import BatchErrorCode
from batch.files import file_scan
from batch.models import BatchChunk, BatchJob, BatchUpload
from batch.selectors import batch_job_get_for_owner, batch_upload_get_for_owner
from batch.services.chunks import ChunkOutcome, batch_chunk_fail, batch_chunk_run, batch_job_fail
from batch.services.uploads import (
    Admission,
    batch_request_admit,
    batch_upload_create,
    batch_upload_create_from_text,
    batch_upload_delete,
)
from billing.services.usage import pricing_tier_for_user, quota_precheck
from mlapi.errors import ApplicationError, ConflictError, NotFoundError
from predictions.selectors import model_get_for_user
from predictions.services import ModelRef

logger = logging.getLogger(__name__)


def batch_job_create(
    *, user, model_ref: ModelRef, upload: BatchUpload, dispatch: bool = True, admission: Admission | None = None
) -> BatchJob:
    """Checks rate limit and quota (unless the request was `admission`-checked already), reads the file once
    (rows, chunk ranges, CSV header), checks the quota for its rows, stores the job and its chunks and, after
    commit, dispatches them. Nothing is stored when any check fails."""
    if upload.user_id != user.pk:
        raise NotFoundError.single(BatchErrorCode.NOT_FOUND, "No such upload.", field="uploadId")
    admission = admission or batch_request_admit(user=user, scoring=True)
    model = model_get_for_user(user=user, model_id=model_ref.model_id, name=model_ref.name, version=model_ref.version)
    if not upload.file.name:  # an upload row is only saved after its file is
        raise ValueError(f"upload {upload.pk} has no stored file")
    with upload.file.storage.open(upload.file.name, "rb") as stream:
        scan = file_scan(
            stream=stream,  # type: ignore[arg-type]  # django's File proxies the binary file it wraps
            file_format=upload.format,
            feature_names=[f["name"] for f in model.input_schema["features"]],
            chunk_rows=settings.BATCH_CHUNK_ROWS,
            max_rows=settings.BATCH_MAX_ROWS,
        )
    now = admission.now  # the submission is one request against the rate limit; its chunks are not
    quota_precheck(user=user, tier=admission.tier, count=scan.rows_total, now=now)
    with transaction.atomic():
        job = BatchJob.objects.create(
            user=user,
            model=model,
            upload=upload,
            columns=scan.columns,
            chunk_rows=settings.BATCH_CHUNK_ROWS,
            rows_total=scan.rows_total,
            chunks_total=len(scan.chunks),
            created_at=now,
        )
        BatchChunk.objects.bulk_create(
            BatchChunk(
                job=job,
                index=span.index,
                first_row=span.first_row,
                first_line=span.first_line,
                row_count=span.row_count,
                start_offset=span.start_offset,
                end_offset=span.end_offset,
            )
            for span in scan.chunks
        )
        if dispatch:
            job_id = job.pk
            transaction.on_commit(lambda: batch_job_dispatch(job_id=job_id))
    job.refresh_from_db()  # a small job without a broker has already run
    return job


def batch_job_submit(
    *,
    user,
    model_ref: ModelRef,
    stream: BinaryIO | None = None,
    filename: str | None = None,
    content: str | None = None,
    file_format: str | None = None,
    upload_id=None,
    admission: Admission | None = None,
) -> BatchJob:
    """A job from exactly one of: a file (`stream` + `filename`), inline `content` (+ `file_format`), or an
    earlier upload (`upload_id`). A file stored here is removed again if the job is refused. Rate limit, quota
    and storage allowance are checked first (REST checks them before parsing the body: `admission`)."""
    given = [stream is not None, content is not None, upload_id is not None]
    if sum(given) != 1:
        raise ApplicationError.single(
            BatchErrorCode.INVALID_INPUT, "Give exactly one of file, content or uploadId.", field="file"
        )
    admission = admission or batch_request_admit(
        user=user, scoring=True, incoming_bytes=len(content) if content is not None else 0
    )
    if upload_id is not None:
        upload = batch_upload_get_for_owner(user=user, upload_id=upload_id)
        return batch_job_create(user=user, model_ref=model_ref, upload=upload, admission=admission)
    if stream is not None:
        upload = batch_upload_create(
            user=user, stream=stream, filename=filename or "", file_format=file_format, tier=admission.tier
        )
    else:
        assert content is not None  # exactly one of stream, content and upload_id was given
        upload = batch_upload_create_from_text(user=user, content=content, file_format=file_format, tier=admission.tier)
    try:
        return batch_job_create(user=user, model_ref=model_ref, upload=upload, admission=admission)
    except ApplicationError:
        batch_upload_delete(upload=upload)
        raise


def batch_job_cancel(*, user, job_id) -> BatchJob:
    """Stops a queued, running or paused job. A chunk in flight rolls back: rows stored so far stay."""
    job = batch_job_get_for_owner(user=user, job_id=job_id)
    cancelled = BatchJob.objects.filter(pk=job.pk, status__in=BatchJob.CANCELLABLE).update(
        status=BatchJob.Status.CANCELLED, finished_at=timezone.now()
    )
    job.refresh_from_db()
    if not cancelled:
        raise ConflictError.single(
            BatchErrorCode.INVALID_TRANSITION, f"A {job.status} job cannot be cancelled.", field="id"
        )
    return job


def batch_job_resume(*, user, job_id) -> BatchJob:
    """A paused (quota) or failed job back to queued; its remaining chunks are dispatched again.

    A queued or running job resumes only when it is stalled (see batch/services/recovery.py: its messages
    or its worker are gone): its unfinished chunks are queued again and it stays running."""
    job = batch_job_get_for_owner(user=user, job_id=job_id)
    if job.status not in BatchJob.RESUMABLE + BatchJob.ACTIVE:
        raise ConflictError.single(
            BatchErrorCode.INVALID_TRANSITION, f"A {job.status} job cannot be resumed.", field="id"
        )
    remaining = job.chunks.filter(done_at__isnull=True).aggregate(rows=Sum("row_count"))["rows"] or 0
    quota_precheck(user=user, tier=pricing_tier_for_user(user=user), count=remaining, now=timezone.now())
    if job.status in BatchJob.ACTIVE:
        from batch.services.recovery import batch_job_requeue_stalled  # recovery builds on this module

        try:
            requeued = bool(batch_job_requeue_stalled(job_id=job.pk))
        except Exception as error:  # noqa: BLE001 - the broker is down: fails the job, which resumes later
            _job_not_queued(job_id=job.pk, error=error)
            requeued = True
        if not requeued:
            raise ConflictError.single(
                BatchErrorCode.INVALID_TRANSITION,
                f"A {job.status} job with chunks in progress cannot be resumed.",
                field="id",
            )
        job.refresh_from_db()
        return job
    with transaction.atomic():
        resumed = BatchJob.objects.filter(pk=job.pk, status__in=BatchJob.RESUMABLE).update(
            status=BatchJob.Status.QUEUED, error_code="", error="", finished_at=None
        )
        if not resumed:
            job.refresh_from_db()
            raise ConflictError.single(
                BatchErrorCode.INVALID_TRANSITION, f"A {job.status} job cannot be resumed.", field="id"
            )
        job_id = job.pk
        transaction.on_commit(lambda: batch_job_dispatch(job_id=job_id))
    job.refresh_from_db()
    return job


def batch_job_dispatch(*, job_id, background: bool = True) -> None:
    """Sends each pending chunk to the workers; without a broker, runs them in this process (a large job
    in a background thread, unless `background` is False)."""
    from mlapi.celery import app

    pending = BatchChunk.objects.filter(job_id=job_id, done_at__isnull=True)
    pending.update(enqueued_at=timezone.now())
    if not app.conf.task_always_eager:
        try:
            batch_chunks_send(job_id=job_id, indexes=list(pending.order_by("index").values_list("index", flat=True)))
        except Exception as error:  # noqa: BLE001 - the broker is down: a failed job can be resumed later
            _job_not_queued(job_id=job_id, error=error)
        return
    rows = pending.aggregate(rows=Sum("row_count"))["rows"] or 0
    if not background or rows <= settings.BATCH_INLINE_MAX_ROWS:
        batch_job_run_inline(job_id=job_id)
        return
    threading.Thread(target=_run_in_thread, kwargs={"job_id": job_id}, name=f"batch-{job_id}", daemon=True).start()


def _job_not_queued(*, job_id, error: Exception) -> None:
    logger.error("batch job not queued", exc_info=error, extra={"job_id": str(job_id)})
    batch_job_fail(
        job_id=job_id,
        code=BatchErrorCode.QUEUE_UNAVAILABLE.value,
        message="The job could not be queued (the broker is unavailable); resume it to try again.",
    )


def batch_chunks_send(*, job_id, indexes: list[int]) -> None:
    """One message per chunk, on one broker connection; raises when the broker cannot take them."""
    from batch.tasks import run_batch_chunk
    from mlapi.celery import app

    with app.producer_or_acquire() as producer:
        for index in indexes:
            run_batch_chunk.apply_async(args=(str(job_id), index), producer=producer)


def batch_chunk_mark_started(*, job_id, index: int) -> None:
    """A worker (or the in-process runner) begins chunk `index`: the sweeper sees it is alive."""
    BatchChunk.objects.filter(job_id=job_id, index=index, done_at__isnull=True).update(
        started_at=timezone.now(), attempts=F("attempts") + 1
    )


def _run_in_thread(*, job_id) -> None:
    try:
        batch_job_run_inline(job_id=job_id)
    finally:
        connection.close()  # this thread's own connection


def batch_job_run_inline(*, job_id, on_chunk: Callable[[BatchChunk, ChunkOutcome], None] | None = None) -> BatchJob:
    """Runs the pending chunks one after another in this process (no broker; `score_file`).

    Stops at the first chunk that pauses, fails or finds the job stopped. Never raises for a chunk's
    error: the job records it."""
    for chunk in BatchChunk.objects.filter(job_id=job_id, done_at__isnull=True).order_by("index"):
        try:
            batch_chunk_mark_started(job_id=job_id, index=chunk.index)
            outcome = batch_chunk_run(job_id=job_id, index=chunk.index)
        except Exception as error:  # noqa: BLE001 - recorded on the job, never raised into a request
            batch_chunk_fail(job_id=job_id, index=chunk.index, error=error)
            outcome = ChunkOutcome.FAILED
        if on_chunk is not None:
            on_chunk(chunk, outcome)
        if outcome in (ChunkOutcome.PAUSED, ChunkOutcome.FAILED, ChunkOutcome.SKIPPED):
            break
    return BatchJob.objects.get(pk=job_id)
