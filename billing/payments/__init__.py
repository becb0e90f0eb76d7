from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from billing.payments.base import (
    InvoiceDocument,
    InvoiceLineDocument,
    PaymentProvider,
    PaymentProviderError,
    PaymentProviderErrorCode,
    SentInvoice,
    WebhookEvent,
)
from billing.payments.manual import ManualProvider
from billing.payments.paypal import PayPalProvider

__all__ = [
    "InvoiceDocument",
    "InvoiceLineDocument",
    "ManualProvider",
    "PayPalProvider",
    "PaymentProvider",
    "PaymentProviderError",
    "PaymentProviderErrorCode",
    "SentInvoice",
    "WebhookEvent",
    "get_payment_provider",
]

PROVIDERS: dict[str, type[PaymentProvider]] = {
    ManualProvider.name: ManualProvider,
    PayPalProvider.name: PayPalProvider,
}


def get_payment_provider() -> PaymentProvider:
    name = getattr(settings, "PAYMENT_PROVIDER", "manual")
    try:
        provider_class = PROVIDERS[name]
    except KeyError:
        raise ImproperlyConfigured(f"PAYMENT_PROVIDER must be one of {sorted(PROVIDERS)}, not {name!r}.") from None
    return provider_class()
