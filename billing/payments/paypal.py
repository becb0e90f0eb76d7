"""PayPal Invoicing v2 over its REST API: https://developer.paypal.com/docs/api/invoicing/v2/"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from billing.payments.base import (
    InvoiceDocument,
    InvoiceLineDocument,
    PaymentProviderError,
    SentInvoice,
    WebhookEvent,
)
from billing.payments.base import PaymentProviderErrorCode as Code
from billing.payments.paypal_signature import clear_certificate_cache, signature_valid  # noqa: F401 - tests clear it

logger = logging.getLogger(__name__)

BASE_URLS = {
    "sandbox": "https://api-m.sandbox.paypal.com",
    "live": "https://api-m.paypal.com",
}
TOKEN_PATH = "/v1/oauth2/token"
INVOICES_PATH = "/v2/invoicing/invoices"

TOKEN_REFRESH_MARGIN_SECONDS = 60
DEFAULT_TIMEOUT_SECONDS = 5.0  # per connect and per read; PAYPAL_TIMEOUT_SECONDS overrides it
ITEM_NAME_MAX_LENGTH = 200
ITEM_MAX_QUANTITY = Decimal(1_000_000)
ITEM_QUANTITY_MAX_DECIMALS = 5
CENT = Decimal("0.01")

SIGNATURE_HEADERS = {
    "auth_algo": "paypal-auth-algo",
    "cert_url": "paypal-cert-url",
    "transmission_id": "paypal-transmission-id",
    "transmission_sig": "paypal-transmission-sig",
    "transmission_time": "paypal-transmission-time",
}


class _TokenCache:
    """Access tokens shared by every provider instance in the process, per API host and client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}

    def get(self, *, key: tuple[str, str], fetch: Callable[[], tuple[str, float]]) -> str:
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and time.monotonic() < cached[1]:
                return cached[0]
            token, expires_in = fetch()
            refresh_at = time.monotonic() + max(expires_in - TOKEN_REFRESH_MARGIN_SECONDS, 0)
            self._tokens[key] = (token, refresh_at)
            return token

    def discard(self, *, key: tuple[str, str], token: str) -> None:
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and cached[0] == token:
                del self._tokens[key]

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


_token_cache = _TokenCache()


def clear_token_cache() -> None:
    _token_cache.clear()


class PayPalProvider:
    name = "paypal"

    def __init__(self) -> None:
        mode = getattr(settings, "PAYPAL_MODE", "sandbox")
        if mode not in BASE_URLS:
            raise ImproperlyConfigured(f"PAYPAL_MODE must be one of {sorted(BASE_URLS)}, not {mode!r}.")
        self._mode = mode
        self._base_url = BASE_URLS[mode]
        self._client_id = getattr(settings, "PAYPAL_CLIENT_ID", "")
        self._client_secret = getattr(settings, "PAYPAL_CLIENT_SECRET", "")
        if not self._client_id or not self._client_secret:
            raise ImproperlyConfigured("PAYPAL_CLIENT_ID and PAYPAL_CLIENT_SECRET must be set.")
        self._webhook_id = getattr(settings, "PAYPAL_WEBHOOK_ID", "")
        self._timeout = float(getattr(settings, "PAYPAL_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))
        self._cert_timeout = float(getattr(settings, "PAYPAL_CERT_TIMEOUT_SECONDS", 3))

    def send_invoice(self, *, document: InvoiceDocument) -> SentInvoice | None:
        payload = build_invoice_payload(document=document)
        created = self._call(
            path=INVOICES_PATH,
            body=json.dumps(payload).encode(),
            request_id=document.number,
        )
        invoice_id = _invoice_id(created)
        if invoice_id is None:
            raise PaymentProviderError(
                f"PayPal created invoice {document.number} but returned no invoice id.",
                code=Code.PROVIDER_BAD_RESPONSE,
                retryable=False,
            )
        try:
            sent = self._call(
                path=f"{INVOICES_PATH}/{quote(invoice_id, safe='')}/send",
                body=json.dumps({"send_to_invoicer": False}).encode(),
                request_id=f"{document.number}-send",
            )
        except PaymentProviderError as exc:
            raise PaymentProviderError(
                f"PayPal draft {invoice_id} for {document.number} was created but not sent: {exc}",
                code=exc.code,
                retryable=exc.retryable,
            ) from exc
        return SentInvoice(provider_invoice_id=invoice_id, payer_url=_link_href(sent, rel="payer-view"))

    def verify_webhook(self, *, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        """Checked here from PayPal's certificate (paypal_signature): no call to PayPal's verify endpoint,
        so a forged webhook neither waits on PayPal nor spends its API quota."""
        _, event = _parse_event(body)
        if event is None:
            logger.warning("PayPal webhook ignored: the body is not a JSON event.")
            return None
        lowered = {key.lower(): value for key, value in headers.items()}
        signature = {field: lowered.get(header, "") for field, header in SIGNATURE_HEADERS.items()}
        missing = sorted(SIGNATURE_HEADERS[field] for field, value in signature.items() if not value)
        if missing:
            logger.warning("PayPal webhook %r ignored: missing headers %s.", event["id"], missing)
            return None
        if not self._webhook_id:
            logger.warning("PayPal webhook %r ignored: PAYPAL_WEBHOOK_ID is not set.", event["id"])
            return None
        valid = signature_valid(
            signature=signature, webhook_id=self._webhook_id, body=body, mode=self._mode, timeout=self._cert_timeout
        )
        if not valid:
            logger.warning("PayPal webhook %r ignored: its signature does not verify.", event["id"])
            return None
        return WebhookEvent(
            event_id=event["id"],
            event_type=event["event_type"],
            provider_invoice_id=_event_invoice_id(event),
            raw=event,
        )

    def _call(self, *, path: str, body: bytes, request_id: str | None = None) -> dict[str, Any]:
        token = self._access_token()
        response = self._post_api(path=path, body=body, token=token, request_id=request_id)
        if response.status_code == 401:
            logger.info("PayPal answered 401 to POST %s; fetching a new access token.", path)
            _token_cache.discard(key=self._cache_key, token=token)
            response = self._post_api(path=path, body=body, token=self._access_token(), request_id=request_id)
            if response.status_code == 401:
                raise PaymentProviderError(
                    f"PayPal POST {path} refused a fresh access token ({_error_name(response)}).",
                    code=Code.PROVIDER_AUTH_FAILED,
                    retryable=False,
                )
        _raise_for_status(response, operation=f"POST {path}")
        return _json_object(response)

    @property
    def _cache_key(self) -> tuple[str, str]:
        return (self._base_url, self._client_id)

    def _access_token(self) -> str:
        return _token_cache.get(key=self._cache_key, fetch=self._fetch_token)

    def _fetch_token(self) -> tuple[str, float]:
        response = self._post(
            path=TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            headers={"Accept": "application/json"},
            auth=(self._client_id, self._client_secret),
        )
        if response.status_code >= 500 or response.status_code == 429:
            _raise_for_status(response, operation=f"POST {TOKEN_PATH}")
        payload = _json_object(response)
        token, expires_in = payload.get("access_token"), payload.get("expires_in")
        granted = isinstance(token, str) and token and isinstance(expires_in, (int, float))
        if response.status_code != 200 or not granted:
            raise PaymentProviderError(
                f"PayPal refused the client credentials: {response.status_code} {_error_name(response)}.",
                code=Code.PROVIDER_AUTH_FAILED,
                retryable=False,
            )
        return token, expires_in

    def _post_api(self, *, path: str, body: bytes, token: str, request_id: str | None) -> requests.Response:
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if request_id is not None:
            headers["PayPal-Request-Id"] = request_id
        return self._post(path=path, data=body, headers=headers)

    def _post(
        self,
        *,
        path: str,
        data: bytes | dict[str, str],
        headers: dict[str, str],
        auth: tuple[str, str] | None = None,
    ) -> requests.Response:
        try:
            return requests.post(
                f"{self._base_url}{path}", data=data, headers=headers, auth=auth, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise PaymentProviderError(
                f"PayPal POST {path} failed in transit: {type(exc).__name__}.",
                code=Code.PROVIDER_TIMEOUT,
                retryable=True,
            ) from exc


def build_invoice_payload(*, document: InvoiceDocument) -> dict[str, Any]:
    lines_total = sum((line.amount for line in document.lines), Decimal(0))
    if lines_total != document.total:
        raise ValueError(f"Invoice {document.number}: lines add up to {lines_total}, total is {document.total}.")
    billing_info: dict[str, Any] = {"email_address": document.recipient_email}
    if document.recipient_name:
        billing_info["name"] = {"full_name": document.recipient_name}
    return {
        "detail": {
            "invoice_number": document.number,
            "reference": document.period,
            "currency_code": document.currency,
        },
        "primary_recipients": [{"billing_info": billing_info}],
        "items": [_item(line=line, currency=document.currency) for line in document.lines],
    }


def _item(*, line: InvoiceLineDocument, currency: str) -> dict[str, Any]:
    item: dict[str, Any] = {"name": line.description[:ITEM_NAME_MAX_LENGTH]}
    if _paypal_can_price(line):
        quantity, unit_amount = line.quantity, line.unit_price
    else:
        # PayPal prices items in whole cents and at most five quantity decimals, so a sub-cent
        # usage price becomes one unit of the line amount, keeping PayPal's total equal to ours.
        quantity, unit_amount = Decimal(1), line.amount
        item["description"] = f"{_plain(line.quantity)} x {_plain(line.unit_price)} {currency}"
    item["quantity"] = _plain(quantity)
    item["unit_amount"] = {"currency_code": currency, "value": _money(unit_amount)}
    return item


def _paypal_can_price(line: InvoiceLineDocument) -> bool:
    return (
        line.unit_price == line.unit_price.quantize(CENT, rounding=ROUND_HALF_UP)
        and -line.quantity.normalize().as_tuple().exponent <= ITEM_QUANTITY_MAX_DECIMALS
        and abs(line.quantity) <= ITEM_MAX_QUANTITY
        and line.quantity * line.unit_price == line.amount
    )


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _money(value: Decimal) -> str:
    cents = value.quantize(CENT, rounding=ROUND_HALF_UP)
    if cents != value:
        raise ValueError(f"{value} is not a whole number of cents.")
    return format(cents, "f")


def _invoice_id(payload: dict[str, Any]) -> str | None:
    invoice_id = payload.get("id")
    if isinstance(invoice_id, str) and invoice_id:
        return invoice_id
    href = _link_href(payload, rel="self")
    if href:
        return href.rstrip("/").rsplit("/", 1)[-1] or None
    return None


def _link_href(payload: dict[str, Any], *, rel: str) -> str | None:
    links = [payload, *(payload.get("links") or [])]
    for link in links:
        if isinstance(link, dict) and link.get("rel") == rel and isinstance(link.get("href"), str):
            return link["href"]
    return None


def _parse_event(body: bytes) -> tuple[str, dict[str, Any] | None]:
    try:
        raw_event = body.decode("utf-8")
        event = json.loads(raw_event)
    except (UnicodeDecodeError, ValueError):
        return "", None
    if not isinstance(event, dict):
        return raw_event, None
    if not all(isinstance(event.get(key), str) and event[key] for key in ("id", "event_type")):
        return raw_event, None
    return raw_event, event


def _event_invoice_id(event: dict[str, Any]) -> str | None:
    if not event["event_type"].startswith("INVOICING.INVOICE."):
        return None
    resource = event.get("resource")
    if not isinstance(resource, dict):
        return None
    invoice = resource.get("invoice")
    invoice_id = invoice.get("id") if isinstance(invoice, dict) else resource.get("id")
    return invoice_id if isinstance(invoice_id, str) and invoice_id else None


def _raise_for_status(response: requests.Response, *, operation: str) -> None:
    status = response.status_code
    if status < 400:
        return
    message = f"PayPal {operation} answered {status} {_error_name(response)}."
    if status >= 500:
        raise PaymentProviderError(message, code=Code.PROVIDER_HTTP_5XX, retryable=True)
    if status == 429:
        raise PaymentProviderError(message, code=Code.PROVIDER_RATE_LIMITED, retryable=True)
    raise PaymentProviderError(message, code=Code.PROVIDER_REJECTED, retryable=False)


def _error_name(response: requests.Response) -> str:
    payload = _json_object(response)
    name = payload.get("name") or payload.get("error") or "UNKNOWN_ERROR"
    issues = [d.get("issue") for d in payload.get("details") or [] if isinstance(d, dict) and d.get("issue")]
    parts = [str(name)]
    if issues:
        parts.append(f"[{', '.join(map(str, issues))}]")
    if payload.get("debug_id"):
        parts.append(f"debug_id={payload['debug_id']}")
    return " ".join(parts)


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}
