"""GraphQL createPrediction and REST predict call one service: same output, same charge, same error codes."""

import pytest

from billing.models import PricingTier, UsageRecord
from predictions.models import Prediction
from tests.api.conftest import error_codes
from tests.conftest import BANK_CLIENT, IRIS_SETOSA

CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) {
    prediction { id output }
    predictions { id input output }
    cost { amount currency predictions billablePredictions cpuSeconds storedBytes }
    replayed
    errors { field code message }
  }
}
"""
# REST names the inputs it takes (the path's name, the Idempotency-Key header) in snake_case; GraphQL in
# camelCase. Paths into the instances (`features.age`, `instances.1.housing`) are the same through both.
REST_FIELD_OF = {"modelName": "name", "idempotencyKey": "idempotency_key"}
BANK_STUDENT = {**BANK_CLIENT, "age": 23, "job": "student", "marital": "single", "housing": "yes", "campaign": 4}


def _graphql(gql, token, model, body, key=None):
    variables = {"modelName": model, **body}
    if key is not None:
        variables["idempotencyKey"] = key
    status, response = gql(CREATE, {"input": variables}, token=token)
    assert status == 200 and "errors" not in response, response
    return response["data"]["createPrediction"]


def _rest(rest, token, model, body, key=None):
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return rest("post", f"/api/v1/models/{model}/predict", body, token=token, **extra)


def _usage_of(prediction_id) -> UsageRecord:
    return Prediction.objects.select_related("usage").get(pk=prediction_id).usage


@pytest.mark.parametrize(
    ("model", "body"),
    [
        ("iris", {"features": IRIS_SETOSA}),
        ("bank-marketing", {"features": BANK_CLIENT}),
        ("bank-marketing", {"instances": [BANK_CLIENT, BANK_STUDENT, BANK_CLIENT]}),
    ],
    ids=["iris", "bank-single", "bank-batch"],
)
def test_same_input_gives_same_output_and_charge(
    make_user, issue_token, gql, rest, iris_model, bank_model, model, body
):
    # given: two users on the same tier
    graphql_token, rest_token = issue_token(make_user("via-graphql")), issue_token(make_user("via-rest"))
    # when
    by_graphql = _graphql(gql, graphql_token, model, body)
    response = _rest(rest, rest_token, model, body)
    # then: same predictions
    assert by_graphql["errors"] == [] and response.status_code == 201
    by_rest = response.json()
    assert [p["output"] for p in by_graphql["predictions"]] == [p["output"] for p in by_rest["predictions"]]
    assert [p["input"] for p in by_graphql["predictions"]] == [p["input"] for p in by_rest["predictions"]]
    assert (by_graphql["prediction"] is None) == (by_rest["prediction"] is None)
    # and the same charge structure
    g_cost, r_cost = by_graphql["cost"], by_rest["cost"]
    assert (g_cost["predictions"], g_cost["billablePredictions"], g_cost["storedBytes"], g_cost["currency"]) == (
        r_cost["predictions"],
        r_cost["billable_predictions"],
        r_cost["stored_bytes"],
        r_cost["currency"],
    )
    g_usage, r_usage = _usage_of(by_graphql["predictions"][0]["id"]), _usage_of(by_rest["predictions"][0]["id"])
    assert g_usage.pk != r_usage.pk
    for field in (
        "predictions",
        "billable_predictions",
        "stored_bytes",
        "currency",
        "price_per_prediction",
        "price_per_cpu_second",
        "price_per_mb",
        "prediction_amount",
        "storage_amount",
        "model_id",
        "tier_id",
    ):
        assert getattr(g_usage, field) == getattr(r_usage, field), field
    for usage in (g_usage, r_usage):
        assert usage.amount == usage.prediction_amount + usage.compute_amount + usage.storage_amount
        assert usage.source == "online"
    assert g_usage.prediction_amount > 0 and g_usage.storage_amount > 0


def test_idempotency_key_used_through_graphql_replays_through_rest(
    make_user, issue_token, gql, rest, iris_model, stored_counts
):
    # given
    token = issue_token(make_user())
    by_graphql = _graphql(gql, token, "iris", {"features": IRIS_SETOSA}, key="shared-1")
    before = stored_counts()
    # when
    response = _rest(rest, token, "iris", {"features": IRIS_SETOSA}, key="shared-1")
    conflict = _rest(rest, token, "iris", {"instances": [IRIS_SETOSA]}, key="shared-1")
    # then
    assert response.status_code == 200 and response.json()["replayed"] is True
    assert response.json()["prediction"]["id"] == by_graphql["prediction"]["id"]
    assert conflict.status_code == 409 and [c for _, c in error_codes(conflict)] == ["IDEMPOTENCY_CONFLICT"]
    assert stored_counts() == before


BAD_INPUTS = [
    ("iris", {"features": {k: v for k, v in IRIS_SETOSA.items() if k != "sepal_width"}}, None),
    ("iris", {"features": {**IRIS_SETOSA, "sepal_length": "long", "extra": 1}}, None),
    ("iris", {"features": [1, 2, 3]}, None),
    ("bank-marketing", {"features": {**BANK_CLIENT, "job": "astronaut", "age": "old"}}, None),
    ("bank-marketing", {"instances": [BANK_CLIENT, {**BANK_CLIENT, "housing": "maybe"}, {}]}, None),
    ("iris", {"features": IRIS_SETOSA, "instances": [IRIS_SETOSA]}, None),
    ("iris", {}, None),
    ("iris", {"instances": []}, None),
    ("iris", {"instances": [IRIS_SETOSA] * 1001}, None),
    ("iris", {"features": IRIS_SETOSA}, "k" * 201),
    ("no-such-model", {"features": IRIS_SETOSA}, None),
]


@pytest.mark.parametrize(
    ("model", "body", "key"),
    BAD_INPUTS,
    ids=[
        "required",
        "type-and-unknown",
        "short-array",
        "choice-and-type",
        "batch-paths",
        "both",
        "neither",
        "empty-batch",
        "too-many",
        "long-key",
        "unknown-model",
    ],
)
def test_same_bad_input_gives_same_error_codes_and_fields(
    make_user, issue_token, gql, rest, iris_model, bank_model, stored_counts, model, body, key
):
    # given
    token = issue_token(make_user())
    before = stored_counts()
    # when
    by_graphql = _graphql(gql, token, model, body, key)
    response = _rest(rest, token, model, body, key)
    # then
    graphql_errors = sorted((e["field"], e["code"]) for e in by_graphql["errors"])
    assert graphql_errors, "GraphQL accepted the bad input"
    assert sorted(error_codes(response)) == sorted((REST_FIELD_OF.get(f, f), c) for f, c in graphql_errors)
    assert response.status_code in (400, 404)
    assert by_graphql["cost"] is None and by_graphql["predictions"] is None
    assert stored_counts() == before


def test_quota_refusal_has_the_same_code_through_both(make_user, issue_token, gql, rest, iris_model, stored_counts):
    token = issue_token(make_user(tier=PricingTier.objects.create(name="one", monthly_quota=1)))
    assert _rest(rest, token, "iris", {"features": IRIS_SETOSA}).status_code == 201
    before = stored_counts()
    by_graphql = _graphql(gql, token, "iris", {"features": IRIS_SETOSA})
    response = _rest(rest, token, "iris", {"features": IRIS_SETOSA})
    assert [e["code"] for e in by_graphql["errors"]] == [c for _, c in error_codes(response)] == ["QUOTA_EXCEEDED"]
    assert response.status_code == 429
    assert stored_counts() == before


def test_batch_with_explicit_null_features_has_no_single_prediction_through_both(
    make_user, issue_token, gql, rest, iris_model
):
    # given: a batch request that also spells out features as null
    token = issue_token(make_user())
    body = {"features": None, "instances": [IRIS_SETOSA, IRIS_SETOSA]}
    # when
    by_graphql = _graphql(gql, token, "iris", body)
    response = _rest(rest, token, "iris", body)
    # then: both treat it as a batch
    assert by_graphql["prediction"] is None and len(by_graphql["predictions"]) == 2
    assert response.status_code == 201 and len(response.json()["predictions"]) == 2
    assert response.json()["prediction"] is None
