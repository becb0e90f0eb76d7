"""The lean API path: bearer-token calls to /graphql/ and /api/v1/ skip the browser-only middleware (no
session, no CSRF cookie), while session callers keep all of it, CSRF included."""

import json

from django.test import Client

from tests.api.conftest import PREDICT_IRIS
from tests.conftest import IRIS_SETOSA

CREATE = """
mutation($f: GenericScalar!) {
  createPrediction(input: {modelName: "iris", features: $f}) { prediction { id } errors { code } }
}
"""


def _graphql(client, **headers):
    return client.post(
        "/graphql/",
        json.dumps({"query": CREATE, "variables": {"f": IRIS_SETOSA}}),
        content_type="application/json",
        **headers,
    )


def test_a_bearer_graphql_call_gets_no_csrf_cookie_and_no_browser_headers(make_user, issue_token, iris_model):
    # given: a caller that also carries a session cookie (ignored: the token alone authenticates)
    token = issue_token(make_user())
    client = Client(enforce_csrf_checks=True)
    client.cookies["sessionid"] = "not-a-session"
    # when
    response = _graphql(client, HTTP_AUTHORIZATION=f"Bearer {token}")
    # then
    assert response.status_code == 200 and response.json()["data"]["createPrediction"]["errors"] == []
    assert "csrftoken" not in response.cookies and "sessionid" not in response.cookies
    assert "Cookie" not in response.headers.get("Vary", "")  # the session was never looked at
    assert response["X-Request-ID"]  # the request log still runs
    assert response["Content-Security-Policy"]  # so does the policy every answer carries


def test_a_bearer_rest_call_gets_no_cookie_and_no_browser_headers(make_user, issue_token, iris_model):
    token = issue_token(make_user())
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        PREDICT_IRIS,
        json.dumps({"features": IRIS_SETOSA}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 201
    assert not response.cookies
    assert "Cookie" not in response.headers.get("Vary", "")


def test_a_browser_page_still_runs_the_whole_stack(client, staff_user):
    # given: a logged-in staff member on the admin
    client.force_login(staff_user)
    # when
    response = client.get("/admin/")
    # then: session, CSRF cookie and clickjacking header, as before
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "csrftoken" in response.cookies


def test_a_session_graphql_post_still_needs_its_csrf_token(make_user, iris_model, stored_counts):
    # given: a logged-in browser session on /graphql/, with no bearer token and no CSRF token
    session = Client(enforce_csrf_checks=True)
    session.force_login(make_user("browser"))
    before = stored_counts()
    # when
    response = _graphql(session)
    # then
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "CSRF_FAILED"
    assert stored_counts() == before


def test_the_api_path_without_a_bearer_token_is_not_lean(make_user, iris_model):
    # given: a session caller on REST (DRF's SessionAuthentication enforces CSRF), no token
    session = Client(enforce_csrf_checks=True)
    session.force_login(make_user("browser"))
    # when
    response = session.post(PREDICT_IRIS, json.dumps({"features": IRIS_SETOSA}), content_type="application/json")
    # then: the session was read (the caller is known) and CSRF refused the post
    assert response.status_code == 403
    assert "Cookie" in response.headers.get("Vary", "")
