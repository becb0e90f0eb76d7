"""Privileged OAuth2 scopes: seeing every tenant's data needs `staff`, introspecting tokens needs
`introspection`, and only a staff application (a staff user's confidential client-credentials app) gets them.

Before: a staff member's `read` token, even one granted to a third-party app through /o/authorize/, listed
every tenant's predictions; any tenant's client credentials on /o/introspect/ read another tenant's token.
"""

import base64
import hashlib
import json
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from accounts.services import api_client_create
from tests.conftest import IRIS_SETOSA

PREDICTIONS_REST = "/api/v1/predictions"
PREDICTIONS_GQL = "{ predictions(first: 100) { edges { node { id } } } }"
CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) { predictions { id } errors { code } }
}
"""
REDIRECT_URI = "https://third-party.example/callback"


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _token_response(client, credentials, scope):
    return client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": scope},
        HTTP_AUTHORIZATION=_basic(credentials.client_id, credentials.client_secret),
    )


@pytest.fixture
def tenants_predictions(make_user, issue_token, gql, iris_model):
    """alice 2 predictions, bob 3: returns {username: [ids]}."""
    made = {}
    for name, count in (("alice", 2), ("bob", 3)):
        _, body = gql(
            CREATE,
            {"input": {"modelName": "iris", "instances": [IRIS_SETOSA] * count}},
            token=issue_token(make_user(name)),
        )
        made[name] = [p["id"] for p in body["data"]["createPrediction"]["predictions"]]
    return made


def _rest_ids(client, token) -> list[str]:
    response = client.get(PREDICTIONS_REST, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    return sorted(p["id"] for p in response.json()["results"])


def _gql_count(gql, token) -> int:
    _, body = gql(PREDICTIONS_GQL, token=token)
    return len(body["data"]["predictions"]["edges"])


# --- staff visibility -----------------------------------------------------------------------------


def test_a_staff_read_token_sees_only_its_own_predictions_and_the_staff_scope_sees_all(
    client, gql, staff_user, issue_token, tenants_predictions
):
    # given
    read_only = issue_token(staff_user, scope="read")
    with_staff = issue_token(staff_user, scope="read staff")
    everyone = sorted(tenants_predictions["alice"] + tenants_predictions["bob"])
    # when / then
    assert _rest_ids(client, read_only) == []
    assert _gql_count(gql, read_only) == 0
    assert _rest_ids(client, with_staff) == everyone
    assert _gql_count(gql, with_staff) == 5


def test_a_staff_session_still_sees_every_tenant(staff_user, tenants_predictions):
    browser = Client()
    browser.force_login(staff_user)
    response = browser.get(PREDICTIONS_REST)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 5


@pytest.mark.parametrize("scope", ["read staff", "read introspection"])
def test_a_tenants_application_cannot_get_a_privileged_scope(client, make_user, scope):
    # given
    credentials = api_client_create(username=make_user("alice").username)
    # when
    response = _token_response(client, credentials, scope)
    # then
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_a_hand_made_staff_token_for_a_non_staff_application_sees_only_its_owner(
    client, make_user, tenants_predictions
):
    # given: a token row carrying `staff`, written directly (e.g. in the admin) for alice's ordinary app
    alice = make_user("alice")
    credentials = api_client_create(username=alice.username)
    raw = secrets.token_urlsafe(30)
    AccessToken.objects.create(
        user=alice,
        application=credentials.application,
        token=raw,
        scope="read staff",
        expires=timezone.now() + timedelta(hours=1),
    )
    # when / then
    assert _rest_ids(client, raw) == sorted(tenants_predictions["alice"])


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _authorize(browser: Client, application: Application, scope: str, challenge: str):
    fields = {
        "client_id": application.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "xyz",
    }
    return browser.post("/o/authorize/", {**fields, "allow": "Authorize"})


@pytest.fixture
def third_party_app(make_user):
    """A confidential authorization-code application owned by an outside developer: (application, secret)."""
    developer = make_user("developer")
    secret = secrets.token_urlsafe(32)
    application = Application.objects.create(
        user=developer,
        name="third-party",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=REDIRECT_URI,
        client_secret=secret,
    )
    return application, secret


def test_a_token_from_authorize_carries_only_the_staff_members_own_view(
    client, staff_user, third_party_app, tenants_predictions
):
    # given: a staff member logged in, authorizing a third-party app
    application, secret = third_party_app
    browser = Client()
    browser.force_login(staff_user)
    verifier, challenge = _pkce()
    # when: the app asks for `staff`, then for `read`
    refused = _authorize(browser, application, "read staff", challenge)
    granted = _authorize(browser, application, "read", challenge)
    code = parse_qs(urlparse(granted["Location"]).query)["code"][0]
    token = client.post(
        "/o/token/",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier},
        HTTP_AUTHORIZATION=_basic(application.client_id, secret),
    )
    # then
    assert refused.status_code == 302 and parse_qs(urlparse(refused["Location"]).query)["error"] == ["invalid_scope"]
    assert token.status_code == 200, token.content
    assert token.json()["scope"] == "read"
    assert _rest_ids(client, token.json()["access_token"]) == []


@pytest.mark.parametrize("privileged", ["staff", "registry"])
def test_a_staff_members_own_authorization_code_app_gets_no_staff_scope_either(staff_user, privileged):
    # given
    application = Application.objects.create(
        user=staff_user,
        name="staff's web app",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=REDIRECT_URI,
        client_secret="s" * 40,
    )
    browser = Client()
    browser.force_login(staff_user)
    # when
    response = _authorize(browser, application, f"read {privileged}", _pkce()[1])
    # then
    assert parse_qs(urlparse(response["Location"]).query)["error"] == ["invalid_scope"]


def test_create_api_client_staff_flag_makes_a_client_that_may_ask_for_the_staff_scope(client, db, tenants_predictions):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("create_api_client", "--username", "ops", "--staff", stdout=out)
    credentials = json.loads(out.getvalue())
    token = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "read staff"},
        HTTP_AUTHORIZATION=_basic(credentials["client_id"], credentials["client_secret"]),
    )
    assert credentials["scopes"] == ["billing", "introspection", "keys", "predict", "read", "registry", "staff"]
    assert token.status_code == 200
    assert len(_rest_ids(client, token.json()["access_token"])) == 5


# --- introspection --------------------------------------------------------------------------------


@pytest.fixture
def bobs_token(make_user, issue_token):
    return issue_token(make_user("bob"), scope="read predict billing")


def _introspect(client, token, **auth):
    return client.post("/o/introspect/", {"token": token}, **auth)


def test_a_tenant_cannot_introspect_another_tenants_token(client, make_user, issue_token, bobs_token):
    # given: alice's client credentials and an ordinary token of hers
    alices = api_client_create(username=make_user("alice").username)
    alice_token = _token_response(client, alices, "read").json()["access_token"]
    # when
    with_basic = _introspect(client, bobs_token, HTTP_AUTHORIZATION=_basic(alices.client_id, alices.client_secret))
    with_body = client.post(
        "/o/introspect/", {"token": bobs_token, "client_id": alices.client_id, "client_secret": alices.client_secret}
    )
    with_bearer = _introspect(client, bobs_token, HTTP_AUTHORIZATION=f"Bearer {alice_token}")
    # then: refused, and nothing of bob's token in any answer
    for response in (with_basic, with_body, with_bearer):
        assert response.status_code == 403
        assert b"active" not in response.content and b"scope" not in response.content


def test_a_staff_resource_server_introspects_with_the_introspection_scope(client, staff_user, bobs_token):
    # given
    server = api_client_create(username=staff_user.username, application_name="resource server")
    read_only = _token_response(client, server, "read").json()["access_token"]
    introspector = _token_response(client, server, "introspection").json()["access_token"]
    # when
    without_scope = _introspect(client, bobs_token, HTTP_AUTHORIZATION=f"Bearer {read_only}")
    with_scope = _introspect(client, bobs_token, HTTP_AUTHORIZATION=f"Bearer {introspector}")
    unknown = _introspect(client, "not-a-token", HTTP_AUTHORIZATION=f"Bearer {introspector}")
    # then
    assert without_scope.status_code == 403
    assert with_scope.status_code == 200
    assert with_scope.json()["active"] is True and set(with_scope.json()["scope"].split()) == {
        "read",
        "predict",
        "billing",
    }
    assert unknown.json() == {"active": False}
