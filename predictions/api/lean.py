"""The lean lane of REST predict: the common call (a bearer token with the `predict` scope, a JSON object body,
JSON answered) handled without DRF's per-request machinery, with DRF's own parser, the same service, the same
response data and exception handler, and the same renderer, so the answer is byte for byte the one DRF gives.

Anything else returns None and DRF answers as before: sessions (CSRF), a missing, invalid or under-scoped token,
another content type, content negotiation (an Accept header other than JSON, `?format=`), a body that does not
parse or holds unknown fields, a version that is not a number. Those are all decided before the service runs,
so nothing runs twice.
"""

import io

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from rest_framework.exceptions import ParseError
from rest_framework.renderers import JSONRenderer

from mlapi.api.exceptions import api_exception_handler
from mlapi.api.parsers import SafeJSONParser
from mlapi.auth import InvalidTokenError, bearer_token_from_header, caller_from_token

_JSON = "application/json"
_ACCEPTED = frozenset({"", "*/*", _JSON})
_RENDERER = JSONRenderer()


def lean_enabled() -> bool:
    return getattr(settings, "REST_LEAN_PREDICT_ENABLED", True)


def _rendered(response, *, allow: str) -> HttpResponse:
    """What DRF's finalize_response + Response.rendered_content make of a Response with one JSON renderer."""
    content = _RENDERER.render(response.data, _JSON, {"response": response})
    rendered = HttpResponse(content, status=response.status_code, content_type=_JSON)
    for name, value in response.items():
        if name.lower() != "content-type":
            rendered[name] = value
    rendered["Allow"] = allow
    return rendered


def predict_lean(request, *, view, name: str, answer) -> HttpResponse | None:
    """`answer(caller, body, version)` runs the view's own logic and returns a DRF Response (or raises)."""
    meta = request.META
    if request.method != "POST" or meta.get("CONTENT_TYPE") != _JSON or meta.get("HTTP_ACCEPT", "") not in _ACCEPTED:
        return None
    if any(key != "version" for key in request.GET):
        return None
    version = request.GET.get("version")
    if version is not None and not version.isdigit():
        return None
    try:
        token = bearer_token_from_header(meta.get("HTTP_AUTHORIZATION", ""))
        caller = caller_from_token(token) if token is not None else None
    except InvalidTokenError:
        return None
    if caller is None or view.required_scope not in caller.scopes:
        return None
    try:
        body = SafeJSONParser().parse(io.BytesIO(request.body), _JSON, {"request": request})
    except (ParseError, RequestDataTooBig):  # DRF answers them (413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE)
        return None
    if not isinstance(body, dict) or not set(body) <= view.PREDICT_FIELDS:
        return None
    request.caller = caller
    allow = ", ".join(view.allowed_methods)
    try:
        response = answer(caller.user, body, version)
    except Exception as error:  # noqa: BLE001 - DRF's handler decides, as for the DRF lane
        response = api_exception_handler(error, {"view": view, "request": request})
        if response is None:
            raise
    return _rendered(response, allow=allow)
