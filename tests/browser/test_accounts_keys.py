"""The customer's own way in, in chromium against the live server: sign up, verify the email, log in, make an
API key, get a token and predict over HTTP; a third-party app through authorization code + PKCE; a revoked
key refused at once; the plan page; password reset. Screenshots of every page go to tests/browser/screenshots/."""

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from django.core import mail
from oauth2_provider.models import AccessToken, Application

from billing.models import PricingTier, Subscription
from billing.tiers import STANDARD_TIERS
from tests.conftest import IRIS_SETOSA

PASSWORD = "a long and unusual passphrase 42"
PREDICT = """mutation($input: CreatePredictionInput!) { createPrediction(input: $input) {
  prediction { output } cost { amount currency } errors { field code } } }"""
THIRD_PARTY_CALLBACK = "https://thirdparty.example/callback"


@pytest.fixture
def standard_tiers(transactional_db):
    """The tiers the data migration made (a transactional test's flush removes them after the first test)."""
    return {
        name: PricingTier.objects.get_or_create(name=name, defaults=values)[0]
        for name, values in STANDARD_TIERS.items()
    }


@pytest.fixture
def customer(make_user, standard_tiers):
    """A customer with a portal login (password, verified email) on the free tier."""
    from accounts.services import customer_login_set

    user = make_user("carol", tier=standard_tiers["free"])
    user.email = "carol@example.com"
    user.save()
    customer_login_set(user=user, password=PASSWORD)
    return user


def _log_in(page, login: str, password: str = PASSWORD):
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")


def _gql(live_server, token, query, variables=None):
    return requests.post(
        f"{live_server.url}/graphql/",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def _client_credentials_token(live_server, client_id, secret, scope="read predict"):
    return requests.post(
        f"{live_server.url}/o/token/",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client_id, secret),
        timeout=30,
    )


def test_sign_up_verify_log_in_create_a_key_and_predict_over_http(
    page, live_server, screenshot, iris_model, standard_tiers
):
    # given: the sign-up page
    page.goto("/accounts/signup/")
    screenshot(page, "signup")

    # when: a new customer signs up
    page.fill("input[name=email]", "dana@example.com")
    page.fill("input[name=username]", "dana")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("form button[type=submit]")

    # then: they are asked to verify, and cannot log in before they do
    page.wait_for_url("**/accounts/confirm-email/")
    assert "verify" in page.locator("main").inner_text().lower()
    screenshot(page, "verification_sent")
    (message,) = mail.outbox
    assert message.to == ["dana@example.com"]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", message.body).group(0)
    page.goto("/accounts/login/")
    _log_in(page, "dana@example.com")
    assert "/keys/" not in page.url

    # when: they open the link and confirm, then log in with their email
    page.goto(link)
    screenshot(page, "email_confirm")
    page.click("form button[type=submit]")
    page.wait_for_url("**/accounts/login/")
    screenshot(page, "login")
    _log_in(page, "dana@example.com")

    # then: the dashboard first; the keys page, empty; the account is on the default tier from the moment it joined
    page.wait_for_url("**/dashboard/")
    page.goto("/keys/")
    assert "You have no API keys yet" in page.locator("main").inner_text()
    screenshot(page, "keys_empty")
    (subscription,) = Subscription.objects.filter(user__username="dana")
    assert subscription.tier.name == "free" and subscription.started_at == subscription.user.date_joined

    # when: they create a key
    page.fill("section.create input[name=name]", "my laptop")
    page.click("section.create button[type=submit]")

    # then: its secret is shown once
    client_id = page.get_by_test_id("client-id").inner_text()
    secret = page.get_by_test_id("client-secret").inner_text()
    assert len(secret) > 40
    screenshot(page, "keys_secret_shown")
    page.goto("/keys/")
    assert secret not in page.content()
    assert client_id in page.content() and "never" in page.locator("table.keys").inner_text()

    # when: a script exchanges it for a token and predicts over HTTP
    issued = _client_credentials_token(live_server, client_id, secret)
    assert issued.status_code == 200, issued.text
    answer = _gql(
        live_server, issued.json()["access_token"], PREDICT, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}
    )

    # then: a real, billed prediction; the key's last use is on the page
    body = answer.json()["data"]["createPrediction"]
    assert body["errors"] == [] and body["prediction"]["output"]["label"] == "setosa"
    assert body["cost"]["currency"] == "USD"
    page.goto("/keys/")
    assert "never" not in page.locator("table.keys").inner_text()
    screenshot(page, "keys")


def test_a_customer_lets_a_third_party_app_act_for_them_with_authorization_code_and_pkce(
    page, live_server, screenshot, customer
):
    # given: a third-party app registered for authorization code (public client, PKCE)
    app = Application.objects.create(
        name="Acme Dashboards",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=THIRD_PARTY_CALLBACK,
        skip_authorization=False,
        algorithm="",
    )
    # The browser's redirect to the app's callback (a host that does not exist) is read, not followed.
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": THIRD_PARTY_CALLBACK,
        "scope": "read predict",
        "state": "s-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }

    # when: the app sends the customer to /o/authorize/: they log in at the customer login first
    page.goto("/o/authorize/?" + urlencode(query))
    page.wait_for_url("**/accounts/login/**")
    _log_in(page, "carol")

    # then: the consent page names the app and says plainly that predict spends their money
    page.wait_for_url("**/o/authorize/**")
    assert "Acme Dashboards" in page.locator("h1").inner_text()
    assert "spends your money" in page.get_by_test_id("predict-warning").inner_text()
    screenshot(page, "consent")

    # when: they allow it (the callback's host does not exist: answer it here, so no error page races on)
    page.route(f"{THIRD_PARTY_CALLBACK}**", lambda route: route.fulfill(status=200, body="the app's callback"))
    with page.expect_request(lambda request: request.url.startswith(THIRD_PARTY_CALLBACK)) as redirected:
        page.click("button[name=allow]")
    page.wait_for_url(f"{THIRD_PARTY_CALLBACK}**")
    params = parse_qs(urlparse(redirected.value.url).query)
    assert params["state"] == ["s-123"]

    # then: the app exchanges the code (with its verifier) for a token that acts for the customer
    exchanged = requests.post(
        f"{live_server.url}/o/token/",
        data={
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": THIRD_PARTY_CALLBACK,
            "client_id": app.client_id,
            "code_verifier": verifier,
        },
        timeout=30,
    )
    assert exchanged.status_code == 200, exchanged.text
    assert set(exchanged.json()["scope"].split()) == {"read", "predict"}
    me = _gql(live_server, exchanged.json()["access_token"], "{ me { username } }")
    assert me.json()["data"]["me"]["username"] == "carol"
    # and: the customer sees the app among those they have authorized
    page.goto("/o/authorized_tokens/")
    assert "Acme Dashboards" in page.locator("main").inner_text()
    screenshot(page, "authorized_apps")


@pytest.mark.parametrize("scope", ["staff", "introspection", "keys"])
def test_the_consent_flow_never_grants_staff_or_key_scopes(page, live_server, customer, scope):
    # given: a third-party app asking for a scope it may not have
    app = Application.objects.create(
        name="Greedy",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=THIRD_PARTY_CALLBACK,
        algorithm="",
    )
    challenge = base64.urlsafe_b64encode(hashlib.sha256(b"v" * 50).digest()).rstrip(b"=").decode()
    page.goto("/accounts/login/")
    _log_in(page, "carol")
    page.wait_for_url("**/dashboard/")

    # when: the logged-in browser (its cookies) asks /o/authorize/ for it; the redirect is read, not followed
    response = page.context.request.get(
        "/o/authorize/?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": app.client_id,
                "redirect_uri": THIRD_PARTY_CALLBACK,
                "scope": f"read {scope}",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        ),
        max_redirects=0,
    )

    # then: the app is told invalid_scope, and no code or token exists
    assert response.status == 302 and response.headers["location"].startswith(THIRD_PARTY_CALLBACK)
    params = parse_qs(urlparse(response.headers["location"]).query)
    assert params["error"] == ["invalid_scope"] and "code" not in params
    assert not AccessToken.objects.filter(application=app).exists()


def test_a_revoked_keys_token_is_refused_at_once(page, live_server, screenshot, customer, settings):
    # given: tokens memoised per process (as in production), a key and a token already used
    settings.ACCESS_TOKEN_CACHE_SECONDS = 60
    page.goto("/accounts/login/")
    _log_in(page, "carol@example.com")
    page.wait_for_url("**/dashboard/")
    page.goto("/keys/")
    page.fill("section.create input[name=name]", "leaked")
    page.click("section.create button[type=submit]")
    client_id = page.get_by_test_id("client-id").inner_text()
    secret = page.get_by_test_id("client-secret").inner_text()
    token = _client_credentials_token(live_server, client_id, secret, "read").json()["access_token"]
    assert _gql(live_server, token, "{ me { username } }").status_code == 200

    # when: the customer revokes it on the page
    page.goto("/keys/")
    row = page.locator("tr", has_text=client_id)
    row.locator("details.revoke summary").click()
    screenshot(page, "keys_revoke")
    row.locator("details.revoke button").click()
    page.wait_for_url("**/keys/")

    # then: the very next call with its token is refused, and so is its secret
    assert "Key revoked" in page.locator(".messages").inner_text()
    refused = _gql(live_server, token, "{ me { username } }")
    assert refused.status_code == 401 and refused.json()["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"
    assert _client_credentials_token(live_server, client_id, secret, "read").status_code == 401
    assert client_id not in page.content()


def test_rename_rotate_and_the_key_limit_on_the_page(page, live_server, screenshot, customer):
    # given: a free customer (2 keys) logged in with one key
    page.goto("/accounts/login/")
    _log_in(page, "carol")
    page.wait_for_url("**/dashboard/")
    page.goto("/keys/")
    page.fill("section.create input[name=name]", "first")
    page.click("section.create button[type=submit]")
    first_secret = page.get_by_test_id("client-secret").inner_text()
    client_id = page.get_by_test_id("client-id").inner_text()

    # when: renamed, then rotated
    page.goto("/keys/")
    row = page.locator("tr", has_text=client_id)
    row.locator("details.rename summary").click()
    row.locator("details.rename input[name=name]").fill("build server")
    row.locator("details.rename button").click()
    assert "build server" in page.locator("table.keys").inner_text()
    page.locator("tr", has_text=client_id).locator("text=Rotate secret").click()
    rotated = page.get_by_test_id("client-secret").inner_text()

    # then
    assert rotated != first_secret
    assert _client_credentials_token(live_server, client_id, first_secret, "read").status_code == 401
    assert _client_credentials_token(live_server, client_id, rotated, "read").status_code == 200

    # when: a second key fills the free plan's two
    page.goto("/keys/")
    page.fill("section.create input[name=name]", "second")
    page.click("section.create button[type=submit]")
    page.goto("/keys/")

    # then: the create button is off and the page says why
    assert page.locator("section.create button[type=submit]").is_disabled()
    assert "allows 2 keys" in page.locator("section.create").inner_text()
    screenshot(page, "keys_limit")


def test_the_plan_page_shows_the_tiers_and_upgrades_at_once(page, live_server, screenshot, customer):
    # given
    page.goto("/accounts/login/")
    _log_in(page, "carol")
    page.goto("/plan/")
    assert page.get_by_test_id("current-plan").inner_text() == "free"
    assert page.locator("section.tier").count() == 2
    screenshot(page, "plan")

    # when
    page.locator("section.tier[data-tier=pro] button").click()

    # then: recorded in the tier history from now
    page.wait_for_url("**/plan/")
    assert page.get_by_test_id("current-plan").inner_text() == "pro"
    history = list(
        Subscription.objects.filter(user=customer).order_by("started_at").values_list("tier__name", "ended_at")
    )
    assert [name for name, _ in history] == ["free", "pro"] and history[0][1] is not None and history[1][1] is None
    screenshot(page, "plan_after_upgrade")


def test_password_change_and_reset(page, live_server, screenshot, customer):
    # given: logged in
    page.goto("/accounts/login/")
    _log_in(page, "carol")
    page.wait_for_url("**/dashboard/")

    # when: the password is changed
    page.goto("/accounts/password/change/")
    screenshot(page, "password_change")
    page.fill("input[name=oldpassword]", PASSWORD)
    page.fill("input[name=password1]", "another long passphrase 7")
    page.fill("input[name=password2]", "another long passphrase 7")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    page.click("header form button")  # log out
    page.wait_for_url("**/")

    # then: forgotten, it is reset by email
    page.goto("/accounts/password/reset/")
    screenshot(page, "password_reset")
    page.fill("input[name=email]", "carol@example.com")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/accounts/password/reset/done/")
    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+/", mail.outbox[-1].body).group(0)
    page.goto(link)
    page.wait_for_url("**/accounts/password/reset/key/**")
    page.fill("input[name=password1]", "the third passphrase 99")
    page.fill("input[name=password2]", "the third passphrase 99")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/accounts/password/reset/key/done/")
    page.goto("/accounts/login/")
    _log_in(page, "carol", "the third passphrase 99")
    page.wait_for_url("**/dashboard/")
