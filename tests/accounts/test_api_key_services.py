"""accounts.services.api_keys and the sign-up hook: last use to the minute, the default tier at sign-up."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services.api_keys import api_key_create, api_key_touch
from billing.models import Subscription
from mlapi.errors import ApplicationError


@pytest.fixture
def key(make_user):
    return api_key_create(user=make_user("gina"), name="k").application


def test_a_use_within_a_minute_of_the_last_writes_nothing(key, django_assert_num_queries):
    # given: used just now
    now = timezone.now()
    api_key_touch(application=key, now=now)
    key.api_key.refresh_from_db()

    # when / then: a use 59 s later is free; 61 s later is one UPDATE
    with django_assert_num_queries(0):
        api_key_touch(application=key, now=now + timedelta(seconds=59))
    with django_assert_num_queries(1):
        api_key_touch(application=key, now=now + timedelta(seconds=61))
    assert ApiKey.objects.get(pk=key.pk).last_used_at == now + timedelta(seconds=61)


def test_a_stale_touch_never_moves_the_last_use_backwards(key):
    # given: another process recorded a later use than this process knows about
    now = timezone.now()
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)

    # when: this process's copy is stale and it records an earlier moment
    key.api_key.last_used_at = now - timedelta(minutes=5)
    api_key_touch(application=key, now=now - timedelta(seconds=30))

    # then
    assert ApiKey.objects.get(pk=key.pk).last_used_at == now


@pytest.mark.parametrize("scopes", [["staff"], ["introspection"], ["read", "registry"], []])
def test_customer_keys_get_only_customer_scopes(make_user, scopes):
    with pytest.raises(ApplicationError) as raised:
        api_key_create(user=make_user("hal"), name="k", scopes=scopes)
    assert [e.code for e in raised.value.errors] == ["INVALID_SCOPE"]
    assert not ApiKey.objects.exists()


def test_an_operator_made_client_is_listed_with_a_key_row(make_user):
    from accounts.services import api_client_create

    credentials = api_client_create(username="ivan")
    assert ApiKey.objects.get(application=credentials.application).origin == "operator"


def test_signing_up_puts_the_customer_on_the_default_tier_from_joining(db, settings, mailoutbox):
    # given: the default tier from the data migration
    settings.DEFAULT_PRICING_TIER = "free"

    # when
    response = Client().post(
        "/accounts/signup/",
        {
            "email": "jo@example.com",
            "username": "jo",
            "password1": "a fine long passphrase",
            "password2": "a fine long passphrase",
        },
    )

    # then: told to verify by email; the tier history starts at joining
    assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
    (subscription,) = Subscription.objects.filter(user__username="jo")
    assert subscription.tier.name == "free" and subscription.started_at == subscription.user.date_joined
    assert len(mailoutbox) == 1 and "/accounts/confirm-email/" in mailoutbox[0].body


def test_an_unverified_customer_cannot_log_in(db, mailoutbox):
    Client().post(
        "/accounts/signup/",
        {
            "email": "kim@example.com",
            "username": "kim",
            "password1": "a fine long passphrase",
            "password2": "a fine long passphrase",
        },
    )
    client = Client()
    response = client.post("/accounts/login/", {"login": "kim", "password": "a fine long passphrase"})
    assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
    assert "_auth_user_id" not in client.session


def test_the_demo_login_logs_in_by_username_or_email(make_user):
    from accounts.services import customer_login_set

    user = make_user("demo")
    customer_login_set(user=user, password="demo-portal-pass")
    for login in ("demo", "demo@example.com"):
        client = Client()
        response = client.post("/accounts/login/", {"login": login, "password": "demo-portal-pass"})
        assert response.status_code == 302 and response["Location"] == "/dashboard/"
        assert client.session["_auth_user_id"] == str(user.pk)
