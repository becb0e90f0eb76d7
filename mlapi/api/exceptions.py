"""REST errors: `{"errors": [{"field", "code", "message"}]}` with the right status, never a traceback."""

import logging
import re

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from mlapi.errors import ApplicationError
from mlapi.observability.context import current_request_id
from mlapi.unavailable import rest_error, unavailable_cause, with_retry_after

logger = logging.getLogger(__name__)

_CODES = {
    exceptions.NotAuthenticated: "UNAUTHENTICATED",
    exceptions.AuthenticationFailed: "INVALID_TOKEN",
    exceptions.PermissionDenied: "FORBIDDEN",
    exceptions.NotFound: "NOT_FOUND",
    exceptions.ParseError: "MALFORMED_JSON",
    exceptions.UnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
    exceptions.MethodNotAllowed: "METHOD_NOT_ALLOWED",
    exceptions.NotAcceptable: "NOT_ACCEPTABLE",
    exceptions.Throttled: "RATE_LIMITED",
}


_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def rest_field(field: str | None, renames: dict[str, str] | None = None) -> str | None:
    """An error's `field` as REST spells it: services name inputs as GraphQL does (`modelName`, `uploadId`), REST
    in snake_case (`model_name`, `upload_id`), then as the view's own parameter where it differs (`renames`).
    Only the first segment of a dotted path is an API name; the rest (indexes, feature names) is the caller's
    data and is kept as sent (`instances.2.sepalLength`)."""
    if field is None:
        return None
    head, dot, rest = field.partition(".")
    head = _CAMEL_HUMP.sub("_", head).lower()
    return (renames or {}).get(head, head) + dot + rest


def rest_errors(errors: list[dict], view=None) -> list[dict]:
    renames = getattr(view, "error_field_renames", None)
    return [{**error, "field": rest_field(error.get("field"), renames)} for error in errors]


def _flatten(detail, field: str | None = None) -> list[dict]:
    if isinstance(detail, dict):
        return [e for key, value in detail.items() for e in _flatten(value, key if field is None else f"{field}.{key}")]
    if isinstance(detail, list):
        return [e for item in detail for e in _flatten(item, field)]
    code = getattr(detail, "code", None) or "INVALID"
    return [
        {
            "field": None if field in (None, "non_field_errors") else field,
            "code": str(code).upper(),
            "message": str(detail),
        }
    ]


def api_exception_handler(exc, context):
    response = _error_response(exc)
    if isinstance(response.data, dict) and "errors" in response.data:
        response.data["errors"] = rest_errors(response.data["errors"], context.get("view"))
    return response


def _error_response(exc) -> Response:
    cause = unavailable_cause(exc)
    if cause is not None:
        # The database, cache or broker is down or timed out: the same request may succeed later.
        logger.warning("service unavailable", extra={"error": type(cause).__name__, "detail": str(cause)[:300]})
        return with_retry_after(Response({"errors": [rest_error()]}, status=503))
    if isinstance(exc, ApplicationError):
        response = Response({"errors": [e.as_dict() for e in exc.errors]}, status=exc.http_status)
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"errors": [{"field": None, "code": "PAYLOAD_TOO_LARGE", "message": "Request body too large."}]}, status=413
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        if isinstance(exc, exceptions.ValidationError):
            errors = _flatten(exc.detail)
        else:
            code = exc.get_codes() if isinstance(exc.get_codes(), str) else None
            code = code if code and code.isupper() else _CODES.get(type(exc), str(code or "ERROR").upper())
            errors = [{"field": None, "code": code, "message": str(exc.detail)}]
        response = Response({"errors": errors}, status=exc.status_code)
        if getattr(exc, "auth_header", None):
            response["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            response["Retry-After"] = str(int(exc.wait))
        return response
    logger.error("unexpected error in REST view", exc_info=exc)
    return Response(
        {
            "errors": [
                {
                    "field": None,
                    "code": "INTERNAL_SERVER_ERROR",
                    "message": "Internal server error.",
                    "request_id": current_request_id(),
                }
            ]
        },
        status=500,
    )


def api_not_found(request, *args, **kwargs):
    """JSON 404 for any unknown path under /api/v1/ (Django's own 404 page is HTML)."""
    from django.http import JsonResponse

    return JsonResponse({"errors": [{"field": None, "code": "NOT_FOUND", "message": "No such endpoint."}]}, status=404)
