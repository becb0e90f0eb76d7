"""GET /api/v1/predictions and /api/v1/predictions/<uuid>: your own (staff: all), newest first, cursor pages."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.conftest import PREDICT_IRIS, error_codes
from tests.conftest import IRIS_SETOSA

PREDICTIONS = "/api/v1/predictions"


def _predict(rest, token, count=1) -> list[str]:
    """`count` separate calls; returns the prediction ids, oldest first."""
    ids = []
    for _ in range(count):
        response = rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token)
        assert response.status_code == 201
        ids.append(response.json()["prediction"]["id"])
    return ids


def _batch(rest, token, size) -> list[str]:
    response = rest("post", PREDICT_IRIS, {"instances": [IRIS_SETOSA] * size}, token=token)
    assert response.status_code == 201
    return [p["id"] for p in response.json()["predictions"]]


def _walk(rest, token, url) -> tuple[list[str], int]:
    """Every id over every page, and the number of pages."""
    ids, pages = [], 0
    while url:
        response = rest("get", url, token=token)
        assert response.status_code == 200
        ids += [p["id"] for p in response.json()["results"]]
        url, pages = response.json()["next"], pages + 1
    return ids, pages


def test_users_list_only_their_own_predictions_newest_first(make_user, issue_token, rest, iris_model):
    # given
    alice_token, bob_token = issue_token(make_user("alice")), issue_token(make_user("bob"))
    alice_ids = _predict(rest, alice_token, 3)
    _predict(rest, bob_token, 2)
    # when
    response = rest("get", PREDICTIONS, token=alice_token)
    # then
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert [p["id"] for p in body["results"]] == alice_ids[::-1]
    first = body["results"][0]
    assert set(first) == {"id", "model", "input", "output", "latency_ms", "created_at"}
    assert first["model"] == {"id": iris_model.pk, "name": "iris", "version": 1}
    assert first["input"] == IRIS_SETOSA and first["output"]["label"] == "setosa"


def test_staff_list_every_users_predictions_with_the_staff_scope_only(
    make_user, staff_user, issue_token, rest, iris_model
):
    alice_ids = _predict(rest, issue_token(make_user("alice")), 2)
    bob_ids = _predict(rest, issue_token(make_user("bob")), 1)
    with_staff_scope = rest("get", PREDICTIONS, token=issue_token(staff_user, scope="read staff"))
    with_read_only = rest("get", PREDICTIONS, token=issue_token(staff_user, scope="read"))
    assert sorted(p["id"] for p in with_staff_scope.json()["results"]) == sorted(alice_ids + bob_ids)
    assert with_read_only.json()["results"] == []


def test_new_user_has_an_empty_list(make_user, issue_token, rest, iris_model):
    _predict(rest, issue_token(make_user("alice")), 1)
    response = rest("get", PREDICTIONS, token=issue_token(make_user("bob"), scope="read"))
    assert response.status_code == 200
    assert response.json() == {"next": None, "previous": None, "results": []}


def test_cursor_pages_cover_every_prediction_once(make_user, issue_token, rest, iris_model):
    # given: single calls and a batch, whose predictions share one created_at
    token = issue_token(make_user())
    singles = _predict(rest, token, 2)
    batch = _batch(rest, token, 5)
    # when
    ids, pages = _walk(rest, token, f"{PREDICTIONS}?page_size=2")
    # then
    assert pages == 4
    assert len(ids) == len(set(ids)) == 7
    assert set(ids[:5]) == set(batch) and ids[5:] == singles[::-1]


def test_previous_page_link_goes_back(make_user, issue_token, rest, iris_model):
    token = issue_token(make_user())
    _predict(rest, token, 3)
    first = rest("get", f"{PREDICTIONS}?page_size=2", token=token).json()
    second = rest("get", first["next"], token=token).json()
    back = rest("get", second["previous"], token=token).json()
    assert first["previous"] is None and second["next"] is None
    assert [p["id"] for p in back["results"]] == [p["id"] for p in first["results"]]


def test_page_size_is_capped(make_user, issue_token, rest, iris_model, settings):
    # given: more predictions than the largest page
    token = issue_token(make_user())
    _batch(rest, token, 101)
    # when
    response = rest("get", f"{PREDICTIONS}?page_size=1000", token=token)
    # then
    assert len(response.json()["results"]) == 100
    assert response.json()["next"] is not None


def test_listing_runs_a_fixed_number_of_queries(make_user, issue_token, rest, iris_model):
    # given
    token = issue_token(make_user())
    _batch(rest, token, 2)
    with CaptureQueriesContext(connection) as few:
        rest("get", PREDICTIONS, token=token)
    _batch(rest, token, 18)
    # when
    with CaptureQueriesContext(connection) as many:
        response = rest("get", PREDICTIONS, token=token)
    # then: 20 rows cost no more queries than 2
    assert len(response.json()["results"]) == 20
    assert len(many.captured_queries) == len(few.captured_queries)


def test_prediction_detail_of_your_own(make_user, issue_token, rest, iris_model):
    token = issue_token(make_user())
    [prediction_id] = _predict(rest, token)
    response = rest("get", f"{PREDICTIONS}/{prediction_id}", token=token)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == prediction_id and body["input"] == IRIS_SETOSA
    assert body["model"]["name"] == "iris" and body["output"]["label"] == "setosa"


def test_someone_elses_prediction_is_not_found_except_for_staff(make_user, staff_user, issue_token, rest, iris_model):
    # given
    [alice_id] = _predict(rest, issue_token(make_user("alice")))
    # when
    for_bob = rest("get", f"{PREDICTIONS}/{alice_id}", token=issue_token(make_user("bob"), scope="read"))
    for_staff = rest("get", f"{PREDICTIONS}/{alice_id}", token=issue_token(staff_user, scope="read staff"))
    for_staff_read_only = rest("get", f"{PREDICTIONS}/{alice_id}", token=issue_token(staff_user, scope="read"))
    # then
    assert for_bob.status_code == 404
    assert error_codes(for_bob) == [("id", "NOT_FOUND")]
    assert "input" not in for_bob.content.decode()
    assert for_staff.status_code == 200 and for_staff.json()["id"] == alice_id
    assert for_staff_read_only.status_code == 404


@pytest.mark.parametrize("prediction_id", [str(uuid.uuid4()), "not-a-uuid", "1", "%20"])
def test_unknown_or_garbage_prediction_id_is_not_found(make_user, issue_token, rest, iris_model, prediction_id):
    token = issue_token(make_user())
    _predict(rest, token)
    response = rest("get", f"{PREDICTIONS}/{prediction_id}", token=token)
    assert response.status_code == 404
    assert error_codes(response) == [("id", "NOT_FOUND")]


def test_garbage_cursor_is_invalid_cursor(make_user, issue_token, rest, iris_model):
    token = issue_token(make_user())
    _predict(rest, token)
    response = rest("get", f"{PREDICTIONS}?cursor=not-a-cursor", token=token)
    assert response.status_code == 400
    assert error_codes(response) == [("cursor", "INVALID_CURSOR")]
