"""Staff manage billing in the admin: invoice actions call the services; invoice fields are never editable."""

from datetime import date
from decimal import Decimal

import pytest

from billing.models import Invoice, InvoiceLine, PricingTier, Subscription
from billing.services.invoices import invoice_finalize, invoice_generate
from billing.services.usage import pricing_tier_for_user

CHANGELIST = "/admin/billing/invoice/"
OCTOBER = date(2026, 10, 1)


@pytest.fixture
def pro(db):
    return PricingTier.objects.get(name="pro")


@pytest.fixture
def drafts(make_user, pro):
    return [invoice_generate(user=make_user(f"customer{i}", tier=pro), period=OCTOBER)[0] for i in range(2)]


def _run_action(admin_client, action, invoices):
    return admin_client.post(CHANGELIST, {"action": action, "_selected_action": [str(i.pk) for i in invoices]})


def _statuses(invoices):
    return [Invoice.objects.get(pk=i.pk).status for i in invoices]


def test_changelist_lists_invoices(admin_client, drafts):
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 2


def test_finalize_action_numbers_and_sends_the_selected_drafts(
    admin_client, drafts, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _run_action(admin_client, "finalize", drafts)
    # then
    assert response.status_code == 302
    assert _statuses(drafts) == ["open", "open"]
    numbers = sorted(Invoice.objects.get(pk=i.pk).number for i in drafts)
    assert numbers == ["INV-2026-000001", "INV-2026-000002"]
    assert len(callbacks) == 2
    assert {Invoice.objects.get(pk=i.pk).payment_provider for i in drafts} == {"manual"}


def test_finalize_action_skips_invoices_that_are_not_drafts(admin_client, drafts):
    # given: one is already open
    already_open = invoice_finalize(invoice=drafts[0])
    # when
    response = _run_action(admin_client, "finalize", drafts)
    # then
    assert response.status_code == 302
    assert _statuses(drafts) == ["open", "open"]
    assert Invoice.objects.get(pk=already_open.pk).number == "INV-2026-000001"
    assert Invoice.objects.get(pk=drafts[1].pk).number == "INV-2026-000002"


def test_mark_paid_action(admin_client, drafts):
    # given
    for invoice in drafts:
        invoice_finalize(invoice=invoice)
    # when
    response = _run_action(admin_client, "mark_paid", drafts[:1])
    # then
    assert response.status_code == 302
    assert _statuses(drafts) == ["paid", "open"]
    assert Invoice.objects.get(pk=drafts[0].pk).paid_at is not None


def test_void_action_voids_open_invoices_only(admin_client, drafts):
    # given: one open, one still a draft
    invoice_finalize(invoice=drafts[0])
    # when
    response = _run_action(admin_client, "void", drafts)
    # then
    assert response.status_code == 302
    assert _statuses(drafts) == ["void", "draft"]


def test_invoice_fields_cannot_be_edited(admin_client, drafts):
    # given
    invoice = drafts[0]
    url = f"{CHANGELIST}{invoice.pk}/change/"
    # when
    page = admin_client.get(url)
    post = admin_client.post(url, {"total": "0.01", "status": "paid", "currency": "EUR"})
    # then: a read-only view at most, and a refused save
    assert page.status_code in (200, 403)
    if page.status_code == 200:
        assert page.context["has_change_permission"] is False
        assert 'name="total"' not in page.content.decode()
    assert post.status_code == 403
    invoice.refresh_from_db()
    assert (invoice.total, invoice.status, invoice.currency) == (Decimal("49.00"), "draft", "USD")


def test_invoices_and_lines_cannot_be_added_or_deleted(admin_client, drafts):
    invoice = drafts[0]
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    assert admin_client.post(f"{CHANGELIST}{invoice.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Invoice.objects.filter(pk=invoice.pk).exists()
    assert InvoiceLine.objects.filter(invoice=invoice).count() == 1


def test_superuser_creates_a_pricing_tier(admin_client):
    # when
    response = admin_client.post(
        "/admin/billing/pricingtier/add/",
        {
            "name": "team",
            "currency": "USD",
            "monthly_fee": "199.00",
            "included_predictions": "500000",
            "price_per_prediction": "0.0003",
            "price_per_cpu_second": "0.04",
            "price_per_mb": "0.0008",
            "monthly_quota": "",
            "rate_limit_per_minute": "20000",
        },
    )
    # then
    assert response.status_code == 302
    tier = PricingTier.objects.get(name="team")
    assert (tier.monthly_fee, tier.price_per_prediction, tier.price_per_mb) == (
        Decimal("199.00"),
        Decimal("0.0003"),
        Decimal("0.0008"),
    )
    assert (tier.included_predictions, tier.monthly_quota, tier.rate_limit_per_minute) == (500_000, None, 20_000)


def test_a_negative_price_is_refused(admin_client):
    response = admin_client.post(
        "/admin/billing/pricingtier/add/",
        {
            "name": "broken",
            "currency": "USD",
            "monthly_fee": "-1.00",
            "included_predictions": "0",
            "price_per_prediction": "0",
            "price_per_cpu_second": "0",
            "price_per_mb": "0",
        },
    )
    assert response.status_code == 200  # the form again, with errors
    assert "monthly_fee" in response.context["adminform"].form.errors
    assert not PricingTier.objects.filter(name="broken").exists()


def test_superuser_changes_a_users_tier(admin_client, make_user, pro):
    # given
    user = make_user("upgrader")
    assert pricing_tier_for_user(user=user).name == "metered"
    # when
    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {
            "username": user.username,
            "email": user.email,
            "first_name": "",
            "last_name": "",
            "is_active": "on",
            "date_joined_0": "2026-01-02",
            "date_joined_1": "10:00:00",
            "tier": str(pro.pk),
        },
    )
    # then
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    assert pricing_tier_for_user(user=user) == pro
    # the history: metered until the change, pro from then on
    history = list(Subscription.objects.filter(user=user).order_by("started_at").values_list("tier__name", "ended_at"))
    assert [name for name, _ in history] == ["metered", "pro"]
    assert history[0][1] is not None and history[1][1] is None


def test_the_tier_history_is_listed_read_only(admin_client, make_user, pro):
    # given: a user moved from metered to pro
    user = make_user("historic")
    from accounts.services import user_set_tier

    user_set_tier(user=user, tier_name="pro")
    # when
    response = admin_client.get("/admin/billing/subscription/", {"q": "historic"})
    # then
    assert response.status_code == 200
    assert response.context["cl"].result_count == 2
    assert (
        admin_client.get(
            f"/admin/billing/subscription/{Subscription.objects.filter(user=user).first().pk}/delete/"
        ).status_code
        == 403
    )


def test_the_user_changelist_shows_and_filters_by_the_current_tier(admin_client, make_user, pro):
    make_user("on-pro", tier=pro)
    make_user("on-metered")
    response = admin_client.get("/admin/accounts/user/", {"tier": "pro"})
    assert response.status_code == 200
    assert [u.username for u in response.context["cl"].result_list] == ["on-pro"]
    assert response.context["cl"].result_list[0].current_tier_name == "pro"


@pytest.mark.django_db(transaction=True)
def test_finalize_action_with_the_broker_down_finalizes_and_warns_instead_of_failing(
    admin_client, make_user, monkeypatch
):
    # given: two drafts, and a task queue that refuses connections (transactional: the send request runs
    # after a real commit; the tier is the test's own, a flush has removed the seeded ones)
    from kombu.exceptions import OperationalError

    from billing.tasks import send_invoice

    drafts = [invoice_generate(user=make_user(f"customer{i}"), period=OCTOBER)[0] for i in range(2)]

    def broker_down(*args, **kwargs):
        raise OperationalError("[Errno 111] Connection refused")

    monkeypatch.setattr(send_invoice, "apply_async", broker_down)
    # when
    response = admin_client.post(
        CHANGELIST, {"action": "finalize", "_selected_action": [str(i.pk) for i in drafts]}, follow=True
    )
    # then: the page, not an exception; both open and numbered, waiting for the hourly re-send
    assert response.status_code == 200
    assert _statuses(drafts) == ["open", "open"]
    levels = sorted(message.level_tag for message in response.context["messages"])
    assert levels == ["info", "warning"]
    numbers = sorted(Invoice.objects.get(pk=i.pk).number for i in drafts)
    warning = next(str(m) for m in response.context["messages"] if m.level_tag == "warning")
    assert all(number in warning for number in numbers)
    assert all(Invoice.objects.get(pk=i.pk).last_send_error.startswith("QUEUE_UNAVAILABLE") for i in drafts)
