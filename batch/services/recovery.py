"""The sweeper: finds batch jobs that stalled and queues their unfinished chunks again.

A job stalls when the messages of its chunks are gone (a broker that lost its queue, a chunk whose
database retries ran out, a worker that died without giving its message back) or when the thread that
ran it died with its web process (no broker). Its status still says queued or running, but nothing
moves. The sweeper runs on beat every BATCH_SWEEP_INTERVAL_SECONDS (`batch.tasks.sweep_batch_jobs`),
on demand (`manage.py batch_sweep`), and for a resume of a stalled job.

Stalled means: the job is queued or running, has unfinished chunks, and none of its chunks was queued,
begun or finished for BATCH_STALE_SECONDS (nor was the job created in that time). A chunk merely waiting
its turn in the queue is not re-queued while the job's other chunks move. A job waiting behind another
job for longer than that has its chunks queued twice; that costs one lookup per copy, no more.

Safe to run at any time and any number of times at once: a chunk is claimed for re-queueing by a
conditional UPDATE of its `enqueued_at`, and a chunk delivered twice stores and bills nothing twice
(see batch/services/chunks.py).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from batch.models import BatchChunk, BatchJob
from batch.services.jobs import batch_chunks_send, batch_job_dispatch

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequeuedJob:
    job_id: str
    chunks: list[int]


def _stale_before(now: datetime, stale_seconds: float | None) -> datetime:
    return now - timedelta(seconds=settings.BATCH_STALE_SECONDS if stale_seconds is None else stale_seconds)


def batch_job_last_activity(*, job: BatchJob) -> datetime:
    """When the job last showed a sign of life: created, or a chunk queued, begun or finished."""
    marks = job.chunks.aggregate(Max("enqueued_at"), Max("started_at"), Max("done_at"))
    return max([job.created_at, *(mark for mark in marks.values() if mark is not None)])


def batch_job_is_stalled(*, job: BatchJob, now: datetime | None = None, stale_seconds: float | None = None) -> bool:
    return (
        job.status in BatchJob.ACTIVE
        and job.chunks.filter(done_at__isnull=True).exists()
        and batch_job_last_activity(job=job) < _stale_before(now or timezone.now(), stale_seconds)
    )


def batch_job_requeue_stalled(
    *, job_id, background: bool = True, now: datetime | None = None, stale_seconds: float | None = None
) -> list[int]:
    """Queues the unfinished chunks of a stalled job again; [] when it is not stalled (or another sweeper
    has just taken them). Without a broker they run in this process (see `batch_job_dispatch`)."""
    from mlapi.celery import app

    now = now or timezone.now()
    job = BatchJob.objects.filter(pk=job_id).first()
    if job is None or not batch_job_is_stalled(job=job, now=now, stale_seconds=stale_seconds):
        return []
    before = _stale_before(now, stale_seconds)
    quiet = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=before)
    quiet &= Q(started_at__isnull=True) | Q(started_at__lt=before)
    with transaction.atomic():
        unfinished = BatchChunk.objects.filter(job_id=job.pk, done_at__isnull=True).filter(quiet)
        indexes = list(unfinished.select_for_update(skip_locked=True).order_by("index").values_list("index", flat=True))
        BatchChunk.objects.filter(job_id=job.pk, index__in=indexes).filter(quiet).update(enqueued_at=now)
    if not indexes:
        return []
    logger.warning("batch job stalled: chunks queued again", extra={"job_id": str(job.pk), "chunks": len(indexes)})
    if app.conf.task_always_eager:
        batch_job_dispatch(job_id=job.pk, background=background)  # no broker: they run in this process
    else:
        batch_chunks_send(job_id=job.pk, indexes=indexes)
    return indexes


def batch_jobs_sweep(
    *, background: bool = False, now: datetime | None = None, stale_seconds: float | None = None
) -> list[RequeuedJob]:
    """Every stalled job's unfinished chunks queued again, oldest job first (`stale_seconds` overrides
    BATCH_STALE_SECONDS). A job whose chunks cannot be sent (the broker is down) is logged and left for
    the next sweep."""
    now = now or timezone.now()
    candidates = BatchJob.objects.filter(status__in=BatchJob.ACTIVE, created_at__lt=_stale_before(now, stale_seconds))
    requeued = []
    for job_id in candidates.order_by("created_at").values_list("pk", flat=True):
        try:
            indexes = batch_job_requeue_stalled(
                job_id=job_id, background=background, now=now, stale_seconds=stale_seconds
            )
        except Exception as error:  # noqa: BLE001 - one job's broker error must not stop the sweep
            logger.error("batch job not queued again", exc_info=error, extra={"job_id": str(job_id)})
            continue
        if indexes:
            requeued.append(RequeuedJob(job_id=str(job_id), chunks=indexes))
    return requeued
