"""A database, cache or broker that cannot answer right now: HTTP 503 with `Retry-After` and the
stable code SERVICE_UNAVAILABLE, so a client can tell "retry the same request later" from a bug (500)
or its own mistake (4xx). Retrying is safe: predictions and batch submissions carry idempotency keys.

REST (mlapi.api.exceptions), GraphQL (mlapi.graphql_core.unavailable) and Django's own 500 handler
(mlapi.error_handlers) all ask `unavailable_cause` and answer with the bodies built here.
"""

import django.db
from django.conf import settings
from django.http import JsonResponse
from django_redis.exceptions import ConnectionInterrupted
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
MESSAGE = "The service is temporarily unavailable; retry the same request later."

# OperationalError covers a refused or dropped connection, "too many clients", a statement time-out
# (QueryCanceled) and SQLite's "database is locked"; InterfaceError a connection already closed.
_UNAVAILABLE = (
    django.db.OperationalError,
    django.db.InterfaceError,
    BrokerOperationalError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionInterrupted,
)


def unavailable_cause(error: BaseException | None) -> BaseException | None:
    """The outage behind `error` (itself, what it was raised from, or a GraphQLError's original), if any."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, _UNAVAILABLE):
            return error
        seen.add(id(error))
        error = getattr(error, "original_error", None) or error.__cause__
    return None


def retry_after_seconds() -> int:
    return settings.SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS


def with_retry_after(response):
    response["Retry-After"] = str(retry_after_seconds())
    return response


def rest_error() -> dict:
    """One entry of the REST `{"errors": [...]}` body."""
    return {"field": None, "code": SERVICE_UNAVAILABLE, "message": MESSAGE}


def graphql_error(*, path=None, request_id: str | None = None) -> dict:
    """One top-level GraphQL error."""
    error = {"message": MESSAGE, "extensions": {"code": SERVICE_UNAVAILABLE, "retryAfter": retry_after_seconds()}}
    if path is not None:
        error["path"] = path
    if request_id:
        error["extensions"]["requestId"] = request_id
    return error


def rest_unavailable_response() -> JsonResponse:
    return with_retry_after(JsonResponse({"errors": [rest_error()]}, status=503))


def graphql_unavailable_response(*, request_id: str | None = None) -> JsonResponse:
    return with_retry_after(JsonResponse({"errors": [graphql_error(request_id=request_id)]}, status=503))
