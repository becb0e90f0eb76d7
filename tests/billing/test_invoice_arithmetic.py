"""Invoice arithmetic: lines built from usage records, rounded half-up to the cent per line, total == sum of lines."""

from datetime import date, datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.models import Invoice, PricingTier, UsageRecord
from billing.periods import period_of
from billing.services.invoices import invoice_generate, invoices_generate

UTC = timezone.utc
JANUARY = date(2026, 1, 1)
FEBRUARY = date(2026, 2, 1)

# Tiers besides the standard `pro` (fee 49.00, 100,000 included, 0.0004 / prediction, 0.05 / CPU s, 0.001 / MB).
EXTRA_TIERS = {
    "basic": {
        "monthly_fee": Decimal("5.00"),
        "included_predictions": 10,
        "price_per_prediction": Decimal("0.01"),
        "price_per_cpu_second": Decimal("0.10"),
        "price_per_mb": Decimal("0.02"),
    },
    "halfcent": {
        "monthly_fee": Decimal("0.00"),
        "included_predictions": 0,
        "price_per_prediction": Decimal("0.001"),
        "price_per_cpu_second": Decimal("0.05"),
        "price_per_mb": Decimal("0.002"),
    },
}


def jan(day, hour=12):
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def D(value) -> Decimal:
    return Decimal(str(value))


# Each record: (tier, moment, predictions, cpu seconds, stored bytes), written in this order.
# Each line: (kind, quantity, unit price, amount).
CASES = [
    pytest.param(
        "pro",
        [("pro", jan(3), 30_000, 1.5, 3_000_000), ("pro", jan(20), 30_000, 1.5, 3_000_000)],
        JANUARY,
        [
            ("subscription", 1, "49.00", "49.00"),
            ("compute", 3, "0.05", "0.15"),  # 2 × 0.075
            ("storage", 6, "0.001", "0.01"),  # 0.006
        ],
        "49.16",
        id="allowance-partly-used-no-predictions-line",
    ),
    pytest.param(
        "pro",
        [
            ("pro", jan(3), 60_000, 2.0, 1_000_000),
            ("pro", jan(10), 50_000, 2.0, 1_000_000),  # crosses the allowance: 10,000 billable
            ("pro", jan(20), 5_000, 2.0, 1_000_000),  # all 5,000 billable
        ],
        JANUARY,
        [
            ("subscription", 1, "49.00", "49.00"),
            ("predictions", 15_000, "0.0004", "6.00"),
            ("compute", 6, "0.05", "0.30"),
            ("storage", 3, "0.001", "0.00"),  # 0.003: listed, rounds to nothing
        ],
        "55.30",
        id="allowance-exceeded-quantity-is-predictions-beyond-it",
    ),
    pytest.param(
        "pro",
        [("basic", jan(3), 15, 1.0, 500_000), ("pro", jan(20), 100, 2.0, 2_000_000)],
        JANUARY,
        [
            ("subscription", 1, "49.00", "49.00"),  # pro was in force at the last charge
            ("predictions", 5, "0.01", "0.05"),  # basic: 15 - 10 included; pro: none beyond 100,000
            ("compute", 1, "0.10", "0.10"),
            ("compute", 2, "0.05", "0.10"),
            ("storage", "0.5", "0.02", "0.01"),
            ("storage", 2, "0.001", "0.00"),
        ],
        "49.26",
        id="mid-month-upgrade-lines-per-unit-price",
    ),
    pytest.param(
        "basic",
        [("pro", jan(3), 100, 2.0, 2_000_000), ("basic", jan(20), 15, 1.0, 500_000)],
        JANUARY,
        [
            ("subscription", 1, "5.00", "5.00"),  # basic was in force at the last charge
            ("predictions", 15, "0.01", "0.15"),  # 100 used before: all 15 beyond basic's 10
            ("compute", 2, "0.05", "0.10"),
            ("compute", 1, "0.10", "0.10"),
            ("storage", 2, "0.001", "0.00"),
            ("storage", "0.5", "0.02", "0.01"),
        ],
        "5.36",
        id="mid-month-downgrade-fee-of-tier-at-last-charge",
    ),
    pytest.param(
        "pro",
        [("basic", jan(3), 12, 0.2, 0)],
        JANUARY,
        [
            ("subscription", 1, "5.00", "5.00"),  # user moved to pro afterwards but was not charged on it
            ("predictions", 2, "0.01", "0.02"),
            ("compute", "0.2", "0.10", "0.02"),
        ],
        "5.04",
        id="tier-changed-after-last-charge-keeps-charged-tiers-fee",
    ),
    pytest.param(
        "basic",
        [
            ("basic", datetime(2026, 2, 1, 0, 30, tzinfo=ZoneInfo("Europe/Paris")), 3, 0.0, 0),  # 23:30 UTC Jan 31
            ("basic", datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC), 12, 0.2, 0),
            ("basic", datetime(2026, 2, 1, 0, 0, 0, tzinfo=UTC), 7, 1.0, 1_000_000),  # February's
        ],
        JANUARY,
        [
            ("subscription", 1, "5.00", "5.00"),
            ("predictions", 5, "0.01", "0.05"),  # 3 + 12 used, 10 included
            ("compute", "0.2", "0.10", "0.02"),
        ],
        "5.07",
        id="month-boundary-last-microsecond-is-january",
    ),
    pytest.param("pro", [], JANUARY, [("subscription", 1, "49.00", "49.00")], "49.00", id="zero-usage-pro-fee-only"),
    pytest.param(
        "halfcent",
        [("halfcent", jan(3), 100, 0.25, 1_250_000), ("halfcent", jan(4), 25, 0.25, 1_250_000)],
        JANUARY,
        [
            ("subscription", 1, "0.00", "0.00"),
            ("predictions", 125, "0.001", "0.13"),  # 0.125: half-even would give 0.12
            ("compute", "0.5", "0.05", "0.03"),  # 0.025: half-even would give 0.02
            ("storage", "2.5", "0.002", "0.01"),  # 0.005: half-even would give 0.00
        ],
        "0.17",
        id="half-cents-round-up",
    ),
    pytest.param(
        "halfcent",
        [("halfcent", jan(d), 1, 0.066, 0) for d in (3, 4, 5)],
        JANUARY,
        [
            ("subscription", 1, "0.00", "0.00"),
            ("predictions", 3, "0.001", "0.00"),  # 0.003
            ("compute", "0.198", "0.05", "0.01"),  # 3 × 0.0033 = 0.0099: the line is rounded, not each record
        ],
        "0.01",
        id="line-sum-is-rounded-not-each-record",
    ),
    pytest.param(
        "halfcent",
        [("halfcent", jan(3), 4, 0.099999, 0)],
        JANUARY,
        [
            ("subscription", 1, "0.00", "0.00"),
            ("predictions", 4, "0.001", "0.00"),  # 0.004
            ("compute", "0.099999", "0.05", "0.00"),  # 0.00499995: just below half a cent
        ],
        "0.00",
        id="just-below-half-cent-rounds-down",
    ),
]


@pytest.fixture
def tiers(db):
    by_name = {name: PricingTier.objects.create(name=name, **prices) for name, prices in EXTRA_TIERS.items()}
    by_name["pro"] = PricingTier.objects.get(name="pro")
    return by_name


def _lines(invoice):
    return sorted(
        (line.kind, line.quantity, line.unit_price, line.amount) for line in invoice.lines.all()
    )


def _expected(lines):
    return sorted((kind, D(quantity), D(unit_price), D(amount)) for kind, quantity, unit_price, amount in lines)


@pytest.mark.parametrize(("user_tier", "records", "period", "expected_lines", "expected_total"), CASES)
def test_invoice_lines_and_total(make_user, record_usage, tiers, user_tier, records, period, expected_lines, expected_total):
    # given
    user = make_user(tier=tiers[user_tier])
    for tier, moment, predictions, cpu_seconds, stored_bytes in records:
        record_usage(
            user, tier=tiers[tier], at=moment, predictions=predictions, cpu_seconds=cpu_seconds, stored_bytes=stored_bytes
        )
    # when
    invoice, outcome = invoice_generate(user=user, period=period)
    # then
    assert outcome == "created"
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert _lines(invoice) == _expected(expected_lines)
    assert invoice.lines.first().kind == "subscription"
    assert invoice.total == D(expected_total)
    assert invoice.total == sum(line.amount for line in invoice.lines.all())
    assert all(line.amount.as_tuple().exponent == -2 for line in invoice.lines.all())
    assert invoice.total.as_tuple().exponent == -2
    assert invoice.status == Invoice.Status.DRAFT and invoice.number is None
    assert invoice.currency == "USD"


def test_records_on_either_side_of_midnight_utc_belong_to_their_own_month(make_user, record_usage, tiers):
    # given
    user = make_user(tier=tiers["basic"])
    last_moment = record_usage(user, at=datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC), predictions=12, cpu_seconds=0.0, stored_bytes=0)
    first_moment = record_usage(user, at=datetime(2026, 2, 1, 0, 0, 0, tzinfo=UTC), predictions=12, cpu_seconds=0.0, stored_bytes=0)
    # when
    january, _ = invoice_generate(user=user, period=JANUARY)
    february, _ = invoice_generate(user=user, period=FEBRUARY)
    # then
    assert (last_moment.period, first_moment.period) == (JANUARY, FEBRUARY)
    assert [period_of(r.created_at) for r in UsageRecord.objects.filter(user=user).order_by("created_at")] == [JANUARY, FEBRUARY]
    # each month has its own allowance of 10: 2 predictions beyond it in each
    assert [(l.kind, l.quantity) for l in january.lines.all() if l.kind == "predictions"] == [("predictions", 2)]
    assert [(l.kind, l.quantity) for l in february.lines.all() if l.kind == "predictions"] == [("predictions", 2)]
    assert january.total == february.total == Decimal("5.02")


def test_zero_usage_free_user_gets_no_invoice_but_pro_user_gets_the_fee(make_user, tiers):
    # given
    free_user = make_user("nothing-used", tier=PricingTier.objects.get(name="free"))
    pro_user = make_user("pro-idle", tier=tiers["pro"])
    # when
    invoices_generate(period=JANUARY)
    # then
    assert not Invoice.objects.filter(user=free_user).exists()
    invoice = Invoice.objects.get(user=pro_user, period=JANUARY)
    assert [(l.kind, l.amount) for l in invoice.lines.all()] == [("subscription", Decimal("49.00"))]
    assert invoice.total == Decimal("49.00")


def test_free_user_with_usage_gets_a_zero_invoice(make_user, record_usage):
    # given
    user = make_user(tier=PricingTier.objects.get(name="free"))
    record_usage(user, at=jan(5), predictions=3)
    # when
    invoices_generate(period=JANUARY)
    # then
    invoice = Invoice.objects.get(user=user, period=JANUARY)
    assert invoice.total == Decimal("0.00")
    assert invoice.total == sum(line.amount for line in invoice.lines.all())
