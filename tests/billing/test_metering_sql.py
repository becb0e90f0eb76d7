"""The charging statement prices on PostgreSQL what `charge_compute` prices in Python: the one formula
(billable_count) written twice, once per place the counter is locked, compared here over the edges."""

from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from billing.metering import billable_count, billable_count_sql, charge_compute
from billing.models import MonthlyUsage, PricingTier
from billing.periods import period_of
from billing.services.usage import usage_charge

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL side runs on PostgreSQL")


def test_the_sql_billable_count_is_the_python_one_on_every_edge(db):
    cases = [(used, count, included) for used in range(9) for count in range(1, 5) for included in range(7)]
    expression = billable_count_sql(used_before="c.u", count="c.n", included="c.i")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.u, c.n, c.i, {expression} FROM unnest(%s::int[], %s::int[], %s::int[]) AS c(u, n, i)",
            [[c[0] for c in cases], [c[1] for c in cases], [c[2] for c in cases]],
        )
        found = cursor.fetchall()
    assert len(found) == len(cases)
    assert all(sql == billable_count(used_before=u, count=n, included=i) for u, n, i, sql in found)


@pytest.mark.parametrize("used_before", [0, 3, 4, 5, 9])
def test_a_charge_written_by_the_statement_is_priced_as_charge_compute_prices_it(make_user, iris_model, used_before):
    now_utc = timezone.now()
    # given: a tier with an allowance of 4 and odd unit prices; `used_before` predictions already counted
    tier = PricingTier.objects.create(
        name="odd",
        included_predictions=4,
        price_per_prediction=Decimal("0.00123457"),
        price_per_cpu_second=Decimal("0.01234567"),
        price_per_mb=Decimal("0.12345678"),
    )
    user = make_user("priced", tier=tier)
    MonthlyUsage.objects.create(user=user, period=period_of(now_utc), predictions=used_before)
    # when
    usage = usage_charge(
        user=user,
        tier=tier,
        model=iris_model,
        predictions=3,
        cpu_seconds=0.0123456789,
        stored_bytes=123_457,
        idempotency_key=None,
        request_hash="0" * 64,
        source="test",
        now=now_utc,
    )
    # then: the stored row, the returned object and the Python reference agree to the last digit
    expected = charge_compute(
        tier=tier, used_before=used_before, predictions=3, cpu_seconds=0.0123456789, stored_bytes=123_457
    )
    stored = type(usage).objects.get(pk=usage.pk)
    for record in (stored, usage):
        assert record.billable_predictions == expected.billable_predictions
        assert record.prediction_amount == expected.prediction_amount
        assert record.compute_amount == expected.compute_amount
        assert record.storage_amount == expected.storage_amount
        assert record.amount == expected.amount
        assert record.cpu_seconds == expected.cpu_seconds
    # and: the returned object is the stored row, column for column, with its relations already in hand
    for field in type(usage)._meta.concrete_fields:
        assert getattr(usage, field.attname) == getattr(stored, field.attname), field.attname
    assert (usage.user, usage.model, usage.tier) == (user, iris_model, tier)
    assert not usage._state.adding and usage._state.db == stored._state.db
    assert MonthlyUsage.objects.get(user=user).predictions == used_before + 3
