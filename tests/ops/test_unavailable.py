"""A database or broker outage is HTTP 503 + Retry-After + SERVICE_UNAVAILABLE, on REST and GraphQL and
from Django's own handlers; no API path ever answers with an HTML page. (With real, stopped servers:
tests/faults/test_database_outage.py.)"""

import json
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection
from django.test import Client
from kombu.exceptions import OperationalError as BrokerOperationalError

pytestmark = pytest.mark.django_db

ME = "{ me { username } }"


def _database_down(*args, **kwargs):
    raise OperationalError("could not connect to server: Connection refused")


@pytest.fixture
def database_down(monkeypatch):
    """Every query fails as with a stopped server; patched only inside the `with`: teardown needs the database."""

    @contextmanager
    def down():
        with monkeypatch.context() as patch:
            patch.setattr(connection, "ensure_connection", _database_down)
            patch.setattr(connection, "cursor", _database_down)
            yield

    return down


@pytest.fixture
def browser():
    """A client that gets the response Django sends, not the exception (as a real client would)."""
    return Client(raise_request_exception=False)


def _graphql(client, query, token):
    return client.post(
        "/graphql/", json.dumps({"query": query}), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def test_rest_answers_503_with_retry_after_when_the_database_is_down(make_user, issue_token, browser, database_down):
    # given: a valid token (looked up in the database on every request in the tests)
    token = issue_token(make_user())
    # when
    with database_down():
        response = browser.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    # then
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "application/json"
    assert [e["code"] for e in response.json()["errors"]] == ["SERVICE_UNAVAILABLE"]


def test_graphql_answers_503_when_the_database_is_down_before_execution(make_user, issue_token, browser, database_down):
    # given: the bearer token cannot be resolved: nothing can be produced
    token = issue_token(make_user())
    # when
    with database_down():
        response = _graphql(browser, ME, token)
    # then
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["SERVICE_UNAVAILABLE"]


def test_graphql_answers_503_when_the_only_field_fails_on_an_outage(
    make_user, issue_token, client, monkeypatch, iris_model
):
    # given: the caller resolves, the model lookup hits a statement time-out
    token = issue_token(make_user())
    monkeypatch.setattr("predictions.graphql.schema.model_get_for_user", _database_down)
    # when
    response = _graphql(client, '{ model(name: "iris") { name } }', token)
    # then
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.json()
    assert body["data"] == {"model": None}
    assert [(e["extensions"]["code"], e["path"]) for e in body["errors"]] == [("SERVICE_UNAVAILABLE", ["model"])]


def test_graphql_keeps_200_and_the_data_it_has_when_one_field_fails_on_an_outage(
    make_user, issue_token, client, monkeypatch, iris_model
):
    # given
    user = make_user()
    token = issue_token(user)
    monkeypatch.setattr("predictions.graphql.schema.model_get_for_user", _database_down)
    # when
    response = _graphql(client, '{ model(name: "iris") { name } me { username } }', token)
    # then: the data that could be produced, and an error saying the rest may be retried
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"model": None, "me": {"username": user.username}}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["SERVICE_UNAVAILABLE"]


def test_an_unexpected_graphql_error_is_still_an_internal_error(
    make_user, issue_token, client, monkeypatch, iris_model
):
    # given: a bug, not an outage
    token = issue_token(make_user())
    monkeypatch.setattr("predictions.graphql.schema.model_get_for_user", lambda **kwargs: 1 / 0)
    # when
    response = _graphql(client, '{ model(name: "iris") { name } }', token)
    # then
    assert response.status_code == 200
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["INTERNAL_SERVER_ERROR"]


def test_a_broker_outage_in_a_rest_view_is_503(make_user, issue_token, client, monkeypatch):
    # given: the view's service cannot reach the broker
    token = issue_token(make_user())

    def broker_down(*args, **kwargs):
        raise BrokerOperationalError("[Errno 111] Connection refused")

    monkeypatch.setattr("accounts.api.views.MeView.get", broker_down)
    # when
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    # then
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert [e["code"] for e in response.json()["errors"]] == ["SERVICE_UNAVAILABLE"]


# --- Django's own handlers: 404 and 500 outside the API views ------------------------------------------


@pytest.mark.parametrize("path", ["/api/nowhere", "/api/schema/nowhere/", "/graphql/nowhere"])
def test_unknown_api_paths_are_json_404s(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    errors = response.json()["errors"]
    codes = [e.get("code") or e["extensions"]["code"] for e in errors]
    assert codes == ["NOT_FOUND"]


def test_unknown_browser_path_is_the_branded_404_page(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Page not found" in page and "mlapi" in page and "/no/such/page" in page


@pytest.fixture
def failing_urls(settings):
    settings.ROOT_URLCONF = "tests.ops.failing_urls"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/boom/bug", 500, "INTERNAL_SERVER_ERROR"),
        ("/api/v1/boom/database", 503, "SERVICE_UNAVAILABLE"),
        ("/api/v1/boom/broker", 503, "SERVICE_UNAVAILABLE"),
        ("/graphql/boom/database", 503, "SERVICE_UNAVAILABLE"),
    ],
)
def test_errors_outside_the_api_views_are_json_on_api_paths(failing_urls, browser, path, status, code):
    response = browser.get(path)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    errors = response.json()["errors"]
    assert [e.get("code") or e["extensions"]["code"] for e in errors] == [code]
    assert ("Retry-After" in response) == (status == 503)


@pytest.mark.parametrize(
    ("path", "status", "heading"),
    [("/boom/bug", 500, "Something went wrong"), ("/boom/database", 503, "Temporarily unavailable")],
)
def test_errors_on_browser_paths_are_branded_pages(failing_urls, browser, path, status, heading):
    response = browser.get(path)
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert heading in page and "mlapi" in page
    assert "Traceback" not in page
    assert ("Retry-After" in response) == (status == 503)
