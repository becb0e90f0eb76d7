"""The model registry over GraphQL: who sees which stages, lookups by id/name/version, keyset pages."""

import base64
import json

from predictions.demo import BANK_CATEGORICAL, IRIS_FEATURES
from predictions.models import RegisteredModel
from tests.conftest import IRIS_SETOSA, iris_artifact, regressor_artifact

STAGING = RegisteredModel.Stage.STAGING
ARCHIVED = RegisteredModel.Stage.ARCHIVED

MODELS = """
query Models($name: String, $stage: String, $first: Int, $after: String) {
  models(name: $name, stage: $stage, first: $first, after: $after) {
    edges { cursor node { id name version stage } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

MODEL = """
query Model($id: ID, $name: String, $version: Int) {
  model(id: $id, name: $name, version: $version) {
    id name version stage task inputSchema classes metrics createdAt
    versions { version stage }
  }
}
"""


def _names_versions(body):
    return [(e["node"]["name"], e["node"]["version"]) for e in body["data"]["models"]["edges"]]


def _error_codes(body):
    return [e["extensions"]["code"] for e in body["errors"]]


def test_non_staff_see_only_production_models(make_user, issue_token, gql, register):
    # given: iris v1 production, v2 staging, v3 archived
    register("iris", iris_artifact())
    register("iris", iris_artifact(), stage=STAGING)
    register("iris", iris_artifact(), stage=ARCHIVED)
    token = issue_token(make_user())
    # when
    status, body = gql(MODELS, token=token)
    # then
    assert status == 200
    assert "errors" not in body
    assert _names_versions(body) == [("iris", 1)]
    assert {e["node"]["stage"] for e in body["data"]["models"]["edges"]} == {"production"}


def test_non_staff_asking_for_the_staging_stage_get_nothing(make_user, issue_token, gql, register):
    # given
    register("iris", iris_artifact(), stage=STAGING)
    token = issue_token(make_user())
    # when
    status, body = gql(MODELS, {"stage": "staging"}, token=token)
    # then
    assert status == 200
    assert body["data"]["models"]["edges"] == []


def test_staff_see_every_stage_newest_version_first(staff_user, issue_token, gql, register):
    # given
    register("iris", iris_artifact())
    register("iris", iris_artifact(), stage=STAGING)
    register("iris", iris_artifact(), stage=ARCHIVED)
    token = issue_token(staff_user)
    # when
    status, body = gql(MODELS, token=token)
    # then
    assert status == 200
    assert _names_versions(body) == [("iris", 3), ("iris", 2), ("iris", 1)]
    assert [e["node"]["stage"] for e in body["data"]["models"]["edges"]] == ["archived", "staging", "production"]


def test_models_filtered_by_name_and_stage(staff_user, issue_token, gql, register):
    # given
    register("iris", iris_artifact())
    register("iris", iris_artifact(), stage=STAGING)
    register("reg", regressor_artifact())
    token = issue_token(staff_user)
    # when
    _, by_name = gql(MODELS, {"name": "reg"}, token=token)
    _, by_stage = gql(MODELS, {"stage": "staging"}, token=token)
    _, by_both = gql(MODELS, {"name": "reg", "stage": "staging"}, token=token)
    # then
    assert _names_versions(by_name) == [("reg", 1)]
    assert _names_versions(by_stage) == [("iris", 2)]
    assert _names_versions(by_both) == []


def test_models_pages_with_keyset_cursors_until_done(make_user, issue_token, gql, register):
    # given: 7 production rows over three names
    for name, count in (("alpha", 3), ("beta", 2), ("gamma", 2)):
        for _ in range(count):
            register(name, regressor_artifact())
    token = issue_token(make_user())
    # when
    seen, after, pages = [], None, 0
    while True:
        status, body = gql(MODELS, {"first": 3, "after": after}, token=token)
        assert status == 200 and "errors" not in body
        seen += _names_versions(body)
        pages += 1
        info = body["data"]["models"]["pageInfo"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
        assert pages < 10
    # then: by name, newest version first, each once
    assert pages == 3
    assert seen == [("alpha", 3), ("alpha", 2), ("alpha", 1), ("beta", 2), ("beta", 1), ("gamma", 2), ("gamma", 1)]


def test_models_first_above_the_max_limit_is_a_user_error(make_user, issue_token, gql, iris_model, settings):
    # given
    token = issue_token(make_user())
    # when
    status, body = gql(MODELS, {"first": settings.RELAY_CONNECTION_MAX_LIMIT + 1}, token=token)
    # then
    assert status == 200
    assert _error_codes(body) == ["BAD_USER_INPUT"]
    assert body["data"] is None


def test_models_negative_first_is_a_user_error(make_user, issue_token, gql, iris_model):
    token = issue_token(make_user())
    status, body = gql(MODELS, {"first": -1}, token=token)
    assert status == 200
    assert _error_codes(body) == ["BAD_USER_INPUT"]


def test_models_garbage_cursor_is_a_user_error_not_a_crash(make_user, issue_token, gql, iris_model):
    # given
    token = issue_token(make_user())
    # when: not base64, base64 of non-JSON, and a JSON list of the wrong length
    results = [
        gql(MODELS, {"after": after}, token=token) for after in ("%%%not-a-cursor", "bm90IGpzb24=", "WzEsIDIsIDNd")
    ]
    # then
    for status, body in results:
        assert status == 200
        assert _error_codes(body) == ["INVALID_CURSOR"]


def test_models_cursor_with_wrongly_typed_values_is_a_user_error(make_user, issue_token, gql, iris_model):
    # given: base64 of ["iris", "not-an-int"]: the right shape, but version is not a number
    token = issue_token(make_user())
    after = base64.urlsafe_b64encode(json.dumps(["iris", "not-an-int"]).encode()).decode()
    # when
    status, body = gql(MODELS, {"after": after}, token=token)
    # then
    assert status == 200
    assert _error_codes(body) == ["INVALID_CURSOR"]


def test_model_by_id_returns_every_contract_field(make_user, issue_token, gql, register):
    # given
    model = register("iris", iris_artifact(), metrics={"accuracy": 0.97})
    token = issue_token(make_user())
    # when
    status, body = gql(MODEL, {"id": str(model.pk)}, token=token)
    # then
    assert status == 200 and "errors" not in body
    node = body["data"]["model"]
    assert node["id"] == str(model.pk)
    assert (node["name"], node["version"], node["stage"], node["task"]) == ("iris", 1, "production", "classification")
    assert [f["name"] for f in node["inputSchema"]["features"]] == IRIS_FEATURES
    assert node["classes"] == ["setosa", "versicolor", "virginica"]
    assert node["metrics"] == {"accuracy": 0.97}
    assert node["createdAt"]
    assert node["versions"] == [{"version": 1, "stage": "production"}]


def test_model_by_name_without_version_is_the_latest_production(make_user, issue_token, gql, register):
    # given: v1 and v2 production, v3 staging
    register("iris", iris_artifact())
    register("iris", iris_artifact())
    register("iris", iris_artifact(), stage=STAGING)
    token = issue_token(make_user())
    # when
    _, body = gql(MODEL, {"name": "iris"}, token=token)
    # then
    assert body["data"]["model"]["version"] == 2
    assert [v["version"] for v in body["data"]["model"]["versions"]] == [2, 1]


def test_staff_get_the_latest_production_too_but_see_all_versions(staff_user, issue_token, gql, register):
    # given
    register("iris", iris_artifact())
    register("iris", iris_artifact(), stage=STAGING)
    token = issue_token(staff_user)
    # when
    _, latest = gql(MODEL, {"name": "iris"}, token=token)
    _, staging = gql(MODEL, {"name": "iris", "version": 2}, token=token)
    # then
    assert latest["data"]["model"]["version"] == 1
    assert [v["version"] for v in latest["data"]["model"]["versions"]] == [2, 1]
    assert staging["data"]["model"]["stage"] == "staging"


def test_model_by_name_and_version(make_user, issue_token, gql, register):
    register("iris", iris_artifact())
    register("iris", iris_artifact())
    token = issue_token(make_user())
    _, body = gql(MODEL, {"name": "iris", "version": 1}, token=token)
    assert body["data"]["model"]["version"] == 1


def test_hidden_or_unknown_models_are_null_for_non_staff(make_user, issue_token, gql, register):
    # given
    register("iris", iris_artifact())
    staging = register("iris", iris_artifact(), stage=STAGING)
    token = issue_token(make_user())
    # when
    lookups = [
        {"id": str(staging.pk)},
        {"name": "iris", "version": 2},
        {"name": "iris", "version": 99},
        {"name": "nope"},
        {"id": "not-a-number"},
        {"id": "999999"},
    ]
    results = [gql(MODEL, variables, token=token) for variables in lookups]
    # then
    for status, body in results:
        assert status == 200
        assert "errors" not in body
        assert body["data"]["model"] is None


def test_bank_model_schema_lists_allowed_categories(make_user, issue_token, gql, bank_model):
    token = issue_token(make_user())
    _, body = gql(MODEL, {"name": "bank-marketing"}, token=token)
    features = {f["name"]: f for f in body["data"]["model"]["inputSchema"]["features"]}
    for column, categories in BANK_CATEGORICAL.items():
        assert sorted(features[column]["allowed"]) == sorted(categories)
        assert features[column]["type"] == "string"
    assert "allowed" not in features["age"]


def test_models_without_a_token_is_unauthenticated(gql, iris_model):
    status, body = gql(MODELS)
    assert status == 200
    assert _error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


def test_models_with_a_token_lacking_read_is_forbidden(make_user, issue_token, gql, iris_model):
    token = issue_token(make_user(), scope="predict")
    status, body = gql(MODELS, token=token)
    assert status == 200
    assert _error_codes(body) == ["FORBIDDEN"]
    assert body["data"] is None


CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) { prediction { model { version } } errors { field code } }
}
"""


def test_predicting_by_name_alone_uses_the_latest_production_version(make_user, issue_token, gql, register):
    # given: v1 and v2 production, v3 staging, v4 archived
    register("iris", iris_artifact())
    register("iris", iris_artifact())
    register("iris", iris_artifact(), stage=STAGING)
    register("iris", iris_artifact(), stage=ARCHIVED)
    token = issue_token(make_user())
    # when
    _, latest = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=token)
    _, pinned = gql(CREATE, {"input": {"modelName": "iris", "modelVersion": 1, "features": IRIS_SETOSA}}, token=token)
    # then
    assert latest["data"]["createPrediction"]["prediction"]["model"] == {"version": 2}
    assert pinned["data"]["createPrediction"]["prediction"]["model"] == {"version": 1}
