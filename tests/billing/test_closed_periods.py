"""Closed months: once a month's invoice is finalized no usage lands in it; late usage is billed in the
next open month with its own timestamp; `billing_reconcile` proves the closed months add up."""

import json
import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from prometheus_client import REGISTRY

import predictions.services.predictions as prediction_service
from billing.models import Invoice, InvoiceLine, MonthlyUsage, UsageRecord
from billing.services.invoices import invoice_finalize, invoice_generate
from billing.tasks import reconcile_closed_periods
from tests.conftest import IRIS_SETOSA

UTC = UTC
JANUARY, FEBRUARY, MARCH = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)
CREATE = """
mutation($f: GenericScalar!) {
  createPrediction(input: {modelName: "iris", features: $f}) { cost { amount } errors { code } }
}
"""


def _close(user, period):
    return invoice_finalize(invoice=invoice_generate(user=user, period=period)[0])


def _counter(user, period):
    return MonthlyUsage.objects.filter(user=user, period=period).values_list("predictions", flat=True).first()


def _reconcile(*args):
    out = StringIO()
    try:
        call_command("billing_reconcile", "--json", *args, stdout=out)
        code = 0
    except CommandError as error:
        code = error.returncode
    return code, json.loads(out.getvalue())


def _metric(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0


def test_a_late_call_stamped_in_a_closed_month_is_billed_in_the_next_open_one(
    make_user, issue_token, gql, iris_model, record_usage, monkeypatch
):
    # given: January's invoice is finalized
    user = make_user()
    record_usage(user, at=datetime(2026, 1, 10, tzinfo=UTC), predictions=2)
    january = _close(user, JANUARY)
    january_lines = list(january.lines.values_list("kind", "quantity", "amount"))
    token = issue_token(user)
    moved_before = _metric("mlapi_billing_late_usage_moved_total")
    # when: a call stamped a moment before midnight (a skewed host, a slow request) is accepted afterwards
    stamped = datetime(2026, 1, 31, 23, 59, 59, 900000, tzinfo=UTC)
    monkeypatch.setattr(prediction_service, "timezone", SimpleNamespace(now=lambda: stamped))
    status, body = gql(CREATE, {"f": IRIS_SETOSA}, token=token)
    # then: it keeps its timestamp and is counted and billed in February
    assert status == 200 and body["data"]["createPrediction"]["errors"] == []
    late = UsageRecord.objects.get(user=user, created_at=stamped)
    assert late.period == FEBRUARY
    assert (_counter(user, JANUARY), _counter(user, FEBRUARY)) == (2, 1)
    assert list(Invoice.objects.get(pk=january.pk).lines.values_list("kind", "quantity", "amount")) == january_lines
    february, _ = invoice_generate(user=user, period=FEBRUARY)
    assert next(line for line in february.lines.all() if line.kind == "predictions").quantity == 1
    assert _metric("mlapi_billing_late_usage_moved_total") == moved_before + 1


def test_late_usage_skips_every_closed_month(make_user, record_usage):
    # given: January and February closed
    user = make_user()
    _close(user, JANUARY)
    _close(user, FEBRUARY)
    # when
    record = record_usage(user, at=datetime(2026, 1, 31, 23, 59, tzinfo=UTC), predictions=3)
    # then
    assert record.period == MARCH
    assert (_counter(user, JANUARY), _counter(user, FEBRUARY), _counter(user, MARCH)) == (0, 0, 3)


def test_finalizing_includes_usage_recorded_after_the_draft_was_built(make_user, record_usage):
    # given: a draft, then more January usage before anyone finalizes it
    user = make_user()
    record_usage(user, at=datetime(2026, 1, 10, tzinfo=UTC), predictions=2)
    draft, _ = invoice_generate(user=user, period=JANUARY)
    record_usage(user, at=datetime(2026, 1, 31, 23, tzinfo=UTC), predictions=5)
    # when
    invoice = invoice_finalize(invoice=draft)
    # then: the invoice bills all 7 predictions, the month is closed and reconciles
    predictions_line = next(line for line in invoice.lines.all() if line.kind == "predictions")
    assert predictions_line.quantity == 7
    assert invoice.total == sum(line.amount for line in invoice.lines.all())
    assert MonthlyUsage.objects.get(user=user, period=JANUARY).closed_at is not None
    assert _reconcile("--period", "2026-01")[0] == 0


def test_reconcile_passes_on_closed_months_that_add_up(make_user, record_usage):
    # given: two users' closed Januaries, one with a late record moved to February
    users = [make_user(f"customer{i}") for i in range(2)]
    for i, user in enumerate(users):
        record_usage(
            user, at=datetime(2026, 1, 5 + i, tzinfo=UTC), predictions=3 + i, cpu_seconds=0.5, stored_bytes=1000
        )
        _close(user, JANUARY)
    record_usage(users[0], at=datetime(2026, 1, 31, 23, 59, tzinfo=UTC), predictions=4)
    # when
    code, report = _reconcile()
    # then
    assert code == 0
    assert (report["ok"], report["periods_checked"], report["invoices_checked"], report["differences"]) == (
        True,
        1,
        2,
        0,
    )
    (january,) = report["periods"]
    assert (january["period"], january["usage_records"], january["usage_predictions"]) == ("2026-01", 2, 7)
    invoiced = sum(
        line.amount for line in InvoiceLine.objects.filter(invoice__period=JANUARY).exclude(kind="subscription")
    )
    assert Decimal(january["invoiced_usage_amount"]) == invoiced


@pytest.mark.parametrize(
    ("tamper", "check"),
    [
        ("record-put-back-into-the-closed-month", "usage_lines"),
        ("counter-changed", "counter"),
        ("invoice-line-changed", "usage_lines"),
        ("counter-reopened", "not_closed"),
        ("usage-without-invoice", "uninvoiced_usage"),
    ],
)
def test_reconcile_reports_each_difference_and_exits_non_zero(make_user, record_usage, tamper, check):
    # given: a closed January that adds up
    user = make_user("tampered")
    record_usage(user, at=datetime(2026, 1, 5, tzinfo=UTC), predictions=3)
    invoice = _close(user, JANUARY)
    assert _reconcile()[0] == 0
    # when: something bypasses the services
    if tamper == "record-put-back-into-the-closed-month":
        late = record_usage(user, at=datetime(2026, 1, 31, 23, tzinfo=UTC), predictions=2)
        UsageRecord.objects.filter(pk=late.pk).update(period=JANUARY)
    elif tamper == "counter-changed":
        MonthlyUsage.objects.filter(user=user, period=JANUARY).update(predictions=4)
    elif tamper == "invoice-line-changed":
        invoice.lines.filter(kind="compute").update(amount=Decimal("9.99"))
    elif tamper == "counter-reopened":
        MonthlyUsage.objects.filter(user=user, period=JANUARY).update(closed_at=None)
    else:
        other = make_user("never-invoiced")
        record_usage(other, at=datetime(2026, 1, 7, tzinfo=UTC), predictions=1)
    # then
    code, report = _reconcile("--period", "2026-01")
    assert code == 1 and report["ok"] is False
    assert [d["check"] for d in report["periods"][0]["differences"]].count(check) == 1
    assert report["differences_by_check"][check] == 1


def test_reconcile_rejects_a_malformed_period(db):
    with pytest.raises(CommandError):
        call_command("billing_reconcile", "--period", "2026-13", stdout=StringIO())


def test_the_beat_task_logs_an_error_and_counts_differences(make_user, record_usage, caplog):
    # given: a closed month whose counter disagrees with its records
    user = make_user()
    record_usage(user, at=datetime(2026, 1, 5, tzinfo=UTC), predictions=3)
    _close(user, JANUARY)
    MonthlyUsage.objects.filter(user=user, period=JANUARY).update(predictions=9)
    before = _metric("mlapi_billing_reconciliation_differences_total", check="counter")
    # when
    with caplog.at_level(logging.ERROR, logger="billing.tasks"):
        result = reconcile_closed_periods()
    # then
    assert (result["ok"], result["differences"]) == (False, 1)
    assert [r.levelno for r in caplog.records if r.name == "billing.tasks"] == [logging.ERROR]
    assert _metric("mlapi_billing_reconciliation_differences_total", check="counter") == before + 1
    assert _metric("mlapi_billing_reconciliation_runs_total", outcome="difference") >= 1


def test_the_beat_schedule_runs_the_reconciliation(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "billing.tasks.reconcile_closed_periods" in tasks
