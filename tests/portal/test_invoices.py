"""Invoices in the portal: the list, the printable page and its PDF for the owner only, Pay for PayPal invoices."""

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from pypdf import PdfReader

from billing.models import Invoice, PricingTier
from billing.services.invoices import invoice_finalize, invoice_generate, invoice_mark_paid

OCTOBER = date(2026, 10, 1)


@pytest.fixture
def alice_invoice(make_user, record_usage):
    alice = make_user("alice", tier=PricingTier.objects.get(name="pro"))
    record_usage(alice, at=datetime(2026, 10, 7, tzinfo=UTC), predictions=10, cpu_seconds=3.0, stored_bytes=0)
    invoice, _ = invoice_generate(user=alice, period=OCTOBER)
    return invoice_finalize(invoice=invoice)


def _as_paypal(invoice: Invoice) -> Invoice:
    Invoice.objects.filter(pk=invoice.pk).update(
        payment_provider="paypal",
        provider_invoice_id="INV2-TEST",
        payer_url="https://www.sandbox.paypal.com/invoice/p/#INV2-TEST",
    )
    invoice.refresh_from_db()
    return invoice


def test_the_list_shows_only_the_callers_invoices(client, alice_invoice, make_user):
    bob = make_user("bob")
    client.force_login(bob)
    assert alice_invoice.number.encode() not in client.get("/invoices/").content

    client.force_login(alice_invoice.user)
    response = client.get("/invoices/")

    assert response.status_code == 200
    assert [row["invoice"] for row in response.context["rows"]] == [alice_invoice]
    page = response.content.decode()
    assert alice_invoice.number in page and f"/billing/invoices/{alice_invoice.pk}/pdf/" in page


def test_the_invoice_page_shows_issuer_customer_dates_period_lines_and_totals(client, alice_invoice, settings):
    settings.INVOICE_ISSUER_NAME = "Example Models Ltd"
    settings.INVOICE_ISSUER_ADDRESS = "1 Model Street\nLondon"
    settings.INVOICE_DUE_DAYS = 30
    client.force_login(alice_invoice.user)

    response = client.get(f"/billing/invoices/{alice_invoice.pk}/")

    assert response.status_code == 200
    page = response.content.decode()
    issued = alice_invoice.finalized_at.date()
    for text in (
        "Example Models Ltd",
        "1 Model Street",
        "London",
        "alice",
        alice_invoice.number,
        f"{issued:%Y-%m-%d}",
        f"{issued + timedelta(days=30):%Y-%m-%d}",
        "2026-10-01 to 2026-10-31",
        "49.15 USD",
    ):
        assert text in page, text
    assert len(response.context["invoice"].lines.all()) == 2
    assert "E-" not in page.split("<tbody>")[1].split("</tbody>")[0]  # Decimals plainly, never 0E-8


def test_another_customers_invoice_is_404_and_staff_see_it(client, alice_invoice, make_user):
    client.force_login(make_user("bob"))
    assert client.get(f"/billing/invoices/{alice_invoice.pk}/").status_code == 404
    assert client.get(f"/billing/invoices/{alice_invoice.pk}/pdf/").status_code == 404

    client.force_login(make_user("operator", is_staff=True))
    assert client.get(f"/billing/invoices/{alice_invoice.pk}/").status_code == 200


def test_the_pdf_is_a_real_pdf_with_the_invoice_number(client, alice_invoice):
    client.force_login(alice_invoice.user)

    response = client.get(f"/billing/invoices/{alice_invoice.pk}/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="invoice-{alice_invoice.number}.pdf"' in response["Content-Disposition"]
    assert response.content.startswith(b"%PDF-")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert alice_invoice.number in text and "49.15" in text and "Pay with PayPal" not in text


def test_a_draft_has_no_pdf(client, make_user, record_usage):
    alice = make_user("alice", tier=PricingTier.objects.get(name="pro"))
    draft, _ = invoice_generate(user=alice, period=OCTOBER)
    client.force_login(alice)
    assert client.get(f"/billing/invoices/{draft.pk}/pdf/").status_code == 404


def test_pay_links_to_paypal_while_open_and_the_status_shows_paid_after(client, alice_invoice):
    invoice = _as_paypal(alice_invoice)
    client.force_login(invoice.user)

    listing = client.get("/invoices/").content.decode()
    page = client.get(f"/billing/invoices/{invoice.pk}/").content.decode()
    assert invoice.payer_url in listing and invoice.payer_url in page

    invoice_mark_paid(invoice=invoice)  # what the verified PAYMENT.INVOICE.PAID webhook calls

    listing = client.get("/invoices/").content.decode()
    page = client.get(f"/billing/invoices/{invoice.pk}/").content.decode()
    assert invoice.payer_url not in listing and invoice.payer_url not in page
    assert ">paid<" in listing and ">paid<" in page


def test_no_pay_link_for_an_invoice_not_sent_through_paypal(client, alice_invoice):
    Invoice.objects.filter(pk=alice_invoice.pk).update(payer_url="https://example.com/pay")
    client.force_login(alice_invoice.user)
    assert b"https://example.com/pay" not in client.get("/invoices/").content


def test_invoices_need_a_login(client, db):
    response = client.get("/invoices/")
    assert response.status_code == 302 and "login" in response["Location"]
