"""Proof that closed months add up: what was invoiced is what was recorded, and the counters agree.

For each (user, month) whose invoice is finalized: the invoice's usage lines equal the lines rebuilt
from the month's usage records now (so Σ usage amounts = Σ invoiced usage lines, to the cent per line),
the month's counter equals Σ of its records' predictions, and the counter is closed (no later call can
land in it). Usage in a month with finalized invoices by a user without any invoice for it is reported too.
"""

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum

from billing.metering import AMOUNT_STEP
from billing.models import Invoice, InvoiceLine, MonthlyUsage, UsageRecord
from billing.periods import period_label
from billing.services.invoices import usage_groups, usage_lines

USAGE_KINDS = (InvoiceLine.Kind.PREDICTIONS, InvoiceLine.Kind.COMPUTE, InvoiceLine.Kind.STORAGE)
CHECKS = ("usage_lines", "counter", "not_closed", "uninvoiced_usage")


@dataclass(frozen=True)
class Difference:
    check: str
    period: date
    user_id: int
    expected: str
    actual: str

    def as_dict(self) -> dict:
        return {
            "check": self.check, "period": period_label(self.period), "user_id": self.user_id,
            "expected": self.expected, "actual": self.actual,
        }  # fmt: skip


@dataclass(frozen=True)
class PeriodReconciliation:
    period: date
    invoices: int
    usage_records: int
    usage_predictions: int
    usage_amount: Decimal
    invoiced_usage_amount: Decimal
    differences: list[Difference] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "period": period_label(self.period),
            "invoices": self.invoices,
            "usage_records": self.usage_records,
            "usage_predictions": self.usage_predictions,
            "usage_amount": str(self.usage_amount.quantize(AMOUNT_STEP)),
            "invoiced_usage_amount": str(self.invoiced_usage_amount),
            "differences": [d.as_dict() for d in self.differences],
        }


@dataclass(frozen=True)
class ReconciliationReport:
    periods: list[PeriodReconciliation]

    @property
    def differences(self) -> list[Difference]:
        return [d for p in self.periods for d in p.differences]

    @property
    def ok(self) -> bool:
        return not self.differences

    def differences_by_check(self) -> dict[str, int]:
        counts = dict.fromkeys(CHECKS, 0)
        for difference in self.differences:
            counts[difference.check] += 1
        return counts

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "periods_checked": len(self.periods),
            "invoices_checked": sum(p.invoices for p in self.periods),
            "differences": len(self.differences),
            "differences_by_check": self.differences_by_check(),
            "periods": [p.as_dict() for p in self.periods],
        }


def _reconciled_invoices(*, period: date | None, include_drafts: bool):
    invoices = Invoice.objects.all()
    if not include_drafts:
        invoices = invoices.filter(finalized_at__isnull=False)
    return invoices.filter(period=period) if period is not None else invoices


def billing_reconcile(*, period: date | None = None, include_drafts: bool = False) -> ReconciliationReport:
    """Every closed month (or only `period`). With `include_drafts`, draft invoices are held to the
    same arithmetic (right after generating them: a draft is not refreshed by later usage)."""
    invoices = _reconciled_invoices(period=period, include_drafts=include_drafts)
    periods = sorted(set(invoices.values_list("period", flat=True)))
    return ReconciliationReport(
        periods=[_period_reconcile(period=p, invoices=invoices.filter(period=p)) for p in periods]
    )


def _period_reconcile(*, period: date, invoices) -> PeriodReconciliation:
    invoice_of = dict(invoices.values_list("user_id", "id"))
    finalized = set(invoices.filter(finalized_at__isnull=False).values_list("user_id", flat=True))
    users = list(invoice_of)
    differences: list[Difference] = []

    groups_of: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for group in usage_groups(period=period, user_ids=users):
        groups_of[group["user_id"]].append(group)
    stored_of: dict[int, list[tuple]] = defaultdict(list)
    for user_id, *line in InvoiceLine.objects.filter(
        invoice_id__in=invoice_of.values(), kind__in=USAGE_KINDS
    ).values_list("invoice__user_id", "kind", "quantity", "unit_price", "amount"):
        stored_of[user_id].append(tuple(line))
    counters = {
        user_id: (predictions, closed_at)
        for user_id, predictions, closed_at in MonthlyUsage.objects.filter(
            period=period, user_id__in=users
        ).values_list("user_id", "predictions", "closed_at")
    }

    records = predictions = 0
    usage_amount = invoiced = Decimal("0")
    for user_id in sorted(users):
        groups = groups_of.get(user_id, [])
        expected = sorted((line.kind, line.quantity, line.unit_price, line.amount) for line in usage_lines(groups))
        stored = sorted(stored_of.get(user_id, []))
        user_records = sum(g["records"] for g in groups)
        user_predictions = sum(g["predictions"] for g in groups)
        user_amount = sum((g["amount"] for g in groups), Decimal("0"))
        records, predictions, usage_amount = (
            records + user_records,
            predictions + user_predictions,
            usage_amount + user_amount,
        )
        invoiced += sum((line[3] for line in stored), Decimal("0"))
        if expected != stored:
            differences.append(
                Difference(
                    check="usage_lines",
                    period=period,
                    user_id=user_id,
                    expected=(
                        f"{len(expected)} lines, {sum((line[3] for line in expected), Decimal('0'))} "
                        f"(records: {user_amount})"
                    ),
                    actual=f"{len(stored)} lines, {sum((line[3] for line in stored), Decimal('0'))}",
                )  # fmt: skip
            )
        counted, closed_at = counters.get(user_id, (0, None))
        if counted != user_predictions:
            differences.append(
                Difference(
                    check="counter", period=period, user_id=user_id, expected=str(user_predictions), actual=str(counted)
                )
            )
        if user_id in finalized and closed_at is None:
            differences.append(
                Difference(check="not_closed", period=period, user_id=user_id, expected="closed", actual="open")
            )

    if finalized:
        uninvoiced = (
            UsageRecord.objects.filter(period=period)
            .exclude(user_id__in=users)
            .values("user_id")
            .annotate(records=Count("id"), amount=Sum("amount"))
            .order_by("user_id")
        )
        for row in uninvoiced:
            differences.append(
                Difference(
                    check="uninvoiced_usage",
                    period=period,
                    user_id=row["user_id"],
                    expected="an invoice",
                    actual=f"none for {row['records']} records, {row['amount']}",
                )  # fmt: skip
            )
    return PeriodReconciliation(
        period=period,
        invoices=len(users),
        usage_records=records,
        usage_predictions=predictions,
        usage_amount=usage_amount,
        invoiced_usage_amount=invoiced,
        differences=differences,
    )
