"""Redis (the rate limit's cache) down or hung: predictions keep flowing with a logged warning, and the
monthly quota, which lives in the database, still holds at its boundary."""

import logging
import socket
import time
from decimal import Decimal

import pytest

from billing.models import MonthlyUsage, PricingTier, UsageRecord
from tests.conftest import IRIS_SETOSA

pytestmark = pytest.mark.django_db

USAGE_LOGGER = "billing.services.usage"
CLOSED_PORT = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connection refused at once
QUOTA = 3
CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) {
    predictions { id }
    cost { amount predictions }
    errors { field code }
  }
}
"""


def _redis_caches(location: str) -> dict:
    """As mlapi.settings.base configures CACHES from REDIS_URL/CACHE_URL."""
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": location,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }


@pytest.fixture
def limited_tier(db):
    """One call a minute, three predictions a month: with a working cache the second call is refused."""
    return PricingTier.objects.create(
        name="limited",
        monthly_fee=Decimal("0"),
        price_per_prediction=Decimal("0.001"),
        monthly_quota=QUOTA,
        rate_limit_per_minute=1,
    )


@pytest.fixture
def hung_redis():
    """A TCP port that completes the handshake (kernel backlog) and never answers: a hung Redis."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()


def _rest(client, token, body):
    response = client.post(
        "/api/v1/models/iris/predict", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    return response.status_code, response.json()


def _away_from_minute_boundary() -> None:
    """Both calls in one rate-limit window (windows are whole UTC minutes)."""
    if time.time() % 60 > 58:
        time.sleep(60 - time.time() % 60 + 0.1)


def test_rate_limit_refuses_the_second_call_while_the_cache_answers(
    make_user, limited_tier, issue_token, client, iris_model
):
    # given: the tier's limit is real (the control for the outage tests below)
    token = issue_token(make_user(tier=limited_tier))
    _away_from_minute_boundary()
    # when
    first, _ = _rest(client, token, {"features": IRIS_SETOSA})
    second, body = _rest(client, token, {"features": IRIS_SETOSA})
    # then
    assert first == 201
    assert second == 429
    assert [e["code"] for e in body["errors"]] == ["RATE_LIMITED"]


def test_redis_down_lets_predictions_through_with_a_warning_and_the_quota_still_holds(
    make_user, limited_tier, issue_token, client, gql, iris_model, settings, caplog
):
    # given: a user on one call a minute / three a month, and Redis refusing connections
    user = make_user(tier=limited_tier)
    token = issue_token(user)
    settings.CACHES = _redis_caches(CLOSED_PORT)  # setting_changed resets django.core.cache.caches
    _away_from_minute_boundary()
    caplog.set_level(logging.WARNING, logger=USAGE_LOGGER)

    # when: five calls in one minute, over REST and GraphQL
    status_1, rest_1 = _rest(client, token, {"features": IRIS_SETOSA})
    status_2, gql_2 = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=token)
    status_3, over_quota_batch = _rest(client, token, {"instances": [IRIS_SETOSA, IRIS_SETOSA]})  # 2 + 2 > 3
    status_4, rest_4 = _rest(client, token, {"features": IRIS_SETOSA})  # the third and last of the month
    status_5, gql_5 = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=token)

    # then: not rate limited (the cache is down), each call warned ...
    assert status_1 == 201, rest_1
    assert status_2 == 200 and gql_2["data"]["createPrediction"]["errors"] == [], gql_2
    assert status_4 == 201, rest_4
    warnings = [r for r in caplog.records if r.name == USAGE_LOGGER and r.levelno == logging.WARNING]
    assert len(warnings) >= 3
    # ... and the database-held quota refused both calls that would pass it, storing nothing for them
    assert status_3 == 429
    assert [e["code"] for e in over_quota_batch["errors"]] == ["QUOTA_EXCEEDED"]
    assert status_5 == 200
    assert [e["code"] for e in gql_5["data"]["createPrediction"]["errors"]] == ["QUOTA_EXCEEDED"]
    assert UsageRecord.objects.filter(user=user).count() == 3
    assert MonthlyUsage.objects.get(user=user).predictions == QUOTA


def test_hung_redis_costs_a_call_at_most_its_socket_timeout(
    make_user, limited_tier, issue_token, client, iris_model, settings, caplog, hung_redis
):
    # given: Redis accepts connections but never answers
    user = make_user(tier=limited_tier)
    token = issue_token(user)
    settings.CACHES = _redis_caches(hung_redis)
    caplog.set_level(logging.WARNING, logger=USAGE_LOGGER)
    # when
    started = time.monotonic()
    status, body = _rest(client, token, {"features": IRIS_SETOSA})
    elapsed = time.monotonic() - started
    # then: served after the 0.5 s socket timeout, not after retries with back-off (several seconds)
    assert status == 201, body
    assert elapsed < 5, f"{elapsed:.1f} s"
    assert any(r.name == USAGE_LOGGER and r.levelno == logging.WARNING for r in caplog.records)
    assert UsageRecord.objects.filter(user=user).count() == 1
