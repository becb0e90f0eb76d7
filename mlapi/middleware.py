"""The lean API path: a bearer-token call to `/graphql/` or `/api/v1/` skips the middleware only browsers need.

A request that carries `Authorization: Bearer ...` is authenticated by that token alone (mlapi.auth), so
it needs no session, no user from the session and no messages, and `/graphql/` or `/api/v1/` never serve
static files. Every other request (a logged-in GraphiQL or Swagger session, the admin, the OAuth pages)
runs the whole stack as before. CSRF stays in the stack for everyone (both API views are csrf_exempt and
check session callers themselves; a bearer caller gets no CSRF cookie, see MlapiGraphQLView).

Each browser-only middleware in settings.MIDDLEWARE is wrapped by `browser_only`: the wrapper passes a
bearer API call straight through, and hands every other request to the real middleware.
"""

from django.utils.module_loading import import_string

API_PREFIXES = ("/graphql/", "/api/v1/")
_MARK = "_mlapi_bearer_api_call"


def is_bearer_api_call(request) -> bool:
    """An API path with a bearer token (checked once per request)."""
    known = request.__dict__.get(_MARK)
    if known is None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        known = header[:7].lower() == "bearer " and request.path_info.startswith(API_PREFIXES)
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


WhiteNoiseMiddleware = browser_only("whitenoise.middleware.WhiteNoiseMiddleware")
SessionMiddleware = browser_only("django.contrib.sessions.middleware.SessionMiddleware")
AuthenticationMiddleware = browser_only("django.contrib.auth.middleware.AuthenticationMiddleware")
MessageMiddleware = browser_only("django.contrib.messages.middleware.MessageMiddleware")
