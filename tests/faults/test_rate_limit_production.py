"""The per-minute rate limit under production settings holds across gunicorn workers.

Production settings refuse to start without REDIS_URL (tests/deploy/test_check_deploy.py), because the
limit counts in the cache and a per-process cache counted each worker on its own: with 2 workers, 120 of
130 calls got through a 60/min limit. Here a real 2-worker gunicorn on `mlapi.settings.production` and
a real Redis (RATE_LIMIT_TEST_REDIS_URL, default db 12) lets exactly 60 of 130 concurrent calls through.
"""

import os
import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
import redis
import requests

import tests.faults.conftest as faults
from billing.models import PricingTier
from tests.conftest import IRIS_SETOSA

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REDIS_URL = os.environ.get("RATE_LIMIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
LIMIT = 60
CALLS = 130
CLIENT_THREADS = 4  # more than the workers, so both take calls at once
SECONDS_NEEDED = 25  # the calls must fall in one fixed one-minute window


@pytest.fixture
def shared_redis():
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis at {REDIS_URL} (set RATE_LIMIT_TEST_REDIS_URL): {error}")
    return client


@pytest.fixture
def production_server(monkeypatch, shared_redis, server_database, gunicorn_server):
    """gunicorn on the production settings module, as a deployment starts it (plain http on loopback)."""
    monkeypatch.setattr(faults, "SERVER_SETTINGS", "mlapi.settings.production")
    monkeypatch.setenv("SECRET_KEY", "rate-limit-test-only-not-a-secret-" + "x" * 40)
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.delenv("CACHE_URL", raising=False)
    monkeypatch.setenv("ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("SECURE_SSL_REDIRECT", "false")

    def start():
        return gunicorn_server(workers=2, database_url=server_database().url)

    return start


def _wait_for_a_fresh_window() -> None:
    if time.time() % 60 > 60 - SECONDS_NEEDED:
        time.sleep(60 - time.time() % 60 + 0.5)


def test_two_workers_share_one_rate_limit_count(make_user, issue_token, iris_model, shared_redis, production_server):
    # given: a 60/min tier, a committed user and token, no counter left in Redis for this user
    tier = PricingTier.objects.create(
        name="sixty-a-minute", price_per_prediction=Decimal("0.001"), monthly_quota=None, rate_limit_per_minute=LIMIT
    )
    user = make_user("ratelimited", tier=tier)
    token = issue_token(user)
    for key in shared_redis.scan_iter(f"*ratelimit:{user.pk}:*"):
        shared_redis.delete(key)
    server = production_server()
    assert len(server.worker_pids()) == 2
    _wait_for_a_fresh_window()
    statuses, codes, lock = Counter(), Counter(), threading.Lock()
    remaining = iter(range(CALLS))

    def client():
        session = requests.Session()
        while True:
            with lock:
                if next(remaining, None) is None:
                    return
            response = session.post(
                f"{server.url}/api/v1/models/iris/predict",
                json={"features": IRIS_SETOSA},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            with lock:
                statuses[response.status_code] += 1
                if response.status_code == 429:
                    codes.update(e["code"] for e in response.json()["errors"])

    # when: 130 calls from 4 threads within one minute
    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    elapsed = time.monotonic() - started
    # then: exactly the limit got through, whichever worker answered
    assert elapsed < SECONDS_NEEDED, f"{elapsed:.1f} s: the calls may have spanned two windows"
    assert statuses == {201: LIMIT, 429: CALLS - LIMIT}, (statuses, server.log_tail())
    assert codes == {"RATE_LIMITED": CALLS - LIMIT}
