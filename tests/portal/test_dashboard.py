"""The usage dashboard and its chart data: the caller's own usage, from the rollup plus the live tail."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone as dj_timezone

from billing.models import PricingTier
from billing.selectors.usage import usage_daily_series, usage_overview
from billing.services.rollups import usage_daily_rollup
from tests.conftest import IRIS_SETOSA


def _predict(rest, token, n=1) -> list[dict]:
    answers = []
    for _ in range(n):
        response = rest("post", "/api/v1/models/iris/predict", {"features": IRIS_SETOSA}, token=token)
        assert response.status_code == 201, response.content
        answers.append(response.json())
    return answers


def test_dashboard_needs_a_login(client, db):
    page = client.get("/dashboard/")
    chart = client.get("/dashboard/usage.json")

    assert page.status_code == 302 and "login" in page["Location"]
    assert chart.status_code == 401 and chart.json()["error"]["code"] == "UNAUTHENTICATED"


def test_dashboard_shows_this_months_predictions_cost_and_the_last_predictions(
    client, make_user, iris_model, issue_token, rest
):
    # given: two predictions over HTTP with a real token
    alice = make_user("alice")
    token = issue_token(alice)
    answers = _predict(rest, token, n=2)
    client.force_login(alice)

    # when
    response = client.get("/dashboard/")

    # then
    assert response.status_code == 200
    overview = response.context["overview"]
    assert overview.predictions == 2
    assert overview.cost == sum(Decimal(a["cost"]["amount"]) for a in answers)
    assert overview.rate_limit_per_minute is None and overview.quota is None
    recent = list(response.context["recent"])
    assert [str(p.pk) for p in recent] == [a["prediction"]["id"] for a in reversed(answers)]
    assert [p.usage.amount for p in recent] == [Decimal(a["cost"]["amount"]) for a in reversed(answers)]
    page = response.content.decode()
    assert "iris v1" in page and "setosa" in page


def test_quota_meter_and_rate_limit_come_from_the_tier_in_force(client, make_user, charge):
    free = PricingTier.objects.get(name="free")
    alice = make_user("alice", tier=free)
    charge(alice, at=dj_timezone.now(), predictions=250)
    client.force_login(alice)

    response = client.get("/dashboard/")

    overview = response.context["overview"]
    assert (overview.quota, overview.predictions, overview.quota_used_percent) == (1000, 250, 25)
    assert overview.rate_limit_per_minute == 60
    assert b"25% of the 1000 monthly quota" in response.content


def test_projected_bill_is_the_months_pace_carried_to_its_end_plus_the_fee(make_user, charge, metered_tier):
    # given: 0.0020 + compute + storage charged by the 11th at noon of a 30-day month (10.5 of 30 days elapsed)
    alice = make_user("alice")
    now = datetime(2026, 11, 11, 12, tzinfo=UTC)
    record = charge(alice, at=now - timedelta(days=1), predictions=2)

    # when
    overview = usage_overview(user=alice, now=now)

    # then
    assert overview.cost == record.amount
    expected_usage = (record.amount * 30 / Decimal("10.5")).quantize(Decimal("0.01"))
    assert overview.projected_usage == expected_usage
    assert overview.projected_total == expected_usage + metered_tier.monthly_fee


def test_totals_are_the_same_before_and_after_the_rollup(make_user, charge):
    alice = make_user("alice")
    now = dj_timezone.now()
    for i in range(5):
        charge(alice, at=now - timedelta(minutes=i), predictions=i + 1, source="batch" if i % 2 else "online")
    live = usage_overview(user=alice, now=now), usage_daily_series(user=alice, now=now, days=30, split="source")

    usage_daily_rollup()
    usage_daily_rollup()
    rolled = usage_overview(user=alice, now=now), usage_daily_series(user=alice, now=now, days=30, split="source")

    assert rolled[0].cost == live[0].cost and rolled[0].predictions == live[0].predictions == 15
    assert rolled[1]["series"] == live[1]["series"]
    assert rolled[1]["rolled_up_to"] > live[1]["rolled_up_to"]


def test_chart_json_is_split_by_model_or_source_per_day(client, make_user, charge, bank_model):
    # given: yesterday two iris calls (online), today one bank call (batch); bob's usage is not alice's
    alice, bob = make_user("alice"), make_user("bob")
    now = dj_timezone.now()
    yesterday = now - timedelta(days=1)
    charge(alice, at=yesterday, predictions=2)
    charge(alice, at=yesterday, predictions=1)
    charge(alice, at=now, predictions=4, model=bank_model, source="batch")
    charge(bob, at=now, predictions=100)
    usage_daily_rollup()
    usage_daily_rollup()
    charge(alice, at=now, predictions=1)  # the tail, not rolled up yet
    client.force_login(alice)

    # when
    by_model = client.get("/dashboard/usage.json?days=30&split=model").json()
    by_source = client.get("/dashboard/usage.json?days=90&split=source").json()

    # then
    assert len(by_model["days"]) == 30 and by_model["days"][-1] == now.astimezone(UTC).date().isoformat()
    series = {s["label"]: s["predictions"] for s in by_model["series"]}
    assert set(series) == {"iris v1", "bank-marketing v1"}
    assert series["iris v1"][-2:] == [3, 1] and series["bank-marketing v1"][-2:] == [0, 4]
    sources = {s["label"]: s["predictions"] for s in by_source["series"]}
    assert len(by_source["days"]) == 90
    assert sources["online"][-2:] == [3, 1] and sources["batch"][-2:] == [0, 4]
    assert all(isinstance(c, str) for s in by_model["series"] for c in s["cost"])


@pytest.mark.parametrize("query", ["days=7", "split=tier", "days=abc"])
def test_chart_json_refuses_other_ranges_and_splits(client, make_user, query):
    client.force_login(make_user("alice"))
    response = client.get(f"/dashboard/usage.json?{query}")
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_INPUT"


def test_dashboard_reads_use_a_fixed_number_of_queries(client, make_user, charge, django_assert_max_num_queries):
    alice = make_user("alice")
    now = dj_timezone.now()
    for i in range(30):
        charge(alice, at=now - timedelta(hours=i), predictions=1)
    usage_daily_rollup()
    usage_daily_rollup()
    client.force_login(alice)

    with django_assert_max_num_queries(12):
        assert client.get("/dashboard/").status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get("/dashboard/usage.json?days=90&split=model").status_code == 200
