"""The OpenAPI document is a contract a generated client can rely on: every operation is summarized, described,
tagged by resource and secured by a bearer token OR a session; every error status it can answer is documented
with the one ErrorResponse schema, and the errors the API really answers are documented and match it."""

import json
import uuid

import pytest

from billing.models import PricingTier
from tests.api.conftest import PREDICT_IRIS
from tests.conftest import IRIS_SETOSA

METHODS = ("get", "post", "put", "patch", "delete")
ERROR_REF = "#/components/schemas/ErrorResponse"


@pytest.fixture
def schema(db, client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_every_operation_has_a_summary_a_description_and_its_resource_tag(schema):
    operations = list(_operations(schema))
    assert len(operations) >= 16
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("summary", "").strip(), where
        assert operation.get("description", "").strip(), where
        assert operation["summary"] != operation["description"], where
        resource = path.removeprefix("/api/v1/").split("/")[0]
        expected = ["predictions"] if path.endswith("/predict") else [resource]
        assert operation["tags"] == expected, where
    tags = {tag for _, _, operation in operations for tag in operation["tags"]}
    assert {"models", "predictions", "batch-jobs", "batch-uploads", "invoices", "me"} <= tags
    assert "v1" not in tags


def test_security_is_bearer_or_session_with_the_operations_scope(schema):
    scopes = {
        ("post", "/api/v1/models/{name}/predict"): "predict",
        ("get", "/api/v1/models"): "read",
        ("get", "/api/v1/invoices"): "billing",
        ("get", "/api/v1/batch-jobs"): "read",
        ("post", "/api/v1/batch-jobs"): "predict",
    }
    for path, method, operation in _operations(schema):
        # alternatives: a list of two requirements, each alone enough (not one requirement naming both)
        assert len(operation["security"]) == 2, (method, path)
        bearer, session = operation["security"]
        assert set(bearer) == {"oauth2Bearer"} and session == {"cookieAuth": []}, (method, path)
        if (method, path) in scopes:
            assert bearer["oauth2Bearer"] == [scopes[method, path]], (method, path)
    bearer_scheme = schema["components"]["securitySchemes"]["oauth2Bearer"]
    assert bearer_scheme["type"] == "oauth2"
    assert {"read", "predict", "billing"} <= set(bearer_scheme["flows"]["clientCredentials"]["scopes"])


def test_every_operation_documents_its_errors_with_the_error_schema(schema):
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        assert {"401", "403", "503"} <= set(responses), (method, path)
        for status, response in responses.items():
            if int(status) >= 400:
                assert response["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}, (method, path, status)
                assert response["description"], (method, path, status)
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"field", "code", "message"}
    assert error["properties"]["field"].get("nullable") is True
    assert schema["components"]["schemas"]["ErrorResponse"]["properties"]["errors"]["items"] == {
        "$ref": "#/components/schemas/Error"
    }
    # and the statuses an operation can answer beyond those every one can
    predict = schema["paths"]["/api/v1/models/{name}/predict"]["post"]["responses"]
    assert {"400", "404", "409", "413", "415", "429"} <= set(predict)
    assert "Retry-After" in predict["429"]["headers"]
    assert "404" in schema["paths"]["/api/v1/predictions/{id}"]["get"]["responses"]
    assert "400" in schema["paths"]["/api/v1/predictions"]["get"]["responses"]


def test_component_names_are_not_doubled(schema):
    names = set(schema["components"]["schemas"])
    assert not [name for name in names if name.endswith("RequestRequest")]
    assert {"PredictRequest", "BatchUploadRequest", "PredictResponse", "ErrorResponse"} <= names


def test_list_filters_are_documented_query_parameters(schema):
    def parameters(path):
        return {p["name"]: p for p in schema["paths"][path]["get"]["parameters"] if p["in"] == "query"}

    predictions = parameters("/api/v1/predictions")
    assert {"model", "created_after", "created_before", "cursor"} <= set(predictions)
    assert predictions["created_after"]["schema"] == {"type": "string", "format": "date-time"}
    assert set(parameters("/api/v1/batch-jobs")["status"]["schema"]["enum"]) >= {"queued", "running", "succeeded"}
    assert set(parameters("/api/v1/invoices")["status"]["schema"]["enum"]) >= {"draft", "open", "paid"}
    assert set(parameters("/api/v1/models")["stage"]["schema"]["enum"]) >= {"staging", "production"}


def _conforms(value, schema, components) -> bool:
    """Enough of OpenAPI 3.0's schema language for the error body: $ref, object, array, string, nullable."""
    if "$ref" in schema:
        return _conforms(value, components[schema["$ref"].rsplit("/", 1)[1]], components)
    if value is None:
        return bool(schema.get("nullable"))
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return (
            isinstance(value, dict)
            and set(schema.get("required", ())) <= set(value)
            and set(value) <= set(properties)
            and all(_conforms(v, properties[k], components) for k, v in value.items())
        )
    if kind == "array":
        return isinstance(value, list) and all(_conforms(v, schema["items"], components) for v in value)
    if kind == "string":
        return isinstance(value, str)
    return True


def _real_errors(rest, make_user, issue_token, iris_model):
    """(operation, status, response) for errors the API really answers, one of each kind."""
    token = issue_token(make_user())
    read_only = issue_token(make_user(), scope="read")
    capped = issue_token(make_user(tier=PricingTier.objects.create(name="capped", monthly_quota=1)))
    assert rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=capped).status_code == 201
    keyed = rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token, HTTP_IDEMPOTENCY_KEY="k-1")
    assert keyed.status_code == 201
    predict = ("post", "/api/v1/models/{name}/predict")
    unknown = uuid.uuid4()
    return [
        (("get", "/api/v1/models"), 401, rest("get", "/api/v1/models")),
        (("get", "/api/v1/invoices"), 403, rest("get", "/api/v1/invoices", token=read_only)),
        (predict, 400, rest("post", PREDICT_IRIS, {"features": {"sepal_length": "long"}}, token=token)),
        (predict, 404, rest("post", "/api/v1/models/no-such-model/predict", {"features": IRIS_SETOSA}, token=token)),
        (
            predict,
            409,
            rest("post", PREDICT_IRIS, {"instances": [IRIS_SETOSA]}, token=token, HTTP_IDEMPOTENCY_KEY="k-1"),
        ),
        (predict, 415, rest("post", PREDICT_IRIS, "features", token=token, content_type="text/plain")),
        (predict, 429, rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=capped)),
        (("get", "/api/v1/predictions"), 400, rest("get", "/api/v1/predictions?cursor=nope", token=token)),
        (("get", "/api/v1/predictions/{id}"), 404, rest("get", f"/api/v1/predictions/{unknown}", token=token)),
        (("get", "/api/v1/me"), 400, rest("get", "/api/v1/me?period=2026-13", token=token)),
        (("get", "/api/v1/batch-jobs/{id}"), 404, rest("get", f"/api/v1/batch-jobs/{unknown}", token=token)),
        (
            ("post", "/api/v1/batch-jobs/{id}/cancel"),
            404,
            rest("post", f"/api/v1/batch-jobs/{unknown}/cancel", token=token),
        ),
        (
            ("delete", "/api/v1/batch-uploads/{id}"),
            404,
            rest("delete", f"/api/v1/batch-uploads/{unknown}", token=token),
        ),
        (
            ("get", "/api/v1/batch-jobs/{id}/results"),
            400,
            rest("get", f"/api/v1/batch-jobs/{unknown}/results?format=xml", token=token),
        ),
    ]


def test_the_errors_the_api_answers_are_documented_and_match_the_schema(
    schema, rest, make_user, issue_token, iris_model
):
    # when
    answered = _real_errors(rest, make_user, issue_token, iris_model)
    # then
    for (method, path), status, response in answered:
        where = f"{method.upper()} {path} {status}"
        assert response.status_code == status, (where, response.content[:300])
        assert str(status) in schema["paths"][path][method]["responses"], where
        body = response.json()
        assert body["errors"], where
        assert _conforms(body, {"$ref": ERROR_REF}, schema["components"]["schemas"]), (where, body)
