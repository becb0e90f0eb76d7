"""Invoice arithmetic: fee lines prorated by the seconds each tier was in force, usage lines built from
usage records, each line rounded half-up to the cent, total == sum of lines."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.models import Invoice, PricingTier, UsageRecord
from billing.periods import period_of
from billing.services.invoices import invoice_generate, invoices_generate
from billing.services.subscriptions import subscription_change

UTC = UTC
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
    "plus": {"monthly_fee": Decimal("19.99"), "included_predictions": 10_000, "price_per_prediction": Decimal("0.001")},
    "tiny": {"monthly_fee": Decimal("1.00")},
}


def jan(day, hour=12):
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def D(value) -> Decimal:
    return Decimal(str(value))


# Each case: the tier history [(tier, from)] (None: since the user joined, long before), the usage
# records [(moment, predictions, cpu seconds, stored bytes)] written in this order, each priced by the
# tier in force at its moment, and the expected lines [(kind, quantity, unit price, amount)].
# January 2026 has 31 days = 2,678,400 s; a fee line's quantity is the share of them its tier was in force.
CASES = [
    pytest.param(
        [("pro", None)],
        [(jan(3), 30_000, 1.5, 3_000_000), (jan(20), 30_000, 1.5, 3_000_000)],
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
        [("pro", None)],
        [
            (jan(3), 60_000, 2.0, 1_000_000),
            (jan(10), 50_000, 2.0, 1_000_000),  # crosses the allowance: 10,000 billable
            (jan(20), 5_000, 2.0, 1_000_000),  # all 5,000 billable
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
        [("basic", None), ("pro", jan(15, 0))],
        [(jan(3), 15, 1.0, 500_000), (jan(20), 100, 2.0, 2_000_000)],
        JANUARY,
        [
            ("subscription", "0.451613", "5.00", "2.26"),  # 14 of 31 days: 2.258...
            ("subscription", "0.548387", "49.00", "26.87"),  # 17 of 31 days: 26.870...
            ("predictions", 5, "0.01", "0.05"),  # basic: 15 - 10 included; pro: 115 used of its 100,000
            ("compute", 1, "0.10", "0.10"),
            ("compute", 2, "0.05", "0.10"),
            ("storage", "0.5", "0.02", "0.01"),
            ("storage", 2, "0.001", "0.00"),
        ],
        "29.39",
        id="mid-month-upgrade-fees-prorated-lines-per-unit-price",
    ),
    pytest.param(
        [("pro", None), ("basic", jan(15, 0))],
        [(jan(3), 100, 2.0, 2_000_000), (jan(20), 15, 1.0, 500_000)],
        JANUARY,
        [
            ("subscription", "0.451613", "49.00", "22.13"),  # 14 days: 22.129...
            ("subscription", "0.548387", "5.00", "2.74"),  # 17 days: 2.741...
            ("predictions", 15, "0.01", "0.15"),  # allowance per tier: 100 used before, all 15 beyond basic's 10
            ("compute", 2, "0.05", "0.10"),
            ("compute", 1, "0.10", "0.10"),
            ("storage", 2, "0.001", "0.00"),
            ("storage", "0.5", "0.02", "0.01"),
        ],
        "25.23",
        id="mid-month-downgrade-fees-prorated",
    ),
    pytest.param(
        [("basic", None), ("pro", jan(11, 0)), ("basic", jan(21, 0))],
        [(jan(5), 12, 0.0, 0), (jan(15), 50, 0.0, 0), (jan(25), 3, 0.0, 0)],
        JANUARY,
        [
            ("subscription", "0.677419", "5.00", "3.39"),  # one line per tier: 10 + 11 days, 3.387...
            ("subscription", "0.322581", "49.00", "15.81"),  # 10 days: 15.806...
            ("predictions", 5, "0.01", "0.05"),  # 2 on Jan 5; pro's 50 within its allowance; 3 on Jan 25 (62 used)
        ],
        "19.25",
        id="two-changes-in-one-month-one-line-per-tier",
    ),
    pytest.param(
        [("basic", None), ("pro", datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC))],
        [(jan(1, 0), 20, 0.0, 0)],  # at the very instant of the change: pro's
        JANUARY,
        [("subscription", 1, "49.00", "49.00")],
        "49.00",
        id="change-at-midnight-on-the-1st-new-tier-all-month",
    ),
    pytest.param(
        [("basic", None), ("pro", datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC))],
        [(datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), 20, 0.0, 0)],  # basic's, December's
        date(2025, 12, 1),
        [("subscription", 1, "5.00", "5.00"), ("predictions", 10, "0.01", "0.10")],
        "5.10",
        id="change-at-midnight-on-the-1st-old-tier-all-previous-month",
    ),
    pytest.param(
        [("pro", None), ("free", jan(15, 0))],
        [],
        JANUARY,
        [("subscription", "0.451613", "49.00", "22.13"), ("subscription", "0.548387", "0.00", "0.00")],
        "22.13",
        id="pro-14-days-then-free-pays-14-days-of-pro",  # the fee of the last charge's tier paid 0.00
    ),
    pytest.param(
        [("plus", None), ("pro", jan(12, 0))],
        [],
        JANUARY,
        [("subscription", "0.354839", "19.99", "7.09"), ("subscription", "0.645161", "49.00", "31.61")],
        "38.70",
        id="19.99-tier-11-days-then-pro-pays-both",  # the fee of the last charge's tier paid 49.00
    ),
    pytest.param(
        [("free", None), ("tiny", datetime(2026, 1, 31, 20, 16, 48, tzinfo=UTC))],
        [],
        JANUARY,
        [("subscription", "0.995", "0.00", "0.00"), ("subscription", "0.005", "1.00", "0.01")],
        "0.01",
        id="prorated-fee-half-cent-rounds-up",  # 13,392 s of 1.00 = 0.005 exactly: half-even would give 0.00
    ),
    pytest.param(
        [("tiny", None), ("free", datetime(2026, 1, 1, 3, 43, 11, tzinfo=UTC))],
        [],
        JANUARY,
        # 13,391 s: 0.0049996...; the quantity shown rounds to 0.005, the amount comes from the exact share
        [("subscription", "0.005", "1.00", "0.00"), ("subscription", "0.995", "0.00", "0.00")],
        "0.00",
        id="prorated-fee-just-below-half-cent-rounds-down",
    ),
    pytest.param(
        [("basic", None)],
        [
            (datetime(2026, 2, 1, 0, 30, tzinfo=ZoneInfo("Europe/Paris")), 3, 0.0, 0),  # 23:30 UTC Jan 31
            (datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC), 12, 0.2, 0),
            (datetime(2026, 2, 1, 0, 0, 0, tzinfo=UTC), 7, 1.0, 1_000_000),  # February's
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
    pytest.param(
        [("pro", None)], [], JANUARY, [("subscription", 1, "49.00", "49.00")], "49.00", id="zero-usage-pro-fee-only"
    ),
    pytest.param(
        [("halfcent", None)],
        [(jan(3), 100, 0.25, 1_250_000), (jan(4), 25, 0.25, 1_250_000)],
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
        [("halfcent", None)],
        [(jan(d), 1, 0.066, 0) for d in (3, 4, 5)],
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
        [("halfcent", None)],
        [(jan(3), 4, 0.099999, 0)],
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
    by_name["free"] = PricingTier.objects.get(name="free")
    return by_name


def _lines(invoice):
    return sorted((line.kind, line.quantity, line.unit_price, line.amount) for line in invoice.lines.all())


def _expected(lines):
    return sorted((kind, D(quantity), D(unit_price), D(amount)) for kind, quantity, unit_price, amount in lines)


@pytest.mark.parametrize(("history", "records", "period", "expected_lines", "expected_total"), CASES)
def test_invoice_lines_and_total(
    make_user, record_usage, tiers, history, records, period, expected_lines, expected_total
):
    # given: the tier history, written through the service the admin uses
    (first_tier, _), *changes = history
    user = make_user(tier=tiers[first_tier])
    for tier, moment in changes:
        subscription_change(user=user, tier=tiers[tier], at=moment)
    written = [
        record_usage(user, at=moment, predictions=predictions, cpu_seconds=cpu_seconds, stored_bytes=stored_bytes)
        for moment, predictions, cpu_seconds, stored_bytes in records
    ]
    # when
    invoice, outcome = invoice_generate(user=user, period=period)
    # then: each record was priced by the tier in force at its moment
    in_force = [(tiers[first_tier], datetime.min.replace(tzinfo=UTC))] + [(tiers[t], m) for t, m in changes]
    assert [r.tier for r in written] == [
        max((m, t.pk, t) for t, m in in_force if m <= r.created_at)[2] for r in written
    ]
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
    assert invoice.tier_name == history[-1][0] if period == JANUARY else True


def test_records_on_either_side_of_midnight_utc_belong_to_their_own_month(make_user, record_usage, tiers):
    # given
    user = make_user(tier=tiers["basic"])
    last_moment = record_usage(
        user, at=datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC), predictions=12, cpu_seconds=0.0, stored_bytes=0
    )
    first_moment = record_usage(
        user, at=datetime(2026, 2, 1, 0, 0, 0, tzinfo=UTC), predictions=12, cpu_seconds=0.0, stored_bytes=0
    )
    # when
    january, _ = invoice_generate(user=user, period=JANUARY)
    february, _ = invoice_generate(user=user, period=FEBRUARY)
    # then
    assert (last_moment.period, first_moment.period) == (JANUARY, FEBRUARY)
    assert [period_of(r.created_at) for r in UsageRecord.objects.filter(user=user).order_by("created_at")] == [
        JANUARY,
        FEBRUARY,
    ]
    # each month has its own allowance of 10: 2 predictions beyond it in each
    assert [(line.kind, line.quantity) for line in january.lines.all() if line.kind == "predictions"] == [
        ("predictions", 2)
    ]
    assert [(line.kind, line.quantity) for line in february.lines.all() if line.kind == "predictions"] == [
        ("predictions", 2)
    ]
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
    assert [(line.kind, line.amount) for line in invoice.lines.all()] == [("subscription", Decimal("49.00"))]
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
