import logging
import re
import time
import uuid

from django.utils.functional import empty

from mlapi.observability.context import request_context
from mlapi.observability.metrics import request_observed

logger = logging.getLogger("mlapi.request")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestLogMiddleware:
    """Assigns a request id (or keeps a sane incoming X-Request-ID), echoes it, logs one JSON line per request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        context = {"request_id": request_id}
        token = request_context.set(context)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            request_context.reset(token)
        response["X-Request-ID"] = request_id
        elapsed = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None else "unmatched"
        request_observed(method=request.method, route=route, status=response.status_code, seconds=elapsed)
        caller = getattr(request, "caller", None)
        user = getattr(caller, "user", None) or _user_if_resolved(request)
        logger.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "latency_ms": round(elapsed * 1000, 2),
                "user_id": getattr(user, "pk", None),
                "operation": context.get("operation"),
                "model": context.get("model"),
            },
        )
        return response


def _user_if_resolved(request):
    """request.user only if the view already looked it up: resolving it here would read the session
    (a database query) after the response, on every request that carries a cookie, /healthz included."""
    user = getattr(request, "user", None)
    if getattr(user, "_wrapped", None) is empty:
        return None
    return user
