"""The per-process memo of a caller's tier (PRICING_TIER_CACHE_SECONDS) never changes what a call costs or
whether the quota lets it through: the charging statement checks the tier in force and its terms, and a
refusal on a memoized tier is checked again on a fresh read. Every change below is made behind the memo's
back, as another worker process (or the admin) would make it."""

from decimal import Decimal

import pytest

from billing.models import MonthlyUsage, PricingTier, Subscription, UsageRecord
from tests.conftest import IRIS_SETOSA

CREATE = """
mutation($f: GenericScalar!) {
  createPrediction(input: {modelName: "iris", features: $f}) { prediction { id } cost { amount } errors { code } }
}
"""


@pytest.fixture(autouse=True)
def memo_on(settings):
    settings.PRICING_TIER_CACHE_SECONDS = 60
    from billing.services.usage import _call_tiers

    _call_tiers.clear()
    yield
    _call_tiers.clear()


def _tier(name, *, price="0.01", quota=None, rate=None):
    return PricingTier.objects.create(
        name=name, price_per_prediction=Decimal(price), monthly_quota=quota, rate_limit_per_minute=rate
    )


def _predict(gql, token):
    status, body = gql(CREATE, {"f": IRIS_SETOSA}, token=token)
    assert status == 200, body
    return body["data"]["createPrediction"]


def _switch_behind_the_memo(user, tier):
    """What a tier change in another process leaves here: the database moved on, this process's memo did not."""
    Subscription.objects.filter(user=user, ended_at__isnull=True).update(tier=tier)


def _last_usage(user):
    return UsageRecord.objects.filter(user=user).latest("id")


def test_a_tier_change_in_another_process_prices_the_very_next_call(make_user, issue_token, gql, iris_model):
    # given: the memo holds the cheap tier
    cheap, dear = _tier("cheap", price="0.01"), _tier("dear", price="0.50")
    user = make_user(tier=cheap)
    token = issue_token(user)
    assert _predict(gql, token)["errors"] == []
    # when
    _switch_behind_the_memo(user, dear)
    payload = _predict(gql, token)
    # then: billed at the tier in force, once
    assert payload["errors"] == []
    usage = _last_usage(user)
    assert usage.tier_id == dear.pk and usage.price_per_prediction == Decimal("0.50")
    assert Decimal(payload["cost"]["amount"]) == usage.amount >= Decimal("0.50")
    assert UsageRecord.objects.filter(user=user).count() == 2
    assert MonthlyUsage.objects.get(user=user).predictions == 2


def test_a_price_edited_in_the_admin_prices_the_very_next_call(make_user, issue_token, gql, iris_model):
    # given
    tier = _tier("edited", price="0.01")
    user = make_user(tier=tier)
    token = issue_token(user)
    assert _predict(gql, token)["errors"] == []
    # when: the price changes in the database (the memo still holds 0.01)
    PricingTier.objects.filter(pk=tier.pk).update(price_per_prediction=Decimal("0.25"))
    payload = _predict(gql, token)
    # then
    assert payload["errors"] == []
    assert _last_usage(user).price_per_prediction == Decimal("0.25")
    assert MonthlyUsage.objects.get(user=user).predictions == 2


def test_a_downgrade_to_a_used_up_quota_refuses_the_next_call_and_stores_nothing(
    make_user, issue_token, gql, iris_model, stored_counts
):
    # given: two calls on an unlimited tier; the memo holds it
    unlimited, two = _tier("unlimited"), _tier("two-a-month", quota=2)
    user = make_user(tier=unlimited)
    token = issue_token(user)
    for _ in range(2):
        assert _predict(gql, token)["errors"] == []
    before = stored_counts()
    # when
    _switch_behind_the_memo(user, two)
    payload = _predict(gql, token)
    # then: the quota of the tier in force holds, though the memo's tier had none
    assert [e["code"] for e in payload["errors"]] == ["QUOTA_EXCEEDED"]
    assert payload["prediction"] is None
    assert stored_counts() == before
    assert MonthlyUsage.objects.get(user=user).predictions == 2


def test_an_upgrade_out_of_a_used_up_quota_is_not_refused_by_the_memo(make_user, issue_token, gql, iris_model):
    # given: the quota is used up, and the memo holds that tier
    two, unlimited = _tier("two-a-month", quota=2), _tier("unlimited")
    user = make_user(tier=two)
    token = issue_token(user)
    for _ in range(2):
        assert _predict(gql, token)["errors"] == []
    assert [e["code"] for e in _predict(gql, token)["errors"]] == ["QUOTA_EXCEEDED"]
    # when
    _switch_behind_the_memo(user, unlimited)
    payload = _predict(gql, token)
    # then
    assert payload["errors"] == []
    assert _last_usage(user).tier_id == unlimited.pk
    assert MonthlyUsage.objects.get(user=user).predictions == 3


def test_an_upgrade_out_of_a_rate_limit_counts_the_call_once(
    make_user, issue_token, gql, iris_model, pinned_minute, settings
):
    # given: 2 calls a minute, both used; the memo holds that tier
    slow, fast = _tier("two-a-minute", rate=2), _tier("ten-a-minute", rate=10)
    user = make_user(tier=slow)
    token = issue_token(user)
    for _ in range(2):
        assert _predict(gql, token)["errors"] == []
    # when
    _switch_behind_the_memo(user, fast)
    third = _predict(gql, token)
    # then: accepted on the tier in force, and counted once in the minute's window
    assert third["errors"] == []
    from django.core.cache import cache

    assert cache.get(f"ratelimit:{user.pk}:{int(pinned_minute.timestamp()) // 60}") == 3


@pytest.fixture
def pinned_minute(monkeypatch):
    from django.utils import timezone

    moment = timezone.now().replace(second=30, microsecond=0)
    monkeypatch.setattr("django.utils.timezone.now", lambda: moment)
    return moment
