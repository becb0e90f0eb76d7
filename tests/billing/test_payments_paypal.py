import base64
import json
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.core.exceptions import ImproperlyConfigured

from billing.payments import (
    InvoiceDocument,
    InvoiceLineDocument,
    ManualProvider,
    PaymentProviderError,
    PaymentProviderErrorCode,
    PayPalProvider,
    SentInvoice,
    WebhookEvent,
    get_payment_provider,
    paypal,
)
from tests.billing.paypal_fakes import (
    CERT_URL,
    INVOICE_ID,
    INVOICES_URL,
    PAYER_URL,
    SEND_URL,
    SIGNATURE_HEADERS,
    TOKEN_URL,
    add_cert,
    signed_headers,
)

CLIENT_SECRET = "client-secret-value"
WEBHOOK_ID = "1JE4291016473214C"


@pytest.fixture(autouse=True)
def paypal_settings(settings):
    settings.PAYMENT_PROVIDER = "paypal"
    settings.PAYPAL_CLIENT_ID = "client-id"
    settings.PAYPAL_CLIENT_SECRET = CLIENT_SECRET
    settings.PAYPAL_MODE = "sandbox"
    settings.PAYPAL_WEBHOOK_ID = WEBHOOK_ID
    settings.PAYPAL_TIMEOUT_SECONDS = 7
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
        yield mock


def make_document(**overrides) -> InvoiceDocument:
    fields = {
        "number": "INV-2026-000042",
        "period": "2026-10",
        "currency": "USD",
        "total": Decimal("37.02"),
        "recipient_email": "ada@example.com",
        "recipient_name": "Ada Lovelace",
        "lines": (
            InvoiceLineDocument(
                description="Predictions, model iris-v3",
                quantity=Decimal("3"),
                unit_price=Decimal("12.34"),
                amount=Decimal("37.02"),
            ),
        ),
    }
    return InvoiceDocument(**{**fields, **overrides})


def add_token(api, *, token="token-1", expires_in=32400):
    api.post(TOKEN_URL, json={"access_token": token, "token_type": "Bearer", "expires_in": expires_in})


def add_create_and_send(api):
    api.post(INVOICES_URL, status=201, json={"rel": "self", "href": f"{INVOICES_URL}/{INVOICE_ID}", "method": "GET"})
    api.post(SEND_URL, json={"href": PAYER_URL, "rel": "payer-view", "method": "GET"})


def calls_to(api, url):
    return [call for call in api.calls if call.request.url == url]


def webhook_body(**overrides) -> dict:
    return {
        "id": "WH-45011818H7513372C-92K93122RK854913A",
        "create_time": "2026-11-01T20:01:30.656Z",
        "resource_type": "invoices",
        "event_type": "INVOICING.INVOICE.PAID",
        "summary": "An invoice is paid, partially paid, or payment is made and is pending.",
        "resource": {"invoice": {"id": INVOICE_ID, "status": "PAID", "detail": {"invoice_number": "INV-2026-000042"}}},
        **overrides,
    }


def test_send_invoice_creates_then_sends_the_draft(api):
    # given
    add_token(api)
    add_create_and_send(api)

    # when
    sent = PayPalProvider().send_invoice(document=make_document())

    # then
    assert sent == SentInvoice(provider_invoice_id=INVOICE_ID, payer_url=PAYER_URL)
    create = calls_to(api, INVOICES_URL)[0].request
    assert create.headers["PayPal-Request-Id"] == "INV-2026-000042"
    assert create.headers["Authorization"] == "Bearer token-1"
    assert create.req_kwargs["timeout"] == 7
    assert json.loads(create.body) == {
        "detail": {"invoice_number": "INV-2026-000042", "reference": "2026-10", "currency_code": "USD"},
        "primary_recipients": [
            {"billing_info": {"email_address": "ada@example.com", "name": {"full_name": "Ada Lovelace"}}}
        ],
        "items": [
            {
                "name": "Predictions, model iris-v3",
                "quantity": "3",
                "unit_amount": {"currency_code": "USD", "value": "12.34"},
            }
        ],
    }
    send = calls_to(api, SEND_URL)[0].request
    assert json.loads(send.body) == {"send_to_invoicer": False}
    assert send.headers["Authorization"] == "Bearer token-1"


def test_send_invoice_reads_id_from_full_representation_and_allows_missing_payer_link(api):
    # given
    add_token(api)
    api.post(INVOICES_URL, status=201, json={"id": INVOICE_ID, "status": "DRAFT", "links": []})
    api.post(SEND_URL, status=202, body=b"")

    # when
    sent = PayPalProvider().send_invoice(document=make_document())

    # then
    assert sent == SentInvoice(provider_invoice_id=INVOICE_ID, payer_url=None)


def test_sub_cent_unit_price_is_sent_as_one_unit_of_the_line_amount(api):
    # given
    line = InvoiceLineDocument(
        description="Predictions", quantity=Decimal("1500"), unit_price=Decimal("0.002"), amount=Decimal("3.00")
    )
    add_token(api)
    add_create_and_send(api)

    # when
    PayPalProvider().send_invoice(document=make_document(lines=(line,), total=Decimal("3.00")))

    # then
    [item] = json.loads(calls_to(api, INVOICES_URL)[0].request.body)["items"]
    assert item["quantity"] == "1"
    assert item["unit_amount"] == {"currency_code": "USD", "value": "3.00"}


def test_lines_that_do_not_add_up_to_the_total_are_not_sent(api):
    # given
    document = make_document(total=Decimal("40.00"))

    # when / then
    with pytest.raises(ValueError):
        PayPalProvider().send_invoice(document=document)
    assert len(api.calls) == 0


def test_token_is_fetched_once_and_reused(api):
    # given
    add_token(api)
    add_create_and_send(api)
    add_create_and_send(api)

    # when
    PayPalProvider().send_invoice(document=make_document())
    PayPalProvider().send_invoice(document=make_document(number="INV-2026-000043"))

    # then
    [token_call] = calls_to(api, TOKEN_URL)
    expected_auth = base64.b64encode(f"client-id:{CLIENT_SECRET}".encode()).decode()
    assert token_call.request.headers["Authorization"] == f"Basic {expected_auth}"
    assert parse_qs(token_call.request.body) == {"grant_type": ["client_credentials"]}
    assert len(calls_to(api, INVOICES_URL)) == 2


def test_token_is_fetched_again_once_it_is_about_to_expire(api, monkeypatch):
    # given
    clock = [1000.0]
    monkeypatch.setattr(paypal.time, "monotonic", lambda: clock[0])
    add_token(api, token="token-1", expires_in=600)
    add_token(api, token="token-2", expires_in=600)
    add_create_and_send(api)
    add_create_and_send(api)
    PayPalProvider().send_invoice(document=make_document())

    # when
    clock[0] += 600 - paypal.TOKEN_REFRESH_MARGIN_SECONDS
    PayPalProvider().send_invoice(document=make_document())

    # then
    assert len(calls_to(api, TOKEN_URL)) == 2
    assert calls_to(api, INVOICES_URL)[1].request.headers["Authorization"] == "Bearer token-2"


def test_token_is_refreshed_after_401_and_the_call_retried_once(api):
    # given
    add_token(api, token="stale-token")
    add_token(api, token="fresh-token")
    api.post(INVOICES_URL, status=401, json={"error": "invalid_token"})
    add_create_and_send(api)

    # when
    sent = PayPalProvider().send_invoice(document=make_document())

    # then
    assert sent.provider_invoice_id == INVOICE_ID
    creates = calls_to(api, INVOICES_URL)
    assert [c.request.headers["Authorization"] for c in creates] == ["Bearer stale-token", "Bearer fresh-token"]
    assert creates[1].request.headers["PayPal-Request-Id"] == "INV-2026-000042"
    assert len(calls_to(api, TOKEN_URL)) == 2


def test_second_401_after_refresh_is_an_auth_failure(api):
    # given
    add_token(api, token="token-1")
    add_token(api, token="token-2")
    api.post(INVOICES_URL, status=401, json={"error": "invalid_token"})
    api.post(INVOICES_URL, status=401, json={"error": "invalid_token"})

    # when
    with pytest.raises(PaymentProviderError) as caught:
        PayPalProvider().send_invoice(document=make_document())

    # then
    assert caught.value.code == PaymentProviderErrorCode.PROVIDER_AUTH_FAILED
    assert caught.value.retryable is False
    assert len(calls_to(api, INVOICES_URL)) == 2


def test_rejected_client_credentials_are_an_auth_failure_without_secrets(api):
    # given
    api.post(
        TOKEN_URL, status=401, json={"error": "invalid_client", "error_description": "Client Authentication failed"}
    )

    # when
    with pytest.raises(PaymentProviderError) as caught:
        PayPalProvider().send_invoice(document=make_document())

    # then
    assert caught.value.code == PaymentProviderErrorCode.PROVIDER_AUTH_FAILED
    assert caught.value.retryable is False
    assert CLIENT_SECRET not in str(caught.value)
    assert CLIENT_SECRET not in repr(caught.value)


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (500, PaymentProviderErrorCode.PROVIDER_HTTP_5XX, True),
        (503, PaymentProviderErrorCode.PROVIDER_HTTP_5XX, True),
        (429, PaymentProviderErrorCode.PROVIDER_RATE_LIMITED, True),
        (400, PaymentProviderErrorCode.PROVIDER_REJECTED, False),
    ],
)
def test_http_errors_map_to_codes(api, status, code, retryable):
    # given
    add_token(api)
    api.post(INVOICES_URL, status=status, json={"name": "SOMETHING_WRONG", "debug_id": "f0a1b2c3"})

    # when
    with pytest.raises(PaymentProviderError) as caught:
        PayPalProvider().send_invoice(document=make_document())

    # then
    assert caught.value.code == code
    assert caught.value.retryable is retryable


def test_422_is_a_non_retryable_rejection_naming_paypals_error(api):
    # given
    add_token(api, token="secret-access-token")
    api.post(
        INVOICES_URL,
        status=422,
        json={
            "name": "UNPROCESSABLE_ENTITY",
            "message": "The requested action could not be performed.",
            "debug_id": "b1d1f06c7246c",
            "details": [{"issue": "DUPLICATE_INVOICE_NUMBER", "description": "Invoice number already exists."}],
        },
    )

    # when
    with pytest.raises(PaymentProviderError) as caught:
        PayPalProvider().send_invoice(document=make_document())

    # then
    assert caught.value.code == PaymentProviderErrorCode.PROVIDER_REJECTED
    assert caught.value.retryable is False
    assert "UNPROCESSABLE_ENTITY" in str(caught.value)
    assert "DUPLICATE_INVOICE_NUMBER" in str(caught.value)
    assert "secret-access-token" not in str(caught.value)
    assert CLIENT_SECRET not in str(caught.value)


@pytest.mark.parametrize(
    "failure",
    [requests.exceptions.ConnectTimeout("timed out"), requests.exceptions.ReadTimeout("read timed out")],
)
def test_time_out_is_a_retryable_provider_timeout(api, failure):
    # given
    add_token(api)
    api.post(INVOICES_URL, body=failure)

    # when
    with pytest.raises(PaymentProviderError) as caught:
        PayPalProvider().send_invoice(document=make_document())

    # then
    assert caught.value.code == PaymentProviderErrorCode.PROVIDER_TIMEOUT
    assert caught.value.retryable is True


def test_token_endpoint_time_out_is_a_retryable_provider_timeout(api):
    # given
    api.post(TOKEN_URL, body=requests.exceptions.ConnectionError("connection refused"))

    # when
    with pytest.raises(PaymentProviderError) as caught:
        PayPalProvider().send_invoice(document=make_document())

    # then
    assert caught.value.code == PaymentProviderErrorCode.PROVIDER_TIMEOUT
    assert caught.value.retryable is True


def test_failed_send_after_create_keeps_the_send_error_code(api):
    # given
    add_token(api)
    api.post(INVOICES_URL, status=201, json={"rel": "self", "href": f"{INVOICES_URL}/{INVOICE_ID}", "method": "GET"})
    api.post(SEND_URL, status=502, json={"name": "BAD_GATEWAY"})

    # when
    with pytest.raises(PaymentProviderError) as caught:
        PayPalProvider().send_invoice(document=make_document())

    # then
    assert caught.value.code == PaymentProviderErrorCode.PROVIDER_HTTP_5XX
    assert caught.value.retryable is True
    assert calls_to(api, SEND_URL)[0].request.headers["PayPal-Request-Id"] == "INV-2026-000042-send"


def test_live_mode_calls_the_live_api(api, paypal_settings):
    # given
    paypal_settings.PAYPAL_MODE = "live"
    api.post("https://api-m.paypal.com/v1/oauth2/token", json={"access_token": "live-token", "expires_in": 32400})
    api.post(
        "https://api-m.paypal.com/v2/invoicing/invoices",
        status=201,
        json={"id": INVOICE_ID},
    )
    api.post(f"https://api-m.paypal.com/v2/invoicing/invoices/{INVOICE_ID}/send", status=202, body=b"")

    # when
    sent = PayPalProvider().send_invoice(document=make_document())

    # then
    assert sent.provider_invoice_id == INVOICE_ID


def _signed(body: bytes, **overrides) -> dict:
    return signed_headers(body, webhook_id=WEBHOOK_ID, **overrides)


def test_webhook_with_a_valid_signature_becomes_an_event_without_calling_paypals_api(api):
    # given: PayPal's certificate host serves the certificate; nothing else of PayPal's is reachable
    body = json.dumps(webhook_body(), ensure_ascii=False, indent=1).encode()
    add_cert(api)

    # when: two webhooks signed with the same certificate
    event = PayPalProvider().verify_webhook(headers=_signed(body), body=body)
    second = PayPalProvider().verify_webhook(headers=_signed(body, **{"Paypal-Transmission-Id": "t-2"}), body=body)

    # then: verified locally; the certificate fetched once and cached
    assert event == WebhookEvent(
        event_id="WH-45011818H7513372C-92K93122RK854913A",
        event_type="INVOICING.INVOICE.PAID",
        provider_invoice_id=INVOICE_ID,
        raw=webhook_body(),
    )
    assert second is not None
    assert [call.request.url for call in api.calls] == [CERT_URL]


def test_webhook_event_outside_invoicing_has_no_invoice_id(api):
    # given
    body = json.dumps(
        webhook_body(event_type="PAYMENT.CAPTURE.COMPLETED", resource={"id": "2DC87612EK520411B"})
    ).encode()
    add_cert(api)

    # when
    event = PayPalProvider().verify_webhook(headers=_signed(body), body=body)

    # then
    assert event is not None
    assert event.provider_invoice_id is None


def _tampered_body(body: bytes, headers: dict) -> tuple[dict, bytes]:
    return headers, body.replace(b"PAID", b"PAYD")


def _other_webhook_id(body: bytes, headers: dict) -> tuple[dict, bytes]:
    return signed_headers(body, webhook_id="SOMEONE-ELSES-WEBHOOK"), body


def _other_transmission_time(body: bytes, headers: dict) -> tuple[dict, bytes]:
    return {**headers, "Paypal-Transmission-Time": "2026-11-01T20:01:36Z"}, body


def _garbage_signature(body: bytes, headers: dict) -> tuple[dict, bytes]:
    return {**headers, "Paypal-Transmission-Sig": SIGNATURE_HEADERS["Paypal-Transmission-Sig"]}, body


@pytest.mark.parametrize("forge", [_tampered_body, _other_webhook_id, _other_transmission_time, _garbage_signature])
def test_webhook_whose_signature_does_not_verify_is_ignored_without_calling_paypals_api(forge):
    # given
    body = json.dumps(webhook_body()).encode()
    headers, body = forge(body, _signed(body))

    # when
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        add_cert(api)
        event = PayPalProvider().verify_webhook(headers=headers, body=body)

    # then
    assert event is None
    assert all(call.request.url == CERT_URL for call in api.calls)


@pytest.mark.parametrize(
    "cert_url",
    [
        "https://evil.example/v1/notifications/certs/CERT-360caa42",
        "http://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42",
        "https://api.sandbox.paypal.com.evil.example/v1/notifications/certs/CERT-360caa42",
        "https://user@api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42",
        "https://api.sandbox.paypal.com:8443/v1/notifications/certs/CERT-360caa42",
        "https://api.sandbox.paypal.com/v1/oauth2/token",
        "https://api.paypal.com/v1/notifications/certs/CERT-360caa42",  # the live host, in sandbox mode
    ],
)
def test_a_certificate_url_off_paypals_own_host_is_never_fetched(cert_url):
    # given
    body = json.dumps(webhook_body()).encode()

    # when
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        event = PayPalProvider().verify_webhook(headers=_signed(body, **{"Paypal-Cert-Url": cert_url}), body=body)

    # then
    assert event is None
    assert len(api.calls) == 0


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500},
        {"status": 404},
        {"body": b"not a certificate"},
        {"body": requests.exceptions.ReadTimeout("read timed out")},
    ],
)
def test_webhook_is_ignored_when_the_certificate_cannot_be_had_and_is_not_refetched_at_once(api, failure):
    # given
    body = json.dumps(webhook_body()).encode()
    add_cert(api, **failure)

    # when
    first = PayPalProvider().verify_webhook(headers=_signed(body), body=body)
    again = PayPalProvider().verify_webhook(headers=_signed(body), body=body)

    # then
    assert (first, again) == (None, None)
    assert len(api.calls) == 1


def test_the_certificate_is_fetched_with_the_short_certificate_time_out(api, paypal_settings):
    # given
    paypal_settings.PAYPAL_CERT_TIMEOUT_SECONDS = 2.5
    body = json.dumps(webhook_body()).encode()
    add_cert(api)
    seen = []
    real_get = requests.get

    def recording_get(url, **kwargs):
        seen.append(kwargs.get("timeout"))
        return real_get(url, **kwargs)

    # when
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(requests, "get", recording_get)
        event = PayPalProvider().verify_webhook(headers=_signed(body), body=body)

    # then
    assert event is not None and seen == [2.5]


def test_webhook_with_another_algorithm_is_ignored_without_fetching_anything():
    body = json.dumps(webhook_body()).encode()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        event = PayPalProvider().verify_webhook(headers=_signed(body, **{"Paypal-Auth-Algo": "SHA1withRSA"}), body=body)
    assert event is None
    assert len(api.calls) == 0


@pytest.mark.parametrize("missing", sorted(SIGNATURE_HEADERS))
def test_webhook_missing_a_signature_header_is_ignored_without_calling_paypal(missing):
    # given
    body = json.dumps(webhook_body()).encode()
    headers = {name: value for name, value in _signed(body).items() if name != missing}

    # when
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        add_cert(api)
        event = PayPalProvider().verify_webhook(headers=headers, body=body)

    # then
    assert event is None
    assert len(api.calls) == 0


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"[1, 2]", b"\xff\xfe{}", json.dumps({"event_type": "INVOICING.INVOICE.PAID"}).encode()],
)
def test_malformed_webhook_body_is_ignored_without_calling_paypal(body):
    # when
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        add_cert(api)
        event = PayPalProvider().verify_webhook(headers=_signed(body), body=body)

    # then
    assert event is None
    assert len(api.calls) == 0


def test_manual_provider_sends_nothing_and_accepts_no_webhooks():
    # given
    provider = ManualProvider()

    # when
    sent = provider.send_invoice(document=make_document())
    event = provider.verify_webhook(headers=SIGNATURE_HEADERS, body=json.dumps(webhook_body()).encode())

    # then
    assert sent is None
    assert event is None


@pytest.mark.parametrize(("setting", "provider_class"), [("manual", ManualProvider), ("paypal", PayPalProvider)])
def test_get_payment_provider_picks_by_setting(paypal_settings, setting, provider_class):
    # given
    paypal_settings.PAYMENT_PROVIDER = setting

    # when
    provider = get_payment_provider()

    # then
    assert isinstance(provider, provider_class)
    assert provider.name == setting


def test_get_payment_provider_defaults_to_manual(paypal_settings):
    # given
    del paypal_settings.PAYMENT_PROVIDER

    # when
    provider = get_payment_provider()

    # then
    assert isinstance(provider, ManualProvider)


@pytest.mark.parametrize(
    "overrides",
    [{"PAYMENT_PROVIDER": "stripe"}, {"PAYPAL_MODE": "production"}, {"PAYPAL_CLIENT_SECRET": ""}],
)
def test_misconfiguration_fails_loudly(paypal_settings, overrides):
    # given
    for name, value in overrides.items():
        setattr(paypal_settings, name, value)

    # when / then
    with pytest.raises(ImproperlyConfigured):
        get_payment_provider()
