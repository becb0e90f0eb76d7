"""The registry over REST for pipelines: POST /api/v1/models (multipart) and POST /api/v1/models/{id}/stage,
with a `registry` token (staff applications only), on the same services as the admin and the commands."""

import base64
import io
import json

import pytest
from django.core.management import call_command
from django.test import Client

from predictions.models import RegisteredModel
from tests.api.conftest import error_codes
from tests.conftest import iris_artifact
from tests.predictions.conftest import TINY_ROW, joblib_bytes, tiny_pipeline

MODELS = "/api/v1/models"


def _post_model(client, token, *, artifact: bytes | None = b"", filename="model.joblib", **fields):
    data = {key: value for key, value in fields.items() if value is not None}
    if artifact is not None:
        upload = io.BytesIO(artifact or joblib_bytes(tiny_pipeline()))
        upload.name = filename
        data["artifact"] = upload
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(MODELS, data, **headers)


def _stage(rest, model_id, body, token):
    return rest("post", f"{MODELS}/{model_id}/stage", body, token=token)


def _basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


# --- the README's pipeline, through HTTP only ------------------------------------------------------------


def test_a_pipeline_registers_checks_and_promotes_a_model_with_only_http_and_a_registry_token(
    client, tiny_model_file, make_user, issue_token, capsys
):
    # given: a model trained by the pipeline, and a staff API client made the way the README says
    path = tiny_model_file("model.joblib")
    call_command("create_api_client", "--username", "ci-pipeline", "--staff")
    credentials = json.loads(capsys.readouterr().out)
    assert "registry" in credentials["scopes"]
    token_response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "registry read"},
        HTTP_AUTHORIZATION=_basic(credentials["client_id"], credentials["client_secret"]),
    )
    assert token_response.status_code == 200, token_response.content
    token = token_response.json()["access_token"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    # when: curl -F artifact=@model.joblib -F name=churn -F version=1 -F metrics='{"accuracy": 0.93}'
    with path.open("rb") as artifact:
        registered = client.post(
            MODELS, {"artifact": artifact, "name": "churn", "version": "1", "metrics": '{"accuracy": 0.93}'}, **auth
        )
    # then: 201, in staging, with who registered it and the typed input schema
    assert registered.status_code == 201, registered.content
    model = registered.json()
    assert (model["name"], model["version"], model["stage"]) == ("churn", 1, "staging")
    assert model["registered_by"] == "ci-pipeline"
    assert model["metrics"] == {"accuracy": 0.93}
    assert [(f["name"], f["type"], f["allowed"], f["unknown"]) for f in model["features"]] == [
        ("size", "number", None, None),
        ("color", "string", ["blue", "red"], "pass"),
    ]

    # when: the pipeline checks it, then promotes it
    checked = client.get(f"{MODELS}/{model['id']}", **auth)
    promoted = client.post(
        f"{MODELS}/{model['id']}/stage", json.dumps({"stage": "production"}), content_type="application/json", **auth
    )
    # then
    assert checked.status_code == 200 and checked.json()["sha256"] == model["sha256"]
    assert promoted.status_code == 200, promoted.content
    assert promoted.json()["stage"] == "production"
    assert RegisteredModel.objects.get(pk=model["id"]).stage == "production"
    # and customers are now served the new model
    customer_token = issue_token(make_user())
    predicted = client.post(
        "/api/v1/models/churn/predict",
        json.dumps({"features": TINY_ROW}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {customer_token}",
    )
    assert predicted.status_code == 201, predicted.content
    assert predicted.json()["prediction"]["model"]["version"] == 1


# --- who may register ------------------------------------------------------------------------------------


def test_registering_without_a_token_is_401_and_stores_nothing(client, stored, db):
    before = stored()
    response = _post_model(client, None, name="churn")
    assert response.status_code == 401
    assert error_codes(response) == [(None, "UNAUTHENTICATED")]
    assert stored() == before


def test_a_staff_token_without_the_registry_scope_is_403_and_stores_nothing(client, staff_user, issue_token, stored):
    before = stored()
    response = _post_model(client, issue_token(staff_user, scope="read predict staff"), name="churn")
    assert response.status_code == 403
    assert error_codes(response) == [(None, "FORBIDDEN")]
    assert stored() == before


def test_a_staff_session_cannot_register_over_rest(staff_user, stored):
    # given: the admin's browser session (it has the staff scope, never registry)
    browser = Client()
    browser.force_login(staff_user)
    before = stored()
    # when
    response = _post_model(browser, None, name="churn")
    # then
    assert response.status_code == 403
    assert error_codes(response) == [(None, "FORBIDDEN")]
    assert stored() == before


def test_a_customer_application_cannot_get_the_registry_scope(client, make_user):
    # given: a customer's own client-credentials application
    from accounts.services import api_client_create

    credentials = api_client_create(username=make_user().username)
    # when
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "registry"},
        HTTP_AUTHORIZATION=_basic(credentials.client_id, credentials.client_secret),
    )
    # then
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_a_registry_token_of_someone_no_longer_staff_is_403(client, make_user, issue_token, stored):
    # given: a staff member's registry token; then they stop being staff
    user = make_user("leaver", is_staff=True)
    token = issue_token(user, scope="registry")
    user.is_staff = False
    user.save(update_fields=["is_staff"])
    before = stored()
    # when
    response = _post_model(client, token, name="churn")
    # then
    assert response.status_code == 403
    assert error_codes(response) == [(None, "FORBIDDEN")]
    assert stored() == before


def test_customers_do_not_see_who_registered_a_model(rest, make_user, issue_token, registry_token, client):
    # given: a production model registered by the staff pipeline
    created = _post_model(client, registry_token, name="churn", stage="production")
    assert created.status_code == 201, created.content
    model_id = created.json()["id"]
    # when
    as_customer = rest("get", f"{MODELS}/{model_id}", token=issue_token(make_user(), scope="read"))
    as_registry = rest("get", f"{MODELS}/{model_id}", token=registry_token)
    # then
    assert as_customer.status_code == 200 and as_customer.json()["registered_by"] is None
    assert as_registry.json()["registered_by"] == "staff"
    assert "registered_by" in as_customer.json() and "email" not in json.dumps(as_customer.json())


# --- refusals: a stable code each, and nothing stored ------------------------------------------------------


class NoPredict:
    def __init__(self):
        self.n_features_in_ = 1


@pytest.mark.parametrize(
    ("upload", "fields", "status", "expected"),
    [
        (b"not a model", {"name": "churn"}, 400, [("artifact", "ARTIFACT_UNREADABLE")]),
        ("txt", {"name": "churn"}, 400, [("artifact", "UNSUPPORTED_FORMAT")]),
        (None, {"name": "churn", "format": "onnx"}, 400, [("format", "UNSUPPORTED_FORMAT")]),
        ("dict", {"name": "churn"}, 400, [("artifact", "NOT_AN_ESTIMATOR")]),
        (None, {"name": "Not A Slug!"}, 400, [("name", "INVALID_NAME")]),
        (None, {}, 400, [("name", "REQUIRED")]),
        ("missing", {"name": "churn"}, 400, [("artifact", "REQUIRED")]),
        (None, {"name": "churn", "version": "two"}, 400, [("version", "INVALID_VERSION")]),
        (None, {"name": "churn", "stage": "live"}, 400, [("stage", "INVALID_STAGE")]),
        (None, {"name": "churn", "input_schema": "{not json"}, 400, [("input_schema", "INVALID_SCHEMA")]),
        (
            None,
            {"name": "churn", "input_schema": '{"features": [{"name": "size", "type": "number"}]}'},
            400,
            [("input_schema", "INVALID_SCHEMA")],
        ),
        (None, {"name": "churn", "metrics": "[1, 2]"}, 400, [("metrics", "INVALID_METRICS")]),
        (None, {"name": "churn", "force": "maybe"}, 400, [("force", "INVALID_VALUE")]),
        (None, {"name": "churn", "stge": "production"}, 400, [("stge", "UNKNOWN_FIELD")]),
    ],
)
def test_a_refused_registration_answers_its_code_and_stores_nothing(
    client, registry_token, stored, upload, fields, status, expected
):
    # given
    artifact, filename = b"", "model.joblib"
    if upload == "txt":
        filename = "model.txt"
    elif upload == "dict":
        artifact = joblib_bytes({"weights": [1, 2, 3]})
    elif upload == "missing":
        artifact = None
    elif isinstance(upload, bytes):
        artifact = upload
    before = stored()
    # when
    response = _post_model(client, registry_token, artifact=artifact, filename=filename, **fields)
    # then
    assert response.status_code == status, response.content
    assert error_codes(response) == expected
    assert stored() == before


def test_untrusted_skops_types_are_403_untrusted_types(client, registry_token, stored):
    import skops.io as sio

    before = stored()
    response = _post_model(
        client, registry_token, artifact=sio.dumps(NoPredictWithPredict()), filename="model.skops", name="odd"
    )
    assert response.status_code == 403, response.content
    assert error_codes(response) == [("artifact", "UNTRUSTED_TYPES")]
    assert stored() == before


class NoPredictWithPredict:
    """A class of this test module: skops does not trust it, and nor does the registry unless approved."""

    def __init__(self):
        self.n_features_in_ = 1

    def predict(self, rows):
        return [0 for _ in rows]


def test_the_same_file_twice_is_409_duplicate_unless_forced(client, registry_token, stored):
    # given
    data = joblib_bytes(tiny_pipeline())
    assert _post_model(client, registry_token, artifact=data, name="churn").status_code == 201
    before = stored()
    # when
    again = _post_model(client, registry_token, artifact=data, name="churn")
    forced = _post_model(client, registry_token, artifact=data, name="churn", force="true")
    # then
    assert again.status_code == 409
    assert error_codes(again) == [("artifact", "DUPLICATE_ARTIFACT")]
    assert forced.status_code == 201 and forced.json()["version"] == 2
    assert stored() == (before[0] + 1, before[1] + 1)


def test_a_taken_version_is_409_version_conflict(client, registry_token, stored):
    assert _post_model(client, registry_token, name="churn", version="3").json()["version"] == 3
    before = stored()
    response = _post_model(
        client, registry_token, artifact=joblib_bytes(tiny_pipeline(("green", "blue"))), name="churn", version="3"
    )
    assert response.status_code == 409
    assert error_codes(response) == [("version", "VERSION_CONFLICT")]
    assert stored() == before


@pytest.mark.parametrize("as_file", [False, True], ids=["text field", "file part"])
def test_an_explicit_input_schema_and_format_are_used(client, registry_token, as_file):
    # given: the schema as a text field (-F 'input_schema=<schema.json') or a file part (-F input_schema=@schema.json)
    schema = {
        "features": [
            {"name": "size", "type": "number", "nullable": True},
            {"name": "color", "type": "string", "allowed": ["red", "blue"]},
        ]
    }
    schema_part = json.dumps(schema)
    if as_file:
        schema_part = io.BytesIO(schema_part.encode())
        schema_part.name = "schema.json"
    # when
    response = _post_model(
        client,
        registry_token,
        filename="model.bin",
        name="churn",
        format="joblib",
        input_schema=schema_part,
        trust=["x.Y"],
    )
    # then
    assert response.status_code == 201, response.content
    assert response.json()["artifact_format"] == "joblib"
    assert [(f["name"], f["nullable"], f["allowed"], f["unknown"]) for f in response.json()["features"]] == [
        ("size", True, None, None),
        ("color", False, ["red", "blue"], "refuse"),
    ]


def test_registering_straight_into_production_with_breaking_inputs_is_409_and_stores_nothing(
    client, registry_token, iris_model, stored
):
    # given: iris v1 in production takes four measurements; this file takes size and color
    before = stored()
    # when
    response = _post_model(client, registry_token, name="iris", stage="production")
    # then
    assert response.status_code == 409
    assert {code for _, code in error_codes(response)} == {"BREAKING_CHANGE"}
    assert stored() == before


# --- size: bounded before the body is read ---------------------------------------------------------------


def test_a_body_over_the_limit_is_413_before_it_is_parsed(client, registry_token, settings, stored):
    # given: limits of 1000 bytes for the file and 1000 for the other fields; 3000 bytes that are not even multipart
    settings.MODEL_ARTIFACT_MAX_BYTES = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    garbage = b"x" * 3000
    before = stored()
    # when
    too_large = client.generic(
        "POST",
        MODELS,
        garbage,
        content_type="multipart/form-data; boundary=zzz",
        HTTP_AUTHORIZATION=f"Bearer {registry_token}",
    )
    settings.MODEL_ARTIFACT_MAX_BYTES = 10_000
    parsed = client.generic(
        "POST",
        MODELS,
        garbage,
        content_type="multipart/form-data; boundary=zzz",
        HTTP_AUTHORIZATION=f"Bearer {registry_token}",
    )
    # then: refused unread (the same body under a larger limit is parsed, and refused for what it holds)
    assert too_large.status_code == 413
    assert error_codes(too_large) == [("artifact", "ARTIFACT_TOO_LARGE")]
    assert parsed.status_code == 400
    assert stored() == before


def test_a_file_over_the_limit_stops_the_upload_with_413(client, registry_token, settings, stored):
    # given: the body is within the bound (file limit + field budget), the file itself is not
    settings.MODEL_ARTIFACT_MAX_BYTES = 1000
    before = stored()
    # when
    response = _post_model(client, registry_token, artifact=b"\x80" * 1500, name="churn")
    # then
    assert response.status_code == 413
    assert error_codes(response) == [("artifact", "ARTIFACT_TOO_LARGE")]
    assert stored() == before


def test_json_instead_of_multipart_is_415(rest, registry_token, stored):
    before = stored()
    response = rest("post", MODELS, {"name": "churn"}, token=registry_token)
    assert response.status_code == 415
    assert error_codes(response) == [(None, "UNSUPPORTED_MEDIA_TYPE")]
    assert stored() == before


# --- stage changes ---------------------------------------------------------------------------------------


def test_promoting_with_breaking_inputs_is_409_and_the_stage_is_unchanged(client, rest, registry_token, iris_model):
    # given: a staging iris v2 whose inputs differ from production v1's
    created = _post_model(client, registry_token, name="iris")
    assert created.status_code == 201, created.content
    model_id = created.json()["id"]
    # when
    refused = _stage(rest, model_id, {"stage": "production"}, registry_token)
    # then
    assert refused.status_code == 409
    assert {code for _, code in error_codes(refused)} == {"BREAKING_CHANGE"}
    assert {field for field, _ in error_codes(refused)} >= {"input_schema.sepal_length", "input_schema.size"}
    assert RegisteredModel.objects.get(pk=model_id).stage == "staging"
    # and with allow_breaking it goes through
    allowed = _stage(rest, model_id, {"stage": "production", "allow_breaking": True}, registry_token)
    assert allowed.status_code == 200 and allowed.json()["stage"] == "production"


def test_a_compatible_version_is_promoted(rest, register, registry_token, iris_model):
    staging = register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    response = _stage(rest, staging.pk, {"stage": "production"}, registry_token)
    assert response.status_code == 200, response.content
    assert response.json()["stage"] == "production"


@pytest.mark.parametrize(
    ("model_id", "body", "status", "expected"),
    [
        ("999999", {"stage": "production"}, 404, [("id", "NOT_FOUND")]),
        ("abc", {"stage": "production"}, 404, [("id", "NOT_FOUND")]),
        (None, {"stage": "live"}, 400, [("stage", "INVALID_STAGE")]),
        (None, {}, 400, [("stage", "REQUIRED")]),
        (None, {"stage": "archived", "why": "old"}, 400, [("why", "UNKNOWN_FIELD")]),
        (None, {"stage": "archived", "allow_breaking": "yes"}, 400, [("allow_breaking", "INVALID_VALUE")]),
    ],
)
def test_a_refused_stage_change_answers_its_code(rest, registry_token, iris_model, model_id, body, status, expected):
    response = _stage(rest, model_id or iris_model.pk, body, registry_token)
    assert response.status_code == status, response.content
    assert error_codes(response) == expected
    assert RegisteredModel.objects.get(pk=iris_model.pk).stage == "production"


def test_a_stage_change_needs_the_registry_scope(rest, staff_user, issue_token, iris_model):
    no_token = _stage(rest, iris_model.pk, {"stage": "archived"}, None)
    no_scope = _stage(rest, iris_model.pk, {"stage": "archived"}, issue_token(staff_user, scope="read staff"))
    assert (no_token.status_code, error_codes(no_token)) == (401, [(None, "UNAUTHENTICATED")])
    assert (no_scope.status_code, error_codes(no_scope)) == (403, [(None, "FORBIDDEN")])
    assert RegisteredModel.objects.get(pk=iris_model.pk).stage == "production"


# --- the contract ----------------------------------------------------------------------------------------


def test_the_openapi_document_describes_both_operations_and_their_errors(client, db):
    schema = client.get("/api/schema/?format=json").json()
    register = schema["paths"]["/api/v1/models"]["post"]
    stage = schema["paths"]["/api/v1/models/{id}/stage"]["post"]
    assert "multipart/form-data" in register["requestBody"]["content"]
    assert set(register["responses"]) == {"201", "400", "401", "403", "409", "413", "415", "503"}
    assert set(stage["responses"]) == {"200", "400", "401", "403", "404", "409", "503"}
    error_ref = register["responses"]["409"]["content"]["application/json"]["schema"]["$ref"]
    assert error_ref.endswith("/ErrorResponse")
    model = schema["components"]["schemas"]["Model"]["properties"]
    assert {"registered_by", "features"} <= set(model)
