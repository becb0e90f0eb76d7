from __future__ import annotations

from collections.abc import Mapping

from billing.payments.base import InvoiceDocument, SentInvoice, WebhookEvent


class ManualProvider:
    """Invoices are settled outside the system (bank transfer, staff marks them paid)."""

    name = "manual"

    def send_invoice(self, *, document: InvoiceDocument) -> SentInvoice | None:
        return None

    def verify_webhook(self, *, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        return None
