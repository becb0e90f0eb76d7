"""Django's last-resort handlers (urls.py's handler400/403/404/500): JSON on the API paths, never an
HTML page a client would have to scrape; branded HTML pages for people in a browser.

The 500 handler runs inside Django's `except` block, so it can see the exception: an outage of the
database, cache or broker answers 503 with `Retry-After` instead (see mlapi.unavailable).
"""

import sys

from django.http import HttpResponse, JsonResponse
from django.template import loader

from mlapi.observability.context import current_request_id
from mlapi.unavailable import graphql_error, rest_error, unavailable_cause, with_retry_after

GRAPHQL_PREFIX = "/graphql/"
# Paths whose callers are programs: the REST API and its schema, OAuth2 token endpoints, webhooks.
JSON_PREFIXES = ("/api/", "/o/token/", "/o/revoke_token/", "/o/introspect/", "/billing/webhooks/")

_MESSAGES = {
    400: ("BAD_REQUEST", "Bad request."),
    403: ("FORBIDDEN", "Forbidden."),
    404: ("NOT_FOUND", "No such endpoint."),
    500: ("INTERNAL_SERVER_ERROR", "Internal server error."),
}


def _json_error(request, *, status: int, code: str, message: str) -> JsonResponse | None:
    """The error in the body shape of the API the path belongs to; None for browser paths."""
    path = request.path_info
    request_id = current_request_id() if status >= 500 else None
    if path.startswith(GRAPHQL_PREFIX):
        error = {"message": message, "extensions": {"code": code}}
        if request_id:
            error["extensions"]["requestId"] = request_id
    elif path.startswith(JSON_PREFIXES):
        error = {"field": None, "code": code, "message": message}
        if request_id:
            error["request_id"] = request_id
    else:
        return None
    return JsonResponse({"errors": [error]}, status=status)


def _page(template: str, *, status: int, context: dict | None = None) -> HttpResponse:
    # Rendered without the request: the failure may be in what a RequestContext would run.
    return HttpResponse(loader.get_template(template).render(context or {}), status=status)


def _client_error(request, status: int) -> HttpResponse:
    code, message = _MESSAGES[status]
    response = _json_error(request, status=status, code=code, message=message)
    if response is None:
        response = _page(f"errors/{status}.html", status=status, context={"request_path": request.path})
    return response


def bad_request(request, exception=None):
    return _client_error(request, 400)


def permission_denied(request, exception=None):
    return _client_error(request, 403)


def page_not_found(request, exception=None):
    return _client_error(request, 404)


def server_error(request):
    if unavailable_cause(sys.exc_info()[1]) is not None:
        path = request.path_info
        if path.startswith(GRAPHQL_PREFIX):
            response = JsonResponse({"errors": [graphql_error(request_id=current_request_id())]}, status=503)
        elif path.startswith(JSON_PREFIXES):
            response = JsonResponse({"errors": [rest_error()]}, status=503)
        else:
            response = _page("errors/503.html", status=503)
        return with_retry_after(response)
    code, message = _MESSAGES[500]
    response = _json_error(request, status=500, code=code, message=message)
    return response if response is not None else _page("errors/500.html", status=500)
