"""Storing input files (Django's storage API, under MEDIA_ROOT by default)."""

import hashlib
import io
from typing import BinaryIO

from django.conf import settings
from django.core.files.base import File

from batch.error_codes import BatchErrorCode
from batch.files import FileTooLargeError, file_format_detect
from batch.models import BatchUpload
from mlapi.errors import ApplicationError

FILENAME_MAX_LENGTH = 255


def upload_too_large_error() -> FileTooLargeError:
    return FileTooLargeError.single(
        BatchErrorCode.FILE_TOO_LARGE, f"The file is larger than {settings.BATCH_MAX_UPLOAD_BYTES} bytes.", field="file"
    )


def batch_upload_create(*, user, stream: BinaryIO, filename: str, file_format: str | None = None) -> BatchUpload:
    """Checks size and format, hashes and stores the file. Rows are read when a job is created from it."""
    file_format = file_format_detect(filename=filename, declared=file_format)
    content = stream if isinstance(stream, File) else File(stream, name=filename)
    digest, size = hashlib.sha256(), 0
    for block in content.chunks():
        size += len(block)
        if size > settings.BATCH_MAX_UPLOAD_BYTES:
            raise upload_too_large_error()
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
    upload.save(force_insert=True)
    return upload


def batch_upload_create_from_text(*, user, content: str, file_format: str) -> BatchUpload:
    """An upload from an inline string (GraphQL `content`)."""
    if not file_format:
        raise ApplicationError.single(BatchErrorCode.INVALID_INPUT, "Give format (csv or jsonl) with content.", field="format")
    data = content.encode("utf-8")
    if len(data) > settings.BATCH_MAX_UPLOAD_BYTES:
        raise upload_too_large_error()
    return batch_upload_create(
        user=user, stream=io.BytesIO(data), filename=f"inline.{file_format.lower()}", file_format=file_format
    )


def batch_upload_delete(*, upload: BatchUpload) -> None:
    """Removes an upload no job uses (the row, then the file)."""
    if upload.jobs.exists():
        return
    name = upload.file.name
    upload.delete()
    if name:
        upload.file.storage.delete(name)
