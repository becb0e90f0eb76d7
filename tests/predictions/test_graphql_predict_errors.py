"""createPrediction refusals: every error is data with a stable code and path, and nothing is stored or billed."""

import json
import os

import pytest

from predictions.models import RegisteredModel
from predictions.registry.cache import loaded_model_is_cached, loaded_models_clear
from tests.conftest import BANK_CLIENT, IRIS_SETOSA, iris_artifact, regressor_artifact

CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) {
    prediction { id output }
    predictions { id }
    cost { amount predictions }
    replayed
    errors { field code message }
  }
}
"""


def _payload(body):
    return body["data"]["createPrediction"]


def _errors(body):
    return [(e["field"], e["code"]) for e in _payload(body)["errors"]]


def _refused(payload):
    return payload["prediction"] is None and payload["predictions"] is None and payload["cost"] is None


def test_missing_feature_is_required(make_user, issue_token, gql, iris_model, stored_counts):
    # given
    token = issue_token(make_user())
    features = {k: v for k, v in IRIS_SETOSA.items() if k != "petal_width"}
    before = stored_counts()
    # when
    status, body = gql(CREATE, {"input": {"modelName": "iris", "features": features}}, token=token)
    # then
    assert status == 200
    assert _errors(body) == [("features.petal_width", "REQUIRED")]
    assert _refused(_payload(body))
    assert stored_counts() == before


def test_null_feature_is_required(make_user, issue_token, gql, iris_model, stored_counts):
    token = issue_token(make_user())
    before = stored_counts()
    status, body = gql(
        CREATE, {"input": {"modelName": "iris", "features": {**IRIS_SETOSA, "sepal_width": None}}}, token=token
    )
    assert _errors(body) == [("features.sepal_width", "REQUIRED")]
    assert stored_counts() == before


def test_every_problem_of_an_instance_is_reported_at_once(make_user, issue_token, gql, bank_model, stored_counts):
    # given: a string for a number, a boolean for a number, a number for a category, an unknown field, a missing one
    token = issue_token(make_user())
    features = {**BANK_CLIENT, "age": "forty", "balance": True, "job": 7, "favourite_colour": "red"}
    del features["campaign"]
    before = stored_counts()
    # when
    status, body = gql(CREATE, {"input": {"modelName": "bank-marketing", "features": features}}, token=token)
    # then
    assert status == 200
    assert sorted(_errors(body)) == sorted(
        [
            ("features.age", "INVALID_TYPE"),
            ("features.balance", "INVALID_TYPE"),
            ("features.job", "INVALID_TYPE"),
            ("features.campaign", "REQUIRED"),
            ("features.favourite_colour", "UNKNOWN_FIELD"),
        ]
    )
    assert _refused(_payload(body))
    assert stored_counts() == before


def test_non_finite_numbers_are_invalid(make_user, issue_token, gql, iris_model, stored_counts):
    # given: json.dumps writes Infinity, which Python's JSON parser accepts
    token = issue_token(make_user())
    before = stored_counts()
    # when
    status, body = gql(
        CREATE, {"input": {"modelName": "iris", "features": {**IRIS_SETOSA, "sepal_length": float("inf")}}}, token=token
    )
    # then
    assert _errors(body) == [("features.sepal_length", "INVALID_TYPE")]
    assert stored_counts() == before


def test_fractional_value_for_an_integer_feature_is_invalid(make_user, issue_token, gql, register, stored_counts):
    # given: a hand-written schema declaring integers
    register(
        "reg", regressor_artifact(), input_schema=[{"name": "x0", "type": "integer"}, {"name": "x1", "type": "integer"}]
    )
    token = issue_token(make_user())
    before = stored_counts()
    # when
    _, bad = gql(CREATE, {"input": {"modelName": "reg", "features": {"x0": 1.5, "x1": 2}}}, token=token)
    _, good = gql(CREATE, {"input": {"modelName": "reg", "features": {"x0": 1, "x1": 2.0}}}, token=token)
    # then
    assert _errors(bad) == [("features.x0", "INVALID_TYPE")]
    assert _errors(good) == []
    assert stored_counts() == (before[0] + 1, before[1] + 1)


def test_features_that_are_not_an_object_are_invalid(make_user, issue_token, gql, iris_model, stored_counts):
    # given
    token = issue_token(make_user())
    before = stored_counts()
    # when: a string and a list where the object goes
    results = [
        gql(CREATE, {"input": {"modelName": "iris", "features": value}}, token=token) for value in ("x", [5.1, 3.5])
    ]
    # then
    for status, body in results:
        assert status == 200
        assert _errors(body) == [("features", "INVALID_TYPE")]
    assert stored_counts() == before


def test_model_version_of_the_wrong_type_is_refused_before_execution(
    make_user, issue_token, gql, iris_model, stored_counts
):
    # given
    token = issue_token(make_user())
    before = stored_counts()
    # when
    status, body = gql(
        CREATE, {"input": {"modelName": "iris", "modelVersion": "abc", "features": IRIS_SETOSA}}, token=token
    )
    # then
    assert status == 400
    assert len(body["errors"]) == 1
    assert "data" not in body or body["data"] is None
    assert stored_counts() == before


def test_both_or_neither_of_features_and_instances_is_invalid_input(
    make_user, issue_token, gql, iris_model, stored_counts
):
    # given
    token = issue_token(make_user())
    before = stored_counts()
    # when
    _, both = gql(
        CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA, "instances": [IRIS_SETOSA]}}, token=token
    )
    _, neither = gql(CREATE, {"input": {"modelName": "iris"}}, token=token)
    _, empty = gql(CREATE, {"input": {"modelName": "iris", "instances": []}}, token=token)
    # then
    assert [code for _, code in _errors(both)] == ["INVALID_INPUT"]
    assert [code for _, code in _errors(neither)] == ["INVALID_INPUT"]
    assert _errors(empty) == [("instances", "INVALID_INPUT")]
    assert stored_counts() == before


def test_idempotency_key_of_a_bad_length_is_invalid_input(make_user, issue_token, gql, iris_model, stored_counts):
    # given
    token = issue_token(make_user())
    before = stored_counts()
    # when
    results = [
        gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA, "idempotencyKey": key}}, token=token)
        for key in ("", "k" * 201)
    ]
    _, longest = gql(
        CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA, "idempotencyKey": "k" * 200}}, token=token
    )
    # then
    for _, body in results:
        assert _errors(body) == [("idempotencyKey", "INVALID_INPUT")]
    assert _errors(longest) == []
    assert stored_counts() == (before[0] + 1, before[1] + 1)


def test_more_instances_than_the_limit_is_refused(make_user, issue_token, gql, iris_model, stored_counts, settings):
    # given
    settings.PREDICTION_MAX_INSTANCES = 3
    token = issue_token(make_user())
    before = stored_counts()
    # when
    _, over = gql(CREATE, {"input": {"modelName": "iris", "instances": [IRIS_SETOSA] * 4}}, token=token)
    _, at = gql(CREATE, {"input": {"modelName": "iris", "instances": [IRIS_SETOSA] * 3}}, token=token)
    # then
    assert _errors(over) == [("instances", "TOO_MANY_INSTANCES")]
    assert _refused(_payload(over))
    assert _errors(at) == []
    assert stored_counts() == (before[0] + 3, before[1] + 1)


def test_unknown_or_hidden_models_are_not_found(make_user, issue_token, gql, register, stored_counts):
    # given: iris v1 production, v2 staging (invisible to non-staff)
    register("iris", iris_artifact())
    staging = register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    token = issue_token(make_user())
    before = stored_counts()
    # when
    refs = [
        {"modelName": "nope"},
        {"modelName": "iris", "modelVersion": 2},
        {"modelName": "iris", "modelVersion": 7},
        {"modelId": str(staging.pk)},
        {"modelId": "999999"},
        {"modelId": "abc"},
        {},
    ]
    results = [gql(CREATE, {"input": {**ref, "features": IRIS_SETOSA}}, token=token) for ref in refs]
    # then
    for status, body in results:
        assert status == 200
        assert [code for _, code in _errors(body)] == ["NOT_FOUND"]
        assert _refused(_payload(body))
    assert stored_counts() == before


def test_staff_may_predict_on_a_staging_model(staff_user, issue_token, gql, register):
    staging = register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    token = issue_token(staff_user)
    _, body = gql(CREATE, {"input": {"modelId": str(staging.pk), "features": IRIS_SETOSA}}, token=token)
    assert _errors(body) == []
    assert _payload(body)["prediction"]["output"]["label"] == "setosa"


def test_tampered_artifact_makes_the_model_unavailable_and_others_keep_working(
    make_user, issue_token, gql, iris_model, bank_model, stored_counts
):
    # given: iris was loaded once, then its file is overwritten
    token = issue_token(make_user())
    _, first = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=token)
    assert _errors(first) == []
    assert loaded_model_is_cached(model=iris_model)
    with open(iris_model.artifact.path, "wb") as artifact:
        artifact.write(b"not the registered bytes")
    loaded_models_clear()
    before = stored_counts()
    # when
    status, tampered = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=token)
    _, other = gql(CREATE, {"input": {"modelName": "bank-marketing", "features": BANK_CLIENT}}, token=token)
    # then
    assert status == 200
    assert [code for _, code in _errors(tampered)] == ["MODEL_UNAVAILABLE"]
    assert _refused(_payload(tampered))
    assert _errors(other) == []
    assert stored_counts() == (before[0] + 1, before[1] + 1)


def test_missing_artifact_makes_the_model_unavailable(make_user, issue_token, gql, iris_model, stored_counts):
    # given
    os.remove(iris_model.artifact.path)
    token = issue_token(make_user())
    before = stored_counts()
    # when
    _, body = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=token)
    # then
    assert [code for _, code in _errors(body)] == ["MODEL_UNAVAILABLE"]
    assert stored_counts() == before


@pytest.mark.parametrize(
    "body",
    ['{"query": "mutation {', "[1, 2]", '"just a string"', '{"query": 123}', '{"query": null}', ""],
    ids=["truncated-json", "json-array", "json-string", "query-not-a-string", "query-null", "empty"],
)
def test_malformed_request_bodies_are_a_400(client, make_user, issue_token, iris_model, stored_counts, body):
    # given
    token = issue_token(make_user())
    before = stored_counts()
    # when
    response = client.post("/graphql/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    # then
    assert response.status_code == 400
    assert stored_counts() == before


def test_mutation_over_get_is_refused(client, make_user, issue_token, iris_model, stored_counts):
    # given
    token = issue_token(make_user())
    before = stored_counts()
    query = (
        'mutation { createPrediction(input: {modelName: "iris", features: '
        "{sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2}}) { errors { code } } }"
    )
    # when
    response = client.get(
        "/graphql/", {"query": query}, HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT="application/json"
    )
    # then
    assert response.status_code == 405
    assert stored_counts() == before


def test_request_body_above_the_upload_limit_is_413(
    client, make_user, issue_token, iris_model, stored_counts, settings
):
    # given
    token = issue_token(make_user())
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    variables = {"input": {"modelName": "iris", "instances": [IRIS_SETOSA] * 50}}
    before = stored_counts()
    # when
    response = client.post(
        "/graphql/",
        json.dumps({"query": CREATE, "variables": variables}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    # then
    assert response.status_code == 413
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["PAYLOAD_TOO_LARGE"]
    assert stored_counts() == before


def test_variables_that_are_not_an_object_are_refused(client, make_user, issue_token, iris_model, stored_counts):
    token = issue_token(make_user())
    before = stored_counts()
    response = client.post(
        "/graphql/",
        json.dumps({"query": CREATE, "variables": ["not", "an", "object"]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 400
    assert len(response.json()["errors"]) == 1
    assert stored_counts() == before


def test_graphql_syntax_error_is_a_graphql_error_not_a_crash(make_user, issue_token, gql, iris_model, stored_counts):
    # given
    token = issue_token(make_user())
    before = stored_counts()
    # when
    status, body = gql("mutation { createPrediction(input: {modelName: ", token=token)
    # then
    assert status == 400
    assert len(body["errors"]) == 1
    assert body["errors"][0]["locations"]
    assert stored_counts() == before


def test_unknown_field_in_the_document_is_a_validation_error(make_user, issue_token, gql, iris_model):
    token = issue_token(make_user())
    status, body = gql("{ models { edges { node { secretArtifactPath } } } }", token=token)
    assert status == 400
    assert len(body["errors"]) == 1
