"""File uploads over GraphQL: the `Upload` scalar and the GraphQL multipart request spec
(https://github.com/jaydenseric/graphql-multipart-request-spec) through graphene-file-upload.

A multipart body is bounded before it is read: callers with the `registry` scope (the only ones with a
mutation that takes a file) may send one artifact of MODEL_ARTIFACT_MAX_BYTES plus the ordinary field budget;
everyone else keeps DATA_UPLOAD_MAX_MEMORY_SIZE for the whole body, as for JSON. A file that grows past its
bound while streaming stops the parse (413). A malformed `operations` or `map` is a 400, never a 500.
"""

import json

import graphene
from django.conf import settings
from django.http import HttpResponse
from graphene_django.views import HttpError
from graphene_file_upload.django import FileUploadGraphQLView
from graphene_file_upload.utils import place_files_in_operations

from accounts.oauth import REGISTRY_SCOPE
from mlapi.uploads import file_size_limit_install, multipart_max_bytes

MULTIPART = "multipart/form-data"
_LIMIT_ATTRIBUTE = "_graphql_upload_limit"


class Upload(graphene.Scalar):
    """A file sent with the GraphQL multipart request spec: the operation's variable is null and the `map`
    form field names the file part that fills it. Input only."""

    class Meta:
        name = "Upload"

    @staticmethod
    def serialize(value):
        return None

    @staticmethod
    def parse_literal(node, _variables=None):
        return None  # a file cannot be written inline in a document

    @staticmethod
    def parse_value(value):
        return value


class CodedHttpError(HttpError):
    """An HttpError whose answer carries `extensions.code` (the view's format_error reads it)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(HttpResponse(status=status), message)
        self.code = code


def is_multipart(request) -> bool:
    return (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower() == MULTIPART


def _uploads_artifacts(request) -> bool:
    caller = getattr(request, "caller", None)
    return is_multipart(request) and caller is not None and REGISTRY_SCOPE in caller.scopes


def file_max_bytes(request) -> int:
    """The largest file this caller may upload (their whole body's bound, when they have no file to send)."""
    return settings.MODEL_ARTIFACT_MAX_BYTES if _uploads_artifacts(request) else settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def body_max_bytes(request) -> int:
    if _uploads_artifacts(request):
        return multipart_max_bytes(max_file_bytes=settings.MODEL_ARTIFACT_MAX_BYTES)
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large_code(request) -> str:
    return "ARTIFACT_TOO_LARGE" if _uploads_artifacts(request) else "PAYLOAD_TOO_LARGE"


def upload_limit_install(request) -> None:
    """Before anything reads request.POST (the CSRF check of a session does)."""
    if is_multipart(request):
        setattr(request, _LIMIT_ATTRIBUTE, file_size_limit_install(request, max_bytes=file_max_bytes(request)))


class MultipartGraphQLView(FileUploadGraphQLView):
    """graphene-file-upload's view, with its parse errors and the size bound answered as JSON errors."""

    def parse_body(self, request):
        if self.get_content_type(request) != MULTIPART:
            return super().parse_body(request)
        try:
            form, files = request.POST, request.FILES
        except Exception as error:  # noqa: BLE001 - Django's MultiPartParserError and friends
            raise CodedHttpError(400, "BAD_REQUEST", f"Malformed multipart body ({type(error).__name__}).") from None
        limit = getattr(request, _LIMIT_ATTRIBUTE, None)
        if limit is not None and limit.exceeded:
            raise CodedHttpError(413, too_large_code(request), f"A file is larger than {limit.max_bytes} bytes.")
        if "operations" not in form:
            raise CodedHttpError(
                400, "BAD_REQUEST", "A multipart request needs an `operations` field (GraphQL multipart request spec)."
            )
        try:
            operations = json.loads(form["operations"])
            files_map = json.loads(form.get("map") or "{}")
            if not isinstance(operations, dict) or not isinstance(files_map, dict):
                raise TypeError("operations and map must be JSON objects")
            if not all(
                isinstance(paths, list) and all(isinstance(p, str) for p in paths) for paths in files_map.values()
            ):
                raise ValueError("map values must be lists of paths")
            return place_files_in_operations(operations, files_map, files)
        except (ValueError, TypeError, KeyError, IndexError, RecursionError) as error:
            raise CodedHttpError(
                400,
                "BAD_REQUEST",
                f"Malformed operations or map ({type(error).__name__}): see the GraphQL multipart request spec.",
            ) from None
