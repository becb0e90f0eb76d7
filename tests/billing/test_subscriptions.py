"""Tier history: one service writes it, the database keeps it to one open subscription per user, and
every call is priced by the tier in force at its moment."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone as django_timezone

from accounts.services import user_set_tier
from billing.models import PricingTier, Subscription, UsageRecord
from billing.services.invoices import invoice_finalize, invoice_generate
from billing.services.subscriptions import subscription_change
from billing.services.usage import pricing_tier_for_user
from mlapi.errors import ConflictError
from tests.conftest import IRIS_SETOSA, UserFactory

UTC = UTC
CREATE = """
mutation($f: GenericScalar!) {
  createPrediction(input: {modelName: "iris", features: $f}) { cost { amount } errors { code } }
}
"""


@pytest.fixture
def pro(db):
    return PricingTier.objects.get(name="pro")


@pytest.fixture
def free(db):
    return PricingTier.objects.get(name="free")


def _history(user):
    return list(
        Subscription.objects.filter(user=user)
        .order_by("started_at")
        .values_list("tier__name", "started_at", "ended_at")
    )


def test_a_change_ends_the_open_subscription_and_starts_the_next_at_the_same_instant(make_user, pro):
    # given
    user = make_user()
    at = datetime(2026, 3, 10, 12, tzinfo=UTC)
    # when
    subscription_change(user=user, tier=pro, at=at)
    # then
    (first, started, ended), (second, started_second, still_open) = _history(user)
    assert (first, ended) == ("metered", at)
    assert (second, started_second, still_open) == ("pro", at, None)
    assert pricing_tier_for_user(user=user, now=at - timedelta(microseconds=1)).name == "metered"
    assert pricing_tier_for_user(user=user, now=at).name == "pro"
    assert pricing_tier_for_user(user=user).name == "pro"


def test_changing_to_the_tier_in_force_writes_nothing(make_user, metered_tier):
    user = make_user()
    subscription_change(user=user, tier=metered_tier)
    assert len(_history(user)) == 1


def test_a_user_without_subscription_is_on_the_default_tier(db, free):
    user = UserFactory(username="no-tier")
    assert pricing_tier_for_user(user=user) == free
    assert pricing_tier_for_user(user=user, now=datetime(2021, 1, 1, tzinfo=UTC)) == free


def test_the_database_refuses_a_second_open_subscription(make_user, pro):
    user = make_user()
    with pytest.raises(IntegrityError), transaction.atomic():
        Subscription.objects.create(user=user, tier=pro, started_at=django_timezone.now())


def test_the_database_refuses_a_subscription_ending_before_it_starts(make_user, pro):
    user = make_user()
    now = django_timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        Subscription.objects.create(user=user, tier=pro, started_at=now, ended_at=now)


@pytest.mark.parametrize("when", ["before-the-open-one", "in-the-future"])
def test_history_is_never_rewritten_or_scheduled(make_user, pro, when):
    # given: on metered since 2020, on pro since March 2026
    user = make_user()
    subscription_change(user=user, tier=pro, at=datetime(2026, 3, 1, tzinfo=UTC))
    at = (
        datetime(2026, 2, 1, tzinfo=UTC) if when == "before-the-open-one" else django_timezone.now() + timedelta(days=1)
    )
    # when
    with pytest.raises(ConflictError) as raised:
        subscription_change(user=user, tier=PricingTier.objects.get(name="free"), at=at)
    # then
    assert [e.code for e in raised.value.errors] == ["SUBSCRIPTION_CONFLICT"]
    assert [name for name, _, _ in _history(user)] == ["metered", "pro"]


def test_a_change_inside_a_closed_month_is_refused(make_user, pro):
    # given: October's invoice is finalized
    user = make_user()
    invoice_finalize(invoice=invoice_generate(user=user, period=datetime(2026, 10, 1).date())[0])
    # when
    with pytest.raises(ConflictError) as raised:
        subscription_change(user=user, tier=pro, at=datetime(2026, 10, 20, tzinfo=UTC))
    # then
    assert [e.code for e in raised.value.errors] == ["PERIOD_CLOSED"]
    # and after the closed month it is allowed
    subscription_change(user=user, tier=pro, at=datetime(2026, 11, 1, tzinfo=UTC))
    assert [name for name, _, _ in _history(user)] == ["metered", "pro"]


def test_a_change_at_the_instant_the_open_one_started_replaces_its_tier(make_user, pro, free):
    user = make_user()
    at = datetime(2026, 5, 1, tzinfo=UTC)
    subscription_change(user=user, tier=pro, at=at)
    subscription_change(user=user, tier=free, at=at)
    assert [(name, started) for name, started, _ in _history(user)][-1] == ("free", at)
    assert len(_history(user)) == 2


def test_a_tier_change_prices_the_very_next_call_even_with_the_token_memo_on(
    make_user, issue_token, gql, iris_model, pro, settings
):
    # given: the token (and, before the tier history, the user's tier with it) remembered for a minute
    settings.ACCESS_TOKEN_CACHE_SECONDS = 60
    user = make_user()
    token = issue_token(user)
    assert gql(CREATE, {"f": IRIS_SETOSA}, token=token)[1]["data"]["createPrediction"]["errors"] == []
    # when: the admin moves the user to pro
    user_set_tier(user=user, tier_name="pro")
    assert gql(CREATE, {"f": IRIS_SETOSA}, token=token)[1]["data"]["createPrediction"]["errors"] == []
    # then
    tiers = list(UsageRecord.objects.filter(user=user).order_by("created_at").values_list("tier__name", flat=True))
    assert tiers == ["metered", "pro"]


def test_the_me_query_shows_the_tier_in_force(make_user, issue_token, gql, pro):
    user = make_user()
    token = issue_token(user)
    user_set_tier(user=user, tier_name="pro")
    status, body = gql("{ me { tier { name } } }", token=token)
    assert status == 200 and body["data"]["me"]["tier"]["name"] == "pro"


def test_a_client_created_on_a_tier_is_on_it_from_the_moment_it_joined(db, pro):
    # given / when
    from accounts.services import api_client_create

    user = api_client_create(username="new-pro", tier_name="pro").application.user
    # then: no sliver of the default tier before the subscription
    ((name, started, ended),) = _history(user)
    assert (name, started, ended) == ("pro", user.date_joined, None)
