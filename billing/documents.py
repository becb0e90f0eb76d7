"""The invoice as a document: what the printable page and its PDF show, and the PDF itself (WeasyPrint)."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.template.loader import render_to_string

from billing.models import Invoice
from billing.periods import period_bounds, period_label


@dataclass(frozen=True)
class Issuer:
    name: str
    address_lines: list[str]
    email: str
    tax_id: str


def invoice_issuer() -> Issuer:
    return Issuer(
        name=settings.INVOICE_ISSUER_NAME,
        address_lines=[line for line in settings.INVOICE_ISSUER_ADDRESS.splitlines() if line.strip()],
        email=settings.INVOICE_ISSUER_EMAIL,
        tax_id=settings.INVOICE_ISSUER_TAX_ID,
    )


def invoice_document_context(*, invoice: Invoice) -> dict:
    """Issuer, customer, invoice date (when finalized), due date (INVOICE_DUE_DAYS later), the period's first
    and last day, and whether a Pay link applies (open, sent through PayPal, with a payer URL)."""
    start, end = period_bounds(invoice.period)
    issued: date | None = invoice.finalized_at.date() if invoice.finalized_at else None
    return {
        "invoice": invoice,
        "issuer": invoice_issuer(),
        "period": period_label(invoice.period),
        "period_start": start.date(),
        "period_end": (end - timedelta(days=1)).date(),
        "invoice_date": issued,
        "due_date": issued + timedelta(days=settings.INVOICE_DUE_DAYS) if issued else None,
        "payable": bool(
            invoice.status == Invoice.Status.OPEN and invoice.payer_url and invoice.payment_provider == "paypal"
        ),
    }


def invoice_pdf_render(*, invoice: Invoice) -> bytes:
    """The printable page as PDF (WeasyPrint lays it out with print media: the Pay and Print controls are hidden).

    No base URL: nothing is fetched while rendering, not even from this server."""
    from weasyprint import HTML  # imported here: it loads pango, which only PDF requests need

    html = render_to_string("billing/invoice.html", {**invoice_document_context(invoice=invoice), "for_pdf": True})
    return HTML(string=html).write_pdf()
