"""createApiClient / rotateApiClientSecret / renameApiClient / revokeApiClient: a session or a token with the
`keys` scope, tier limits, someone else's key NOT_FOUND, and what the key's tokens can then do."""

import base64

import pytest
from oauth2_provider.models import AccessToken, Application

from accounts.models import ApiKey
from billing.models import PricingTier

CREATE = """mutation($input: CreateApiClientInput!) { createApiClient(input: $input) {
  apiClient { id name clientId scopes createdAt lastUsedAt } clientSecret errors { field code } } }"""
ROTATE = """mutation($id: ID!) { rotateApiClientSecret(input: {id: $id}) {
  apiClient { id clientId } clientSecret errors { field code } } }"""
RENAME = """mutation($id: ID!, $name: String!) { renameApiClient(input: {id: $id, name: $name}) {
  apiClient { id name } errors { field code } } }"""
REVOKE = """mutation($id: ID!) { revokeApiClient(input: {id: $id}) { revokedId errors { field code } } }"""
LIST = "{ apiClients { id name clientId lastUsedAt } }"


def _basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _token(client, client_id, secret, scope):
    return client.post(
        "/o/token/", {"grant_type": "client_credentials", "scope": scope}, HTTP_AUTHORIZATION=_basic(client_id, secret)
    )


@pytest.fixture
def customer(make_user):
    return make_user("customer")


@pytest.fixture
def session_gql(customer):
    """GraphQL as the logged-in customer, with the CSRF checks on and the token GraphiQL sends."""
    import json

    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer)
    browser.get("/")  # the page's log-out form sets the csrftoken cookie
    csrf = browser.cookies["csrftoken"].value

    def post(query, variables=None):
        response = browser.post(
            "/graphql/",
            json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
            HTTP_X_CSRFTOKEN=csrf,
        )
        return response.status_code, response.json()

    return post


@pytest.fixture
def keys_token(client, customer):
    """A bearer token with only the `keys` scope, from a key the customer made for automation."""
    from accounts.services.api_keys import api_key_create

    made = api_key_create(user=customer, name="automation", scopes=["keys"])
    response = _token(client, made.application.client_id, made.client_secret, "keys")
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def test_a_session_creates_a_key_whose_secret_gets_a_token_once_shown(client, session_gql, customer):
    # when
    status, body = session_gql(CREATE, {"input": {"name": "  prod   server ", "scopes": ["READ", "PREDICT"]}})

    # then: the secret is in the payload, stored hashed, and it works at /o/token/
    assert status == 200, body
    payload = body["data"]["createApiClient"]
    assert payload["errors"] == []
    assert payload["apiClient"]["name"] == "prod server"
    assert payload["apiClient"]["scopes"] == ["predict", "read"]
    assert payload["apiClient"]["lastUsedAt"] is None
    secret = payload["clientSecret"]
    application = Application.objects.get(client_id=payload["apiClient"]["clientId"])
    assert application.user == customer and application.client_secret != secret
    response = _token(client, application.client_id, secret, "read predict")
    assert response.status_code == 200, response.content
    # and: it cannot get a scope it was not given, nor a staff one
    assert _token(client, application.client_id, secret, "billing").status_code == 400
    assert _token(client, application.client_id, secret, "staff").status_code == 400


def test_a_customer_key_never_gets_staff_scopes_even_when_its_owner_is_staff(client, make_user):
    # given: a staff member's own key made through the customer service
    from accounts.services.api_keys import api_key_create

    staff = make_user("boss", is_staff=True)
    made = api_key_create(user=staff, name="mine", scopes=["read", "keys"])

    # when / then
    assert _token(client, made.application.client_id, made.client_secret, "staff").status_code == 400
    assert _token(client, made.application.client_id, made.client_secret, "introspection").status_code == 400
    token = _token(client, made.application.client_id, made.client_secret, "read").json()["access_token"]
    assert AccessToken.objects.get(application=made.application).scope == "read"
    assert token


def test_unknown_scopes_are_refused_with_a_stable_code(session_gql):
    # when: a scope outside the enum is a validation error; an empty list is INVALID_SCOPE
    _status, body = session_gql(CREATE, {"input": {"name": "x", "scopes": []}})

    # then
    assert body["data"]["createApiClient"]["errors"] == [{"field": "scopes", "code": "INVALID_SCOPE"}]
    _status, body = session_gql(CREATE, {"input": {"name": "x", "scopes": ["STAFF"]}})
    assert "errors" in body and body.get("data") is None
    assert not ApiKey.objects.filter(origin="customer").exists()


def test_a_token_with_the_keys_scope_manages_keys(gql, keys_token, customer):
    # when
    _status, body = gql(CREATE, {"input": {"name": "second"}}, token=keys_token)

    # then
    payload = body["data"]["createApiClient"]
    assert payload["errors"] == [] and payload["apiClient"]["scopes"] == ["billing", "predict", "read"]
    _status, body = gql(LIST, token=keys_token)
    assert [k["name"] for k in body["data"]["apiClients"]] == ["second", "automation"]
    # and: the automation key's own use was recorded when its token was issued
    assert [k["lastUsedAt"] is not None for k in body["data"]["apiClients"]] == [False, True]


@pytest.mark.parametrize("scope", ["read predict billing", "predict"])
def test_a_token_without_the_keys_scope_is_refused_at_the_top_level(gql, issue_token, customer, scope):
    # given
    token = issue_token(customer, scope=scope)
    before = Application.objects.count()

    # when
    _status, body = gql(CREATE, {"input": {"name": "sneaky"}}, token=token)

    # then
    assert body["data"] is None or body["data"]["createApiClient"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert Application.objects.count() == before


def test_an_anonymous_caller_is_refused(gql, db):
    status, body = gql(CREATE, {"input": {"name": "anon"}})
    assert status in (200, 401)
    assert body["errors"]
    assert not Application.objects.exists()


def test_a_session_without_the_csrf_token_is_refused(client, customer, gql):
    # given: logged in, but GraphQL is posted without the CSRF header
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer)

    # when
    response = browser.post(
        "/graphql/", {"query": CREATE, "variables": {"input": {"name": "x"}}}, content_type="application/json"
    )

    # then
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "CSRF_FAILED"
    assert not Application.objects.exists()


def test_the_tier_limits_the_number_of_keys(session_gql, customer, metered_tier):
    # given: a tier with two keys
    metered_tier.max_api_keys = 2
    metered_tier.save()
    for name in ("one", "two"):
        assert session_gql(CREATE, {"input": {"name": name}})[1]["data"]["createApiClient"]["errors"] == []

    # when
    _status, body = session_gql(CREATE, {"input": {"name": "three"}})

    # then
    payload = body["data"]["createApiClient"]
    assert payload["errors"] == [{"field": None, "code": "API_KEY_LIMIT_REACHED"}]
    assert payload["apiClient"] is None and payload["clientSecret"] is None
    assert Application.objects.filter(user=customer).count() == 2


def test_rotating_gives_a_new_secret_and_ends_the_old_secret_and_tokens(client, session_gql, gql):
    # given: a key and a token got with it
    payload = session_gql(CREATE, {"input": {"name": "rotate me"}})[1]["data"]["createApiClient"]
    key_id, client_id, old = payload["apiClient"]["id"], payload["apiClient"]["clientId"], payload["clientSecret"]
    token = _token(client, client_id, old, "read").json()["access_token"]
    assert gql("{ me { username } }", token=token)[0] == 200

    # when
    body = session_gql(ROTATE, {"id": key_id})[1]
    rotated = body["data"]["rotateApiClientSecret"]

    # then
    assert rotated["errors"] == [] and rotated["apiClient"]["clientId"] == client_id
    assert rotated["clientSecret"] != old
    assert _token(client, client_id, old, "read").status_code == 401
    assert _token(client, client_id, rotated["clientSecret"], "read").status_code == 200
    status, refused = gql("{ me { username } }", token=token)
    assert status == 401 and refused["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"


def test_revoking_refuses_its_tokens_from_the_next_request(client, session_gql, gql, settings):
    # given: the per-process token memo on, a token already used (so memoised)
    settings.ACCESS_TOKEN_CACHE_SECONDS = 60
    payload = session_gql(CREATE, {"input": {"name": "short lived"}})[1]["data"]["createApiClient"]
    key_id, client_id, secret = payload["apiClient"]["id"], payload["apiClient"]["clientId"], payload["clientSecret"]
    token = _token(client, client_id, secret, "read").json()["access_token"]
    assert gql("{ me { username } }", token=token)[0] == 200

    # when
    body = session_gql(REVOKE, {"id": key_id})[1]

    # then
    assert body["data"]["revokeApiClient"] == {"revokedId": key_id, "errors": []}
    status, _refused = gql("{ me { username } }", token=token)
    assert status == 401
    assert not Application.objects.filter(client_id=client_id).exists()
    assert not AccessToken.objects.filter(token_checksum__isnull=False, application__client_id=client_id).exists()


def test_renaming(session_gql):
    key_id = session_gql(CREATE, {"input": {"name": "old"}})[1]["data"]["createApiClient"]["apiClient"]["id"]
    body = session_gql(RENAME, {"id": key_id, "name": "new name"})[1]
    assert body["data"]["renameApiClient"] == {"apiClient": {"id": key_id, "name": "new name"}, "errors": []}
    body = session_gql(RENAME, {"id": key_id, "name": "   "})[1]
    assert body["data"]["renameApiClient"]["errors"] == [{"field": "name", "code": "INVALID_NAME"}]
    assert Application.objects.get(pk=key_id).name == "new name"


@pytest.mark.parametrize(
    "mutation,variables",
    [(ROTATE, {}), (RENAME, {"name": "mine now"}), (REVOKE, {})],
    ids=["rotate", "rename", "revoke"],
)
def test_someone_elses_key_is_not_found_and_unchanged(client, session_gql, make_user, mutation, variables):
    # given: another customer's key
    from accounts.services.api_keys import api_key_create

    other = api_key_create(user=make_user("other"), name="theirs")
    application = other.application
    hashed = Application.objects.get(pk=application.pk).client_secret
    token = _token(client, application.client_id, other.client_secret, "read").json()["access_token"]

    # when
    body = session_gql(mutation, {"id": str(application.pk), **variables})[1]

    # then
    (payload,) = body["data"].values()
    assert payload["errors"] == [{"field": "id", "code": "NOT_FOUND"}]
    stored = Application.objects.get(pk=application.pk)
    assert (stored.name, stored.client_secret) == ("theirs", hashed)
    assert AccessToken.objects.filter(application=application).count() == 1
    assert token


def test_a_third_party_app_cannot_be_granted_the_keys_scope(customer):
    # given: an authorization-code application
    from accounts.oauth import ApplicationScopes

    app = Application.objects.create(
        name="third party",
        user=customer,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://app.example/callback",
    )

    # when
    available = ApplicationScopes().get_available_scopes(application=app)

    # then
    assert sorted(available) == ["billing", "predict", "read"]


def test_existing_tiers_get_their_key_limits_from_the_migration(db):
    assert dict(PricingTier.objects.filter(name__in=["free", "pro"]).values_list("name", "max_api_keys")) == {
        "free": 2,
        "pro": 25,
    }


def test_a_key_name_with_a_control_character_is_refused_and_nothing_is_stored(session_gql):
    # given
    before = Application.objects.count()
    # when: a bell character
    body = session_gql(CREATE, {"input": {"name": "ring\x07"}})[1]
    # then
    assert body["data"]["createApiClient"]["errors"] == [{"field": "name", "code": "INVALID_NAME"}]
    # when: a NUL, which PostgreSQL cannot store in text: refused before any resolver (mlapi.unstorable_text)
    status, body = session_gql(CREATE, {"input": {"name": "build\x00server"}})
    # then
    assert status == 400 and [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_CHARACTER"]
    assert Application.objects.count() == before
