"""The live figures equal scikit-learn's metrics computed directly on the same rows."""

import random
from datetime import UTC, timedelta

import numpy as np
import pytest
from django.utils import timezone
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
    r2_score,
)

from predictions.models import Prediction
from quality.models import Feedback, QualityRollup, RollupWatermark
from quality.selectors import model_quality
from quality.services.feedback import FeedbackItem, feedback_submit
from quality.services.rollups import quality_rollup_advance, quality_rollup_catch_up
from tests.conftest import regressor_artifact

CLASSES = ["setosa", "versicolor", "virginica"]


def _flowers(rng: random.Random, n: int) -> list[dict]:
    return [
        {
            "sepal_length": round(rng.uniform(4.3, 7.9), 1),
            "sepal_width": round(rng.uniform(2.0, 4.4), 1),
            "petal_length": round(rng.uniform(1.0, 6.9), 1),
            "petal_width": round(rng.uniform(0.1, 2.5), 1),
        }
        for _ in range(n)
    ]


def _spread_over_days(predictions, now, days: int) -> None:
    """Given predictions made over the last `days` days (the service stamps them now)."""
    for index, prediction in enumerate(predictions):
        Prediction.objects.filter(pk=prediction.pk).update(created_at=now - timedelta(hours=(index * 7) % (24 * days)))


def _expected_classification(rows):
    y_true = [actual for _, actual in rows]
    y_pred = [output["label"] for output, _ in rows]
    proba = np.array([[output["probabilities"][c] for c in CLASSES] for output, _ in rows])
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    per_class = precision_recall_fscore_support(y_true, y_pred, labels=CLASSES, zero_division=0)
    return {
        "count": len(rows),
        "accuracy": accuracy_score(y_true, y_pred),
        "precision_macro": precision,
        "recall_macro": recall,
        "f1_macro": f1,
        "log_loss": log_loss(y_true, proba, labels=CLASSES),
        "brier_score": brier_score_loss(y_true, proba, labels=CLASSES),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=CLASSES).tolist(),
        "per_class": per_class,
    }


def _current_rows(*, model, since, user=None):
    feedback = Feedback.objects.filter(current=True, model=model, prediction__created_at__gte=since)
    if user is not None:
        feedback = feedback.filter(user=user)
    return [(f.prediction.output, f.actual) for f in feedback.select_related("prediction").order_by("id")]


def _assert_classification(figures, expected):
    assert figures["count"] == expected["count"]
    for name in ("accuracy", "precision_macro", "recall_macro", "f1_macro", "log_loss", "brier_score"):
        assert figures[name] == pytest.approx(expected[name], rel=1e-12), name
    assert figures["confusion_matrix"] == expected["confusion_matrix"]
    precision, recall, f1, support = expected["per_class"]
    by_label = {c["label"]: c for c in figures["per_class"]}
    for i, label in enumerate(CLASSES):
        if support[i] or label in by_label:
            assert by_label[label]["precision"] == pytest.approx(precision[i])
            assert by_label[label]["recall"] == pytest.approx(recall[i])
            assert by_label[label]["f1"] == pytest.approx(f1[i])
            assert by_label[label]["support"] == support[i]


def test_classifier_quality_equals_sklearn_on_the_same_rows_per_customer_and_for_staff(
    make_user, predict, iris_model, settings
):
    # given: two customers' predictions over 10 days, feedback on most of them, a third of it resubmitted
    settings.QUALITY_ROLLUP_SETTLE_SECONDS = 0
    settings.QUALITY_ROLLUP_BATCH = 37  # several runs, each from the watermark
    rng = random.Random(7)
    now = timezone.now()
    alice, bob = make_user(), make_user()
    predictions = {}
    for user in (alice, bob):
        predictions[user] = predict(user, "iris", _flowers(rng, 120))
        _spread_over_days(predictions[user], now, days=10)
    for user in (alice, bob):
        chosen = predictions[user][:100]
        feedback_submit(user=user, items=[FeedbackItem(prediction_id=p.pk, actual=rng.choice(CLASSES)) for p in chosen])
    quality_rollup_catch_up()  # some feedback is folded in before it is replaced: replacing subtracts it
    for user in (alice, bob):
        again = predictions[user][:40]
        feedback_submit(user=user, items=[FeedbackItem(prediction_id=p.pk, actual=rng.choice(CLASSES)) for p in again])
    # when
    quality_rollup_catch_up()
    # then
    for window in ("24h", "7d", "30d"):
        mine = model_quality(model=iris_model, user=alice, every_customer=False, window=window, now=now)
        every = model_quality(model=iris_model, user=alice, every_customer=True, window=window, now=now)
        _assert_classification(
            mine.figures, _expected_classification(_current_rows(model=iris_model, since=mine.since, user=alice))
        )
        _assert_classification(
            every.figures, _expected_classification(_current_rows(model=iris_model, since=every.since))
        )
    # and per day
    report = model_quality(model=iris_model, user=bob, every_customer=False, window="7d", now=now)
    for day in report.days:
        rows = [
            (f.prediction.output, f.actual)
            for f in Feedback.objects.filter(current=True, user=bob).select_related("prediction")
            if f.prediction.created_at.astimezone(UTC).date() == day["date"]
        ]
        _assert_classification(day, _expected_classification(rows))
    # whole UTC days: the first one starts before the window's first hour
    assert report.days[0]["date"] == report.since.date()
    assert sum(d["count"] for d in report.days) >= report.figures["count"] > 0


def test_regressor_quality_equals_sklearn(make_user, predict, register, settings):
    # given
    settings.QUALITY_ROLLUP_SETTLE_SECONDS = 0
    model = register("line", regressor_artifact())
    rng = random.Random(3)
    user = make_user()
    rows = predict(user, "line", [{"x0": rng.uniform(-5, 5), "x1": rng.uniform(-5, 5)} for _ in range(200)])
    now = timezone.now()
    _spread_over_days(rows, now, days=3)
    feedback_submit(
        user=user, items=[FeedbackItem(prediction_id=p.pk, actual=p.output["value"] + rng.gauss(0, 2)) for p in rows]
    )
    feedback_submit(user=user, items=[FeedbackItem(prediction_id=p.pk, actual=rng.uniform(-20, 20)) for p in rows[:50]])
    # when
    quality_rollup_catch_up()
    # then
    for window in ("24h", "7d"):
        report = model_quality(model=model, user=user, every_customer=False, window=window, now=now)
        current = _current_rows(model=model, since=report.since, user=user)
        y = [a for _, a in current]
        y_hat = [o["value"] for o, _ in current]
        assert report.figures["count"] == len(current)
        assert report.figures["mae"] == pytest.approx(mean_absolute_error(y, y_hat), rel=1e-9)
        assert report.figures["rmse"] == pytest.approx(mean_squared_error(y, y_hat) ** 0.5, rel=1e-9)
        assert report.figures["r2"] == pytest.approx(r2_score(y, y_hat), rel=1e-9)


def test_the_rollup_reads_only_past_its_watermark_and_waits_for_the_settle_time(
    make_user, predict, iris_model, settings
):
    # given
    settings.QUALITY_ROLLUP_SETTLE_SECONDS = 60
    user = make_user()
    rows = predict(user, "iris", _flowers(random.Random(1), 5))
    feedback_submit(user=user, items=[FeedbackItem(prediction_id=p.pk, actual="setosa") for p in rows])
    # when: a run right now folds nothing (the rows may still have earlier ids committing)
    assert quality_rollup_advance() == 0
    later = timezone.now() + timedelta(seconds=61)
    assert quality_rollup_advance(now=later) == 5
    # then: a second run has nothing left to read
    assert quality_rollup_advance(now=later) == 0
    assert RollupWatermark.objects.get().last_id == Feedback.objects.order_by("-id").first().pk
    assert QualityRollup.objects.filter(user__isnull=True).get().count == 5
    assert QualityRollup.objects.filter(user=user).get().count == 5


def test_a_customer_sees_only_their_own_feedback(make_user, predict, iris_model, settings):
    settings.QUALITY_ROLLUP_SETTLE_SECONDS = 0
    alice, bob = make_user(), make_user()
    a = predict(alice, "iris", _flowers(random.Random(2), 3))
    predict(bob, "iris", _flowers(random.Random(2), 3))
    feedback_submit(user=alice, items=[FeedbackItem(prediction_id=p.pk, actual="virginica") for p in a])
    quality_rollup_catch_up()
    assert model_quality(model=iris_model, user=bob, every_customer=False, window="24h").figures["count"] == 0
    assert model_quality(model=iris_model, user=alice, every_customer=False, window="24h").figures["count"] == 3
    assert model_quality(model=iris_model, user=bob, every_customer=True, window="24h").figures["count"] == 3
