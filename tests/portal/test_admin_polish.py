"""The operators' admin: a dashboard on the index, readable numbers, object names, links between records."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone as dj_timezone
from oauth2_provider.models import Application

from billing.models import Invoice, PricingTier, UsageRecord
from billing.selectors.operations import operations_overview
from billing.services.invoices import invoice_finalize, invoice_generate
from billing.services.rollups import usage_daily_rollup
from predictions.models import Prediction
from tests.conftest import IRIS_SETOSA


@pytest.fixture
def superuser_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    return client


def test_the_admin_index_shows_the_operations_dashboard(superuser_client, make_user, charge, bank_model):
    # given: alice and bob predicted this month (part rolled up, part the live tail); bob's invoice failed to send
    alice, bob = make_user("alice"), make_user("bob")
    now = dj_timezone.now()
    a = charge(alice, at=now, predictions=3)
    usage_daily_rollup()
    usage_daily_rollup()
    b = charge(bob, at=now, predictions=5, model=bank_model)
    invoice, _ = invoice_generate(user=bob, period=date(2026, 10, 1))
    invoice = invoice_finalize(invoice=invoice)
    Invoice.objects.filter(pk=invoice.pk).update(sent_at=None, last_send_error="PROVIDER_ERROR: 503 from PayPal")

    # when
    response = superuser_client.get("/admin/")

    # then
    assert response.status_code == 200
    ops = operations_overview(now=now)
    assert ops.active_customers == 2
    assert ops.usage_charged == {"USD": a.amount + b.amount}
    assert ops.top_models == [("bank-marketing v1", 5), ("iris v1", 3)]
    assert ops.predictions_per_day[-1] == (now.astimezone(UTC).date(), 8)
    assert [i.pk for i in ops.failed_sends] == [invoice.pk]
    page = response.content.decode()
    assert 'id="operations-dashboard"' in page and invoice.number in page and "bank-marketing v1: 5" in page


def test_admin_lists_show_names_sizes_and_plain_decimals(superuser_client, make_user, issue_token, rest, iris_model):
    alice = make_user("alice")
    token = issue_token(alice)
    assert rest("post", "/api/v1/models/iris/predict", {"features": IRIS_SETOSA}, token=token).status_code == 201
    PricingTier.objects.filter(name="free").update(price_per_prediction=Decimal("0E-8"))

    pages = {
        path: superuser_client.get(path).content.decode()
        for path in (
            "/admin/billing/usagerecord/",
            "/admin/billing/pricingtier/",
            "/admin/predictions/prediction/",
            "/admin/predictions/registeredmodel/",
            f"/admin/predictions/prediction/{Prediction.objects.get().pk}/change/",
            f"/admin/billing/usagerecord/{UsageRecord.objects.get().pk}/change/",
        )
    }

    for path, page in pages.items():
        assert "0E-" not in page, path
        assert not re.search(r"\w+ object \(", page), path
    assert re.search(r"\d+(\.\d+)?\xa0(bytes|KB)", pages["/admin/predictions/registeredmodel/"])
    assert re.search(r"\d+\xa0bytes", pages["/admin/billing/usagerecord/"])


def test_the_pricing_tier_form_shows_zero_prices_plainly_and_saves_them(superuser_client):
    # given: a stored 0.00000000 comes back from the database as Decimal("0E-8")
    tier = PricingTier.objects.get(name="free")
    assert str(PricingTier.objects.get(pk=tier.pk).price_per_prediction) == "0E-8"

    # when
    page = superuser_client.get(f"/admin/billing/pricingtier/{tier.pk}/change/").content.decode()

    # then
    assert 'name="price_per_prediction" value="0"' in page and "0E-" not in page


def test_a_users_page_links_to_their_keys_usage_predictions_and_invoices(superuser_client, make_user):
    alice = make_user("alice")
    Application.objects.create(
        user=alice, name="alice key", client_type="confidential", authorization_grant_type="client-credentials"
    )

    page = superuser_client.get(f"/admin/accounts/user/{alice.pk}/change/").content.decode()

    for path in ("oauth2_provider/application", "billing/usagerecord", "predictions/prediction", "billing/invoice"):
        assert f"/admin/{path}/?user__id__exact={alice.pk}" in page, path
    keys = superuser_client.get(f"/admin/oauth2_provider/application/?user__id__exact={alice.pk}")
    assert keys.status_code == 200 and "alice key" in keys.content.decode()
    usage = superuser_client.get(f"/admin/billing/usagerecord/?user__id__exact={alice.pk}")
    assert usage.status_code == 200


def test_an_invoice_links_to_its_printable_page_and_pdf(superuser_client, make_user, record_usage):
    alice = make_user("alice", tier=PricingTier.objects.get(name="pro"))
    record_usage(alice, at=datetime(2026, 10, 7, tzinfo=UTC), predictions=2)
    invoice = invoice_finalize(invoice=invoice_generate(user=alice, period=date(2026, 10, 1))[0])

    listing = superuser_client.get("/admin/billing/invoice/").content.decode()
    detail = superuser_client.get(f"/admin/billing/invoice/{invoice.pk}/change/").content.decode()

    for page in (listing, detail):
        assert (
            f'href="/billing/invoices/{invoice.pk}/"' in page and f'href="/billing/invoices/{invoice.pk}/pdf/"' in page
        )
    assert superuser_client.get(f"/billing/invoices/{invoice.pk}/").status_code == 200  # staff see any invoice


def test_view_site_goes_to_the_portal(superuser_client):
    page = superuser_client.get("/admin/").content.decode()
    assert '<a href="/">View site</a>' in page
