"""The inference contract beyond the zoo's outputs: derived schemas, nulls, unseen categories and their
warnings, positional instances, and a model that breaks the one-output-per-row rule."""

import io

import joblib
import numpy as np
import pandas as pd
import pytest

from predictions.models import RegisteredModel
from tests.conformance.zoo import zoo_model

CREATE = """
mutation($input: CreatePredictionInput!) {
  createPrediction(input: $input) {
    predictions { output input }
    warnings { field code }
    errors { field code }
  }
}
"""


def _joblib(estimator) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    return buffer.getvalue()


def _payload(body):
    return body["data"]["createPrediction"]


def _features(model: RegisteredModel) -> dict:
    return {f["name"]: f for f in model.input_schema["features"]}


def test_text_pipeline_scores_the_text_not_the_column_name(register, make_user, issue_token, gql):
    # given
    zoo = zoo_model("text_pipeline")
    model = register("sentiment", _joblib(zoo.estimator))
    token = issue_token(make_user())
    # when
    _, body = gql(CREATE, {"input": {"modelName": "sentiment", "features": {"text": "I love it"}}}, token=token)
    # then
    assert model.input_schema == {"features": [{"name": "text", "type": "string"}]}
    output = _payload(body)["predictions"][0]["output"]
    assert output["label"] == "positive" == zoo.estimator.predict(["I love it"])[0]
    assert output["probabilities"]["positive"] == pytest.approx(
        zoo.estimator.predict_proba(["I love it"])[0][1], abs=1e-12
    )


def test_text_pipeline_with_a_hand_written_schema(register, make_user, issue_token, gql):
    zoo = zoo_model("text_pipeline")
    register("reviews", _joblib(zoo.estimator), input_schema=[{"name": "review", "type": "string"}])
    _, body = gql(
        CREATE,
        {"input": {"modelName": "reviews", "instances": [["I hate it"], {"review": "great"}]}},
        token=issue_token(make_user()),
    )
    assert [p["output"]["label"] for p in _payload(body)["predictions"]] == list(
        zoo.estimator.predict(["I hate it", "great"])
    )


def test_text_column_of_a_column_transformer_is_free_text(register):
    model = register("review-stars", _joblib(zoo_model("text_column_in_frame").estimator))
    assert _features(model)["review"] == {"name": "review", "type": "string"}


def test_encoder_policies_and_missing_values_are_derived(register):
    ignore = register("ignore", _joblib(zoo_model("one_hot_ignore_unknown").estimator))
    imputing = register("imputing", _joblib(zoo_model("imputing_pipeline").estimator))
    with_nan = register("with-nan", _joblib(zoo_model("encoder_fitted_with_nan").estimator))
    native = register("native", _joblib(zoo_model("hist_gradient_boosting_native_categories").estimator))
    # then
    assert _features(ignore)["colour"] == {
        "name": "colour",
        "type": "string",
        "allowed": ["blue", "green", "red"],
        "unknown": "pass",
    }
    assert _features(ignore)["size"] == {"name": "size", "type": "number"}
    assert _features(imputing)["size"]["nullable"] is True and _features(imputing)["colour"]["nullable"] is True
    assert _features(with_nan)["colour"] == {
        "name": "colour",
        "type": "string",
        "allowed": ["blue", "green", "red"],
        "nullable": True,
    }
    assert _features(native)["colour"] == {
        "name": "colour",
        "type": "string",
        "allowed": ["blue", "green", "red"],
        "unknown": "pass",
        "nullable": True,
    }
    assert _features(native)["size"]["nullable"] is True  # HistGradientBoosting takes NaN natively


def test_unseen_category_passes_with_a_warning_when_the_encoder_accepts_it(register, make_user, issue_token, gql, rest):
    zoo = zoo_model("one_hot_ignore_unknown")
    register("ignore", _joblib(zoo.estimator))
    token = issue_token(make_user())
    instance = {"size": 0.3, "weight": -1.0, "colour": "purple"}
    # when
    _, body = gql(CREATE, {"input": {"modelName": "ignore", "features": instance}}, token=token)
    response = rest("post", "/api/v1/models/ignore/predict", {"features": instance}, token=token)
    # then
    expected = zoo.estimator.predict(pd.DataFrame([instance]))[0]
    assert _payload(body)["errors"] == [] and _payload(body)["warnings"] == [
        {"field": "features.colour", "code": "UNKNOWN_CATEGORY"}
    ]
    assert _payload(body)["predictions"][0]["output"]["label"] == expected
    assert response.status_code == 201
    assert [(w["field"], w["code"]) for w in response.json()["warnings"]] == [("features.colour", "UNKNOWN_CATEGORY")]


def test_unseen_category_is_refused_when_the_encoder_refuses_it(register, make_user, issue_token, gql, stored_counts):
    from sklearn.preprocessing import OneHotEncoder

    from tests.conformance.zoo import _mixed_frame, _mixed_target, _one_hot_pipeline

    train = _mixed_frame(100, 0)
    register(
        "strict", _joblib(_one_hot_pipeline(OneHotEncoder(handle_unknown="error")).fit(train, _mixed_target(train)))
    )
    before = stored_counts()
    # when
    _, body = gql(
        CREATE,
        {"input": {"modelName": "strict", "features": {"size": 0.3, "weight": 1.0, "colour": "purple"}}},
        token=issue_token(make_user()),
    )
    # then
    assert _payload(body)["errors"] == [{"field": "features.colour", "code": "INVALID_CHOICE"}]
    assert stored_counts() == before


def test_null_is_missing_only_for_nullable_features(register, make_user, issue_token, gql, stored_counts):
    zoo = zoo_model("imputing_pipeline")
    register("imputing", _joblib(zoo.estimator))
    register("plain", _joblib(zoo_model("logistic_regression").estimator))
    token = issue_token(make_user())
    before = stored_counts()
    # when: an imputed feature left out, another sent as null; then null for a model that cannot take it
    _, imputed = gql(
        CREATE, {"input": {"modelName": "imputing", "features": {"weight": 0.1, "colour": None}}}, token=token
    )
    _, refused = gql(
        CREATE, {"input": {"modelName": "plain", "features": {"a": None, "b": 1, "c": 1, "d": 1}}}, token=token
    )
    # then
    frame = pd.DataFrame({"size": [np.nan], "colour": pd.Series([np.nan], dtype=object), "weight": [0.1]})
    prediction = _payload(imputed)["predictions"][0]
    assert prediction["output"]["label"] == zoo.estimator.predict(frame)[0]
    assert prediction["input"] == {"size": None, "colour": None, "weight": 0.1}
    assert _payload(refused)["errors"] == [{"field": "features.a", "code": "REQUIRED"}]
    assert stored_counts() == (before[0] + 1, before[1] + 1)


def test_hand_written_schema_keeps_nullable_and_the_unknown_policy(register):
    estimator = zoo_model("hist_gradient_boosting_nan").estimator
    schema = [{"name": n, "type": "number", "nullable": True} for n in "abcd"]
    model = register("hand", _joblib(estimator), input_schema=schema)
    assert model.input_schema == {"features": schema}


def test_positional_instances_follow_the_schema_order(register, make_user, issue_token, gql):
    zoo = zoo_model("gradient_boosting_on_numpy")
    model = register("numpy", _joblib(zoo.estimator))
    token = issue_token(make_user())
    row = zoo.rows[0].tolist()
    # when
    _, by_array = gql(CREATE, {"input": {"modelName": "numpy", "features": row}}, token=token)
    _, by_object = gql(
        CREATE,
        {"input": {"modelName": "numpy", "features": dict(zip(["x0", "x1", "x2", "x3"], row, strict=True))}},
        token=token,
    )
    _, too_short = gql(CREATE, {"input": {"modelName": "numpy", "features": row[:3]}}, token=token)
    # then
    assert [f["name"] for f in model.input_schema["features"]] == ["x0", "x1", "x2", "x3"]
    assert _payload(by_array)["predictions"][0]["output"] == _payload(by_object)["predictions"][0]["output"]
    assert _payload(too_short)["errors"] == [{"field": "features", "code": "INVALID_TYPE"}]


class OneAnswerForAnyRows:
    """Answers one output whatever the rows: the service must refuse to bill rows it cannot return."""

    n_features_in_ = 1
    classes_ = np.array(["a", "b"])
    _estimator_type = "classifier"

    def predict(self, rows):
        return np.array(["a"])


def test_model_that_does_not_answer_one_output_per_row_is_refused(
    register, make_user, issue_token, rest, stored_counts
):
    register("short", _joblib(OneAnswerForAnyRows()))
    before = stored_counts()
    # when
    response = rest("post", "/api/v1/models/short/predict", {"instances": [[1.0]] * 6}, token=issue_token(make_user()))
    # then
    assert response.status_code == 502
    assert [e["code"] for e in response.json()["errors"]] == ["MODEL_OUTPUT_MISMATCH"]
    assert stored_counts() == before


@pytest.mark.parametrize(
    ("name", "task"),
    [
        ("k_means", "clustering"),
        ("isolation_forest", "outlier_detection"),
        ("multi_label_forest", "multilabel_classification"),
        ("random_forest_two_targets", "multioutput_regression"),
    ],
)
def test_task_is_detected_and_exposed(register, make_user, issue_token, gql, rest, name, task):
    register("kind", _joblib(zoo_model(name).estimator))
    token = issue_token(make_user())
    _, body = gql('{ model(name: "kind") { task classes } }', token=token)
    assert body["data"]["model"]["task"] == task
    assert rest("get", "/api/v1/models", token=token).json()["results"][0]["task"] == task
