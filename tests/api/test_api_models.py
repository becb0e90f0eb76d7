"""GET /api/v1/models and /api/v1/models/<id>: production only for users, every stage for staff, cursor pages."""

import pytest

from predictions.models import RegisteredModel
from tests.api.conftest import error_codes
from tests.conftest import iris_artifact

MODELS = "/api/v1/models"


def _versions(response) -> list[tuple]:
    return [(m["name"], m["version"], m["stage"]) for m in response.json()["results"]]


def test_users_see_production_models_only(make_user, issue_token, rest, iris_model, bank_model, register):
    # given: iris v2 in staging, iris v3 archived
    register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    register("iris", iris_artifact(), stage=RegisteredModel.Stage.ARCHIVED)
    token = issue_token(make_user(), scope="read")
    # when
    response = rest("get", MODELS, token=token)
    # then
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert sorted(_versions(response)) == [("bank-marketing", 1, "production"), ("iris", 1, "production")]


def test_staff_see_every_stage(staff_user, issue_token, rest, iris_model, register):
    register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    response = rest("get", MODELS, token=issue_token(staff_user, scope="read"))
    assert response.status_code == 200
    assert sorted(_versions(response)) == [("iris", 1, "production"), ("iris", 2, "staging")]


def test_filter_by_name_and_stage(make_user, staff_user, issue_token, rest, iris_model, bank_model, register):
    # given
    register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    user_token = issue_token(make_user(), scope="read")
    staff_token = issue_token(staff_user, scope="read")
    # when
    by_name = rest("get", f"{MODELS}?name=iris", token=user_token)
    staging_for_staff = rest("get", f"{MODELS}?stage=staging", token=staff_token)
    staging_for_user = rest("get", f"{MODELS}?stage=staging", token=user_token)
    # then
    assert _versions(by_name) == [("iris", 1, "production")]
    assert _versions(staging_for_staff) == [("iris", 2, "staging")]
    assert staging_for_user.status_code == 200 and _versions(staging_for_user) == []


def test_model_list_is_cursor_paginated(staff_user, issue_token, rest, register):
    # given: four versions
    for _ in range(4):
        register("iris", iris_artifact())
    token = issue_token(staff_user, scope="read")
    # when: pages of three
    first = rest("get", f"{MODELS}?page_size=3", token=token)
    second = rest("get", first.json()["next"], token=token)
    # then
    assert first.status_code == second.status_code == 200
    assert len(first.json()["results"]) == 3 and first.json()["previous"] is None
    assert len(second.json()["results"]) == 1 and second.json()["next"] is None
    ids = [m["id"] for m in first.json()["results"] + second.json()["results"]]
    assert sorted(ids) == sorted(RegisteredModel.objects.values_list("pk", flat=True))


def test_model_detail(make_user, issue_token, rest, bank_model):
    # when
    response = rest("get", f"{MODELS}/{bank_model.pk}", token=issue_token(make_user(), scope="read"))
    # then
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["name"], body["version"], body["stage"]) == (
        bank_model.pk,
        "bank-marketing",
        1,
        "production",
    )
    assert body["sha256"] == bank_model.sha256 and body["task"] == "classification"
    assert sorted(body["classes"]) == ["no", "yes"]
    job = next(f for f in body["input_schema"]["features"] if f["name"] == "job")
    assert job["type"] == "string" and "management" in job["allowed"]
    assert "artifact" not in body and "trusted_types" not in body


def test_staging_model_detail_is_not_found_for_users_but_visible_to_staff(
    make_user, staff_user, issue_token, rest, register
):
    # given
    staging = register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    # when
    for_user = rest("get", f"{MODELS}/{staging.pk}", token=issue_token(make_user(), scope="read"))
    for_staff = rest("get", f"{MODELS}/{staging.pk}", token=issue_token(staff_user, scope="read"))
    # then
    assert for_user.status_code == 404
    assert [code for _, code in error_codes(for_user)] == ["NOT_FOUND"]
    assert for_staff.status_code == 200 and for_staff.json()["stage"] == "staging"


def test_unknown_model_id_is_not_found(make_user, issue_token, rest, iris_model):
    token = issue_token(make_user(), scope="read")
    for model_id in (iris_model.pk + 1000, 0, 99999999999999999999):
        response = rest("get", f"{MODELS}/{model_id}", token=token)
        assert response.status_code == 404, model_id
        assert [code for _, code in error_codes(response)] == ["NOT_FOUND"], model_id


@pytest.mark.parametrize("model_id", ["abc", "-1"])
def test_garbage_model_id_is_a_json_not_found(make_user, issue_token, rest, model_id):
    response = rest("get", f"{MODELS}/{model_id}", token=issue_token(make_user(), scope="read"))
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert [code for _, code in error_codes(response)] == ["NOT_FOUND"]


def test_unknown_api_path_is_a_json_not_found(make_user, issue_token, rest):
    response = rest("get", "/api/v1/no-such-endpoint", token=issue_token(make_user(), scope="read"))
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert [code for _, code in error_codes(response)] == ["NOT_FOUND"]


def test_models_need_the_read_scope(make_user, issue_token, rest, iris_model):
    # given: a token without read
    token = issue_token(make_user(), scope="predict billing")
    # when
    listing = rest("get", MODELS, token=token)
    detail = rest("get", f"{MODELS}/{iris_model.pk}", token=token)
    # then
    for response in (listing, detail):
        assert response.status_code == 403
        assert error_codes(response) == [(None, "FORBIDDEN")]


def test_models_need_authentication(rest, iris_model):
    response = rest("get", MODELS)
    assert response.status_code == 401
    assert error_codes(response) == [(None, "UNAUTHENTICATED")]
