"""Collecting open invoices through the configured payment provider, and its webhooks."""

import logging
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import Invoice, PaymentEvent
from billing.payments import InvoiceDocument, InvoiceLineDocument, PaymentProviderError, get_payment_provider
from billing.periods import period_label
from billing.services.invoices import invoice_mark_paid
from mlapi.errors import ApplicationError

logger = logging.getLogger(__name__)
PAID_EVENTS = {"INVOICING.INVOICE.PAID"}
MAX_SEND_ATTEMPTS = 10


def invoice_document(*, invoice: Invoice) -> InvoiceDocument:
    if invoice.number is None:  # the database allows no number only on drafts
        raise ValueError("a draft invoice has no number to send")
    user = invoice.user
    return InvoiceDocument(
        number=invoice.number,
        period=period_label(invoice.period),
        currency=invoice.currency,
        total=invoice.total,
        recipient_email=user.email,
        recipient_name=user.get_full_name() or user.username,
        lines=tuple(
            InvoiceLineDocument(
                description=line.description, quantity=line.quantity, unit_price=line.unit_price, amount=line.amount
            )
            for line in invoice.lines.all()
        ),
    )


def invoice_send(*, invoice_id: int) -> str:
    """Sends an open, not-yet-sent invoice; a provider failure is recorded and retried later, never lost.

    The provider call is idempotent on the invoice number (PayPal-Request-Id), so a retry after a
    time-out whose request did reach PayPal does not create a second PayPal invoice.
    """
    invoice = Invoice.objects.select_related("user").prefetch_related("lines").get(pk=invoice_id)
    if invoice.status != Invoice.Status.OPEN or invoice.provider_invoice_id:
        return "skipped"
    provider = get_payment_provider()
    if invoice.total <= 0:
        Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.OPEN).update(
            payment_provider=provider.name, status=Invoice.Status.PAID, paid_at=timezone.now()
        )
        return "nothing to collect"
    try:
        sent = provider.send_invoice(document=invoice_document(invoice=invoice))
    except PaymentProviderError as error:
        logger.warning(
            "invoice send failed",
            extra={"invoice": invoice.number, "code": str(error.code), "retryable": error.retryable},
        )
        Invoice.objects.filter(pk=invoice.pk).update(
            payment_provider=provider.name,
            # A rejection will not succeed by retrying: stop the automatic retries, leave it to a human.
            send_attempts=invoice.send_attempts + 1 if error.retryable else MAX_SEND_ATTEMPTS,
            last_send_error=f"{error.code}: {str(error)[:200]}",
        )
        return "failed"
    if sent is None:
        Invoice.objects.filter(pk=invoice.pk).update(payment_provider=provider.name)
        return "manual"
    Invoice.objects.filter(pk=invoice.pk, provider_invoice_id="").update(
        payment_provider=provider.name,
        provider_invoice_id=sent.provider_invoice_id,
        payer_url=sent.payer_url or "",
        sent_at=timezone.now(),
        send_attempts=invoice.send_attempts + 1,
        last_send_error="",
    )
    return "sent"


def invoices_send_pending() -> dict[str, int]:
    """Retries every open invoice not yet accepted by the provider (run hourly by Celery beat)."""
    outcomes: dict[str, int] = {}
    pending = Invoice.objects.filter(
        status=Invoice.Status.OPEN, provider_invoice_id="", send_attempts__lt=MAX_SEND_ATTEMPTS
    ).values_list("pk", flat=True)
    for invoice_id in list(pending):
        outcome = invoice_send(invoice_id=invoice_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def payment_webhook_handle(*, headers: Mapping[str, str], body: bytes) -> str:
    """ "ignored" for anything unverified (forged, malformed), "duplicate" for a replay, else what it did."""
    provider = get_payment_provider()
    event = provider.verify_webhook(headers=headers, body=body)
    if event is None:
        return "ignored"
    invoice = (
        Invoice.objects.filter(payment_provider=provider.name, provider_invoice_id=event.provider_invoice_id).first()
        if event.provider_invoice_id
        else None
    )
    try:
        with transaction.atomic():
            PaymentEvent.objects.create(
                provider=provider.name, event_id=event.event_id, event_type=event.event_type, invoice=invoice
            )
            if event.event_type not in PAID_EVENTS or invoice is None:
                return "recorded"
            try:
                return "paid" if invoice_mark_paid(invoice=invoice) else "already paid"
            except ApplicationError:
                # Paid at the provider but void (or draft) here: keep the event, leave the invoice, tell a human.
                logger.error(
                    "payment received for an invoice that is not open",
                    extra={"invoice": invoice.pk, "status": invoice.status},
                )
                return "conflict"
    except IntegrityError:
        return "duplicate"
