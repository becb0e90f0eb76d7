"""`explain: true` on createPrediction: contributions of every prediction of the call, adding up to the
estimator's own raw output in-process, billed by their CPU time in the call's one usage record."""

import io

import joblib
import numpy as np
import pandas as pd

from billing.models import UsageRecord
from predictions.models import Prediction
from predictions.registry.cache import loaded_model_get
from tests.conftest import IRIS_SETOSA

CREATE = """
mutation($input: CreatePredictionInput!) {
  createPrediction(input: $input) {
    predictions { id output }
    explanations { kind output targets baseValues contributions { feature values } }
    cost { predictions cpuSeconds }
    replayed
    errors { field code }
  }
}
"""
VERSICOLOR = {"sepal_length": 6.4, "sepal_width": 3.2, "petal_length": 4.5, "petal_width": 1.5}


def _totals(explanation):
    return [
        base + sum(c["values"][i] for c in explanation["contributions"])
        for i, base in enumerate(explanation["baseValues"])
    ]


def test_explain_returns_contributions_that_add_up_to_the_estimators_raw_output(
    make_user, issue_token, gql, iris_model
):
    # given
    user = make_user()
    # when
    _, body = gql(
        CREATE,
        {"input": {"modelName": "iris", "instances": [IRIS_SETOSA, VERSICOLOR], "explain": True}},
        token=issue_token(user),
    )
    # then: one explanation per prediction, in order, each adding up to decision_function on its row
    payload = body["data"]["createPrediction"]
    assert payload["errors"] == [] and len(payload["explanations"]) == 2
    estimator = loaded_model_get(model=iris_model).estimator
    raw = estimator.decision_function(pd.DataFrame([IRIS_SETOSA, VERSICOLOR]))
    for explanation, expected in zip(payload["explanations"], raw, strict=True):
        assert explanation["kind"] == "linear" and explanation["output"] == "decision_function"
        assert np.allclose(_totals(explanation), expected, atol=1e-9)
    # and: billed in the call's one usage record (its CPU time includes the explanation), 2 predictions stored
    usage = UsageRecord.objects.get(user=user)
    assert usage.predictions == 2 and usage.source == "online"
    assert float(payload["cost"]["cpuSeconds"]) > 0
    assert Prediction.objects.filter(user=user).count() == 2


def test_without_explain_there_are_no_explanations(make_user, issue_token, gql, iris_model):
    _, body = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=issue_token(make_user()))
    payload = body["data"]["createPrediction"]
    assert payload["errors"] == [] and payload["explanations"] is None


def test_explain_on_an_unsupported_model_refuses_the_call_and_stores_and_bills_nothing(
    make_user, issue_token, gql, register
):
    # given: a k-nearest-neighbours model (neither linear nor a tree ensemble)
    from sklearn.neighbors import KNeighborsRegressor

    x = np.arange(20, dtype=float).reshape(10, 2)
    buffer = io.BytesIO()
    joblib.dump(KNeighborsRegressor(n_neighbors=2).fit(x, x[:, 0]), buffer)
    register("knn", buffer.getvalue())
    user = make_user()
    # when
    _, body = gql(
        CREATE,
        {"input": {"modelName": "knn", "features": {"x0": 1.0, "x1": 2.0}, "explain": True}},
        token=issue_token(user),
    )
    # then
    payload = body["data"]["createPrediction"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("explain", "EXPLANATION_UNSUPPORTED")]
    assert payload["predictions"] is None
    assert not Prediction.objects.filter(user=user).exists() and not UsageRecord.objects.filter(user=user).exists()


def test_a_retry_with_its_idempotency_key_explains_again_without_charging_twice(
    make_user, issue_token, gql, iris_model
):
    # given
    user = make_user()
    token = issue_token(user)
    variables = {"input": {"modelName": "iris", "features": IRIS_SETOSA, "explain": True, "idempotencyKey": "e-1"}}
    _, first = gql(CREATE, variables, token=token)
    # when
    _, again = gql(CREATE, variables, token=token)
    # then
    first, again = first["data"]["createPrediction"], again["data"]["createPrediction"]
    assert again["replayed"] is True and again["predictions"] == first["predictions"]
    assert np.allclose(_totals(again["explanations"][0]), _totals(first["explanations"][0]), atol=1e-12)
    assert UsageRecord.objects.filter(user=user).count() == 1
