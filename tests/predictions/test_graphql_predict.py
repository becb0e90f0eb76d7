from decimal import Decimal

from billing.models import UsageRecord
from predictions.models import Prediction
from tests.conftest import BANK_CLIENT, IRIS_SETOSA

CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) {
    prediction { id model { name version } input output latencyMs createdAt }
    predictions { id output }
    cost { amount currency predictions cpuSeconds storedBytes }
    replayed
    errors { field code message }
  }
}
"""


def test_iris_single_prediction_is_stored_and_billed(make_user, issue_token, gql, iris_model):
    # given
    user = make_user()
    token = issue_token(user)
    # when
    status, body = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=token)
    # then
    assert status == 200
    payload = body["data"]["createPrediction"]
    assert payload["errors"] == []
    assert payload["prediction"]["output"]["label"] == "setosa"
    assert set(payload["prediction"]["output"]["probabilities"]) == {"setosa", "versicolor", "virginica"}
    assert payload["prediction"]["model"] == {"name": "iris", "version": 1}
    stored = Prediction.objects.get(pk=payload["prediction"]["id"])
    assert stored.user == user and stored.input == IRIS_SETOSA
    usage = UsageRecord.objects.get(user=user)
    assert usage.predictions == 1
    assert Decimal(payload["cost"]["amount"]) == usage.amount > 0
    assert payload["cost"]["currency"] == "USD"


def test_bank_marketing_prediction_with_categoricals(make_user, issue_token, gql, bank_model):
    token = issue_token(make_user())
    status, body = gql(CREATE, {"input": {"modelName": "bank-marketing", "features": BANK_CLIENT}}, token=token)
    payload = body["data"]["createPrediction"]
    assert payload["errors"] == []
    assert payload["prediction"]["output"]["label"] in ("yes", "no")
    assert abs(sum(payload["prediction"]["output"]["probabilities"].values()) - 1) < 1e-9
