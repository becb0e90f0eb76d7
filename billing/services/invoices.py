"""Monthly invoices: built from usage records, regenerated while draft, immutable once finalized."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, Min, Sum
from django.utils import timezone

from billing.error_codes import BillingErrorCode
from billing.metering import BYTES_PER_MB
from billing.models import Invoice, InvoiceLine, InvoiceNumberSequence, MonthlyUsage, PricingTier, UsageRecord
from billing.periods import period_bounds, period_label
from billing.selectors import TierSpan, tier_spans, users_to_invoice
from billing.services.usage import pricing_tier_for_user
from mlapi.errors import ConflictError

logger = logging.getLogger(__name__)
CENT = Decimal("0.01")
QUANTITY_STEP = Decimal("0.000001")


def to_cents(amount: Decimal) -> Decimal:
    """Invoice lines are rounded half-up to the cent (not Python's default half-even)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineDraft:
    kind: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal

    def key(self) -> tuple:
        return (self.kind, self.description, self.quantity, self.unit_price, self.amount)


@dataclass(frozen=True)
class InvoiceDraft:
    tier: PricingTier
    currency: str
    lines: list[LineDraft]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _days(micros: int) -> str:
    days = Decimal(micros) / Decimal(86_400_000_000)
    return f"{days.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP).normalize():f}"


def subscription_lines(*, spans: list[TierSpan], period: date) -> list[LineDraft]:
    """One line per tier in force during the period: its monthly fee × the share of the period's
    seconds it was in force, rounded half-up to the cent per line. Quantity is that share."""
    start, end = period_bounds(period)
    period_micros = _micros(end - start)
    in_force: dict[int, tuple[PricingTier, int]] = {}
    for span in spans:
        tier, micros = in_force.get(span.tier.pk, (span.tier, 0))
        in_force[span.tier.pk] = (tier, micros + _micros(span.end - span.start))
    lines = []
    for tier, micros in in_force.values():
        whole = micros == period_micros
        lines.append(
            LineDraft(
                kind=InvoiceLine.Kind.SUBSCRIPTION,
                description=f"{tier.name} plan, {period_label(period)}"
                + ("" if whole else f": {_days(micros)} of {_days(period_micros)} days"),
                quantity=(Decimal(micros) / Decimal(period_micros)).quantize(QUANTITY_STEP, rounding=ROUND_HALF_UP),
                unit_price=tier.monthly_fee,
                amount=to_cents(tier.monthly_fee * micros / Decimal(period_micros)),
            )
        )
    return lines


def usage_groups(*, period: date, user=None, user_ids=None) -> list[Mapping[str, Any]]:
    """One GROUP BY over the month's usage records, per user and unit prices."""
    records = UsageRecord.objects.filter(period=period)
    records = records.filter(user=user) if user is not None else records.filter(user_id__in=user_ids)
    return list(
        records.values("user_id", "tier_id", "currency", "price_per_prediction", "price_per_cpu_second", "price_per_mb")
        .annotate(
            billable=Sum("billable_predictions"),
            predictions=Sum("predictions"),
            cpu_seconds=Sum("cpu_seconds"),
            stored_bytes=Sum("stored_bytes"),
            prediction_amount=Sum("prediction_amount"),
            compute_amount=Sum("compute_amount"),
            storage_amount=Sum("storage_amount"),
            amount=Sum("amount"),
            records=Count("id"),
            first_charge=Min("created_at"),
        )
        .order_by()
    )


def usage_lines(groups: list[Mapping[str, Any]]) -> list[LineDraft]:
    """Lines per unit price (in the order each price was first charged), so a mid-month tier change
    shows each price it was charged at. Each line's amount is the sum of its records' exact amounts,
    rounded half-up to the cent once."""
    by_price = sorted(groups, key=lambda g: g["first_charge"])
    lines = []
    for kind, quantity_of, price_field, amount_field, label in USAGE_LINE_KINDS:
        merged: dict[Decimal, list] = {}
        for group in by_price:
            quantity, amount = quantity_of(group), group[amount_field]
            if quantity == 0 and amount == 0:
                continue
            entry = merged.setdefault(group[price_field], [Decimal("0"), Decimal("0")])
            entry[0] += quantity
            entry[1] += amount
        for unit_price, (quantity, amount) in merged.items():
            lines.append(
                LineDraft(
                    kind=kind,
                    description=label,
                    quantity=quantity.quantize(QUANTITY_STEP, rounding=ROUND_HALF_UP),
                    unit_price=unit_price,
                    amount=to_cents(amount),
                )
            )
    return lines


USAGE_LINE_KINDS = (
    (InvoiceLine.Kind.PREDICTIONS, lambda g: Decimal(g["billable"]), "price_per_prediction", "prediction_amount",
     "Predictions beyond the monthly allowance"),
    (InvoiceLine.Kind.COMPUTE, lambda g: g["cpu_seconds"], "price_per_cpu_second", "compute_amount",
     "Inference compute (CPU seconds)"),
    (InvoiceLine.Kind.STORAGE, lambda g: Decimal(g["stored_bytes"]) / BYTES_PER_MB, "price_per_mb", "storage_amount",
     "Stored request input and output (MB)"),
)  # fmt: skip


def invoice_draft_compute(*, user, period: date) -> InvoiceDraft:
    """The fee lines from the tier history (prorated by the seconds each tier was in force), then the
    usage lines from the month's usage records. The invoice's tier is the one in force at the month's end."""
    start, end = period_bounds(period)
    spans = tier_spans(user=user, start=start, end=end)
    tier = (
        spans[-1].tier
        if spans
        else pricing_tier_for_user(user=user, now=min(timezone.now(), end - timedelta(microseconds=1)))
    )
    lines = subscription_lines(spans=spans, period=period) + usage_lines(usage_groups(user=user, period=period))
    return InvoiceDraft(tier=tier, currency=tier.currency, lines=lines)


def _lines_of(invoice: Invoice) -> list[tuple]:
    return [(line.kind, line.description, line.quantity, line.unit_price, line.amount) for line in invoice.lines.all()]


@transaction.atomic
def invoice_generate(*, user, period: date) -> tuple[Invoice, str]:
    """Creates or refreshes the user's draft for `period`; returns (invoice, "created"|"updated"|"unchanged")."""
    draft = invoice_draft_compute(user=user, period=period)
    invoice = Invoice.objects.select_for_update().filter(user=user, period=period).first()
    if invoice is not None and invoice.status != Invoice.Status.DRAFT:
        return invoice, "unchanged"
    if (
        invoice is not None
        and _lines_of(invoice) == [line.key() for line in draft.lines]
        and invoice.total == draft.total
    ):
        return invoice, "unchanged"
    outcome = "updated" if invoice is not None else "created"
    if invoice is None:
        try:
            with transaction.atomic():
                invoice = Invoice.objects.create(
                    user=user, period=period, currency=draft.currency, total=draft.total, tier_name=draft.tier.name
                )
        except IntegrityError:
            # Another run created it meanwhile: take it under the lock and refresh it like any draft.
            invoice = Invoice.objects.select_for_update().get(user=user, period=period)
            if invoice.status != Invoice.Status.DRAFT:
                return invoice, "unchanged"
            outcome = "updated"
    _draft_store(invoice=invoice, draft=draft)
    return invoice, outcome


def _draft_store(*, invoice: Invoice, draft: InvoiceDraft) -> None:
    invoice.currency, invoice.total, invoice.tier_name = draft.currency, draft.total, draft.tier.name
    invoice.save(update_fields=["currency", "total", "tier_name", "updated_at"])
    invoice.lines.all().delete()
    InvoiceLine.objects.bulk_create(
        [
            InvoiceLine(
                invoice=invoice,
                position=position,
                **{k: getattr(line, k) for k in ("kind", "description", "quantity", "unit_price", "amount")},
            )
            for position, line in enumerate(draft.lines)
        ]
    )


def _period_close(*, invoice: Invoice, now) -> None:
    """Closes the month for the invoice's user and brings the draft up to date with every usage record
    committed in it. Setting closed_at takes the counter row's lock, so a call still being charged in
    that month commits first (and is included here); any later one lands in the next open month."""
    MonthlyUsage.objects.bulk_create(
        [MonthlyUsage(user_id=invoice.user_id, period=invoice.period)], ignore_conflicts=True
    )
    MonthlyUsage.objects.filter(user_id=invoice.user_id, period=invoice.period).update(closed_at=now)
    draft = invoice_draft_compute(user=invoice.user, period=invoice.period)
    if _lines_of(invoice) != [line.key() for line in draft.lines] or invoice.total != draft.total:
        logger.info("draft refreshed at finalization", extra={"invoice": invoice.pk})
        _draft_store(invoice=invoice, draft=draft)


@dataclass(frozen=True)
class GenerationReport:
    period: date
    created: int
    updated: int
    unchanged: int


def invoices_generate(*, period: date) -> GenerationReport:
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for user in users_to_invoice(period=period, user_model=get_user_model()).iterator():
        _, outcome = invoice_generate(user=user, period=period)
        counts[outcome] += 1
    return GenerationReport(period=period, **counts)


def _next_number(year: int) -> str:
    InvoiceNumberSequence.objects.bulk_create([InvoiceNumberSequence(year=year)], ignore_conflicts=True)
    sequence = InvoiceNumberSequence.objects.select_for_update().get(year=year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"INV-{year}-{sequence.last_number:06d}"


def _transition_error(invoice: Invoice, action: str) -> ConflictError:
    return ConflictError.single(
        BillingErrorCode.INVALID_TRANSITION, f"Cannot {action} an invoice that is {invoice.status}.", field="status"
    )


# `last_send_error` of an open invoice whose send request the task queue did not take.
SEND_NOT_QUEUED = "QUEUE_UNAVAILABLE"


# One retry, at once (a pooled connection may be stale after a broker restart). Celery's default policy
# makes three, with pauses, and without a policy kombu's own connection retries take seconds: finalizing
# many invoices in one admin request must not cost seconds each. The hourly send_pending_invoices retries.
_SEND_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}


def invoice_finalize(*, invoice: Invoice) -> Invoice:
    """draft → open with the next sequential number; the send request is queued after commit
    (`invoice_send_request`), so a broker outage cannot undo, or be reported as failing, a committed
    finalization."""
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.status != Invoice.Status.DRAFT:
            raise _transition_error(locked, "finalize")
        now = timezone.now()
        if now < period_bounds(locked.period)[1]:
            raise ConflictError.single(
                BillingErrorCode.INVALID_TRANSITION,
                "The month is not over yet: its usage may still grow.",
                field="period",
            )
        _period_close(invoice=locked, now=now)
        locked.number = _next_number(now.year)
        locked.status = Invoice.Status.OPEN
        locked.finalized_at = timezone.now()
        locked.save(update_fields=["number", "status", "finalized_at", "updated_at"])
        transaction.on_commit(lambda: invoice_send_request(invoice=locked))
    return locked


def invoice_send_request(*, invoice: Invoice) -> bool:
    """Queues the send of a finalized invoice; a task queue outage is not raised. When the queue cannot take it,
    the invoice stays open with its send pending (the hourly send_pending_invoices sends it) and
    `last_send_error` says why, for the admin. Returns whether the request was queued."""
    from billing.tasks import send_invoice  # the task only calls invoice_send

    try:
        send_invoice.apply_async((invoice.pk,), retry_policy=_SEND_PUBLISH_RETRY_POLICY)
    except Exception as error:  # noqa: BLE001 - the invoice is committed; the hourly re-send is the retry
        logger.warning(
            "invoice send not queued",
            extra={"invoice": invoice.number, "error": type(error).__name__, "detail": str(error)[:200]},
        )
        invoice.last_send_error = f"{SEND_NOT_QUEUED}: the task queue is unavailable; the hourly re-send will send it."
        Invoice.objects.filter(pk=invoice.pk, provider_invoice_id="").update(last_send_error=invoice.last_send_error)
        return False
    return True


def invoice_mark_paid(*, invoice: Invoice) -> bool:
    """open → paid exactly once: a conditional UPDATE, so a replayed event or a double click does nothing."""
    updated = Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.OPEN).update(
        status=Invoice.Status.PAID, paid_at=timezone.now(), updated_at=timezone.now()
    )
    if not updated:
        current = Invoice.objects.get(pk=invoice.pk)
        if current.status != Invoice.Status.PAID:
            raise _transition_error(current, "mark paid")
    return bool(updated)


def invoice_void(*, invoice: Invoice) -> None:
    updated = Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.OPEN).update(
        status=Invoice.Status.VOID, voided_at=timezone.now(), updated_at=timezone.now()
    )
    if not updated:
        raise _transition_error(Invoice.objects.get(pk=invoice.pk), "void")
