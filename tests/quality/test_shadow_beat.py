"""QUALITY_SHADOW_EXECUTION=beat: the request path does nothing; the beat task scores stored predictions
past a watermark, with a settle time, through the same `shadow_score` as the other modes."""

from datetime import timedelta

import pandas as pd
import pytest

from billing.models import UsageRecord
from predictions.models import Prediction
from predictions.registry.cache import loaded_model_get
from quality.models import ShadowPrediction
from quality.services.rollouts import rollout_cache_clear, rollout_set, shadow_catch_up
from tests.conformance.test_model_zoo import assert_same, expected_outputs
from tests.conftest import IRIS_SETOSA

CREATE = """
mutation($input: CreatePredictionInput!) {
  createPrediction(input: $input) {
    predictions { id output model { version } }
    cost { predictions }
    errors { field code message }
  }
}
"""
VIRGINICA = {"sepal_length": 6.3, "sepal_width": 2.5, "petal_length": 5.0, "petal_width": 1.9}
VERSICOLOR = {"sepal_length": 5.9, "sepal_width": 3.0, "petal_length": 4.2, "petal_width": 1.5}


@pytest.fixture
def beat(settings):
    settings.QUALITY_SHADOW_EXECUTION = "beat"
    settings.QUALITY_SHADOW_SETTLE_SECONDS = 10
    rollout_cache_clear()


def _later(seconds=11):
    return max(Prediction.objects.values_list("created_at", flat=True)) + timedelta(seconds=seconds)


def test_beat_mode_does_nothing_on_the_request_path_and_the_task_stores_the_shadow_outputs(
    beat, make_user, staff_user, issue_token, gql, iris_model, iris_v2, django_capture_on_commit_callbacks
):
    # given
    rollout_set(name="iris", changed_by=staff_user, shadow_version=2)
    flowers = [IRIS_SETOSA, VIRGINICA, VERSICOLOR]
    # when: the call commits: no on-commit callback is registered (no publish, no thread)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _, body = gql(CREATE, {"input": {"modelName": "iris", "instances": flowers}}, token=issue_token(make_user()))
    payload = body["data"]["createPrediction"]
    assert payload["errors"] == [] and callbacks == []
    assert not ShadowPrediction.objects.exists()
    # and: the beat task runs once the predictions are settled
    assert shadow_catch_up(now=_later()) == 3
    # then: the shadow's outputs, equal to the shadow estimator in-process, and the agreement
    expected = expected_outputs(loaded_model_get(model=iris_v2).estimator, pd.DataFrame(flowers), "classification")
    for served, shadow_output in zip(payload["predictions"], expected, strict=True):
        stored = ShadowPrediction.objects.get(prediction_id=served["id"])
        assert stored.model == iris_v2 and served["model"]["version"] == 1
        assert_same(stored.output, shadow_output)
        assert stored.agrees == (stored.output["label"] == served["output"]["label"])
        assert "shadow" not in served["output"]
    # and: nothing billed for the shadow; the call billed its own three predictions only
    assert not UsageRecord.objects.filter(model=iris_v2).exists()
    assert UsageRecord.objects.get(model=iris_model).predictions == 3 == payload["cost"]["predictions"]


def test_beat_mode_stores_what_the_thread_and_celery_modes_store(
    settings, make_user, staff_user, iris_model, iris_v2, predict, django_capture_on_commit_callbacks
):
    # given: the same inputs served once in celery mode (inline without a broker) and once in beat mode
    rollout_set(name="iris", changed_by=staff_user, shadow_version=2)
    user = make_user()
    flowers = [IRIS_SETOSA, VIRGINICA, VERSICOLOR, VIRGINICA]
    settings.QUALITY_SHADOW_EXECUTION = "celery"
    with django_capture_on_commit_callbacks(execute=True):
        by_celery = predict(user, "iris", flowers)
    settings.QUALITY_SHADOW_EXECUTION = "beat"
    with django_capture_on_commit_callbacks(execute=True):
        by_beat = predict(user, "iris", flowers)
    assert ShadowPrediction.objects.count() == 4  # the celery-mode ones only, so far
    # when
    assert shadow_catch_up(now=_later()) == 4
    # then: the same shadow rows, prediction for prediction
    for a, b in zip(by_celery, by_beat, strict=True):
        one, other = ShadowPrediction.objects.get(prediction=a), ShadowPrediction.objects.get(prediction=b)
        assert (one.model_id, one.output, one.agrees) == (other.model_id, other.output, other.agrees)


def test_the_beat_task_is_idempotent_and_skips_what_is_older_than_the_shadow(
    beat, make_user, staff_user, iris_model, iris_v2, predict
):
    # given: a prediction before the shadow was set, three after, one of them pinned to the shadow itself
    user = make_user()
    before = predict(user, "iris", [IRIS_SETOSA])
    Prediction.objects.filter(pk=before[0].pk).update(created_at=before[0].created_at - timedelta(seconds=1))
    rollout_set(name="iris", changed_by=staff_user, shadow_version=2)
    after = predict(user, "iris", [IRIS_SETOSA, VIRGINICA])
    predict(staff_user, "iris", [IRIS_SETOSA], version=2)  # staff may call a staging version
    now = _later()
    # when: the task runs twice, and again later
    first = shadow_catch_up(now=now, batch=1)
    second = shadow_catch_up(now=now, batch=1)
    third = shadow_catch_up(now=now + timedelta(minutes=5))
    # then: each of the two is scored once; the older one and the shadow's own are not
    assert (first, second, third) == (2, 0, 0)
    assert {s.prediction_id for s in ShadowPrediction.objects.all()} == {p.pk for p in after}


def test_a_prediction_committed_late_inside_the_settle_window_is_still_scored(
    beat, make_user, staff_user, iris_model, iris_v2, predict
):
    # given: an early prediction, settled, scored by a first run
    rollout_set(name="iris", changed_by=staff_user, shadow_version=2)
    user = make_user()
    early = predict(user, "iris", [IRIS_SETOSA])[0]
    run_1 = early.created_at + timedelta(seconds=15)
    # and: at run 1, one prediction 5 s old has committed (inside the settle window)
    committed = predict(user, "iris", [VIRGINICA])[0]
    Prediction.objects.filter(pk=committed.pk).update(created_at=run_1 - timedelta(seconds=5))
    assert shadow_catch_up(now=run_1) == 1
    # when: one started before it (8 s before run 1) commits only after run 1
    late = predict(user, "iris", [VERSICOLOR])[0]
    Prediction.objects.filter(pk=late.pk).update(created_at=run_1 - timedelta(seconds=8))
    assert shadow_catch_up(now=run_1 + timedelta(seconds=10)) == 2
    # then: all three are scored, the late one too
    assert {s.prediction_id for s in ShadowPrediction.objects.all()} == {early.pk, committed.pk, late.pk}
