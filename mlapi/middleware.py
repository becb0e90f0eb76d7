"""The lean API path: a bearer-token call to `/graphql/` or `/api/v1/` skips the middleware only browsers need.

A request that carries `Authorization: Bearer ...` is authenticated by that token alone (mlapi.auth), so
it needs no session, no user from the session and no messages, and `/graphql/` or `/api/v1/` never serve
static files. Every other request (a logged-in GraphiQL or Swagger session, the admin, the OAuth pages)
runs the whole stack as before. CSRF stays in the stack for everyone (both API views are csrf_exempt and
check session callers themselves; a bearer caller gets no CSRF cookie, see MlapiGraphQLView).

Each browser-only middleware in settings.MIDDLEWARE is wrapped by `browser_only`: the wrapper passes a
bearer API call straight through, and hands every other request to the real middleware.
"""

import dataclasses
import functools

import csp.middleware as _csp
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

API_PREFIXES = ("/graphql/", "/api/v1/")
_MARK = "_mlapi_bearer_api_call"


def bearer_api_call(*, authorization: str, path: str) -> bool:
    """An API path called with a bearer token."""
    return authorization[:7].lower() == "bearer " and path.startswith(API_PREFIXES)


def is_bearer_api_call(request) -> bool:
    """`bearer_api_call` for a request (checked once per request)."""
    known = request.__dict__.get(_MARK)
    if known is None:
        known = bearer_api_call(authorization=request.META.get("HTTP_AUTHORIZATION", ""), path=request.path_info)
        request.__dict__[_MARK] = known
    return known


def browser_only(path: str) -> type:
    """A subclass of `path`'s middleware (so Django's checks still find it) that lets bearer API calls through."""
    middleware_class = import_string(path)

    def __call__(self, request):
        if is_bearer_api_call(request):
            return self.get_response(request)
        return middleware_class.__call__(self, request)

    def skipped_for_bearer_api_calls(name: str):
        method = getattr(middleware_class, name)

        def hook(self, request, *args):
            return None if is_bearer_api_call(request) else method(self, request, *args)

        return hook

    attributes = {"__call__": __call__, "__module__": __name__, "__doc__": f"{path}, except for bearer API calls."}
    for name in ("process_view", "process_exception", "process_template_response"):
        if hasattr(middleware_class, name):
            attributes[name] = skipped_for_bearer_api_calls(name)
    return type(middleware_class.__name__, (middleware_class,), attributes)


# What a bearer API call does not need (the WSGI entry point, mlapi.wsgi, gives such calls a handler without
# them; the wrappers above let them through under any other entry point, the test client's included).
BROWSER_ONLY_MIDDLEWARE = frozenset(
    {
        "mlapi.middleware.WhiteNoiseMiddleware",
        "mlapi.middleware.SessionMiddleware",
        "mlapi.middleware.AuthenticationMiddleware",
        "mlapi.middleware.MessageMiddleware",
        "allauth.account.middleware.AccountMiddleware",  # request.allauth and /accounts/ 404 redirects
    }
)

WhiteNoiseMiddleware = browser_only("whitenoise.middleware.WhiteNoiseMiddleware")
SessionMiddleware = browser_only("django.contrib.sessions.middleware.SessionMiddleware")
AuthenticationMiddleware = browser_only("django.contrib.auth.middleware.AuthenticationMiddleware")
MessageMiddleware = browser_only("django.contrib.messages.middleware.MessageMiddleware")


class CSPMiddleware(_csp.CSPMiddleware):
    """django-csp's middleware, except that the header of a response that needs nothing of its own (no nonce
    asked for, no per-view policy or exemption) is built once from the settings rather than on every
    response: building it was a tenth of an API call's CPU. Anything else is django-csp's own code."""

    def process_response(self, request, response):
        if (
            getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in _CSP_PER_RESPONSE)
            or (settings.DEBUG and response.status_code in (500, 404))
        ):
            return super().process_response(request, response)
        for header, value, excluded_prefixes in _csp_plain_headers():
            if value and header not in response and not request.path_info.startswith(excluded_prefixes):
                response[header] = value
        request.csp_nonce = _csp.CheckableLazyObject(self._csp_nonce_post_response)
        return response


# What a view can set on a response for django-csp (its decorators), besides the nonce on the request.
_CSP_PER_RESPONSE = tuple(
    f"_csp_{part}{suffix}" for part in ("config", "update", "replace", "exempt") for suffix in ("", "_ro")
)


@functools.cache
def _csp_plain_headers() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(header, value, excluded path prefixes) for the policy and the report-only policy, from the settings."""
    headers = []
    for header, setting, report_only in (
        (_csp.HEADER, "CONTENT_SECURITY_POLICY", False),
        (_csp.HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", True),
    ):
        value = _csp.build_policy(**dataclasses.asdict(_csp.PolicyParts()), report_only=report_only)
        prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
        headers.append((header, value, tuple(prefixes)))
    return tuple(headers)


@receiver(setting_changed)
def _csp_settings_changed(*, setting, **_):
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _csp_plain_headers.cache_clear()
