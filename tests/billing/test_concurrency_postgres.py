"""Quota, idempotency, invoice numbers and generation under concurrency (PostgreSQL row locks), and all-or-nothing
writes."""

import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction

import billing.services.charge
import predictions.services.predictions
from billing.models import Invoice, InvoiceLine, MonthlyUsage, PricingTier, Subscription, UsageRecord
from billing.services.charge import COPY_MIN_ROWS
from billing.services.invoices import invoice_finalize, invoice_generate
from billing.services.reconciliation import billing_reconcile
from billing.services.subscriptions import subscription_change
from billing.tiers import STANDARD_TIERS
from mlapi.errors import LimitExceededError
from predictions.models import Prediction
from predictions.registry.cache import loaded_model_get
from predictions.services import ModelRef, prediction_create
from tests.conftest import IRIS_SETOSA

User = get_user_model()

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
# Real commits (threads need them). Earlier transactional tests may have flushed the tiers the data
# migration made, so these tests create what they use.
concurrent_db = pytest.mark.django_db(transaction=True)


def run_concurrently(count: int, call) -> list[tuple[str, object]]:
    """Starts `count` threads together; each runs call(i) on its own connection. Returns (outcome, value) per thread."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = ("ok", call(index))
        except Exception as error:  # noqa: BLE001 - the test inspects every outcome
            results[index] = ("error", error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (lock wait?)"
    return results


def _pro_tier() -> PricingTier:
    return PricingTier.objects.get_or_create(name="pro", defaults=STANDARD_TIERS["pro"])[0]


def _predict(user_id: int, **kwargs):
    user = User.objects.get(pk=user_id)
    return prediction_create(user=user, model_ref=ModelRef(name="iris"), features=IRIS_SETOSA, **kwargs)


@postgres_only
@concurrent_db
def test_concurrent_calls_never_exceed_the_quota(make_user, iris_model):
    # given: 5 predictions left this month
    tier = PricingTier.objects.create(name="quota-5", price_per_prediction=Decimal("0.01"), monthly_quota=5)
    user = make_user("racer", tier=tier)
    loaded_model_get(model=iris_model)
    # when
    results = run_concurrently(12, lambda i: _predict(user.pk))
    # then
    succeeded = [value for outcome, value in results if outcome == "ok"]
    refused = [value for outcome, value in results if outcome == "error"]
    assert len(succeeded) == 5
    assert len(refused) == 7
    assert all(isinstance(error, LimitExceededError) for error in refused), refused
    assert {error.errors[0].code for error in refused} == {"QUOTA_EXCEEDED"}
    assert MonthlyUsage.objects.get(user=user).predictions == 5
    assert UsageRecord.objects.filter(user=user).count() == 5
    assert Prediction.objects.filter(user=user).count() == 5
    assert sorted(r.billable_predictions for r in UsageRecord.objects.filter(user=user)) == [1] * 5


@postgres_only
@concurrent_db
def test_the_quota_edge_is_exact_for_concurrent_batches_and_the_allowance_is_billed_once(make_user, iris_model):
    # given: a quota of 10 with 4 included, and 8 concurrent calls of 3 rows each
    tier = PricingTier.objects.create(
        name="edge-10", price_per_prediction=Decimal("0.01"), included_predictions=4, monthly_quota=10
    )
    user = make_user("edger", tier=tier)
    loaded_model_get(model=iris_model)
    # when
    results = run_concurrently(
        8,
        lambda i: prediction_create(
            user=User.objects.get(pk=user.pk), model_ref=ModelRef(name="iris"), instances=[IRIS_SETOSA] * 3
        ),
    )
    # then: exactly three fit (9 of 10); a call of 3 never overshoots to 12
    succeeded = [value for outcome, value in results if outcome == "ok"]
    refused = [value for outcome, value in results if outcome == "error"]
    assert len(succeeded) == 3 and len(refused) == 5
    assert {error.errors[0].code for error in refused} == {"QUOTA_EXCEEDED"}
    assert MonthlyUsage.objects.get(user=user).predictions == 9
    assert Prediction.objects.filter(user=user).count() == 9
    records = list(UsageRecord.objects.filter(user=user).order_by("id"))
    # the 4 included predictions were given out once, whichever call locked the counter first
    assert sum(r.billable_predictions for r in records) == 9 - 4
    assert sorted(r.billable_predictions for r in records) == [0, 2, 3]  # counters 3, 6, 9 against 4 included
    assert all(r.prediction_amount == r.billable_predictions * Decimal("0.01") for r in records)
    assert all(r.amount == r.prediction_amount + r.compute_amount + r.storage_amount for r in records)
    # and the last prediction fits exactly, the one after it does not
    assert len(_predict(user.pk).predictions) == 1
    with pytest.raises(LimitExceededError):
        _predict(user.pk)
    assert MonthlyUsage.objects.get(user=user).predictions == 10
    assert UsageRecord.objects.filter(user=user).count() == 4


@postgres_only
@concurrent_db
def test_one_idempotency_key_sent_concurrently_creates_one_prediction(make_user, iris_model):
    # given
    user = make_user("retrier")
    loaded_model_get(model=iris_model)
    # when
    results = run_concurrently(8, lambda i: _predict(user.pk, idempotency_key="order-42"))
    # then
    assert [outcome for outcome, _ in results] == ["ok"] * 8, [v for o, v in results if o == "error"]
    outcomes = [value for _, value in results]
    assert len({outcome.predictions[0].pk for outcome in outcomes}) == 1
    assert len({outcome.usage.pk for outcome in outcomes}) == 1
    assert sorted(outcome.replayed for outcome in outcomes) == [False] + [True] * 7
    assert Prediction.objects.filter(user=user).count() == 1
    assert UsageRecord.objects.filter(user=user).count() == 1
    assert MonthlyUsage.objects.get(user=user).predictions == 1


def _a_prediction_row_collides(monkeypatch):
    """The last prediction row's id is taken already: the database refuses it inside the write."""
    taken = Prediction.objects.exclude(user__username="unlucky").values_list("id", flat=True).first()
    assert taken is not None
    fresh = predictions.services.predictions.uuid7s

    def uuid7s(count):
        return [*fresh(count - 1), taken]

    monkeypatch.setattr(predictions.services.predictions, "uuid7s", uuid7s)
    return IntegrityError


def _copy_fails(monkeypatch):
    """COPY of the rows (big calls) fails after the counter and usage record were written in its transaction."""

    def fail(*args, **kwargs):
        raise RuntimeError("injected failure copying the rows")

    monkeypatch.setattr(billing.services.charge, "_rows_copy", fail)
    return RuntimeError


@pytest.mark.parametrize(
    "inject, rows",
    [
        (_a_prediction_row_collides, 3),
        (_a_prediction_row_collides, COPY_MIN_ROWS),
        pytest.param(_copy_fails, COPY_MIN_ROWS, marks=postgres_only),
    ],
    ids=["row-collides-one-statement", "row-collides-in-copy", "copy-fails"],
)
@pytest.mark.parametrize("first_call_of_the_month", [True, False], ids=["fresh-counter", "existing-counter"])
def test_a_failure_in_the_write_persists_nothing(
    make_user, iris_model, monkeypatch, inject, rows, first_call_of_the_month
):
    # given: someone else's prediction exists; for "existing-counter" this user has called before
    _predict(make_user("bystander").pk)
    user = make_user("unlucky")
    if not first_call_of_the_month:
        _predict(user.pk)
    counter_before = list(MonthlyUsage.objects.filter(user=user).values_list("predictions", flat=True))
    counts_before = (Prediction.objects.filter(user=user).count(), UsageRecord.objects.filter(user=user).count())
    expected = inject(monkeypatch)
    # when
    with pytest.raises(expected):
        prediction_create(
            user=user, model_ref=ModelRef(name="iris"), instances=[IRIS_SETOSA] * rows, idempotency_key="k-1"
        )
    # then
    assert (
        Prediction.objects.filter(user=user).count(),
        UsageRecord.objects.filter(user=user).count(),
    ) == counts_before
    assert list(MonthlyUsage.objects.filter(user=user).values_list("predictions", flat=True)) in (counter_before, [0])
    assert sum(MonthlyUsage.objects.filter(user=user).values_list("predictions", flat=True)) == counts_before[0]
    assert not UsageRecord.objects.filter(user=user, idempotency_key="k-1").exists()
    # and the same key works afterwards, once the fault is gone
    monkeypatch.undo()
    outcome = prediction_create(
        user=user, model_ref=ModelRef(name="iris"), instances=[IRIS_SETOSA] * rows, idempotency_key="k-1"
    )
    assert outcome.replayed is False and len(outcome.predictions) == rows
    assert Prediction.objects.filter(user=user).count() == counts_before[0] + rows


@postgres_only
@concurrent_db
def test_concurrent_finalizes_take_gap_free_distinct_numbers(make_user):
    # given: six drafts
    pro = _pro_tier()
    drafts = [invoice_generate(user=make_user(f"n{i}", tier=pro), period=date(2026, 10, 1))[0] for i in range(6)]
    # when
    results = run_concurrently(6, lambda i: invoice_finalize(invoice=Invoice.objects.get(pk=drafts[i].pk)).number)
    # then
    assert [outcome for outcome, _ in results] == ["ok"] * 6, results
    assert sorted(number for _, number in results) == [f"INV-2026-{n:06d}" for n in range(1, 7)]
    assert set(Invoice.objects.values_list("status", flat=True)) == {"open"}


@postgres_only
@concurrent_db
def test_concurrent_generation_for_one_user_makes_one_invoice(make_user, record_usage):
    # given
    user = make_user("busy", tier=_pro_tier())
    record_usage(user, at=datetime(2026, 10, 3, tzinfo=UTC), predictions=3, cpu_seconds=2.0, stored_bytes=4_000_000)
    # when
    results = run_concurrently(4, lambda i: invoice_generate(user=user, period=date(2026, 10, 1))[1])
    # then
    assert [outcome for outcome, _ in results] == ["ok"] * 4, results
    assert sorted(value for _, value in results).count("created") == 1
    invoice = Invoice.objects.get(user=user)
    assert InvoiceLine.objects.filter(invoice=invoice).count() == 3  # fee, compute, storage: no duplicates
    assert invoice.total == Decimal("49.10")


@postgres_only
@concurrent_db
def test_concurrent_tier_changes_leave_one_open_subscription_and_no_overlap(make_user):
    # given: a user and six tiers to move to at once
    user = make_user("switcher")
    tiers = [PricingTier.objects.create(name=f"t{i}") for i in range(6)]
    # when
    results = run_concurrently(6, lambda i: subscription_change(user=User.objects.get(pk=user.pk), tier=tiers[i]).pk)
    # then: the user's row lock serialized them: a contiguous history, one open subscription
    assert [outcome for outcome, _ in results] == ["ok"] * 6, results
    history = list(Subscription.objects.filter(user=user).order_by("started_at"))
    assert len(history) == 7 and [s.ended_at is None for s in history].count(True) == 1
    assert all(earlier.ended_at == later.started_at for earlier, later in zip(history, history[1:], strict=False))


@postgres_only
@concurrent_db
def test_a_call_charged_while_its_month_is_finalized_is_on_the_invoice(make_user, record_usage):
    # given: January's draft, and a call stamped 23:59:59 that is still being charged (its counter row locked)
    user = make_user("edge", tier=_pro_tier())
    record_usage(user, at=datetime(2026, 1, 10, tzinfo=UTC), predictions=2)
    draft, _ = invoice_generate(user=user, period=date(2026, 1, 1))
    charged, finalized = threading.Event(), {}

    def late_call():
        try:
            with transaction.atomic():
                record_usage(
                    User.objects.get(pk=user.pk),
                    at=datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC),
                    predictions=5,
                )
                charged.set()
                time.sleep(1.0)  # the prediction rows being written
        finally:
            connection.close()

    def finalize():
        try:
            charged.wait(timeout=10)
            started = time.monotonic()
            finalized["invoice"] = invoice_finalize(invoice=Invoice.objects.get(pk=draft.pk))
            finalized["waited"] = time.monotonic() - started
        finally:
            connection.close()

    threads = [threading.Thread(target=late_call), threading.Thread(target=finalize)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # then: finalization waited for the call's commit and billed it in January
    invoice = finalized["invoice"]
    assert finalized["waited"] >= 0.5
    assert next(line for line in invoice.lines.all() if line.kind == "compute").quantity == Decimal(
        "0.02"
    )  # both calls' 0.01 s
    assert UsageRecord.objects.get(user=user, predictions=5).period == date(2026, 1, 1)
    assert billing_reconcile(period=date(2026, 1, 1)).ok
