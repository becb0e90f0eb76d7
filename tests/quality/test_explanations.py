"""Explanations add up, with their base value, to the model's raw output, computed in-process."""

import numpy as np
import pandas as pd
import pytest

from quality.explanations import UnsupportedExplanation, explain


def _data(seed=0, rows=120):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 4)), columns=["a", "b", "c", "d"])
    three = np.select([frame.a - frame.c < -0.5, frame.a - frame.c > 0.5], ["low", "high"], "mid")
    binary = np.where(frame.a + 0.5 * frame.b > 0, "yes", "no")
    value = 3 * frame.a - 2 * frame.b + rng.normal(scale=0.1, size=rows)
    return frame, three, binary, value


def _models():
    from sklearn.ensemble import (
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    frame, three, binary, value = _data()
    return {
        "logistic_multiclass_scaled": (
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(frame, three),
            "decision_function",
        ),
        "logistic_binary": (LogisticRegression().fit(frame, binary), "decision_function"),
        "linear_regression": (LinearRegression().fit(frame, value), "predict"),
        "ridge_scaled": (make_pipeline(StandardScaler(), Ridge()).fit(frame, value), "predict"),
        "random_forest_classifier": (
            RandomForestClassifier(n_estimators=15, random_state=0).fit(frame, three),
            "predict_proba",
        ),
        "random_forest_regressor": (
            RandomForestRegressor(n_estimators=15, random_state=0).fit(frame, value),
            "predict",
        ),
        "extra_trees_regressor": (ExtraTreesRegressor(n_estimators=10, random_state=0).fit(frame, value), "predict"),
        "decision_tree": (DecisionTreeClassifier(max_depth=4, random_state=0).fit(frame, binary), "predict_proba"),
        "gradient_boosting_regressor": (
            GradientBoostingRegressor(n_estimators=20, random_state=0).fit(frame, value),
            "predict",
        ),
        "gradient_boosting_binary": (
            GradientBoostingClassifier(n_estimators=20, random_state=0).fit(frame, binary),
            "decision_function",
        ),
        "gradient_boosting_multiclass": (
            GradientBoostingClassifier(n_estimators=10, random_state=0).fit(frame, three),
            "decision_function",
        ),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_contributions_and_base_add_up_to_the_raw_output(name):
    # given
    estimator, output = _models()[name]
    rows, *_ = _data(seed=1, rows=8)
    # when
    explanations = explain(estimator=estimator, features=rows, feature_names=list(rows.columns))
    # then
    raw = np.asarray(getattr(estimator, output)(rows), dtype=np.float64).reshape(len(rows), -1)
    for explanation, expected in zip(explanations, raw, strict=True):
        assert explanation.output == output
        totals = [base + sum(c) for base, c in zip(explanation.base, explanation.contributions, strict=True)]
        if len(totals) == 1 and expected.shape[0] == 2:  # binary predict_proba: a tree gives both columns
            expected = expected[-1:]
        assert np.allclose(totals, expected[-len(totals) :] if len(totals) < len(expected) else expected, atol=1e-9)
        assert len(explanation.features) == len(explanation.contributions[0])


def test_a_linear_pipeline_credits_the_standardized_inputs():
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame, _, _, value = _data()
    pipeline = make_pipeline(StandardScaler(), LinearRegression()).fit(frame, value)
    row = frame.iloc[:1]
    [explanation] = explain(estimator=pipeline, features=row, feature_names=list(frame.columns))
    standardized = pipeline[0].transform(row)[0]
    assert np.allclose(explanation.contributions[0], pipeline[-1].coef_ * standardized)
    assert explanation.features == ["a", "b", "c", "d"]


def test_other_kinds_are_refused():
    from sklearn.neighbors import KNeighborsClassifier

    frame, three, _, _ = _data()
    with pytest.raises(UnsupportedExplanation):
        explain(
            estimator=KNeighborsClassifier().fit(frame, three),
            features=frame.iloc[:2],
            feature_names=list(frame.columns),
        )


EXPLAIN = """
mutation($input: ExplainPredictionInput!) {
  explainPrediction(input: $input) {
    explanation { kind output targets baseValues contributions { feature values } }
    cost { amount cpuSeconds predictions }
    errors { field code }
  }
}
"""


def test_explaining_a_stored_prediction_adds_up_and_is_billed_by_cpu_time(make_user, issue_token, gql, iris_model):
    from billing.models import UsageRecord
    from predictions.registry.cache import loaded_model_get
    from quality.services.feedback import FeedbackItem  # noqa: F401  (app import check)
    from tests.conftest import IRIS_SETOSA
    from tests.quality.test_rollouts import CREATE

    # given
    user = make_user()
    token = issue_token(user)
    _, body = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=token)
    prediction_id = body["data"]["createPrediction"]["predictions"][0]["id"]
    # when
    _, body = gql(EXPLAIN, {"input": {"predictionId": prediction_id}}, token=token)
    # then: per class, base + contributions = decision_function of the estimator in-process
    payload = body["data"]["explainPrediction"]
    assert payload["errors"] == []
    explanation = payload["explanation"]
    assert explanation["kind"] == "linear" and explanation["output"] == "decision_function"
    estimator = loaded_model_get(model=iris_model).estimator
    raw = estimator.decision_function(pd.DataFrame([IRIS_SETOSA]))[0]
    totals = [
        base + sum(c["values"][i] for c in explanation["contributions"])
        for i, base in enumerate(explanation["baseValues"])
    ]
    assert np.allclose(totals, raw, atol=1e-9)
    assert explanation["targets"] == list(estimator.classes_)
    # and: billed as CPU time, no prediction counted
    usage = UsageRecord.objects.get(user=user, source="explain")
    assert usage.predictions == 0 and payload["cost"]["predictions"] == 0
    assert float(payload["cost"]["cpuSeconds"]) == pytest.approx(float(usage.cpu_seconds))


def test_explaining_an_unsupported_model_or_someone_elses_prediction(make_user, issue_token, gql, register, iris_model):
    import io

    import joblib
    from sklearn.neighbors import KNeighborsRegressor

    from billing.models import UsageRecord
    from tests.quality.test_rollouts import CREATE

    x = np.arange(20, dtype=float).reshape(10, 2)
    buffer = io.BytesIO()
    joblib.dump(KNeighborsRegressor(n_neighbors=2).fit(x, x[:, 0]), buffer)
    register("knn", buffer.getvalue())
    owner, other = make_user(), make_user()
    _, body = gql(CREATE, {"input": {"modelName": "knn", "features": {"x0": 1.0, "x1": 2.0}}}, token=issue_token(owner))
    prediction_id = body["data"]["createPrediction"]["predictions"][0]["id"]
    _, unsupported = gql(EXPLAIN, {"input": {"predictionId": prediction_id}}, token=issue_token(owner))
    _, foreign = gql(EXPLAIN, {"input": {"predictionId": prediction_id}}, token=issue_token(other))
    assert [e["code"] for e in unsupported["data"]["explainPrediction"]["errors"]] == ["UNSUPPORTED_MODEL"]
    assert [e["code"] for e in foreign["data"]["explainPrediction"]["errors"]] == ["NOT_FOUND"]
    assert not UsageRecord.objects.filter(source="explain").exists()
