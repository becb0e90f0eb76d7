import io

import joblib
import pytest
from django.core.management import call_command

from billing.models import UsageRecord
from predictions.models import Prediction, RegisteredModel
from predictions.registry.cache import loaded_model_get
from quality.models import Rollout, ShadowPrediction
from quality.services.rollouts import rollout_promote, rollout_route, rollout_set
from tests.conformance.test_model_zoo import assert_same, expected_outputs
from tests.conformance.zoo import zoo_model
from tests.conftest import IRIS_SETOSA

CREATE = """
mutation($input: CreatePredictionInput!) {
  createPrediction(input: $input) {
    predictions { id output model { version } }
    cost { predictions amount }
    replayed
    errors { field code message }
  }
}
"""


def _artifact(estimator) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    return buffer.getvalue()


def test_a_ten_percent_canary_answers_ten_percent_of_5000_calls(make_user, staff_user, iris_model, iris_v2):
    # given
    rollout_set(name="iris", changed_by=staff_user, canary_version=2, canary_percent=10)
    users = [make_user() for _ in range(3)]
    # when: 5,000 unpinned calls without a key, 5,000 with distinct keys
    random_share = (
        sum(rollout_route(model=iris_model, user=users[i % 3], idempotency_key=None) == iris_v2 for i in range(5000))
        / 5000
    )
    keyed_share = (
        sum(
            rollout_route(model=iris_model, user=users[i % 3], idempotency_key=f"k-{i}") == iris_v2 for i in range(5000)
        )
        / 5000
    )
    # then
    assert 0.08 <= random_share <= 0.12
    assert 0.08 <= keyed_share <= 0.12


def test_the_split_is_sticky_per_key_and_per_caller_when_asked(make_user, staff_user, iris_model, iris_v2):
    # given
    rollout_set(name="iris", changed_by=staff_user, canary_version=2, canary_percent=50)
    users = [make_user() for _ in range(40)]
    # then: a key always lands on the same version
    for i in range(200):
        first = rollout_route(model=iris_model, user=users[0], idempotency_key=f"order-{i}")
        assert all(
            rollout_route(model=iris_model, user=users[0], idempotency_key=f"order-{i}") == first for _ in range(3)
        )
    # and: per caller, whatever the key
    rollout_set(name="iris", changed_by=staff_user, canary_version=2, canary_percent=50, sticky="caller")
    versions = []
    for user in users:
        chosen = {
            rollout_route(model=iris_model, user=user, idempotency_key=key).version for key in (None, "a", "b", "c")
        }
        assert len(chosen) == 1
        versions.append(chosen.pop())
    assert set(versions) == {1, 2}  # both versions got callers


def test_the_canary_answers_stores_its_version_and_a_retry_hits_it_again(
    make_user, staff_user, issue_token, gql, iris_model, iris_v2
):
    # given
    rollout_set(name="iris", changed_by=staff_user, canary_version=2, canary_percent=100)
    token = issue_token(make_user())
    variables = {"input": {"modelName": "iris", "features": IRIS_SETOSA, "idempotencyKey": "retry-me"}}
    # when
    _, first = gql(CREATE, variables, token=token)
    _, retry = gql(CREATE, variables, token=token)
    _, pinned = gql(CREATE, {"input": {"modelName": "iris", "modelVersion": 1, "features": IRIS_SETOSA}}, token=token)
    # then
    answer = first["data"]["createPrediction"]
    assert answer["errors"] == [] and answer["predictions"][0]["model"]["version"] == 2
    assert Prediction.objects.get(pk=answer["predictions"][0]["id"]).model == iris_v2
    assert retry["data"]["createPrediction"]["replayed"] is True
    assert retry["data"]["createPrediction"]["predictions"][0]["id"] == answer["predictions"][0]["id"]
    assert pinned["data"]["createPrediction"]["predictions"][0]["model"]["version"] == 1  # pinned: never the canary


@pytest.mark.parametrize(
    "candidate", ["random_forest_classifier", "k_neighbors_classifier", "linear_svc_scores", "gaussian_nb"]
)
def test_a_canary_answer_is_the_candidate_estimators_own(candidate, register, make_user, staff_user, issue_token, gql):
    # given: zoo logistic regression in production, another zoo kind on the same inputs as the canary
    production = zoo_model("logistic_regression")
    zoo = zoo_model(candidate)
    register("zoo", _artifact(production.estimator))
    canary = register("zoo", _artifact(zoo.estimator), stage=RegisteredModel.Stage.STAGING)
    rollout_set(name="zoo", changed_by=staff_user, canary_version=canary.version, canary_percent=100)
    # when
    _, body = gql(CREATE, {"input": {"modelName": "zoo", "instances": zoo.instances}}, token=issue_token(make_user()))
    # then
    payload = body["data"]["createPrediction"]
    assert payload["errors"] == []
    assert {p["model"]["version"] for p in payload["predictions"]} == {canary.version}
    assert_same([p["output"] for p in payload["predictions"]], expected_outputs(zoo.estimator, zoo.rows, canary.task))


def test_the_shadow_scores_every_prediction_unbilled_and_unreturned(
    make_user, staff_user, issue_token, gql, iris_model, iris_v2, settings, django_capture_on_commit_callbacks
):
    # given: the celery mode (a task per call; inline here, without a broker)
    settings.QUALITY_SHADOW_EXECUTION = "celery"
    token = issue_token(make_user())
    _, before = gql(CREATE, {"input": {"modelName": "iris", "instances": [IRIS_SETOSA] * 3}}, token=token)
    rollout_set(name="iris", changed_by=staff_user, shadow_version=2)
    flowers = [IRIS_SETOSA, {"sepal_length": 6.3, "sepal_width": 2.5, "petal_length": 5.0, "petal_width": 1.9}]
    # when: the call commits (the test runs in a transaction: its on-commit callbacks run here)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _, body = gql(CREATE, {"input": {"modelName": "iris", "instances": flowers}}, token=token)
    assert len(callbacks) == 1
    # then: the answer is production's, the shadow's is stored beside it
    payload = body["data"]["createPrediction"]
    assert payload["errors"] == [] and {p["model"]["version"] for p in payload["predictions"]} == {1}
    import pandas as pd

    shadow_estimator = loaded_model_get(model=iris_v2).estimator
    expected_shadow = expected_outputs(shadow_estimator, pd.DataFrame(flowers), "classification")
    for served, expected in zip(payload["predictions"], expected_shadow, strict=True):
        stored = ShadowPrediction.objects.get(prediction_id=served["id"])
        assert stored.model == iris_v2
        assert_same(stored.output, expected)
        assert stored.agrees == (stored.output["label"] == served["output"]["label"])
        assert "shadow" not in served["output"]
    # and: billed exactly like the call before the shadow (per prediction), no usage for the shadow version
    assert not UsageRecord.objects.filter(model=iris_v2).exists()
    usage = UsageRecord.objects.filter(model=iris_model).order_by("-id").first()
    assert usage.predictions == 2 and payload["cost"]["predictions"] == 2
    assert ShadowPrediction.objects.count() == 2  # the predictions before the shadow was set got none


def test_promotion_moves_the_candidate_to_production_in_one_action(
    make_user, staff_user, issue_token, gql, iris_model, iris_v2
):
    # given
    rollout_set(name="iris", changed_by=staff_user, shadow_version=2)
    # when
    promoted = rollout_promote(name="iris", promoted_by=staff_user)
    # then
    assert promoted == iris_v2 and RegisteredModel.objects.get(pk=iris_v2.pk).stage == "production"
    assert Rollout.objects.get(name="iris").shadow is None
    _, body = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=issue_token(make_user()))
    assert body["data"]["createPrediction"]["predictions"][0]["model"]["version"] == 2


def test_promotion_keeps_the_schema_compatibility_check(staff_user, register, iris_model):
    # given: a candidate that needs an input production clients do not send
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).normal(size=(40, 5))
    narrow = register("iris", _artifact(LogisticRegression().fit(x, x[:, 0] > 0)), stage=RegisteredModel.Stage.STAGING)
    rollout_set(name="iris", changed_by=staff_user, canary_version=narrow.version, canary_percent=5)
    # when / then
    from mlapi.errors import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        rollout_promote(name="iris", promoted_by=staff_user)
    assert {e.code for e in refused.value.errors} == {"BREAKING_CHANGE"}
    assert RegisteredModel.objects.get(pk=narrow.pk).stage == "staging"
    assert Rollout.objects.get(name="iris").canary == narrow


def test_rollouts_are_staff_only_and_checked(make_user, staff_user, iris_model, iris_v2):
    from mlapi.errors import ApplicationError

    with pytest.raises(ApplicationError) as denied:
        rollout_set(name="iris", changed_by=make_user(), shadow_version=2)
    assert denied.value.errors[0].code == "PERMISSION_DENIED"
    with pytest.raises(ApplicationError) as production:
        rollout_set(name="iris", changed_by=staff_user, shadow_version=1)
    assert production.value.errors[0].code == "INVALID_CANDIDATE"
    with pytest.raises(ApplicationError) as percent:
        rollout_set(name="iris", changed_by=staff_user, canary_version=2, canary_percent=101)
    assert percent.value.errors[0].code == "INVALID_PERCENT"
    with pytest.raises(ApplicationError) as nothing:
        rollout_promote(name="iris", promoted_by=staff_user)
    assert nothing.value.errors[0].code == "NO_CANDIDATE"


def test_promote_model_command(staff_user, iris_model, iris_v2):
    rollout_set(name="iris", changed_by=staff_user, canary_version=2, canary_percent=10)
    out = io.StringIO()
    call_command("promote_model", "iris", "--as-user", staff_user.username, stdout=out)
    assert "iris v2" in out.getvalue()
    assert RegisteredModel.objects.get(pk=iris_v2.pk).stage == "production"


@pytest.mark.django_db(transaction=True)
def test_a_shadow_in_a_background_thread_scores_after_commit(
    make_user, staff_user, iris_model, iris_v2, settings, predict
):
    import time

    # given
    settings.QUALITY_SHADOW_EXECUTION = "thread"
    rollout_set(name="iris", changed_by=staff_user, shadow_version=2)
    user = make_user()
    # when: two calls, committed (no test transaction here)
    first = predict(user, "iris", [IRIS_SETOSA])
    second = predict(user, "iris", [IRIS_SETOSA, IRIS_SETOSA])
    # then: the thread stores the shadow's answers (waiting for it; no time is asserted)
    ids = {str(p.pk) for p in [*first, *second]}
    for _ in range(200):
        if ShadowPrediction.objects.filter(prediction_id__in=ids).count() == 3:
            break
        time.sleep(0.05)
    assert {str(s.prediction_id) for s in ShadowPrediction.objects.filter(model=iris_v2)} == ids
    from quality.services.rollouts import shadow_thread_idle

    for _ in range(200):  # the thread has closed its connection (the test database is dropped next)
        if shadow_thread_idle():
            break
        time.sleep(0.05)
