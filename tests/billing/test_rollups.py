"""The daily usage rollup: incremental (watermark on usage id, one run behind), exact against a direct aggregate."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Count, Sum

from billing.models import UsageDaily, UsageRecord, UsageRollupState
from billing.services.rollups import usage_daily_rollup
from billing.services.usage import pricing_tier_for_user, usage_charge


@pytest.fixture
def charge(iris_model):
    def charge(user, *, at, predictions=1, source="online", model=None, stored_bytes=200):
        with transaction.atomic():
            return usage_charge(
                user=user,
                tier=pricing_tier_for_user(user=user, now=at),
                model=model or iris_model,
                predictions=predictions,
                cpu_seconds=0.01,
                stored_bytes=stored_bytes,
                idempotency_key=None,
                request_hash="0" * 64,
                source=source,
                now=at,
            )

    return charge


def _direct() -> dict:
    """What the rollup must equal: the usage records aggregated per key in one query."""
    totals = {}
    for record in UsageRecord.objects.all():
        key = (
            record.user_id,
            record.period,
            record.created_at.astimezone(UTC).date(),
            record.model_id,
            record.source,
            record.currency,
        )
        calls, predictions, stored, amount = totals.get(key, (0, 0, 0, Decimal(0)))
        totals[key] = (
            calls + 1,
            predictions + record.predictions,
            stored + record.stored_bytes,
            amount + record.amount,
        )
    return totals


def _rolled() -> dict:
    return {
        (r.user_id, r.period, r.day, r.model_id, r.source, r.currency): (
            r.calls,
            r.predictions,
            r.stored_bytes,
            r.amount,
        )
        for r in UsageDaily.objects.all()
    }


def test_a_run_rolls_up_what_the_previous_run_saw_and_no_further(make_user, charge):
    # given: two records before the first run
    alice = make_user("alice")
    day = datetime(2026, 11, 3, 10, tzinfo=UTC)
    first = charge(alice, at=day, predictions=2)
    second = charge(alice, at=day + timedelta(hours=1), predictions=3)

    # when: the first run only notes the highest id
    report = usage_daily_rollup()

    # then
    assert (report.rolled_to, report.seen_id, report.records) == (0, second.pk, 0)
    assert UsageDaily.objects.count() == 0

    # when: a third record lands, and the rollup runs again
    charge(alice, at=day + timedelta(hours=2), predictions=5)
    report = usage_daily_rollup()

    # then: the first two are rolled up, the third is still the tail
    assert (report.rolled_from, report.rolled_to, report.records) == (0, second.pk, 2)
    row = UsageDaily.objects.get()
    assert (row.calls, row.predictions) == (2, 5)
    assert row.amount == first.amount + second.amount
    assert UsageRollupState.objects.get().rolled_id == second.pk


def test_incremental_runs_equal_the_direct_aggregate_exactly(make_user, charge, bank_model):
    # given: usage over days, users, models and sources, rolled up in small slices between arrivals
    alice, bob = make_user("alice"), make_user("bob")
    start = datetime(2026, 10, 30, 22, tzinfo=UTC)  # crosses a month and several days
    for i in range(40):
        user = alice if i % 3 else bob
        charge(
            user,
            at=start + timedelta(hours=5 * i),
            predictions=1 + i % 4,
            source="batch" if i % 5 == 0 else "online",
            model=bank_model if i % 2 else None,
            stored_bytes=100 + i,
        )
        if i % 7 == 0:
            usage_daily_rollup(max_ids=3)

    # when: two more runs (the second rolls up what the first saw)
    usage_daily_rollup(max_ids=3)
    usage_daily_rollup(max_ids=3)

    # then
    assert _rolled() == _direct()
    assert UsageDaily.objects.aggregate(n=Sum("calls"))["n"] == UsageRecord.objects.aggregate(n=Count("id"))["n"] == 40


def test_running_again_with_nothing_new_changes_nothing(make_user, charge):
    alice = make_user("alice")
    charge(alice, at=datetime(2026, 11, 3, tzinfo=UTC), predictions=4)
    usage_daily_rollup()
    usage_daily_rollup()
    before = _rolled()

    usage_daily_rollup()
    usage_daily_rollup()

    assert _rolled() == before == _direct()


def test_the_beat_task_runs_the_rollup(make_user, charge):
    from billing.tasks import rollup_usage_daily

    alice = make_user("alice")
    record = charge(alice, at=datetime(2026, 11, 3, tzinfo=UTC), predictions=4)

    first, second = rollup_usage_daily.delay().get(), rollup_usage_daily.delay().get()

    assert first["seen_id"] == record.pk and second["rolled_to"] == record.pk and second["records"] == 1
