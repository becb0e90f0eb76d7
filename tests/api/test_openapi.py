"""The OpenAPI schema validates without warnings, documents predict with both examples, and Swagger UI serves."""

import json

from django.core.management import call_command

PREDICT_PATH = "/api/v1/models/{name}/predict"


def test_schema_generates_and_validates_without_warnings(db, tmp_path):
    # given
    target = tmp_path / "schema.yaml"
    # when: --fail-on-warn turns any warning (or validation error) into a failure
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    # then
    text = target.read_text()
    assert text.startswith("openapi: 3.")
    assert PREDICT_PATH in text


def test_schema_endpoint_documents_predict_with_both_examples(db, client):
    # when
    response = client.get("/api/schema/?format=json")
    # then
    assert response.status_code == 200
    schema = json.loads(response.content)
    paths = schema["paths"]
    for path in (
        "/api/v1/models",
        "/api/v1/models/{id}",
        PREDICT_PATH,
        "/api/v1/predictions",
        "/api/v1/predictions/{id}",
        "/api/v1/me",
        "/api/v1/invoices",
        "/api/v1/invoices/{id}",
    ):
        assert path in paths, path
    predict = paths[PREDICT_PATH]["post"]
    assert {"201", "200"} <= set(predict["responses"])
    assert {p["name"] for p in predict["parameters"]} >= {"name", "version", "Idempotency-Key"}
    examples = predict["requestBody"]["content"]["application/json"]["examples"]
    values = [example["value"] for example in examples.values()]
    assert len(values) == 2
    iris = next(v for v in values if "features" in v)
    bank = next(v for v in values if "instances" in v)
    assert set(iris["features"]) == {"sepal_length", "sepal_width", "petal_length", "petal_width"}
    assert len(bank["instances"]) == 2 and all({"age", "job", "housing"} <= set(i) for i in bank["instances"])
    assert "oauth2Bearer" in schema["components"]["securitySchemes"]


def test_schema_endpoint_serves_yaml_by_default(db, client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert PREDICT_PATH in response.content.decode()


def test_swagger_ui_is_html(db, client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"swagger" in response.content.lower()
