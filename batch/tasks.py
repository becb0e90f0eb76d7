"""Celery tasks of the batch app: each only calls a service.

acks_late + reject_on_worker_lost (also the project defaults, CELERY_TASK_*): a chunk whose worker dies
before it finishes stays in the broker and is delivered again (RabbitMQ: as soon as the worker's
connection drops; Redis: once CELERY_VISIBILITY_TIMEOUT has passed); the chunk service is idempotent, so
a redelivery stores and bills nothing twice. Prefetch is 1 (CELERY_WORKER_PREFETCH_MULTIPLIER), so a
busy worker holds one chunk only.

A chunk that cannot reach the database is retried (1, 2, 4, ... 60 s apart, BATCH_CHUNK_DATABASE_RETRIES
times): a retry is a new message, published before this one is acknowledged. An outage is nobody's
fault, so it never fails the job: once the retries are spent the chunk is left unfinished, and the
sweeper (below) queues it again when the database is back. Any other error fails the job; when that
cannot be recorded either (the database went away meanwhile), the task is retried until it can be.
"""

import logging

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from batch.services.chunks import batch_chunk_fail, batch_chunk_run
from batch.services.jobs import batch_chunk_mark_started
from batch.services.recovery import batch_jobs_sweep
from batch.services.retention import batch_storage_expire

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
MAX_COUNTDOWN_SECONDS = 60


def _countdown(retries: int) -> int:
    return min(MAX_COUNTDOWN_SECONDS, 2**retries)


@shared_task(
    bind=True,
    name="batch.tasks.run_batch_chunk",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,  # bounded below: by BATCH_CHUNK_DATABASE_RETRIES for an outage, not at all for recording
)
def run_batch_chunk(self, job_id: str, index: int) -> str | None:
    try:
        batch_chunk_mark_started(job_id=job_id, index=index)
        return batch_chunk_run(job_id=job_id, index=index).value
    except DATABASE_ERRORS as error:
        if self.request.retries < settings.BATCH_CHUNK_DATABASE_RETRIES:
            raise self.retry(exc=error, countdown=_countdown(self.request.retries)) from error
        logger.warning("batch chunk left for the sweeper", extra={"job_id": job_id, "chunk": index})
        return None  # the database is still away: the chunk stays unfinished
    except Exception as error:
        try:
            batch_chunk_fail(job_id=job_id, index=index, error=error)
        except DATABASE_ERRORS as unrecorded:
            raise self.retry(exc=unrecorded, countdown=_countdown(self.request.retries)) from unrecorded
        raise


@shared_task(name="batch.tasks.expire_batch_storage", ignore_result=True)
def expire_batch_storage() -> dict:
    """Beat (hourly): removes unused uploads past their time-out, and uploads and jobs past their retention."""
    return vars(batch_storage_expire())


@shared_task(name="batch.tasks.sweep_batch_jobs", ignore_result=True)
def sweep_batch_jobs() -> int:
    """Beat, every BATCH_SWEEP_INTERVAL_SECONDS: stalled jobs' unfinished chunks queued again."""
    return len(batch_jobs_sweep())
