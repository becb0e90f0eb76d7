"""Reads for the usage dashboard: the daily rollup (`UsageDaily`) plus the usage records not yet rolled up
(the tail, read live), the monthly counter, and the tier in force. No scan of the month's usage records."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import QuerySet, Sum

from billing.models import ZERO, MonthlyUsage, PricingTier, UsageDaily, UsageRecord, UsageRollupState
from billing.periods import period_bounds, period_of
from billing.selectors import tier_in_force
from billing.services.rollups import usage_daily_totals
from predictions.models import RegisteredModel

CENTS = Decimal("0.01")
CHART_STEP = Decimal("0.000001")  # a day's cost in the chart: a single prediction costs fractions of a cent
SPLITS = ("model", "source")
CHART_DAYS = (30, 90)


def usage_rolled_id() -> int:
    """Usage records with an id up to this are in UsageDaily."""
    return UsageRollupState.objects.filter(name="usage_daily").values_list("rolled_id", flat=True).first() or 0


def _tail(*, user, rolled_id: int) -> QuerySet[UsageRecord]:
    return UsageRecord.objects.filter(user=user, id__gt=rolled_id)


@dataclass(frozen=True)
class UsageOverview:
    period: date
    tier: PricingTier
    predictions: int
    cost: Decimal  # usage charged so far this period (exact), before the monthly fee
    currency: str
    monthly_fee: Decimal
    projected_usage: Decimal
    projected_total: Decimal
    elapsed_fraction: float
    quota: int | None
    rate_limit_per_minute: int | None

    @property
    def quota_used_percent(self) -> int | None:
        if not self.quota:
            return None
        return min(100, round(100 * self.predictions / self.quota))


def usage_overview(*, user, now: datetime) -> UsageOverview:
    """This billing period so far, and its projected bill.

    Predictions come from the monthly counter the quota is checked against; the cost from the rollup plus
    the tail. The projection is the month's pace so far carried to the month's end (cost so far ÷ the
    elapsed share of the month), plus the monthly fee of the tier in force now (the invoice prorates the
    fee if the tier changes within the month)."""
    period = period_of(now)
    tier = tier_in_force(user=user, at=now)
    predictions = (
        MonthlyUsage.objects.filter(user=user, period=period).values_list("predictions", flat=True).first() or 0
    )
    rolled_id = usage_rolled_id()
    rolled = UsageDaily.objects.filter(user=user, period=period).aggregate(total=Sum("amount"))["total"] or ZERO
    tail = _tail(user=user, rolled_id=rolled_id).filter(period=period).aggregate(total=Sum("amount"))["total"] or ZERO
    cost = rolled + tail
    start, end = period_bounds(period)
    micro = timedelta(microseconds=1)
    elapsed = min(Decimal(max((now - start) // micro, 1_000_000)) / Decimal((end - start) // micro), Decimal(1))
    projected_usage = (cost / elapsed).quantize(CENTS, rounding=ROUND_HALF_UP)
    return UsageOverview(
        period=period,
        tier=tier,
        predictions=predictions,
        cost=cost,
        currency=tier.currency,
        monthly_fee=tier.monthly_fee,
        projected_usage=projected_usage,
        projected_total=projected_usage + tier.monthly_fee,
        elapsed_fraction=float(elapsed),
        quota=tier.monthly_quota,
        rate_limit_per_minute=tier.rate_limit_per_minute,
    )


def usage_daily_series(*, user, now: datetime, days: int, split: str) -> dict:
    """Predictions and cost per UTC day for the last `days` days (today included), one series per model
    ("name vN") or per source (online / batch). Amounts are Decimal strings, rounded half-up to millionths."""
    if days not in CHART_DAYS:
        raise ValueError(f"days must be one of {CHART_DAYS}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}")
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    rolled_id = usage_rolled_id()
    counts: dict[str, dict[date, list]] = defaultdict(lambda: defaultdict(lambda: [0, ZERO]))
    labels: dict[int | str, str] = {}

    group = "model_id" if split == "model" else "source"
    for row in (
        UsageDaily.objects.filter(user=user, day__gte=first, day__lte=today)
        .values("day", group)
        .annotate(n=Sum("predictions"), total=Sum("amount"))
        .order_by()
    ):
        cell = counts[row[group]][row["day"]]
        cell[0] += row["n"]
        cell[1] += row["total"]
    tail = _tail(user=user, rolled_id=rolled_id).filter(created_at__gte=_midnight(first))
    for (_user, _period, day, model_id, source, _currency), added in usage_daily_totals(records=tail).items():
        if first <= day <= today:
            cell = counts[model_id if split == "model" else source][day]
            cell[0] += added["predictions"]
            cell[1] += added["amount"]
    if split == "model" and counts:
        labels = {
            pk: f"{name} v{version}"
            for pk, name, version in RegisteredModel.objects.filter(pk__in=list(counts)).values_list(
                "pk", "name", "version"
            )
        }
    axis = [first + timedelta(days=i) for i in range(days)]
    series = [
        {
            "label": labels.get(key, str(key)) if split == "model" else key,
            "predictions": [by_day[d][0] if d in by_day else 0 for d in axis],
            "cost": [
                str((by_day[d][1] if d in by_day else ZERO).quantize(CHART_STEP, rounding=ROUND_HALF_UP)) for d in axis
            ],
        }
        for key, by_day in sorted(counts.items(), key=lambda item: str(labels.get(item[0], item[0])))
    ]
    return {"days": [d.isoformat() for d in axis], "split": split, "series": series, "rolled_up_to": rolled_id}


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
