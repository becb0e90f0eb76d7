"""The portal's keys and plan pages through the Django test client: login required, the secret shown once,
someone else's key NOT_FOUND and untouched, the plan change recorded in the tier history."""

import pytest
from django.test import Client
from oauth2_provider.models import Application

from accounts.services.api_keys import api_key_create
from billing.models import PricingTier, Subscription


@pytest.fixture
def customer(make_user):
    return make_user("erin")


@pytest.fixture
def browser(customer):
    client = Client()
    client.force_login(customer)
    return client


@pytest.mark.parametrize("path", ["/keys/", "/plan/"])
def test_the_pages_send_anonymous_visitors_to_the_customer_login(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={path}")


def test_authorize_sends_anonymous_visitors_to_the_customer_login_not_the_admins(client, db):
    response = client.get("/o/authorize/?response_type=code&client_id=x")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_creating_a_key_shows_the_secret_in_that_response_only(browser, customer):
    # when
    response = browser.post("/keys/create/", {"name": "ci", "scopes": ["read", "predict"]})

    # then
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0") and "no-store" in response["Cache-Control"]
    secret = response.context["shown"].client_secret
    assert secret in response.content.decode()
    application = Application.objects.get(user=customer)
    assert (application.name, application.api_key.scopes) == ("ci", "predict read")
    assert secret not in browser.get("/keys/").content.decode()


def test_the_key_limit_is_refused_with_the_tiers_message(browser, customer, metered_tier):
    # given
    metered_tier.max_api_keys = 1
    metered_tier.save()
    api_key_create(user=customer, name="only")

    # when
    response = browser.post("/keys/create/", {"name": "one too many", "scopes": ["read"]})

    # then
    assert response.status_code == 429
    assert "allows 1 API keys" in response.content.decode()
    assert Application.objects.filter(user=customer).count() == 1


@pytest.mark.parametrize("action", ["rotate", "rename", "revoke"])
def test_someone_elses_key_is_not_found_and_untouched(browser, make_user, action):
    # given
    theirs = api_key_create(user=make_user("frank"), name="theirs").application
    hashed = theirs.client_secret

    # when
    response = browser.post(f"/keys/{theirs.pk}/{action}/", {"name": "mine"})

    # then
    assert response.status_code == 404
    stored = Application.objects.get(pk=theirs.pk)
    assert (stored.name, stored.client_secret) == ("theirs", hashed)


def test_revoke_and_rename_on_the_page(browser, customer):
    application = api_key_create(user=customer, name="old").application
    assert browser.post(f"/keys/{application.pk}/rename/", {"name": "new"}).status_code == 302
    assert Application.objects.get(pk=application.pk).name == "new"
    assert browser.post(f"/keys/{application.pk}/revoke/").status_code == 302
    assert not Application.objects.filter(pk=application.pk).exists()


def test_the_key_pages_refuse_get_for_changes(browser, customer):
    application = api_key_create(user=customer, name="keep").application
    assert browser.get(f"/keys/{application.pk}/revoke/").status_code == 405
    assert Application.objects.filter(pk=application.pk).exists()


def test_the_plan_page_lists_public_tiers_and_the_customers_own(browser, customer):
    # given: the customer is on a private tier (metered); free and pro are public
    response = browser.get("/plan/")

    # then
    names = [tier.name for tier in response.context["tiers"]]
    assert names == ["metered", "free", "pro"]
    assert response.context["current"].name == "metered"


def test_changing_plan_is_recorded_in_the_tier_history_at_once(browser, customer):
    # when
    response = browser.post("/plan/change/", {"tier": "pro"})

    # then
    assert response.status_code == 302
    tiers = list(Subscription.objects.filter(user=customer).order_by("started_at").values_list("tier__name", flat=True))
    assert tiers == ["metered", "pro"]
    assert Subscription.objects.get(user=customer, ended_at__isnull=True).tier.name == "pro"


def test_a_private_tier_cannot_be_chosen(browser, customer):
    # given: a tier not offered to customers
    PricingTier.objects.create(name="enterprise", is_public=False)

    # when
    browser.post("/plan/change/", {"tier": "enterprise"})

    # then: nothing recorded
    assert list(Subscription.objects.filter(user=customer).values_list("tier__name", flat=True)) == ["metered"]
