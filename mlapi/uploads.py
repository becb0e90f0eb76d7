"""Multipart uploads bounded before they are read: a body whose Content-Length is over the limit is refused
unread, and a file that grows past its limit while streaming stops the parse (nothing more is kept, in
memory or in a temporary file). REST's registry view and the GraphQL endpoint both use this.

Django's own DATA_UPLOAD_MAX_MEMORY_SIZE counts only the non-file fields of a multipart body; this adds
the bound on files, which are otherwise streamed to disk whatever their size.
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload


def multipart_max_bytes(*, max_file_bytes: int) -> int:
    """The largest multipart body accepted: one file of `max_file_bytes` plus the ordinary field budget."""
    return max_file_bytes + settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def content_length_of(request) -> int | None:
    value = request.META.get("CONTENT_LENGTH") or ""
    return int(value) if value.isdigit() else None


class FileSizeLimitHandler(FileUploadHandler):
    """First in `request.upload_handlers`: stops the parse as soon as one file passes `max_bytes`."""

    def __init__(self, request=None, *, max_bytes: int):
        super().__init__(request)
        self.max_bytes = max_bytes
        self.exceeded = False

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.max_bytes:
            self.exceeded = True
            # The rest of the body (bounded by the Content-Length check) is read and dropped, so the client
            # still gets the answer rather than a reset connection.
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler (memory or temporary file) makes the file object


def file_size_limit_install(request, *, max_bytes: int) -> FileSizeLimitHandler:
    """Call before request.POST/FILES (or DRF's request.data) is first read."""
    handler = FileSizeLimitHandler(request, max_bytes=max_bytes)
    request.upload_handlers.insert(0, handler)
    return handler
