"""Reads for the operators' dashboard on the admin index: revenue, active customers, predictions per day,
top models, invoices whose sending failed. From the daily rollup plus its live tail, the monthly counters
and the invoices: no scan of the usage records."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncDate

from billing.models import ZERO, Invoice, MonthlyUsage, UsageDaily, UsageRecord
from billing.periods import period_bounds, period_of
from billing.selectors.usage import usage_rolled_id
from predictions.models import RegisteredModel

TOP_MODELS = 5


@dataclass(frozen=True)
class OperationsOverview:
    period: date
    usage_charged: dict[str, Decimal]  # currency → usage charged this month so far (before fees, exact)
    paid: dict[str, Decimal]  # currency → invoice totals paid this month
    open_invoices: dict[str, Decimal]  # currency → totals of open invoices
    active_customers: int
    predictions_per_day: list[tuple[date, int]]
    top_models: list[tuple[str, int]]
    failed_sends: list[Invoice]

    @property
    def predictions_per_day_max(self) -> int:
        return max((n for _, n in self.predictions_per_day), default=0)


def _by_currency(rows, value: str) -> dict[str, Decimal]:
    return {row["currency"]: row[value] or ZERO for row in rows}


def invoices_failed_to_send() -> QuerySet[Invoice]:
    """Open invoices the provider has not accepted yet and whose last attempt failed (the hourly re-send retries)."""
    return (
        Invoice.objects.select_related("user")
        .filter(status=Invoice.Status.OPEN, sent_at__isnull=True)
        .exclude(last_send_error="")
        .order_by("-finalized_at")
    )


def operations_overview(*, now: datetime, days: int = 14) -> OperationsOverview:
    period = period_of(now)
    start, end = period_bounds(period)
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    rolled_id = usage_rolled_id()
    tail = UsageRecord.objects.filter(id__gt=rolled_id)

    charged: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for currency_totals in (
        UsageDaily.objects.filter(period=period).values("currency").annotate(total=Sum("amount")).order_by(),
        tail.filter(period=period).values("currency").annotate(total=Sum("amount")).order_by(),
    ):
        for total in currency_totals:
            charged[total["currency"]] += total["total"] or ZERO

    per_day: dict[date, int] = defaultdict(int)
    for rolled in UsageDaily.objects.filter(day__gte=first).values("day").annotate(n=Sum("predictions")).order_by():
        per_day[rolled["day"]] += rolled["n"] or 0
    for live in (
        tail.filter(created_at__gte=datetime(first.year, first.month, first.day, tzinfo=UTC))
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day")
        .annotate(n=Sum("predictions"))
        .order_by()
    ):
        per_day[live["day"]] += live["n"] or 0

    by_model: dict[int, int] = defaultdict(int)
    for model_counts in (
        UsageDaily.objects.filter(period=period).values("model_id").annotate(n=Sum("predictions")).order_by(),
        tail.filter(period=period).values("model_id").annotate(n=Sum("predictions")).order_by(),
    ):
        for count in model_counts:
            by_model[count["model_id"]] += count["n"] or 0
    top = sorted(by_model.items(), key=lambda item: -item[1])[:TOP_MODELS]
    names = {
        pk: f"{name} v{version}"
        for pk, name, version in RegisteredModel.objects.filter(pk__in=[pk for pk, _ in top]).values_list(
            "pk", "name", "version"
        )
    }
    invoices = Invoice.objects.values("currency").order_by()
    return OperationsOverview(
        period=period,
        usage_charged=dict(charged),
        paid=_by_currency(
            invoices.filter(status=Invoice.Status.PAID, paid_at__gte=start, paid_at__lt=end).annotate(
                total=Sum("total")
            ),
            "total",
        ),
        open_invoices=_by_currency(invoices.filter(status=Invoice.Status.OPEN).annotate(total=Sum("total")), "total"),
        active_customers=MonthlyUsage.objects.filter(period=period, predictions__gt=0).count(),
        predictions_per_day=[
            (first + timedelta(days=i), per_day.get(first + timedelta(days=i), 0)) for i in range(days)
        ],
        top_models=[(names.get(pk, str(pk)), n) for pk, n in top],
        failed_sends=list(invoices_failed_to_send()[:20]),
    )
