import logging

from celery import shared_task
from django.utils import timezone

from billing.metrics import reconciliation_observed
from billing.periods import period_of, period_previous
from billing.services.invoices import invoices_generate
from billing.services.payments import invoice_send, invoices_send_pending
from billing.services.reconciliation import billing_reconcile
from billing.services.rollups import usage_daily_rollup

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def send_invoice(invoice_id: int) -> str:
    return invoice_send(invoice_id=invoice_id)


@shared_task(acks_late=True)
def send_pending_invoices() -> dict:
    return invoices_send_pending()


@shared_task(acks_late=True)
def generate_invoices_for_previous_month() -> dict:
    report = invoices_generate(period=period_previous(period_of(timezone.now())))
    return {
        "period": str(report.period),
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
    }


@shared_task(acks_late=True)
def reconcile_closed_periods() -> dict:
    """Daily: a difference is logged as an error and counted in mlapi_billing_reconciliation_differences_total."""
    report = billing_reconcile()
    reconciliation_observed(differences_by_check=report.differences_by_check())
    if not report.ok:
        logger.error(
            "billing reconciliation found differences in closed months",
            extra={"differences": [d.as_dict() for d in report.differences[:50]], "count": len(report.differences)},
        )
    summary = report.as_dict()
    return {k: summary[k] for k in ("ok", "periods_checked", "invoices_checked", "differences", "differences_by_check")}


@shared_task(acks_late=True)
def rollup_usage_daily() -> dict:
    """Every USAGE_ROLLUP_INTERVAL_SECONDS: adds the new usage records to the daily rollup the dashboard reads."""
    return usage_daily_rollup().as_dict()
