"""PayPal end to end: finalize → sent after commit → retried when PayPal fails → paid by a verified webhook.

Only PayPal's HTTP is faked (`responses`); everything on our side is real: services, Celery task (eager),
management command, webhook view.
"""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO

import pytest
import requests
import responses
from django.core.management import call_command

from billing.models import Invoice, PaymentEvent, PricingTier
from billing.payments import paypal
from billing.services.invoices import invoice_finalize, invoice_generate, invoice_void
from tests.billing.paypal_fakes import (
    INVOICE_ID,
    INVOICES_URL,
    PAYER_URL,
    SEND_URL,
    SIGNATURE_HEADERS,
    TOKEN_URL,
    VERIFY_URL,
    add_cert,
    signed_headers,
)

WEBHOOK_URL = "/billing/webhooks/payments/"


@pytest.fixture(autouse=True)
def paypal_settings(settings):
    settings.PAYMENT_PROVIDER = "paypal"
    settings.PAYPAL_CLIENT_ID = "client-id"
    settings.PAYPAL_CLIENT_SECRET = "client-secret"
    settings.PAYPAL_MODE = "sandbox"
    settings.PAYPAL_WEBHOOK_ID = "WH-1"
    return settings


@pytest.fixture(autouse=True)
def empty_token_cache():
    paypal.clear_token_cache()
    paypal.clear_certificate_cache()
    yield
    paypal.clear_token_cache()
    paypal.clear_certificate_cache()


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(TOKEN_URL, json={"access_token": "token-1", "token_type": "Bearer", "expires_in": 32400})
        yield mock


@pytest.fixture
def draft(make_user, record_usage):
    """A pro customer's October draft: 49.00 fee + 0.15 compute + 0.01 storage."""
    user = make_user("payer", tier=PricingTier.objects.get(name="pro"))
    user.email = "payer@example.com"
    user.save(update_fields=["email"])
    record_usage(user, at=datetime(2026, 10, 9, tzinfo=UTC), predictions=20, cpu_seconds=3.0, stored_bytes=6_000_000)
    invoice, _ = invoice_generate(user=user, period=date(2026, 10, 1))
    assert invoice.total == Decimal("49.16")
    return invoice


def add_create_and_send(api, *, create_status=201):
    api.post(INVOICES_URL, status=create_status, json={"id": INVOICE_ID, "status": "DRAFT"})
    api.post(SEND_URL, json={"href": PAYER_URL, "rel": "payer-view", "method": "GET"})


def calls_to(api, url):
    return [call.request for call in api.calls if call.request.url == url]


def finalize(invoice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        invoice_finalize(invoice=invoice)
    assert len(callbacks) == 1
    return Invoice.objects.get(pk=invoice.pk)


def webhook_event(*, event_id="WH-58D329510W468432D-8HN650336L201105X", paypal_invoice_id=INVOICE_ID, **overrides):
    return {
        "id": event_id,
        "create_time": "2026-11-02T10:00:00.000Z",
        "resource_type": "invoices",
        "event_type": "INVOICING.INVOICE.PAID",
        "resource": {"invoice": {"id": paypal_invoice_id, "status": "PAID"}},
        **overrides,
    }


def post_webhook(client, event, *, signed=True):
    body = json.dumps(event).encode()
    headers = signed_headers(body, webhook_id="WH-1") if signed else SIGNATURE_HEADERS
    response = client.post(WEBHOOK_URL, body, content_type="application/json", headers=headers)
    return response.status_code, response.json()["status"]


def post_webhook_with(client, event, *, headers):
    response = client.post(WEBHOOK_URL, json.dumps(event), content_type="application/json", headers=headers)
    return response.status_code, response.json()["status"]


def state(invoice):
    invoice = Invoice.objects.get(pk=invoice.pk)
    return invoice.status, invoice.paid_at, invoice.updated_at, invoice.provider_invoice_id


def test_finalizing_sends_the_invoice_to_paypal_after_commit(api, draft, django_capture_on_commit_callbacks):
    # given
    add_create_and_send(api)
    # when
    invoice = finalize(draft, django_capture_on_commit_callbacks)
    # then
    assert invoice.status == Invoice.Status.OPEN
    assert (invoice.payment_provider, invoice.provider_invoice_id, invoice.payer_url) == (
        "paypal",
        INVOICE_ID,
        PAYER_URL,
    )
    assert (invoice.send_attempts, invoice.last_send_error) == (1, "")
    assert invoice.sent_at is not None
    create = calls_to(api, INVOICES_URL)[0]
    assert create.headers["PayPal-Request-Id"] == invoice.number
    payload = json.loads(create.body)
    assert payload["detail"]["invoice_number"] == invoice.number
    assert payload["primary_recipients"][0]["billing_info"]["email_address"] == "payer@example.com"
    items_total = sum(Decimal(i["quantity"]) * Decimal(i["unit_amount"]["value"]) for i in payload["items"])
    assert items_total == invoice.total == Decimal("49.16")


def test_nothing_is_sent_before_the_finalizing_transaction_commits(api, draft, django_capture_on_commit_callbacks):
    # given: PayPal would accept it, but the callbacks are captured and not run
    api.assert_all_requests_are_fired = False
    add_create_and_send(api)
    # when
    with django_capture_on_commit_callbacks(execute=False):
        invoice_finalize(invoice=draft)
    # then
    assert len(api.calls) == 0
    assert Invoice.objects.get(pk=draft.pk).provider_invoice_id == ""


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        ({"status": 500, "json": {"name": "INTERNAL_SERVER_ERROR", "debug_id": "abc123"}}, "PROVIDER_HTTP_5XX"),
        ({"body": requests.exceptions.ReadTimeout("read timed out")}, "PROVIDER_TIMEOUT"),
    ],
    ids=["http-500", "time-out"],
)
def test_a_failed_send_is_recorded_and_retried_by_send_invoices(
    api, draft, django_capture_on_commit_callbacks, failure, code
):
    # given: PayPal fails the first create, accepts the second
    api.post(INVOICES_URL, **failure)
    add_create_and_send(api)
    # when
    invoice = finalize(draft, django_capture_on_commit_callbacks)
    # then
    assert invoice.status == Invoice.Status.OPEN
    assert invoice.provider_invoice_id == ""
    assert invoice.send_attempts == 1
    assert invoice.last_send_error.startswith(code)
    # when
    out = StringIO()
    call_command("send_invoices", stdout=out)
    # then
    assert json.loads(out.getvalue()) == {"sent": 1}
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN
    assert (invoice.provider_invoice_id, invoice.send_attempts, invoice.last_send_error) == (INVOICE_ID, 2, "")
    creates = calls_to(api, INVOICES_URL)
    assert [c.headers["PayPal-Request-Id"] for c in creates] == [invoice.number, invoice.number]
    # and running it again sends nothing more
    out = StringIO()
    call_command("send_invoices", stdout=out)
    assert json.loads(out.getvalue()) == {}
    assert len(calls_to(api, INVOICES_URL)) == 2


def _sent_invoice(api, draft, django_capture_on_commit_callbacks):
    add_create_and_send(api)
    return finalize(draft, django_capture_on_commit_callbacks)


def test_a_verified_paid_webhook_marks_the_invoice_paid_once(api, draft, client, django_capture_on_commit_callbacks):
    # given
    invoice = _sent_invoice(api, draft, django_capture_on_commit_callbacks)
    add_cert(api)
    # when
    first = post_webhook(client, webhook_event())
    paid = state(invoice)
    replay = post_webhook(client, webhook_event())
    # then
    assert first == (200, "paid")
    assert paid[0] == Invoice.Status.PAID and paid[1] is not None
    assert replay == (200, "duplicate")
    assert state(invoice) == paid
    assert PaymentEvent.objects.count() == 1
    event = PaymentEvent.objects.get()
    assert (event.provider, event.event_type, event.invoice_id) == ("paypal", "INVOICING.INVOICE.PAID", invoice.pk)
    assert calls_to(api, VERIFY_URL) == []  # verified locally from the (cached) certificate


def test_a_forged_webhook_is_refused_and_changes_nothing(api, draft, client, django_capture_on_commit_callbacks):
    # given
    invoice = _sent_invoice(api, draft, django_capture_on_commit_callbacks)
    before = state(invoice)
    add_cert(api)
    # when: PayPal's certificate, but a signature made without PayPal's key
    outcome = post_webhook(client, webhook_event(), signed=False)
    forged_body = post_webhook_with(client, webhook_event(), headers=signed_headers(b"another body", webhook_id="WH-1"))
    # then
    assert outcome == (400, "ignored")
    assert forged_body == (400, "ignored")
    assert calls_to(api, VERIFY_URL) == []
    assert state(invoice) == before
    assert PaymentEvent.objects.count() == 0


def test_a_webhook_without_signature_headers_is_refused_without_asking_paypal(
    api, draft, client, django_capture_on_commit_callbacks
):
    invoice = _sent_invoice(api, draft, django_capture_on_commit_callbacks)
    before = state(invoice)
    response = client.post(WEBHOOK_URL, json.dumps(webhook_event()), content_type="application/json")
    assert response.status_code == 400
    assert state(invoice) == before
    assert calls_to(api, VERIFY_URL) == []
    assert PaymentEvent.objects.count() == 0


def test_a_webhook_for_an_unknown_invoice_is_recorded_and_changes_nothing(
    api, draft, client, django_capture_on_commit_callbacks
):
    # given
    invoice = _sent_invoice(api, draft, django_capture_on_commit_callbacks)
    before = state(invoice)
    add_cert(api)
    # when
    outcome = post_webhook(client, webhook_event(event_id="WH-OTHER", paypal_invoice_id="INV2-NOT-OURS"))
    # then
    assert outcome == (200, "recorded")
    assert state(invoice) == before
    event = PaymentEvent.objects.get()
    assert (event.event_id, event.invoice_id) == ("WH-OTHER", None)


def test_a_paid_webhook_for_a_voided_invoice_is_recorded_and_does_not_crash(
    api, draft, client, django_capture_on_commit_callbacks
):
    """PayPal retries a webhook until it gets a 2xx: an event we cannot apply must still be answered and recorded,
    leaving the voided invoice void, instead of failing with a 500 on every retry."""
    # given
    invoice = _sent_invoice(api, draft, django_capture_on_commit_callbacks)
    invoice_void(invoice=invoice)
    before = state(invoice)
    add_cert(api)
    client.raise_request_exception = False
    body = json.dumps(webhook_event()).encode()
    # when
    response = client.post(
        WEBHOOK_URL, body, content_type="application/json", headers=signed_headers(body, webhook_id="WH-1")
    )
    # then
    assert response.status_code == 200
    assert state(invoice) == before
    assert PaymentEvent.objects.filter(invoice=invoice).count() == 1
