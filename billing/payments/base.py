from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol


@dataclass(frozen=True)
class InvoiceLineDocument:
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class InvoiceDocument:
    number: str
    period: str
    currency: str
    total: Decimal
    recipient_email: str
    recipient_name: str
    lines: tuple[InvoiceLineDocument, ...]


@dataclass(frozen=True)
class SentInvoice:
    provider_invoice_id: str
    payer_url: str | None


@dataclass(frozen=True)
class WebhookEvent:
    event_id: str
    event_type: str
    provider_invoice_id: str | None
    raw: dict[str, Any]


class PaymentProviderErrorCode(StrEnum):
    PROVIDER_TIMEOUT = "PROVIDER_TIMEOUT"
    PROVIDER_HTTP_5XX = "PROVIDER_HTTP_5XX"
    PROVIDER_RATE_LIMITED = "PROVIDER_RATE_LIMITED"
    PROVIDER_REJECTED = "PROVIDER_REJECTED"
    PROVIDER_AUTH_FAILED = "PROVIDER_AUTH_FAILED"
    PROVIDER_BAD_RESPONSE = "PROVIDER_BAD_RESPONSE"


class PaymentProviderError(Exception):
    """A provider call failed; `retryable` says whether trying the same call later may succeed."""

    def __init__(self, message: str, *, code: PaymentProviderErrorCode, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable

    def __repr__(self) -> str:
        return f"PaymentProviderError(code={str(self.code)!r}, retryable={self.retryable!r}, message={str(self)!r})"


class PaymentProvider(Protocol):
    name: str

    def send_invoice(self, *, document: InvoiceDocument) -> SentInvoice | None:
        """Deliver the invoice to the payer; None means the provider has nothing to send."""
        ...

    def verify_webhook(self, *, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        """Authenticate and parse a webhook; None means forged, unverifiable or malformed."""
        ...
