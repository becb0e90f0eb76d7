"""Celery tasks of the batch app: each only calls a service.

acks_late + reject_on_worker_lost (also the project defaults, CELERY_TASK_*): a chunk whose worker dies
before it finishes stays in the broker and is delivered again (Redis: once the visibility time-out,
CELERY_VISIBILITY_TIMEOUT, has passed); the chunk service is idempotent, so a redelivery stores and bills
nothing twice. Prefetch is 1 (CELERY_WORKER_PREFETCH_MULTIPLIER), so a busy worker holds one chunk only.
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from batch.services.chunks import batch_chunk_fail, batch_chunk_run
from batch.services.retention import batch_storage_expire

DATABASE_RETRIES = 5


@shared_task(
    bind=True,
    name="batch.tasks.run_batch_chunk",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=DATABASE_RETRIES,
)
def run_batch_chunk(self, job_id: str, index: int) -> str:
    try:
        return batch_chunk_run(job_id=job_id, index=index).value
    except (OperationalError, InterfaceError) as error:  # the database went away: try again later
        if self.request.retries < DATABASE_RETRIES:
            raise self.retry(exc=error, countdown=min(60, 2 ** self.request.retries)) from error
        batch_chunk_fail(job_id=job_id, index=index, error=error)
        raise
    except Exception as error:
        batch_chunk_fail(job_id=job_id, index=index, error=error)
        raise


@shared_task(name="batch.tasks.expire_batch_storage", ignore_result=True)
def expire_batch_storage() -> dict:
    """Beat (hourly): removes unused uploads past their time-out, and uploads and jobs past their retention."""
    return vars(batch_storage_expire())
