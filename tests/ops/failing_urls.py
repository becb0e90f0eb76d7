"""The project's URLs and handlers, plus views that fail outside DRF and GraphQL (for tests/ops/test_unavailable.py)."""

from django.db import OperationalError
from django.urls import path
from kombu.exceptions import OperationalError as BrokerOperationalError

from mlapi.urls import handler400, handler403, handler404, handler500  # noqa: F401
from mlapi.urls import urlpatterns as project_urlpatterns

FAILURES = {
    "bug": ZeroDivisionError("a bug"),
    "database": OperationalError("server closed the connection unexpectedly"),
    "broker": BrokerOperationalError("[Errno 111] Connection refused"),
}


def fail(request, kind: str):
    raise FAILURES[kind]


urlpatterns = [
    path("api/v1/boom/<str:kind>", fail),
    path("graphql/boom/<str:kind>", fail),
    path("boom/<str:kind>", fail),
    *project_urlpatterns,
]
