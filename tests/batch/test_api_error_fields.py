"""The same refusal names its input the way each API spells it: REST in snake_case after its own form fields,
GraphQL in camelCase; the code is the same."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mlapi.api.exceptions import rest_field
from tests.batch.conftest import iris_csv

CREATE = """
mutation($input: CreateBatchJobInput!) { createBatchJob(input: $input) { batchJob { id } errors { field code } } }
"""


def _graphql_errors(gql, token, variables) -> list[tuple]:
    status, body = gql(CREATE, {"input": variables}, token=token)
    assert status == 200 and "errors" not in body, body
    return [(e["field"], e["code"]) for e in body["data"]["createBatchJob"]["errors"]]


def test_an_unknown_upload_is_upload_id_in_rest_and_uploadId_in_graphql(make_user, issue_token, api, gql, iris_model):
    # given
    token, unknown = issue_token(make_user()), str(uuid.uuid4())
    # when
    response = api.post("/api/v1/batch-jobs", token, {"model": "iris", "upload_id": unknown})
    by_graphql = _graphql_errors(gql, token, {"modelName": "iris", "uploadId": unknown})
    # then
    assert response.status_code == 404, response.content
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("upload_id", "NOT_FOUND")]
    assert by_graphql == [("uploadId", "NOT_FOUND")]


@pytest.mark.parametrize(
    ("form", "expected_field"), [({"model": "no-such-model"}, "model"), ({"model": "iris", "version": 9}, "version")]
)
def test_an_unknown_model_is_named_by_the_forms_own_field(
    make_user, issue_token, api, iris_model, form, expected_field
):
    # given
    token = issue_token(make_user())
    # when
    response = api.post("/api/v1/batch-jobs", token, {**form, "file": SimpleUploadedFile("rows.csv", iris_csv(2))})
    # then
    assert response.status_code == 404, response.content
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(expected_field, "NOT_FOUND")]


@pytest.mark.parametrize(
    ("field", "renames", "expected"),
    [
        (None, None, None),
        ("modelName", None, "model_name"),
        ("modelName", {"model_name": "name"}, "name"),
        ("idempotencyKey", None, "idempotency_key"),
        ("created_after", None, "created_after"),
        ("instances.2.sepalLength", None, "instances.2.sepalLength"),  # a feature name is the caller's data
        ("features.HTTPStatus", None, "features.HTTPStatus"),
        ("uploadId", {"model_name": "model"}, "upload_id"),
    ],
)
def test_rest_field_converts_only_the_api_name(field, renames, expected):
    assert rest_field(field, renames) == expected
