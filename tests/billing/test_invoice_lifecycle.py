"""generate_invoices is idempotent and never touches finalized invoices; draft → open → paid / void transitions."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from billing.models import Invoice, PricingTier
from billing.services.invoices import invoice_finalize, invoice_generate, invoice_mark_paid, invoice_void
from mlapi.errors import ConflictError

UTC = UTC
OCTOBER = date(2026, 10, 1)
REPORT = re.compile(r"^(\d{4}-\d{2}): (\d+) created, (\d+) updated, (\d+) unchanged$")


def generate(*args) -> tuple[str, int, int, int]:
    out = StringIO()
    call_command("generate_invoices", *args, stdout=out)
    match = REPORT.match(out.getvalue().strip())
    assert match, out.getvalue()
    return match[1], int(match[2]), int(match[3]), int(match[4])


def snapshot(invoice: Invoice):
    invoice = Invoice.objects.get(pk=invoice.pk)
    lines = [(line.pk, line.kind, line.quantity, line.unit_price, line.amount) for line in invoice.lines.all()]
    return invoice.status, invoice.number, invoice.total, invoice.updated_at, lines


@pytest.fixture
def pro(db):
    return PricingTier.objects.get(name="pro")


def transition_codes(error: ConflictError) -> list[str]:
    return [e.code for e in error.errors]


@pytest.mark.parametrize(
    ("now", "expected_period"),
    [
        (datetime(2026, 3, 1, 0, 30, tzinfo=ZoneInfo("Europe/Paris")), date(2026, 1, 1)),  # still Feb 28 in UTC
        (datetime(2026, 3, 1, 0, 0, tzinfo=UTC), date(2026, 2, 1)),
        (datetime(2026, 1, 15, 9, 0, tzinfo=UTC), date(2025, 12, 1)),
    ],
)
def test_default_period_is_the_previous_calendar_month_in_utc(make_user, pro, monkeypatch, now, expected_period):
    # given
    user = make_user(tier=pro)
    monkeypatch.setattr("django.utils.timezone.now", lambda: now)
    # when
    label, created, updated, _ = generate()
    # then
    assert label == f"{expected_period:%Y-%m}"
    assert (created, updated) == (1, 0)
    assert Invoice.objects.get(user=user).period == expected_period


def test_running_twice_changes_nothing_the_second_time(make_user, pro, record_usage):
    # given
    user = make_user(tier=pro)
    record_usage(user, at=datetime(2026, 10, 5, tzinfo=UTC), predictions=5, cpu_seconds=1.5, stored_bytes=3_000_000)
    _, created, _, _ = generate("--period", "2026-10")
    invoice = Invoice.objects.get(user=user, period=OCTOBER)
    before = snapshot(invoice)
    # when
    label, created_again, updated_again, unchanged = generate("--period", "2026-10")
    # then
    assert created >= 1
    assert (label, created_again, updated_again) == ("2026-10", 0, 0)
    assert unchanged == created
    assert snapshot(invoice) == before


def test_a_draft_is_regenerated_after_new_usage(make_user, pro, record_usage):
    # given
    user = make_user(tier=pro)
    record_usage(user, at=datetime(2026, 10, 5, tzinfo=UTC), predictions=5, cpu_seconds=1.0, stored_bytes=0)
    generate("--period", "2026-10")
    invoice = Invoice.objects.get(user=user, period=OCTOBER)
    assert invoice.total == Decimal("49.05")
    # when
    record_usage(user, at=datetime(2026, 10, 25, tzinfo=UTC), predictions=5, cpu_seconds=1.0, stored_bytes=0)
    _, created, updated, _ = generate("--period", "2026-10")
    # then
    assert (created, updated) == (0, 1)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.DRAFT
    assert [(line.kind, line.quantity) for line in invoice.lines.all() if line.kind == "compute"] == [("compute", 2)]
    assert invoice.total == Decimal("49.10")


def test_a_finalized_invoice_never_changes(make_user, pro, record_usage):
    # given
    user = make_user(tier=pro)
    record_usage(user, at=datetime(2026, 10, 5, tzinfo=UTC), predictions=5, cpu_seconds=1.0, stored_bytes=0)
    generate("--period", "2026-10")
    invoice = invoice_finalize(invoice=Invoice.objects.get(user=user, period=OCTOBER))
    before = snapshot(invoice)
    # when: usage still arrives for that month (a late record) and the command runs again
    record_usage(
        user, at=datetime(2026, 10, 31, 23, tzinfo=UTC), predictions=500, cpu_seconds=20.0, stored_bytes=9_000_000
    )
    _, created, updated, _ = generate("--period", "2026-10")
    # then
    assert (created, updated) == (0, 0)
    assert snapshot(invoice) == before
    assert invoice_generate(user=user, period=OCTOBER)[1] == "unchanged"
    assert snapshot(invoice) == before


@pytest.mark.parametrize("period", ["2026-13", "2026-00", "26-10", "2026-1", "october"])
def test_a_malformed_period_is_a_command_error(db, period):
    with pytest.raises(CommandError):
        call_command("generate_invoices", "--period", period, stdout=StringIO())
    assert Invoice.objects.count() == 0


def test_finalize_assigns_sequential_numbers(make_user, pro):
    # given
    first, _ = invoice_generate(user=make_user("ada", tier=pro), period=OCTOBER)
    second, _ = invoice_generate(user=make_user("bob", tier=pro), period=OCTOBER)
    # when
    first = invoice_finalize(invoice=first)
    second = invoice_finalize(invoice=second)
    # then
    assert (first.number, second.number) == ("INV-2026-000001", "INV-2026-000002")
    for invoice in (first, second):
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.OPEN
        assert invoice.finalized_at is not None


def test_finalize_twice_is_an_invalid_transition(make_user, pro):
    # given
    invoice, _ = invoice_generate(user=make_user(tier=pro), period=OCTOBER)
    invoice_finalize(invoice=invoice)
    before = snapshot(invoice)
    # when
    with pytest.raises(ConflictError) as raised:
        invoice_finalize(invoice=invoice)
    # then
    assert transition_codes(raised.value) == ["INVALID_TRANSITION"]
    assert snapshot(invoice) == before


def test_mark_paid_twice_is_a_no_op_the_second_time(make_user, pro):
    # given
    invoice, _ = invoice_generate(user=make_user(tier=pro), period=OCTOBER)
    invoice_finalize(invoice=invoice)
    # when
    first = invoice_mark_paid(invoice=invoice)
    paid = snapshot(invoice)
    second = invoice_mark_paid(invoice=invoice)
    # then
    assert (first, second) == (True, False)
    assert snapshot(invoice) == paid
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and invoice.paid_at is not None


def test_a_draft_cannot_be_marked_paid(make_user, pro):
    invoice, _ = invoice_generate(user=make_user(tier=pro), period=OCTOBER)
    with pytest.raises(ConflictError) as raised:
        invoice_mark_paid(invoice=invoice)
    assert transition_codes(raised.value) == ["INVALID_TRANSITION"]
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.DRAFT


def test_void_only_from_open(make_user, pro):
    # given: a draft, an open and a paid invoice
    draft, _ = invoice_generate(user=make_user("d", tier=pro), period=OCTOBER)
    open_, _ = invoice_generate(user=make_user("o", tier=pro), period=OCTOBER)
    paid, _ = invoice_generate(user=make_user("p", tier=pro), period=OCTOBER)
    invoice_finalize(invoice=open_)
    invoice_finalize(invoice=paid)
    invoice_mark_paid(invoice=paid)
    # when / then: draft and paid are refused and unchanged
    for invoice in (draft, paid):
        before = snapshot(invoice)
        with pytest.raises(ConflictError) as raised:
            invoice_void(invoice=invoice)
        assert transition_codes(raised.value) == ["INVALID_TRANSITION"]
        assert snapshot(invoice) == before
    # when / then: open is voided, once
    invoice_void(invoice=open_)
    open_.refresh_from_db()
    assert open_.status == Invoice.Status.VOID and open_.voided_at is not None
    with pytest.raises(ConflictError):
        invoice_void(invoice=open_)
    with pytest.raises(ConflictError):
        invoice_mark_paid(invoice=open_)


def test_a_user_who_joined_during_the_month_is_invoiced_for_it(make_user, pro):
    # given
    user = make_user(tier=pro)
    user.date_joined = datetime(2026, 10, 15, tzinfo=UTC)
    user.save(update_fields=["date_joined"])
    # when
    generate("--period", "2026-10")
    # then
    assert Invoice.objects.get(user=user, period=OCTOBER).total == Decimal("49.00")


def test_a_user_who_joined_after_the_month_is_not_invoiced_for_it(make_user, pro):
    # given: a pro customer who signed up on November 1st, when October's invoices are generated
    user = make_user(tier=pro)
    user.date_joined = datetime(2026, 11, 1, 0, 5, tzinfo=UTC)
    user.save(update_fields=["date_joined"])
    # when
    generate("--period", "2026-10")
    # then
    assert not Invoice.objects.filter(user=user, period=OCTOBER).exists()


def test_usage_of_a_since_deactivated_user_is_still_invoiced(make_user, pro, record_usage):
    # given: October usage, then the account is deactivated
    user = make_user(tier=pro)
    record_usage(user, at=datetime(2026, 10, 20, tzinfo=UTC), predictions=5, cpu_seconds=2.0, stored_bytes=0)
    user.is_active = False
    user.save(update_fields=["is_active"])
    # when
    generate("--period", "2026-10")
    # then
    assert Invoice.objects.get(user=user, period=OCTOBER).total == Decimal("49.10")


def _broker_down(*args, **kwargs):
    from kombu.exceptions import OperationalError

    raise OperationalError("[Errno 111] Connection refused")


def test_finalize_with_the_broker_down_commits_the_invoice_open_with_its_send_pending(
    make_user, pro, monkeypatch, django_capture_on_commit_callbacks
):
    # given: a draft, and a task queue that refuses connections
    from billing.services.payments import invoices_send_pending
    from billing.tasks import send_invoice

    invoice, _ = invoice_generate(user=make_user(tier=pro), period=OCTOBER)
    monkeypatch.setattr(send_invoice, "apply_async", _broker_down)
    # when: the send request is made after commit (and fails)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        finalized = invoice_finalize(invoice=invoice)
    # then: nothing raised; open, numbered, not sent, and the reason is on the invoice
    assert len(callbacks) == 1
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number, invoice.provider_invoice_id) == ("open", finalized.number, "")
    assert invoice.last_send_error.startswith("QUEUE_UNAVAILABLE")
    # and the hourly re-send picks it up
    assert invoices_send_pending() == {"manual": 1}
