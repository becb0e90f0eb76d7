"""A customer in chromium: predicts over HTTP with their key, sees the prediction and its cost on the
dashboard, the chart follow (live tail, then the rollup), tries a model, opens an invoice and downloads its PDF."""

import io
from datetime import UTC, date, datetime
from decimal import Decimal

from pypdf import PdfReader

from billing.models import Invoice, PricingTier
from billing.services.invoices import invoice_finalize, invoice_generate
from billing.services.rollups import usage_daily_rollup
from billing.tiers import STANDARD_TIERS
from mlapi.templatetags.mlapi_format import money
from tests.browser.portal_helpers import log_in, predict, token_for
from tests.conftest import IRIS_SETOSA

CHART_TOTAL = """id => Chart.getChart(id).data.datasets.reduce((sum, d) => sum + d.data[d.data.length - 1], 0)"""
CHART_LABELS = """id => Chart.getChart(id).data.datasets.map(d => d.label)"""


def _chart_loaded(page, days, split):
    page.wait_for_selector(f"#usage-chart[data-loaded$='days={days}&split={split}']")


def test_predict_then_watch_the_dashboard_and_the_chart(
    transactional_db, live_server, page, screenshot, make_user, iris_model
):
    # given: alice, logged in, with a key; one prediction over HTTP with its token
    alice = make_user("alice")
    log_in(page, live_server, alice)
    token = token_for(live_server, alice)
    answer = predict(live_server, token, IRIS_SETOSA)

    # when
    page.goto("/dashboard/")
    _chart_loaded(page, 30, "model")

    # then: the prediction, its cost, and today's bar in both charts (from the live tail)
    assert page.get_by_test_id("predictions-this-month").inner_text() == "1"
    cost = money(Decimal(answer["cost"]["amount"]))
    assert page.get_by_test_id("cost-so-far").inner_text() == f"{cost} USD"
    row = page.get_by_test_id("recent-predictions").locator("tbody tr").first
    assert "iris v1" in row.inner_text() and "setosa" in row.inner_text() and cost in row.inner_text()
    assert page.evaluate(CHART_TOTAL, "chart-predictions") == 1
    assert page.evaluate(CHART_LABELS, "chart-predictions") == ["iris v1"]
    screenshot(page, "dashboard-one-prediction")

    # when: two more predictions, and the rollup task runs (twice: a run rolls up what the previous one saw)
    predict(live_server, token, IRIS_SETOSA)
    usage_daily_rollup()
    predict(live_server, token, IRIS_SETOSA)
    usage_daily_rollup()
    page.reload()
    _chart_loaded(page, 30, "model")

    # then: three today, part rolled up and part live
    assert page.get_by_test_id("predictions-this-month").inner_text() == "3"
    assert page.evaluate(CHART_TOTAL, "chart-predictions") == 3
    assert page.get_by_test_id("recent-predictions").locator("tbody tr").count() == 3

    # when: 90 days, split by source
    page.select_option("#chart-days", "90")
    page.select_option("#chart-split", "source")
    _chart_loaded(page, 90, "source")

    # then
    assert page.evaluate(CHART_LABELS, "chart-predictions") == ["online"]
    assert page.evaluate("Chart.getChart('chart-cost').data.labels.length") == 90
    screenshot(page, "dashboard")


def test_try_a_model_in_the_browser_then_see_the_error_codes(
    transactional_db, live_server, page, screenshot, make_user, iris_model, bank_model
):
    alice = make_user("alice")
    log_in(page, live_server, alice)
    token_for(live_server, alice)  # a key, so the examples carry its client id

    page.goto("/models/")
    iris = page.locator("section[data-model=iris]")
    assert "YOUR_CLIENT_ID" not in iris.get_by_test_id("example-curl").inner_text()
    screenshot(page, "models")

    iris.get_by_role("button", name="Predict (billed)").click()
    answer = page.locator("section[data-model=iris]").get_by_test_id("try-answer")
    assert "setosa" in answer.inner_text() and "USD" in answer.get_by_test_id("try-cost").inner_text()
    screenshot(page, "models-try-it")

    iris = page.locator("section[data-model=iris]")
    iris.locator("input[name='f.sepal_length']").fill("long")
    iris.get_by_role("button", name="Predict (billed)").click()
    errors = page.locator("section[data-model=iris]").get_by_test_id("try-errors")
    assert "INVALID_TYPE" in errors.inner_text()
    assert page.locator("section[data-model=iris] input[name='f.sepal_length']").input_value() == "long"
    screenshot(page, "models-try-it-errors")


def test_open_the_invoice_and_download_its_pdf(
    transactional_db, live_server, page, screenshot, make_user, record_usage
):
    # given: alice's finalized October invoice, sent through PayPal
    pro, _ = PricingTier.objects.get_or_create(
        name="pro", defaults=STANDARD_TIERS["pro"]
    )  # transactional_db flushed the data migration's
    alice = make_user("alice", tier=pro)
    record_usage(alice, at=datetime(2026, 10, 7, tzinfo=UTC), predictions=10, cpu_seconds=3.0, stored_bytes=0)
    invoice, _ = invoice_generate(user=alice, period=date(2026, 10, 1))
    invoice = invoice_finalize(invoice=invoice)
    Invoice.objects.filter(pk=invoice.pk).update(
        payment_provider="paypal", payer_url="https://www.sandbox.paypal.com/invoice/p/#X"
    )
    log_in(page, live_server, alice)

    # when
    page.goto("/invoices/")
    screenshot(page, "invoices")
    page.get_by_role("link", name=invoice.number).click()

    # then
    assert page.get_by_test_id("invoice-total").inner_text() == "49.15 USD"
    assert (
        page.get_by_role("link", name="Pay with PayPal").get_attribute("href")
        == "https://www.sandbox.paypal.com/invoice/p/#X"
    )
    screenshot(page, "invoice")

    # when
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    pdf = open(download_info.value.path(), "rb").read()

    # then
    assert pdf.startswith(b"%PDF-")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert invoice.number in text and "49.15" in text


def test_the_admin_index_dashboard_renders(
    transactional_db, live_server, page, screenshot, make_user, django_user_model, iris_model
):
    from django.db import transaction
    from django.utils import timezone as dj_timezone

    from billing.services.usage import pricing_tier_for_user, usage_charge

    alice = make_user("alice")
    with transaction.atomic():
        usage_charge(
            user=alice,
            tier=pricing_tier_for_user(user=alice),
            model=iris_model,
            predictions=7,
            cpu_seconds=0.5,
            stored_bytes=900,
            idempotency_key=None,
            request_hash="0" * 64,
            source="online",
            now=dj_timezone.now(),
        )
    operator = django_user_model.objects.create_superuser("operator", "operator@example.com", "pw")
    log_in(page, live_server, operator)

    page.goto("/admin/")

    assert page.get_by_test_id("active-customers").inner_text() == "1"
    assert page.get_by_test_id("top-models").inner_text() == "iris v1: 7"
    assert page.get_by_role("link", name="View site").get_attribute("href") == "/"
    screenshot(page, "admin-index")
