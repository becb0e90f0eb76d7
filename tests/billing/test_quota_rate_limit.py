"""Monthly quotas and per-minute rate limits, through GraphQL and REST: a refused call stores and bills nothing."""

import json
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from billing.models import MonthlyUsage, PricingTier, UsageRecord
from billing.periods import period_bounds, period_of
from tests.conftest import IRIS_SETOSA

CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) {
    predictions { id }
    cost { predictions }
    errors { field code }
  }
}
"""
QUOTA_REMAINING = "query { me { quotaRemaining } }"
PREDICT_URL = "/api/v1/models/iris/predict"


@pytest.fixture
def five_tier(db):
    return PricingTier.objects.create(
        name="five-a-month",
        monthly_fee=Decimal("1.00"),
        included_predictions=0,
        price_per_prediction=Decimal("0.01"),
        price_per_cpu_second=Decimal("0.05"),
        price_per_mb=Decimal("0.01"),
        monthly_quota=5,
        rate_limit_per_minute=None,
    )


@pytest.fixture
def three_a_minute_tier(db):
    return PricingTier.objects.create(
        name="three-a-minute",
        price_per_prediction=Decimal("0.01"),
        monthly_quota=None,
        rate_limit_per_minute=3,
    )


@pytest.fixture
def pinned_clock(monkeypatch):
    """Pins the clock to the middle of the current minute, so a fixed one-minute rate-limit window cannot
    roll over between two calls of a test."""
    moment = timezone.now().replace(second=30, microsecond=0)
    monkeypatch.setattr("django.utils.timezone.now", lambda: moment)
    return moment


def _create(gql, token, **input_):
    status, body = gql(CREATE, {"input": {"modelName": "iris", **input_}}, token=token)
    assert status == 200, body
    return body["data"]["createPrediction"]


def _codes(payload):
    return [e["code"] for e in payload["errors"]]


def _remaining(gql, token):
    status, body = gql(QUOTA_REMAINING, token=token)
    assert status == 200, body
    return body["data"]["me"]["quotaRemaining"]


def _billed_predictions(user) -> int:
    return sum(UsageRecord.objects.filter(user=user).values_list("predictions", flat=True))


def _rest_predict(client, token, body):
    return client.post(
        PREDICT_URL, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def test_sixth_call_on_a_quota_of_five_is_refused_and_not_billed(
    make_user, five_tier, issue_token, gql, iris_model, stored_counts
):
    # given
    user = make_user(tier=five_tier)
    token = issue_token(user)
    # when
    remaining = [_remaining(gql, token)]
    for _ in range(5):
        assert _codes(_create(gql, token, features=IRIS_SETOSA)) == []
        remaining.append(_remaining(gql, token))
    before = stored_counts()
    sixth = _create(gql, token, features=IRIS_SETOSA)
    # then
    assert remaining == [5, 4, 3, 2, 1, 0]
    assert _codes(sixth) == ["QUOTA_EXCEEDED"]
    assert sixth["predictions"] is None and sixth["cost"] is None
    assert stored_counts() == before
    assert MonthlyUsage.objects.get(user=user).predictions == 5
    assert _billed_predictions(user) == 5
    assert _remaining(gql, token) == 0


def test_a_batch_that_would_cross_the_quota_is_refused_whole(
    make_user, five_tier, issue_token, gql, iris_model, stored_counts
):
    # given: 3 of 5 used
    user = make_user(tier=five_tier)
    token = issue_token(user)
    for _ in range(3):
        assert _codes(_create(gql, token, features=IRIS_SETOSA)) == []
    before = stored_counts()
    # when
    crossing = _create(gql, token, instances=[IRIS_SETOSA] * 3)
    # then
    assert _codes(crossing) == ["QUOTA_EXCEEDED"]
    assert stored_counts() == before
    assert MonthlyUsage.objects.get(user=user).predictions == 3
    assert _remaining(gql, token) == 2
    # and a batch that fits exactly is accepted
    fitting = _create(gql, token, instances=[IRIS_SETOSA] * 2)
    assert _codes(fitting) == [] and len(fitting["predictions"]) == 2
    assert _remaining(gql, token) == 0
    assert _billed_predictions(user) == 5


def test_free_tier_stops_at_exactly_one_thousand(make_user, issue_token, gql, iris_model, stored_counts):
    # given
    user = make_user(tier=PricingTier.objects.get(name="free"))
    token = issue_token(user)
    # when
    batch = _create(gql, token, instances=[IRIS_SETOSA] * 1000)
    before = stored_counts()
    one_more = _create(gql, token, features=IRIS_SETOSA)
    # then
    assert _codes(batch) == [] and batch["cost"]["predictions"] == 1000
    assert _codes(one_more) == ["QUOTA_EXCEEDED"]
    assert stored_counts() == before
    assert MonthlyUsage.objects.get(user=user).predictions == 1000
    assert _remaining(gql, token) == 0


def test_fourth_call_in_a_minute_is_rate_limited_and_not_stored(
    make_user, three_a_minute_tier, issue_token, gql, iris_model, stored_counts, pinned_clock
):
    # given
    user = make_user(tier=three_a_minute_tier)
    token = issue_token(user)
    for _ in range(3):
        assert _codes(_create(gql, token, features=IRIS_SETOSA)) == []
    before = stored_counts()
    # when
    fourth = _create(gql, token, features=IRIS_SETOSA)
    # then
    assert _codes(fourth) == ["RATE_LIMITED"]
    assert fourth["predictions"] is None and fourth["cost"] is None
    assert stored_counts() == before
    assert MonthlyUsage.objects.get(user=user).predictions == 3


def test_rate_limit_window_is_per_minute(make_user, three_a_minute_tier, issue_token, gql, iris_model, monkeypatch):
    # given: the limit is used up in one minute
    user = make_user(tier=three_a_minute_tier)
    token = issue_token(user)
    moment = timezone.now().replace(second=50, microsecond=0)
    clock = SimpleNamespace(now=lambda: moment)
    monkeypatch.setattr("django.utils.timezone.now", lambda: clock.now())
    for _ in range(3):
        assert _codes(_create(gql, token, features=IRIS_SETOSA)) == []
    assert _codes(_create(gql, token, features=IRIS_SETOSA)) == ["RATE_LIMITED"]
    # when: the next minute starts
    clock.now = lambda: moment + timedelta(seconds=15)
    # then
    assert _codes(_create(gql, token, features=IRIS_SETOSA)) == []
    assert _billed_predictions(user) == 4


def test_rest_answers_429_with_retry_after_when_the_quota_is_used_up(
    make_user, five_tier, client, issue_token, iris_model, stored_counts
):
    # given
    user = make_user(tier=five_tier)
    token = issue_token(user)
    assert _rest_predict(client, token, {"instances": [IRIS_SETOSA] * 5}).status_code == 201
    before = stored_counts()
    # when
    response = _rest_predict(client, token, {"features": IRIS_SETOSA})
    # then
    assert response.status_code == 429
    assert [e["code"] for e in response.json()["errors"]] == ["QUOTA_EXCEEDED"]
    now = timezone.now()
    until_next_month = (period_bounds(period_of(now))[1] - now).total_seconds()
    assert 0 < int(response["Retry-After"]) <= until_next_month + 2
    assert stored_counts() == before


def test_rest_answers_429_with_retry_after_when_rate_limited(
    make_user, three_a_minute_tier, client, issue_token, iris_model, stored_counts, pinned_clock
):
    # given
    token = issue_token(make_user(tier=three_a_minute_tier))
    for _ in range(3):
        assert _rest_predict(client, token, {"features": IRIS_SETOSA}).status_code == 201
    before = stored_counts()
    # when
    response = _rest_predict(client, token, {"features": IRIS_SETOSA})
    # then
    assert response.status_code == 429
    assert [e["code"] for e in response.json()["errors"]] == ["RATE_LIMITED"]
    assert response["Retry-After"] == "30"  # the clock is pinned at hh:mm:30
    assert stored_counts() == before
