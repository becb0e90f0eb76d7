"""Reads of the batch app. Jobs, uploads and results are their owner's only (staff included, as invoices):
anyone else is told the job does not exist."""

import uuid
from collections.abc import Iterator

from django.db.models import QuerySet, Sum

from batch.error_codes import BatchErrorCode
from batch.models import BatchJob, BatchResultRow, BatchUpload
from mlapi.errors import NotFoundError

RESULTS_PAGE_ROWS = 2000


def batch_job_list_for_owner(*, user, status: str | None = None) -> QuerySet[BatchJob]:
    jobs = BatchJob.objects.select_related("model", "upload").filter(user=user)
    if status:
        jobs = jobs.filter(status=status)
    return jobs.order_by("-created_at", "-id")


def _uuid_or_none(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def batch_job_get_for_owner(*, user, job_id) -> BatchJob:
    key = _uuid_or_none(job_id)
    job = batch_job_list_for_owner(user=user).filter(pk=key).first() if key else None
    if job is None:
        raise NotFoundError.single(BatchErrorCode.NOT_FOUND, "No such batch job.", field="id")
    return job


def batch_upload_get_for_owner(*, user, upload_id) -> BatchUpload:
    key = _uuid_or_none(upload_id)
    upload = BatchUpload.objects.filter(user=user, pk=key).first() if key else None
    if upload is None:
        raise NotFoundError.single(BatchErrorCode.NOT_FOUND, "No such upload.", field="uploadId")
    return upload


def batch_storage_held(*, user) -> int:
    """Bytes of the uploads `user` holds: what counts against the tier's storage allowance."""
    return BatchUpload.objects.filter(user=user).aggregate(total=Sum("size_bytes"))["total"] or 0


def batch_upload_list_for_owner(*, user) -> QuerySet[BatchUpload]:
    return BatchUpload.objects.filter(user=user).order_by("-created_at", "-id")


def batch_result_rows(*, job: BatchJob, page_rows: int = RESULTS_PAGE_ROWS) -> Iterator[tuple]:
    """(row_number, line, output, error) in row order, read in keyset pages (no long-lived cursor)."""
    after = 0
    while True:
        page = list(
            BatchResultRow.objects.filter(job=job, row_number__gt=after)
            .order_by("row_number")
            .values_list("row_number", "line", "output", "error")[:page_rows]
        )
        yield from page
        if len(page) < page_rows:
            return
        after = page[-1][0]
