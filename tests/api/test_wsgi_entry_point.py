"""The WSGI entry point (mlapi.wsgi.application, what gunicorn serves): bearer-token API calls go to a Django
handler built without the browser-only middleware, everything else to Django's own; a bearer call is answered
exactly as the whole stack answers it (status, headers, body, rows stored)."""

import io
import json

import pytest
from django.core import signals
from django.db import close_old_connections, transaction
from django.test import RequestFactory

from billing.models import UsageRecord
from mlapi.graphql_core.persisted import document_sha256, trusted_documents
from predictions.models import Prediction
from tests.conftest import IRIS_SETOSA
from tests.parity import masked, raw_masked

BENCH = next(body for body in trusted_documents().values() if body.startswith("mutation($f"))
VOLATILE = {"id", "createdAt", "created_at", "latencyMs", "latency_ms", "cpuSeconds", "cpu_seconds", "amount"}


@pytest.fixture
def wsgi(monkeypatch):
    """Calls the entry point (or one of its handlers) as gunicorn would, inside the test's transaction."""
    from mlapi import wsgi as entry_point

    answered = []
    for name in ("api_application", "django_application"):
        handler = getattr(entry_point.application, name)
        original = handler.get_response
        monkeypatch.setattr(handler, "get_response", _spy(original, answered, name))

    def call(application, method, path, body=None, **headers):
        payload = json.dumps(body).encode() if body is not None else b""
        environ = RequestFactory()._base_environ(
            PATH_INFO=path,
            REQUEST_METHOD=method,
            CONTENT_TYPE="application/json",
            CONTENT_LENGTH=str(len(payload)),
            **{"wsgi.input": io.BytesIO(payload)},
            **headers,
        )
        started = {}

        def start_response(status, response_headers, exc_info=None):
            started.update(status=status, headers=response_headers)

        # As Django's test client does, per request (the client itself reconnects them after each of its own):
        # request_started/finished would close the test's connection, in the middle of its transaction.
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            iterable = application(environ, start_response)
            try:
                content = b"".join(iterable)
            finally:
                iterable.close()  # as a WSGI server does: Django's request_finished
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
        return started["status"], dict(started["headers"]), content

    return entry_point.application, call, answered


def _spy(original, answered, name):
    def get_response(request):
        answered.append(name)
        return original(request)

    return get_response


def _comparable(status, headers, content):
    # The request id is new per request, and the length follows the CPU-priced amount's digits.
    assert int(headers["Content-Length"]) == len(content)
    headers = {name: value for name, value in headers.items() if name not in ("X-Request-ID", "Content-Length")}
    policy = headers.pop("Content-Security-Policy", "")
    body = json.loads(content) if content else None
    return {
        "status": status,
        "headers": headers,
        "policy": sorted(policy.split("; ")),
        "body": masked(body, VOLATILE),
        "raw": raw_masked(content, VOLATILE),
    }


CASES = {
    "persisted createPrediction": (
        "/graphql/",
        {
            "variables": {"f": IRIS_SETOSA},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_sha256(BENCH)}},
        },
    ),
    "plain createPrediction": ("/graphql/", {"query": BENCH, "variables": {"f": IRIS_SETOSA}}),
    "an invalid feature": ("/graphql/", {"query": BENCH, "variables": {"f": {**IRIS_SETOSA, "petal_width": "x"}}}),
    "REST predict": ("/api/v1/models/iris/predict", {"features": IRIS_SETOSA}),
    "REST unknown model": ("/api/v1/models/nope/predict", {"features": IRIS_SETOSA}),
}


@pytest.mark.parametrize("case", CASES)
def test_a_bearer_api_call_is_answered_by_the_api_handler_exactly_as_by_the_whole_stack(
    case, wsgi, make_user, issue_token, iris_model
):
    # given
    application, call, answered = wsgi
    path, body = CASES[case]
    token = issue_token(make_user())
    answers = []
    for handler in (application.django_application, application):
        with transaction.atomic():
            before = (Prediction.objects.count(), UsageRecord.objects.count())
            # when
            status, headers, content = call(handler, "POST", path, body, HTTP_AUTHORIZATION=f"Bearer {token}")
            stored = (Prediction.objects.count() - before[0], UsageRecord.objects.count() - before[1])
            transaction.set_rollback(True)
        answers.append({**_comparable(status, headers, content), "stored": stored})
    # then: the same answer, and the entry point gave the call to the API handler
    assert answers[1] == answers[0]
    assert answered == ["django_application", "api_application"]
    assert answers[0]["status"] in ("200 OK", "201 Created", "404 Not Found")


def test_an_invalid_token_is_refused_alike_and_stores_nothing(wsgi, iris_model):
    application, call, answered = wsgi
    path, body = CASES["persisted createPrediction"]
    first, second = (
        _comparable(*call(handler, "POST", path, body, HTTP_AUTHORIZATION="Bearer not-a-token"))
        for handler in (application.django_application, application)
    )
    assert first == second and first["status"] == "401 Unauthorized"
    assert answered == ["django_application", "api_application"]
    assert Prediction.objects.count() == UsageRecord.objects.count() == 0


def test_browser_requests_keep_the_whole_stack(wsgi, db):
    # given
    application, call, answered = wsgi
    # when: a page, and an API call without a bearer token (a session's)
    status, headers, _ = call(application, "GET", "/accounts/login/")
    call(application, "POST", "/graphql/", {"query": "{ __typename }"})
    # then: both went to Django's own handler; the page set its session-side cookies as before
    assert answered == ["django_application", "django_application"]
    assert status == "200 OK" and "csrftoken" in headers.get("Set-Cookie", "")


def test_loading_the_entry_point_loads_the_urlconf_and_the_graphql_schema():
    """A worker's first request does not pay for importing them (gunicorn loads this module before serving)."""
    import subprocess
    import sys

    probe = (
        "import sys, mlapi.wsgi; "
        "print('mlapi.schema' in sys.modules, 'mlapi.urls' in sys.modules, 'predictions.api.views' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.split() == ["True", "True", "True"]
