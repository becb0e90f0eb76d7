"""Removing stored batch data: an upload with the jobs scored from it, unused uploads, and what is past retention.

- An upload no job has used is removed BATCH_UNUSED_UPLOAD_TTL_HOURS after it was stored.
- With `PricingTier.retention_days` set, a job that is not queued or running is removed (with its chunks and
  result rows) that many days after it finished (or was created, when it never finished), and an upload once
  that many days have passed since it was stored and no job that reads it is left.
Rows go in one transaction per upload or job; the file is deleted from storage after that commits.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.deletion import ProtectedError
from django.utils import timezone

from batch.models import BatchJob, BatchUpload
from billing.models import PricingTier
from billing.services.usage import pricing_tier_for_user

logger = logging.getLogger(__name__)


@dataclass
class StorageExpiry:
    uploads_removed: int = 0
    jobs_removed: int = 0
    bytes_freed: int = 0


def _jobs_remove(jobs) -> int:
    """Deletes the jobs of `jobs` that are not queued or running (locked first, so none is resumed meanwhile)."""
    ids = list(jobs.select_for_update().exclude(status__in=BatchJob.ACTIVE).values_list("pk", flat=True))
    if ids:
        BatchJob.objects.filter(pk__in=ids).delete()  # chunks and result rows cascade
    return len(ids)


def batch_upload_remove(*, upload: BatchUpload, only_if_unused: bool = False) -> bool:
    """Deletes `upload`, its jobs and their results; the file after commit. False (nothing deleted) when one of
    its jobs is queued or running, or, with `only_if_unused`, when any job reads it."""
    with transaction.atomic():
        locked = BatchUpload.objects.select_for_update().filter(pk=upload.pk).first()
        if locked is None:
            return True
        jobs = BatchJob.objects.filter(upload=locked)
        if jobs.filter(status__in=BatchJob.ACTIVE).exists() or (only_if_unused and jobs.exists()):
            return False
        _jobs_remove(jobs)
        name, storage = locked.file.name, locked.file.storage
        locked.delete()
        if name:
            transaction.on_commit(lambda: storage.delete(name))
    return True


def _remove_quietly(upload: BatchUpload, report: StorageExpiry, *, only_if_unused: bool) -> None:
    try:
        removed = batch_upload_remove(upload=upload, only_if_unused=only_if_unused)
    except (IntegrityError, ProtectedError):  # a job was created for it at this very moment: keep it
        removed = False
    if removed:
        report.uploads_removed += 1
        report.bytes_freed += upload.size_bytes


def _unused_uploads_expire(now: datetime, report: StorageExpiry) -> None:
    cutoff = now - timedelta(hours=settings.BATCH_UNUSED_UPLOAD_TTL_HOURS)
    for upload in BatchUpload.objects.filter(created_at__lt=cutoff, jobs__isnull=True).iterator():
        _remove_quietly(upload, report, only_if_unused=True)


def _retention_expire(now: datetime, report: StorageExpiry) -> None:
    shortest = PricingTier.objects.filter(retention_days__isnull=False).order_by("retention_days").first()
    if shortest is None or shortest.retention_days is None:
        return
    candidates = (
        BatchUpload.objects.filter(created_at__lt=now - timedelta(days=shortest.retention_days))
        .order_by()
        .values_list("user_id", flat=True)
        .distinct()
    )
    for user in get_user_model().objects.filter(pk__in=candidates):
        days = pricing_tier_for_user(user=user, now=now).retention_days
        if days is None:
            continue
        cutoff = now - timedelta(days=days)
        old_jobs = BatchJob.objects.filter(user=user).filter(
            Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created_at__lt=cutoff)
        )
        with transaction.atomic():
            report.jobs_removed += _jobs_remove(old_jobs)
        for upload in BatchUpload.objects.filter(user=user, created_at__lt=cutoff, jobs__isnull=True):
            _remove_quietly(upload, report, only_if_unused=True)


def batch_storage_expire(*, now: datetime | None = None) -> StorageExpiry:
    """The beat task's pass: unused uploads past their time-out, then uploads and jobs past their retention."""
    now = now or timezone.now()
    report = StorageExpiry()
    _unused_uploads_expire(now, report)
    _retention_expire(now, report)
    if report.uploads_removed or report.jobs_removed:
        logger.info("batch storage expired", extra=vars(report))
    return report
