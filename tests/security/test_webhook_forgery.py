"""A forged PayPal webhook is refused at once, never waits on PayPal nor spends its API quota, and a flood
from one address is cut off by a per-address rate limit before any verification work.

Before: any values in the five signature headers made the request call PayPal's verify endpoint (token +
verify, 10 s time-out each) inside the worker.
"""

import base64
import json
import time
from datetime import UTC, datetime

import pytest
import responses

from billing.models import PaymentEvent
from billing.payments import paypal
from tests.billing.paypal_fakes import CERT_URL, SIGNATURE_HEADERS, TOKEN_URL, VERIFY_URL, add_cert, signed_headers

WEBHOOK_URL = "/billing/webhooks/payments/"
SLOW_PAYPAL_SECONDS = 10  # what PayPal's API took for each call in the audit (the old time-out)
SAFETY_BOUND_SECONDS = 2


@pytest.fixture(autouse=True)
def paypal_settings(settings):
    settings.PAYMENT_PROVIDER = "paypal"
    settings.PAYPAL_CLIENT_ID = "client-id"
    settings.PAYPAL_CLIENT_SECRET = "client-secret"
    settings.PAYPAL_MODE = "sandbox"
    settings.PAYPAL_WEBHOOK_ID = "WH-1"
    settings.PAYMENT_WEBHOOK_RATE_LIMIT_PER_MINUTE = 5
    paypal.clear_token_cache()
    paypal.clear_certificate_cache()
    yield settings
    paypal.clear_token_cache()
    paypal.clear_certificate_cache()


def _slow(request):
    time.sleep(SLOW_PAYPAL_SECONDS)
    return (200, {}, json.dumps({"access_token": "t", "expires_in": 3600, "verification_status": "FAILURE"}))


@pytest.fixture
def paypal_api():
    """PayPal's API answering in SLOW_PAYPAL_SECONDS each call, and its certificate host serving the certificate."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.add_callback(responses.POST, TOKEN_URL, callback=_slow)
        api.add_callback(responses.POST, VERIFY_URL, callback=_slow)
        add_cert(api)
        yield api


def _forged(n: int) -> dict:
    return {
        **SIGNATURE_HEADERS,
        "Paypal-Transmission-Id": f"forged-{n}",
        "Paypal-Transmission-Sig": base64.b64encode(bytes(range(256))).decode(),  # well-formed, wrong
    }


def _post(client, headers, *, address="203.0.113.7", body=None):
    body = (
        body
        or json.dumps(
            {"id": "WH-FORGED", "event_type": "INVOICING.INVOICE.PAID", "resource": {"invoice": {"id": "INV2-X"}}}
        ).encode()
    )
    started = time.monotonic()
    response = client.post(WEBHOOK_URL, body, content_type="application/json", headers=headers, REMOTE_ADDR=address)
    return response, time.monotonic() - started


def test_a_forged_webhook_naming_an_unknown_certificate_is_answered_at_once(client, db, paypal_api):
    # given: a certificate URL on PayPal's host that PayPal does not serve
    unknown = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-FORGED"
    paypal_api.get(unknown, status=404)
    headers = {**_forged(2), "Paypal-Cert-Url": unknown}
    # when
    first, seconds = _post(client, headers)
    again, _ = _post(client, headers)
    # then: refused; the failed URL is not tried again at once
    assert (first.status_code, again.status_code) == (400, 400)
    assert len(paypal_api.calls) == 1
    assert seconds < SAFETY_BOUND_SECONDS, seconds


def test_a_forged_webhook_is_answered_at_once_without_calling_paypals_api(client, db, paypal_api):
    # when: forged headers naming PayPal's real certificate
    response, seconds = _post(client, _forged(1))
    # then
    assert response.status_code == 400 and response.json()["status"] == "ignored"
    assert [call.request.url for call in paypal_api.calls] == [CERT_URL]  # the certificate only, once
    assert seconds < SAFETY_BOUND_SECONDS, seconds
    assert PaymentEvent.objects.count() == 0
    print(f"forged webhook answered in {seconds * 1000:.1f} ms")


def test_a_genuine_webhook_still_passes_without_calling_paypals_api(client, db, paypal_api):
    body = json.dumps(
        {"id": "WH-GENUINE", "event_type": "INVOICING.INVOICE.PAID", "resource": {"invoice": {"id": "INV2-X"}}}
    ).encode()
    response, _ = _post(client, signed_headers(body, webhook_id="WH-1"), body=body)
    assert response.status_code == 200 and response.json()["status"] == "recorded"
    assert not [call for call in paypal_api.calls if call.request.url in (TOKEN_URL, VERIFY_URL)]


def test_a_flood_from_one_address_is_rate_limited_before_any_verification(client, db, paypal_api, monkeypatch):
    # given: one fixed minute (the window cannot roll over mid-test)
    from billing import views

    monkeypatch.setattr(views.timezone, "now", lambda: datetime(2026, 12, 1, 9, 30, 10, tzinfo=UTC))
    # when: 8 forged calls from one address, then one from another
    answers = [_post(client, _forged(n))[0] for n in range(8)]
    other = _post(client, _forged(99), address="198.51.100.4")[0]
    # then
    assert [a.status_code for a in answers] == [400] * 5 + [429] * 3
    assert {a.json().get("code") for a in answers[5:]} == {"RATE_LIMITED"}
    assert answers[5]["Retry-After"] == "50"
    assert other.status_code == 400
    assert len(paypal_api.calls) == 1  # the certificate, fetched once and cached for every later call
