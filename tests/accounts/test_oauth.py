"""Who is calling: bearer tokens from /o/token/ (valid, invalid, expired, revoked, scoped), sessions and CSRF."""

import base64
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken

from accounts.services import api_client_create
from billing.models import PricingTier
from predictions.models import Prediction, RegisteredModel
from tests.conftest import IRIS_SETOSA, iris_artifact

ME = "{ me { username email isStaff tier { name } usage { predictions } quotaRemaining } }"
MODELS = "{ models { edges { node { name version stage } } } }"
CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) { prediction { id } errors { field code } }
}
"""


def _basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture
def oauth_app(make_user):
    """A user with a confidential client-credentials application: (user, credentials)."""
    user = make_user("alice")
    return user, api_client_create(username=user.username)


def _token_response(client, credentials, scope="read predict billing", secret=None):
    return client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": scope},
        HTTP_AUTHORIZATION=_basic(credentials.client_id, secret or credentials.client_secret),
    )


def _codes(body):
    return [e["extensions"]["code"] for e in body["errors"]]


def test_token_from_the_token_endpoint_identifies_the_user(client, gql, oauth_app):
    # given
    user, credentials = oauth_app
    response = _token_response(client, credentials)
    assert response.status_code == 200
    token = response.json()
    # when
    status, body = gql(ME, token=token["access_token"])
    # then
    assert token["token_type"] == "Bearer"
    assert set(token["scope"].split()) == {"read", "predict", "billing"}
    assert status == 200 and "errors" not in body
    assert body["data"]["me"] == {
        "username": "alice",
        "email": "alice@example.com",
        "isStaff": False,
        "tier": {"name": "metered"},
        "usage": {"predictions": 0},
        "quotaRemaining": None,
    }


def test_me_reports_usage_and_the_remaining_quota(gql, make_user, issue_token, iris_model):
    # given: a user on the standard free tier (quota 1000)
    user = make_user(tier=PricingTier.objects.get(name="free"))
    token = issue_token(user)
    gql(CREATE, {"input": {"modelName": "iris", "instances": [IRIS_SETOSA] * 3}}, token=token)
    # when
    _, body = gql(ME, token=token)
    # then
    me = body["data"]["me"]
    assert me["tier"] == {"name": "free"}
    assert me["usage"]["predictions"] == 3
    assert me["quotaRemaining"] == 1000 - 3


def test_wrong_client_secret_gets_no_token(client, oauth_app):
    _, credentials = oauth_app
    response = _token_response(client, credentials, secret="wrong-secret")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_unknown_scope_is_refused_by_the_token_endpoint(client, oauth_app):
    _, credentials = oauth_app
    response = _token_response(client, credentials, scope="read admin")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-real-token", "Bearer ", "Bearer two words", "bearer " + "x" * 300],
    ids=["unknown", "empty", "spaces", "too-long"],
)
def test_invalid_tokens_are_401_invalid_token(gql, oauth_app, header):
    # when
    status, body = gql(ME, HTTP_AUTHORIZATION=header)
    # then
    assert status == 401
    assert _codes(body) == ["INVALID_TOKEN"]
    assert "data" not in body


def test_invalid_token_answer_carries_www_authenticate(client, db):
    response = client.post(
        "/graphql/", json.dumps({"query": ME}), content_type="application/json", HTTP_AUTHORIZATION="Bearer nope"
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_expired_token_is_401(gql, oauth_app, issue_token):
    # given
    user, _ = oauth_app
    token = issue_token(user)
    assert gql(ME, token=token)[0] == 200
    AccessToken.objects.filter(application__user=user).update(expires=timezone.now() - timedelta(seconds=1))
    # when
    status, body = gql(ME, token=token)
    # then
    assert status == 401
    assert _codes(body) == ["INVALID_TOKEN"]


def test_revoked_token_is_401(client, gql, oauth_app):
    # given
    _, credentials = oauth_app
    token = _token_response(client, credentials).json()["access_token"]
    assert gql(ME, token=token)[0] == 200
    # when
    revoked = client.post(
        "/o/revoke_token/",
        {"token": token},
        HTTP_AUTHORIZATION=_basic(credentials.client_id, credentials.client_secret),
    )
    status, body = gql(ME, token=token)
    # then
    assert revoked.status_code == 200
    assert status == 401
    assert _codes(body) == ["INVALID_TOKEN"]


def test_revoking_one_token_leaves_the_others_working(client, gql, oauth_app):
    _, credentials = oauth_app
    first = _token_response(client, credentials).json()["access_token"]
    second = _token_response(client, credentials).json()["access_token"]
    client.post(
        "/o/revoke_token/",
        {"token": first},
        HTTP_AUTHORIZATION=_basic(credentials.client_id, credentials.client_secret),
    )
    assert gql(ME, token=first)[0] == 401
    status, body = gql(ME, token=second)
    assert status == 200 and body["data"]["me"]["username"] == "alice"


def test_token_of_a_deactivated_user_is_401(gql, oauth_app, issue_token):
    user, _ = oauth_app
    token = issue_token(user)
    user.is_active = False
    user.save()
    status, body = gql(ME, token=token)
    assert status == 401
    assert _codes(body) == ["INVALID_TOKEN"]


def test_invalid_token_on_a_mutation_stores_nothing(gql, iris_model, stored_counts):
    before = stored_counts()
    status, body = gql(
        CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, HTTP_AUTHORIZATION="Bearer nope"
    )
    assert status == 401
    assert _codes(body) == ["INVALID_TOKEN"]
    assert stored_counts() == before


def test_no_token_is_unauthenticated_with_200(gql, iris_model, stored_counts):
    # given
    before = stored_counts()
    # when
    query_status, query = gql(ME)
    mutation_status, mutation = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}})
    # then
    assert (query_status, mutation_status) == (200, 200)
    assert _codes(query) == ["UNAUTHENTICATED"]
    assert _codes(mutation) == ["UNAUTHENTICATED"]
    assert mutation["data"]["createPrediction"] is None
    assert stored_counts() == before


def test_a_non_bearer_authorization_header_is_anonymous(gql, db):
    status, body = gql(ME, HTTP_AUTHORIZATION=_basic("someone", "secret"))
    assert status == 200
    assert _codes(body) == ["UNAUTHENTICATED"]


def test_token_without_predict_scope_cannot_predict(gql, make_user, issue_token, iris_model, stored_counts):
    # given
    token = issue_token(make_user(), scope="read")
    before = stored_counts()
    # when
    status, body = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=token)
    # then
    assert status == 200
    assert _codes(body) == ["FORBIDDEN"]
    assert body["data"]["createPrediction"] is None
    assert stored_counts() == before
    assert gql(MODELS, token=token)[1]["data"]["models"]["edges"][0]["node"]["name"] == "iris"


def test_token_without_read_scope_cannot_query_but_can_predict(gql, make_user, issue_token, iris_model):
    # given
    token = issue_token(make_user(), scope="predict")
    # when
    _, me = gql(ME, token=token)
    _, predictions = gql("{ predictions { edges { node { id } } } }", token=token)
    _, prediction = gql('{ prediction(id: "00000000-0000-0000-0000-000000000000") { id } }', token=token)
    _, created = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=token)
    # then
    assert _codes(me) == ["FORBIDDEN"]
    assert _codes(predictions) == ["FORBIDDEN"]
    assert _codes(prediction) == ["FORBIDDEN"]
    assert created["data"]["createPrediction"]["errors"] == []


def test_bearer_token_wins_over_a_session_cookie(client, gql, make_user, staff_user, issue_token, register):
    # given: a staff session, and a non-staff user's token; a staging model only staff could see
    register("iris", iris_artifact())
    register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    bob = make_user("bob")
    token = issue_token(bob)
    client.force_login(staff_user)
    # when
    _, as_session = gql(MODELS)
    _, me = gql(ME, token=token)
    _, models = gql(MODELS, token=token)
    _, created = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=token)
    # then
    assert len(as_session["data"]["models"]["edges"]) == 2
    assert me["data"]["me"]["username"] == "bob"
    assert [e["node"]["version"] for e in models["data"]["models"]["edges"]] == [1]
    assert Prediction.objects.get(pk=created["data"]["createPrediction"]["prediction"]["id"]).user == bob


def test_invalid_bearer_token_does_not_fall_back_to_the_session(client, gql, staff_user):
    client.force_login(staff_user)
    status, body = gql(ME, HTTP_AUTHORIZATION="Bearer nope")
    assert status == 401
    assert _codes(body) == ["INVALID_TOKEN"]


def _session_client(user) -> Client:
    session = Client(enforce_csrf_checks=True)
    session.force_login(user)
    return session


def _post(session, query, variables=None, **extra):
    return session.post(
        "/graphql/",
        json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
        **extra,
    )


def test_session_post_without_csrf_token_is_refused(make_user, iris_model, stored_counts):
    # given
    session = _session_client(make_user("carol"))
    before = stored_counts()
    # when
    query = _post(session, ME)
    mutation = _post(session, CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}})
    # then
    for response in (query, mutation):
        assert response.status_code == 403
        assert _codes(response.json()) == ["CSRF_FAILED"]
    assert stored_counts() == before


def test_session_post_with_the_csrf_token_works(staff_user, iris_model, stored_counts):
    # given: the admin index sets the CSRF cookie for the logged-in staff user
    session = _session_client(staff_user)
    assert session.get("/admin/").status_code == 200
    csrf = session.cookies["csrftoken"].value
    before = stored_counts()
    # when
    me = _post(session, ME, HTTP_X_CSRFTOKEN=csrf)
    created = _post(session, CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, HTTP_X_CSRFTOKEN=csrf)
    # then
    assert me.status_code == 200
    assert me.json()["data"]["me"]["username"] == "staff"
    assert created.status_code == 200
    assert created.json()["data"]["createPrediction"]["errors"] == []
    assert stored_counts() == (before[0] + 1, before[1] + 1)


def test_session_post_with_a_wrong_csrf_token_is_refused(staff_user):
    session = _session_client(staff_user)
    session.get("/admin/")
    response = _post(session, ME, HTTP_X_CSRFTOKEN="x" * 32)
    assert response.status_code == 403
    assert _codes(response.json()) == ["CSRF_FAILED"]


def test_bearer_requests_need_no_csrf_token(make_user, issue_token):
    # given: a client that enforces CSRF, sending only a bearer token
    token = issue_token(make_user())
    strict = Client(enforce_csrf_checks=True)
    # when
    response = _post(strict, ME, HTTP_AUTHORIZATION=f"Bearer {token}")
    # then
    assert response.status_code == 200
    assert "errors" not in response.json()
