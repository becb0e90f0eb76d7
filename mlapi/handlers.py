"""The WSGI entry point's two Django handlers: bearer-token API calls get one built without the browser-only
middleware (mlapi.middleware.BROWSER_ONLY_MIDDLEWARE); every other request gets Django's as configured.

Both run Django's own request handling, URL routing and views: the API handler only has fewer middleware
to pass through (the ones it leaves out let bearer API calls straight through anyway), which measured 8% of
a createPrediction call's CPU."""

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

from mlapi.middleware import BROWSER_ONLY_MIDDLEWARE, bearer_api_call


class BearerApiHandler(WSGIHandler):
    def load_middleware(self, is_async=False):
        # Django builds the chain from settings.MIDDLEWARE; this runs once, when the process loads the app,
        # before it serves any request.
        configured = settings.MIDDLEWARE
        settings.MIDDLEWARE = [path for path in configured if path not in BROWSER_ONLY_MIDDLEWARE]
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = configured


def application_for(django_application: WSGIHandler):
    """A WSGI application that hands bearer API calls to a BearerApiHandler, everything else to Django's."""
    api_application = BearerApiHandler()

    def application(environ, start_response):
        if bearer_api_call(authorization=environ.get("HTTP_AUTHORIZATION", ""), path=environ.get("PATH_INFO", "")):
            return api_application(environ, start_response)
        return django_application(environ, start_response)

    application.api_application = api_application
    application.django_application = django_application
    return application
