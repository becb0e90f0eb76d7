"""The customer's view of a PayPal invoice: Pay links to PayPal's payer page once sent, and the status shows
paid after the verified webhook. Only PayPal's HTTP is faked (the fixtures of test_paypal_flow)."""

from billing.models import Invoice
from tests.billing.paypal_fakes import PAYER_URL, add_cert
from tests.billing.test_paypal_flow import (  # noqa: F401 (fixtures)
    _sent_invoice,
    api,
    draft,
    empty_token_cache,
    paypal_settings,
    post_webhook,
    webhook_event,
)


def test_pay_on_paypal_then_the_portal_shows_the_invoice_paid(api, draft, client, django_capture_on_commit_callbacks):
    # given: finalized and sent through PayPal (its payer page recorded)
    invoice = _sent_invoice(api, draft, django_capture_on_commit_callbacks)
    assert invoice.payer_url == PAYER_URL
    client.force_login(invoice.user)

    # then: Pay in the list and on the invoice's page
    listing = client.get("/invoices/").content.decode()
    page = client.get(f"/billing/invoices/{invoice.pk}/").content.decode()
    assert f'class="pay" href="{PAYER_URL}"' in listing and f'class="pay" href="{PAYER_URL}"' in page

    # when: PayPal's verified webhook says it was paid
    add_cert(api)
    assert post_webhook(client, webhook_event()) == (200, "paid")

    # then: paid, and no Pay link any more
    listing = client.get("/invoices/").content.decode()
    page = client.get(f"/billing/invoices/{invoice.pk}/").content.decode()
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    assert PAYER_URL not in listing and PAYER_URL not in page
    assert '<span class="status paid">paid</span>' in listing and ">paid</span>" in page
