from celery import shared_task
from django.utils import timezone

from billing.periods import period_of, period_previous
from billing.services.invoices import invoices_generate
from billing.services.payments import invoice_send, invoices_send_pending


@shared_task(acks_late=True)
def send_invoice(invoice_id: int) -> str:
    return invoice_send(invoice_id=invoice_id)


@shared_task(acks_late=True)
def send_pending_invoices() -> dict:
    return invoices_send_pending()


@shared_task(acks_late=True)
def generate_invoices_for_previous_month() -> dict:
    report = invoices_generate(period=period_previous(period_of(timezone.now())))
    return {"period": str(report.period), "created": report.created, "updated": report.updated, "unchanged": report.unchanged}
