"""registerModel and setModelStage over GraphQL, the artifact sent with the GraphQL multipart request spec;
and the typed `features` / `registeredBy` of the Model type."""

import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from predictions.models import RegisteredModel
from tests.conftest import IRIS_SETOSA, iris_artifact
from tests.predictions.conftest import joblib_bytes, tiny_pipeline

REGISTER = """
mutation Register($input: RegisterModelInput!) {
  registerModel(input: $input) {
    model { id name version stage metrics registeredBy features { name type allowed nullable unknown } }
    errors { field code message }
  }
}
"""
SET_STAGE = """
mutation Stage($input: SetModelStageInput!) {
  setModelStage(input: $input) { model { id stage } errors { field code } }
}
"""
MODEL = """
query Model($id: ID) {
  model(id: $id) { name registeredBy inputSchema features { name type allowed nullable unknown } }
}
"""


def _upload(
    client,
    fields: dict,
    *,
    token=None,
    artifact: bytes | None = b"",
    filename="model.joblib",
    query=REGISTER,
    files_map=None,
    **extra,
):
    """POST /graphql/ as multipart: `operations` with a null artifact, `map` pointing file part 0 at it."""
    variables = {"input": {"artifact": None, **fields}}
    data = {"operations": json.dumps({"query": query, "variables": variables})}
    if artifact is not None:
        upload = io.BytesIO(artifact or joblib_bytes(tiny_pipeline()))
        upload.name = filename
        data["0"] = upload
        data["map"] = json.dumps(files_map if files_map is not None else {"0": ["variables.input.artifact"]})
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    headers.update(extra)
    response = client.post("/graphql/", data, **headers)
    return response.status_code, response.json()


def _payload_errors(body, mutation="registerModel"):
    return [(e["field"], e["code"]) for e in body["data"][mutation]["errors"]]


def test_a_registry_token_registers_a_model_by_multipart_upload(client, registry_token, stored):
    # given
    before = stored()
    # when
    status, body = _upload(client, {"name": "churn", "version": 4, "metrics": {"auc": 0.9}}, token=registry_token)
    # then
    assert status == 200, body
    payload = body["data"]["registerModel"]
    assert payload["errors"] == []
    model = payload["model"]
    assert (model["name"], model["version"], model["stage"], model["metrics"]) == ("churn", 4, "staging", {"auc": 0.9})
    assert model["registeredBy"] == "staff"
    assert model["features"] == [
        {"name": "size", "type": "number", "allowed": None, "nullable": False, "unknown": None},
        {"name": "color", "type": "string", "allowed": ["blue", "red"], "nullable": False, "unknown": "pass"},
    ]
    assert stored() == (before[0] + 1, before[1] + 1)
    assert RegisteredModel.objects.get(pk=model["id"]).registered_by.username == "staff"


def test_registering_needs_a_token_and_the_registry_scope(client, staff_user, issue_token, stored):
    before = stored()
    anonymous_status, anonymous = _upload(client, {"name": "churn"})
    _, no_scope = _upload(client, {"name": "churn"}, token=issue_token(staff_user, scope="read predict staff"))
    assert anonymous_status == 200
    assert [e["extensions"]["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]
    assert no_scope["data"]["registerModel"] is None
    assert [e["extensions"]["code"] for e in no_scope["errors"]] == ["FORBIDDEN"]
    assert stored() == before


@pytest.mark.parametrize(
    ("artifact", "filename", "fields", "expected"),
    [
        (b"junk", "model.joblib", {"name": "churn"}, [("artifact", "ARTIFACT_UNREADABLE")]),
        (b"", "model.txt", {"name": "churn"}, [("artifact", "UNSUPPORTED_FORMAT")]),
        ("dict", "model.joblib", {"name": "churn"}, [("artifact", "NOT_AN_ESTIMATOR")]),
        (b"", "model.joblib", {"name": "churn", "metrics": [1]}, [("metrics", "INVALID_METRICS")]),
        (b"", "model.joblib", {"name": "churn", "inputSchema": {"features": []}}, [("inputSchema", "INVALID_SCHEMA")]),
        (b"", "model.joblib", {"name": "churn", "version": 0}, [("version", "INVALID_VERSION")]),
    ],
)
def test_a_refused_registration_is_a_payload_error_and_stores_nothing(
    client, registry_token, stored, artifact, filename, fields, expected
):
    before = stored()
    data = joblib_bytes({"not": "a model"}) if artifact == "dict" else artifact
    status, body = _upload(client, fields, token=registry_token, artifact=data, filename=filename)
    assert status == 200, body
    assert body["data"]["registerModel"]["model"] is None
    assert _payload_errors(body) == expected
    assert stored() == before


def test_the_same_file_twice_is_duplicate_artifact_unless_forced(client, registry_token, stored):
    data = joblib_bytes(tiny_pipeline())
    _upload(client, {"name": "churn"}, token=registry_token, artifact=data)
    before = stored()
    _, again = _upload(client, {"name": "churn"}, token=registry_token, artifact=data)
    _, forced = _upload(client, {"name": "churn", "force": True}, token=registry_token, artifact=data)
    assert _payload_errors(again) == [("artifact", "DUPLICATE_ARTIFACT")]
    assert forced["data"]["registerModel"]["model"]["version"] == 2
    assert stored() == (before[0] + 1, before[1] + 1)


def test_breaking_inputs_straight_into_production_are_refused_in_camel_case(client, registry_token, iris_model, stored):
    before = stored()
    _, body = _upload(client, {"name": "iris", "stage": "production"}, token=registry_token)
    errors = _payload_errors(body)
    assert {code for _, code in errors} == {"BREAKING_CHANGE"}
    assert {field for field, _ in errors} >= {"inputSchema.sepal_length", "inputSchema.size"}
    assert stored() == before


def test_an_artifact_not_sent_as_a_file_is_required(client, registry_token, gql, stored):
    before = stored()
    _, inline = gql(REGISTER, {"input": {"artifact": "AAAA", "name": "churn"}}, token=registry_token)
    _, unmapped = _upload(client, {"name": "churn"}, token=registry_token, artifact=None)
    assert _payload_errors(inline) == [("artifact", "REQUIRED")]
    # no file part: the non-null variable stays null, which GraphQL itself refuses before any resolver
    assert "data" not in unmapped and "Upload!" in unmapped["errors"][0]["message"]
    assert stored() == before


@pytest.mark.parametrize(
    "files_map",
    [
        {"0": ["variables.input.name"]},
        {"1": ["variables.input.artifact"]},
        {"0": "variables.input.artifact"},
        {"0": ["variables.nothere.x"]},
    ],
)
def test_a_malformed_map_is_400_not_a_server_error(client, registry_token, stored, files_map):
    before = stored()
    status, body = _upload(client, {"name": "churn"}, token=registry_token, files_map=files_map)
    assert status == 400, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_REQUEST"]
    assert stored() == before


def test_a_multipart_body_without_operations_is_400(client, registry_token):
    response = client.post("/graphql/", {"query": "{ me { username } }"}, HTTP_AUTHORIZATION=f"Bearer {registry_token}")
    assert response.status_code == 400
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_REQUEST"]


def test_a_body_over_the_artifact_limit_is_413_unread(client, registry_token, settings, stored):
    settings.MODEL_ARTIFACT_MAX_BYTES = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    before = stored()
    response = client.generic(
        "POST",
        "/graphql/",
        b"x" * 3000,
        content_type="multipart/form-data; boundary=zzz",
        HTTP_AUTHORIZATION=f"Bearer {registry_token}",
    )
    assert response.status_code == 413
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["ARTIFACT_TOO_LARGE"]
    assert stored() == before


def test_a_file_over_the_artifact_limit_stops_the_upload(client, registry_token, settings, stored):
    settings.MODEL_ARTIFACT_MAX_BYTES = 1000
    before = stored()
    status, body = _upload(client, {"name": "churn"}, token=registry_token, artifact=b"\x80" * 1500)
    assert status == 413, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["ARTIFACT_TOO_LARGE"]
    assert stored() == before


def test_callers_without_the_registry_scope_keep_the_ordinary_body_limit(client, make_user, issue_token, settings):
    # given: a customer token, a 3 kB multipart body, an ordinary limit of 2 kB and a large artifact limit
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    settings.MODEL_ARTIFACT_MAX_BYTES = 10_000_000
    response = client.generic(
        "POST",
        "/graphql/",
        b"x" * 3000,
        content_type="multipart/form-data; boundary=zzz",
        HTTP_AUTHORIZATION=f"Bearer {issue_token(make_user())}",
    )
    assert response.status_code == 413
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["PAYLOAD_TOO_LARGE"]


def test_json_requests_are_unchanged_by_the_upload_view(gql, make_user, issue_token, iris_model):
    status, body = gql(
        "mutation($input: CreatePredictionInput!) "
        "{ createPrediction(input: $input) { prediction { output } errors { code } } }",
        {"input": {"modelName": "iris", "features": IRIS_SETOSA}},
        token=issue_token(make_user()),
    )
    assert status == 200 and body["data"]["createPrediction"]["errors"] == []


# --- setModelStage ---------------------------------------------------------------------------------------


def test_set_model_stage_promotes_a_compatible_version(gql, register, registry_token, iris_model):
    staging = register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    _, body = gql(SET_STAGE, {"input": {"modelId": staging.pk, "stage": "production"}}, token=registry_token)
    assert body["data"]["setModelStage"] == {"model": {"id": str(staging.pk), "stage": "production"}, "errors": []}
    assert RegisteredModel.objects.get(pk=staging.pk).stage == "production"


def test_set_model_stage_refuses_breaking_inputs_and_leaves_the_stage(client, gql, registry_token, iris_model):
    _, created = _upload(client, {"name": "iris"}, token=registry_token)
    model_id = created["data"]["registerModel"]["model"]["id"]
    _, refused = gql(SET_STAGE, {"input": {"modelId": model_id, "stage": "production"}}, token=registry_token)
    _, allowed = gql(
        SET_STAGE, {"input": {"modelId": model_id, "stage": "production", "allowBreaking": True}}, token=registry_token
    )
    assert refused["data"]["setModelStage"]["model"] is None
    assert {code for _, code in _payload_errors(refused, "setModelStage")} == {"BREAKING_CHANGE"}
    assert allowed["data"]["setModelStage"]["model"]["stage"] == "production"


@pytest.mark.parametrize(
    ("model_id", "stage", "expected"),
    [
        ("999999", "archived", [("modelId", "NOT_FOUND")]),
        ("x", "archived", [("modelId", "NOT_FOUND")]),
    ],
)
def test_set_model_stage_errors(gql, registry_token, iris_model, model_id, stage, expected):
    _, body = gql(SET_STAGE, {"input": {"modelId": model_id or iris_model.pk, "stage": stage}}, token=registry_token)
    assert _payload_errors(body, "setModelStage") == expected
    assert RegisteredModel.objects.get(pk=iris_model.pk).stage == "production"


def test_a_stage_outside_the_enum_is_refused_before_anything_runs(gql, registry_token, iris_model):
    _, body = gql(SET_STAGE, {"input": {"modelId": iris_model.pk, "stage": "live"}}, token=registry_token)
    assert "data" not in body and "ModelStage" in body["errors"][0]["message"]
    assert RegisteredModel.objects.get(pk=iris_model.pk).stage == "production"


def test_set_model_stage_needs_the_registry_scope(gql, staff_user, issue_token, iris_model):
    _, body = gql(
        SET_STAGE,
        {"input": {"modelId": iris_model.pk, "stage": "archived"}},
        token=issue_token(staff_user, scope="read staff"),
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert RegisteredModel.objects.get(pk=iris_model.pk).stage == "production"


# --- the Model type -------------------------------------------------------------------------------------


def test_customers_see_typed_features_but_not_the_registrant(gql, make_user, issue_token, bank_model, registry_token):
    _, as_customer = gql(MODEL, {"id": bank_model.pk}, token=issue_token(make_user(), scope="read"))
    _, as_registry = gql(MODEL, {"id": bank_model.pk}, token=registry_token)
    model = as_customer["data"]["model"]
    assert model["registeredBy"] is None
    assert as_registry["data"]["model"]["registeredBy"] == "staff"
    by_name = {f["name"]: f for f in model["features"]}
    assert [f["name"] for f in model["features"]] == [f["name"] for f in model["inputSchema"]["features"]]
    assert by_name["age"] == {"name": "age", "type": "number", "allowed": None, "nullable": False, "unknown": None}
    assert (
        by_name["job"]["type"] == "string"
        and by_name["job"]["unknown"] == "pass"
        and "management" in by_name["job"]["allowed"]
    )


def test_registrants_of_a_model_list_cost_one_query_per_registrant(gql, register, registry_token):
    # given: five versions by one staff member
    for _ in range(5):
        register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    # when: the same page with and without registeredBy
    with CaptureQueriesContext(connection) as plain:
        gql("{ models(first: 10) { edges { node { version } } } }", token=registry_token)
    with CaptureQueriesContext(connection) as with_registrants:
        _, body = gql("{ models(first: 10) { edges { node { version registeredBy } } } }", token=registry_token)
    # then: one registrant lookup, not five
    assert [e["node"]["registeredBy"] for e in body["data"]["models"]["edges"]] == ["staff"] * 5
    assert len(with_registrants) == len(plain) + 1
