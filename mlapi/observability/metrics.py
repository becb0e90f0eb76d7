"""Prometheus metrics. Under gunicorn with several workers set PROMETHEUS_MULTIPROC_DIR (an empty,
writable directory) so /metrics adds up every worker's samples."""

import ipaddress
import os

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from mlapi.auth import InvalidTokenError, caller_from_request

REQUESTS = Counter("mlapi_http_requests_total", "HTTP requests", ["method", "route", "status"])
REQUEST_SECONDS = Histogram(
    "mlapi_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PREDICTIONS = Counter("mlapi_predictions_total", "Predictions stored (instances)", ["model", "version", "source"])
INFERENCE_SECONDS = Histogram(
    "mlapi_inference_seconds",
    "Wall time of one vectorized model call",
    ["model", "version"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)
LIMIT_REJECTIONS = Counter("mlapi_limit_rejections_total", "Calls refused by quota or rate limit", ["code"])


def prediction_observed(*, model_name: str, version: int, instances: int, seconds: float, source: str) -> None:
    PREDICTIONS.labels(model_name, str(version), source).inc(instances)
    INFERENCE_SECONDS.labels(model_name, str(version)).observe(seconds)


def limit_rejection_observed(*, code: str) -> None:
    LIMIT_REJECTIONS.labels(code).inc()


def request_observed(*, method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    REQUEST_SECONDS.labels(method, route).observe(seconds)


def _address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in settings.METRICS_ALLOWED_NETWORKS)


def metrics_view(request):
    """Staff (session or token) or a client address in METRICS_ALLOWED_NETWORKS."""
    try:
        caller = caller_from_request(request)
    except InvalidTokenError:
        caller = None
    is_staff = caller is not None and caller.is_authenticated and caller.user.is_staff
    if not (is_staff or _address_allowed(request.META.get("REMOTE_ADDR", ""))):
        return HttpResponseForbidden("Metrics are restricted.", content_type="text/plain")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        from quality.prometheus import COLLECTOR  # read from the database, not from worker files

        registry.register(COLLECTOR)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
