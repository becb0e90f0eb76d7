"""One JSON log line per request on "mlapi.request", a request id on every response, and no secrets in logs."""

import json
import logging
import re

import pytest

from mlapi.observability.logging import JsonFormatter
from tests.conftest import IRIS_SETOSA

REQUEST_LOGGER = "mlapi.request"
PREDICT_IRIS = "/api/v1/models/iris/predict"
SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class _JsonLines(logging.Handler):
    """Formats each record with JsonFormatter when it is emitted (inside the request), like the console handler."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def json_lines():
    """Every record reaching the root logger (set its level with caplog), as the JSON the console would print."""
    handler = _JsonLines()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.lines
    root.removeHandler(handler)


def _request_records(caplog):
    return [r for r in caplog.records if r.name == REQUEST_LOGGER]


def _predict(client, token, body=None, **extra):
    return client.post(
        PREDICT_IRIS,
        json.dumps(body or {"features": IRIS_SETOSA}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        **extra,
    )


def test_each_request_logs_one_json_line_with_its_facts(make_user, issue_token, client, iris_model, caplog):
    # given
    user = make_user()
    token = issue_token(user)
    caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
    caplog.clear()
    # when
    response = _predict(client, token)
    # then
    [record] = _request_records(caplog)
    line = json.loads(JsonFormatter().format(record))
    assert line["logger"] == REQUEST_LOGGER and line["level"] == "INFO"
    assert line["request_id"] == response["X-Request-ID"]
    assert line["user_id"] == user.pk
    assert line["status"] == 201
    assert line["method"] == "POST" and line["path"] == PREDICT_IRIS
    assert isinstance(line["latency_ms"], (int, float)) and line["latency_ms"] >= 0
    assert line["model"] == "iris:1"


@pytest.mark.parametrize(
    ("path", "status"),
    [("/healthz", 200), ("/api/v1/me", 401), ("/no-such-page", 404)],
)
def test_anonymous_requests_log_one_line_without_a_user(db, client, caplog, path, status):
    caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
    response = client.get(path)
    [record] = _request_records(caplog)
    line = json.loads(JsonFormatter().format(record))
    assert (line["status"], line["path"], line["user_id"]) == (status, path, None)
    assert line["request_id"] == response["X-Request-ID"]


def test_refused_request_logs_its_status_and_user(make_user, issue_token, client, iris_model, caplog):
    user = make_user()
    token = issue_token(user)
    caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
    caplog.clear()
    _predict(client, token, {"features": {"sepal_length": "x"}})
    [record] = _request_records(caplog)
    assert (record.status, record.user_id) == (400, user.pk)


def test_graphql_requests_log_the_token_user(make_user, issue_token, gql, caplog):
    user = make_user()
    token = issue_token(user)
    caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
    caplog.clear()
    gql("{ me { username } }", token=token)
    [record] = _request_records(caplog)
    assert (record.status, record.user_id, record.path) == (200, user.pk, "/graphql/")


def test_every_response_carries_a_fresh_request_id(db, client):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert SANE_ID.match(first["X-Request-ID"]) and SANE_ID.match(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_sane_incoming_request_id_is_echoed_and_logged(db, client, caplog):
    caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
    response = client.get("/healthz", HTTP_X_REQUEST_ID="edge-4f1c.9_A-2")
    assert response["X-Request-ID"] == "edge-4f1c.9_A-2"
    [record] = _request_records(caplog)
    assert record.request_id == "edge-4f1c.9_A-2"


@pytest.mark.parametrize(
    "incoming",
    ["x" * 300, "x" * 65, "two words", "", "id;rm -rf", "id\ttab", "caf\u00e9", '{"json":1}'],
    ids=["300-chars", "65-chars", "space", "empty", "semicolon", "tab", "non-ascii", "json"],
)
def test_an_insane_incoming_request_id_is_replaced(db, client, caplog, incoming):
    caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
    response = client.get("/healthz", HTTP_X_REQUEST_ID=incoming)
    replaced = response["X-Request-ID"]
    assert replaced != incoming and SANE_ID.match(replaced)
    [record] = _request_records(caplog)
    assert record.request_id == replaced


def test_unexpected_error_is_logged_with_the_request_id_and_answered_without_a_traceback(
    make_user, issue_token, client, iris_model, caplog, json_lines, monkeypatch
):
    # given: inference blows up
    import predictions.services.metering

    def explode(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(predictions.services.metering, "predict", explode)
    token = issue_token(make_user())
    caplog.set_level(logging.INFO)
    # when
    response = _predict(client, token, HTTP_X_REQUEST_ID="trace-500")
    # then: a JSON 500 that names the request id and nothing else
    assert response.status_code == 500
    [error] = response.json()["errors"]
    assert (error["code"], error["request_id"]) == ("INTERNAL_SERVER_ERROR", "trace-500")
    assert "Traceback" not in response.content.decode() and "boom" not in response.content.decode()
    # and the traceback is in a log line carrying the same request id
    [logged] = [line for line in json_lines if "RuntimeError: boom" in line.get("exception", "")]
    assert logged["request_id"] == "trace-500" and logged["level"] == "ERROR"


def test_the_bearer_token_never_appears_in_logs(
    make_user, staff_user, issue_token, client, gql, iris_model, caplog, json_lines
):
    # given: tokens in use, and from then on everything logged, at every level, from every logger
    user = make_user()
    token = issue_token(user)
    staff_token = issue_token(staff_user)
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    json_lines.clear()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    # when: successful and failing calls through REST, GraphQL, metrics and the 404 page
    _predict(client, token)
    _predict(client, token, {"features": {"sepal_length": "x"}})
    _predict(client, token, {"features": IRIS_SETOSA}, HTTP_IDEMPOTENCY_KEY="k")
    _predict(client, token, {"features": {**IRIS_SETOSA, "sepal_length": 6.0}}, HTTP_IDEMPOTENCY_KEY="k")
    client.get("/api/v1/invoices/12345", **bearer)
    client.get("/api/v1/predictions/garbage", **bearer)
    client.post(PREDICT_IRIS, "{broken", content_type="application/json", **bearer)
    gql("{ me { username } }", token=token)
    gql("{ nope }", token=token)
    client.get("/metrics", REMOTE_ADDR="203.0.113.9", **bearer)
    client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {staff_token}")
    client.get("/no-such-page", **bearer)
    client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}-revoked")
    # then: neither the records (formatted now) nor the lines (formatted when emitted) hold a token
    assert len(_request_records(caplog)) == 13
    assert len(json_lines) >= 13
    formatter = JsonFormatter()
    texts = [formatter.format(r) + r.getMessage() for r in caplog.records] + [json.dumps(line) for line in json_lines]
    for text in texts:
        for secret in (token, staff_token):
            assert secret not in text


def test_issued_tokens_are_not_logged_at_the_default_level(make_user, client, caplog, json_lines, settings):
    # given: the configured level (LOG_LEVEL, INFO by default)
    caplog.set_level(settings.LOG_LEVEL)
    # when
    token = _issue(client, make_user())
    # then
    assert json_lines
    assert all(token not in json.dumps(line) for line in json_lines)


def test_issued_tokens_are_not_logged_even_at_debug_level(make_user, client, caplog, json_lines):
    # given: LOG_LEVEL=DEBUG (the root level), e.g. while troubleshooting
    caplog.set_level(logging.DEBUG)
    # when
    token = _issue(client, make_user())
    # then
    assert json_lines
    assert all(token not in json.dumps(line) for line in json_lines)


def _issue(client, user) -> str:
    """A client-credentials token, issued inside the test so its logging is captured."""
    from accounts.services import api_client_create
    from tests.conftest import _basic

    credentials = api_client_create(username=user.username)
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "read"},
        HTTP_AUTHORIZATION=_basic(credentials.client_id, credentials.client_secret),
    )
    assert response.status_code == 200
    return response.json()["access_token"]
