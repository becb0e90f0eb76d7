"""Storing input files (Django's storage API, under MEDIA_ROOT by default), within the owner's storage allowance.

What a batch request costs is checked before its body is parsed (`batch_request_admit`): one request against
the rate limit, at least one prediction left in the month's quota when it scores, and the declared size against
the tier's storage allowance. The allowance (`PricingTier.storage_allowance_bytes`) counts the bytes of the
uploads a user holds; the exact check is made again, under a lock on the user's row, when the upload is stored.
"""

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import File
from django.db import transaction
from django.utils import timezone

from batch.error_codes import BatchErrorCode
from batch.files import FileTooLargeError, file_format_detect
from batch.models import BatchJob, BatchUpload
from batch.selectors import batch_storage_held, batch_upload_get_for_owner
from batch.services.retention import batch_upload_remove
from billing.models import PricingTier
from billing.services.usage import pricing_tier_for_user, quota_precheck, rate_limit_consume
from mlapi.errors import ApplicationError, ConflictError

FILENAME_MAX_LENGTH = 255


@dataclass(frozen=True)
class Admission:
    """A batch request let in: its tier and time (the rate limit is already counted)."""

    tier: PricingTier
    now: datetime


def upload_too_large_error() -> FileTooLargeError:
    return FileTooLargeError.single(
        BatchErrorCode.FILE_TOO_LARGE, f"The file is larger than {settings.BATCH_MAX_UPLOAD_BYTES} bytes.", field="file"
    )


def _storage_quota_error(tier: PricingTier, held: int) -> FileTooLargeError:
    return FileTooLargeError.single(
        BatchErrorCode.STORAGE_QUOTA_EXCEEDED,
        f"Your uploads hold {held} of the {tier.storage_allowance_bytes} bytes your tier allows; "
        "delete an upload (DELETE /api/v1/batch-uploads/<id>) or wait for old ones to expire.",
        field="file",
    )


def batch_storage_check(*, user, tier: PricingTier, incoming_bytes: int) -> None:
    """Refuses `incoming_bytes` more when they would not fit the allowance (a cheap early check, no lock)."""
    if tier.storage_allowance_bytes is None or incoming_bytes <= 0:
        return
    held = batch_storage_held(user=user)
    if held + incoming_bytes > tier.storage_allowance_bytes:
        raise _storage_quota_error(tier, held)


def batch_request_admit(*, user, scoring: bool, incoming_bytes: int = 0) -> Admission:
    """Call before parsing a batch request's body: counts it against the rate limit; refuses it when the quota
    is used up (`scoring`) or `incoming_bytes` (a lower bound of the file's size) cannot fit the allowance."""
    tier = pricing_tier_for_user(user=user)
    now = timezone.now()
    rate_limit_consume(user=user, tier=tier, now=now)
    if scoring:
        quota_precheck(user=user, tier=tier, count=1, now=now)
    batch_storage_check(user=user, tier=tier, incoming_bytes=incoming_bytes)
    return Admission(tier=tier, now=now)


def batch_upload_create(
    *, user, stream: BinaryIO, filename: str, file_format: str | None = None, tier: PricingTier | None = None
) -> BatchUpload:
    """Checks format and size (against the upload limit and what is left of the allowance, reading no further
    than either), hashes and stores the file. Rows are read when a job is created from it."""
    file_format = file_format_detect(filename=filename, declared=file_format)
    tier = tier or pricing_tier_for_user(user=user)
    allowance = tier.storage_allowance_bytes
    held = 0 if allowance is None else batch_storage_held(user=user)
    room = None if allowance is None else allowance - held
    content = stream if isinstance(stream, File) else File(stream, name=filename)
    digest, size = hashlib.sha256(), 0
    for block in content.chunks():
        size += len(block)
        if size > settings.BATCH_MAX_UPLOAD_BYTES:
            raise upload_too_large_error()
        if room is not None and size > room:
            raise _storage_quota_error(tier, held)
        digest.update(block)
    if size == 0:
        raise ApplicationError.single(BatchErrorCode.EMPTY_FILE, "The file is empty.", field="file")
    content.seek(0)
    upload = BatchUpload(
        user=user,
        filename=filename[-FILENAME_MAX_LENGTH:] or "upload",
        format=file_format,
        size_bytes=size,
        sha256=digest.hexdigest(),
    )
    upload.file.save(filename, content, save=False)
    try:
        with transaction.atomic():
            if allowance is not None:
                # Uploads of one user at the same moment queue here, so together they cannot pass the allowance.
                get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
                held = batch_storage_held(user=user)
                if held + size > allowance:
                    raise _storage_quota_error(tier, held)
            upload.save(force_insert=True)
    except BaseException:
        if upload.file.name:
            upload.file.storage.delete(upload.file.name)
        raise
    return upload


def batch_upload_create_from_text(
    *, user, content: str, file_format: str | None, tier: PricingTier | None = None
) -> BatchUpload:
    """An upload from an inline string (GraphQL `content`)."""
    if not file_format:
        raise ApplicationError.single(
            BatchErrorCode.INVALID_INPUT, "Give format (csv or jsonl) with content.", field="format"
        )
    data = content.encode("utf-8")
    if len(data) > settings.BATCH_MAX_UPLOAD_BYTES:
        raise upload_too_large_error()
    return batch_upload_create(
        user=user, stream=io.BytesIO(data), filename=f"inline.{file_format.lower()}", file_format=file_format, tier=tier
    )


def batch_upload_delete(*, upload: BatchUpload) -> None:
    """Removes an upload no job uses (the row, then the file)."""
    if upload.jobs.exists():
        return
    name = upload.file.name
    upload.delete()
    if name:
        upload.file.storage.delete(name)


def batch_upload_delete_for_owner(*, user, upload_id) -> None:
    """The owner deletes an upload: the file, and the jobs scored from it with their results. Refused while one
    of those jobs is queued or running (cancel it first)."""
    upload = batch_upload_get_for_owner(user=user, upload_id=upload_id)
    if upload.jobs.filter(status__in=BatchJob.ACTIVE).exists():
        raise ConflictError.single(
            BatchErrorCode.UPLOAD_IN_USE, "A queued or running job reads this upload; cancel it first.", field="id"
        )
    if not batch_upload_remove(upload=upload):
        raise ConflictError.single(
            BatchErrorCode.UPLOAD_IN_USE, "A job started reading this upload; cancel it first.", field="id"
        )
