"""Reading predictions back: only your own (staff: all), newest first, keyset pages, filters, single lookups."""

import base64
import json
import uuid
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from predictions.models import Prediction
from tests.conftest import BANK_CLIENT, IRIS_SETOSA

CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) { predictions { id } errors { field code } }
}
"""

PREDICTIONS = """
query Predictions($model: ID, $createdAfter: DateTime, $createdBefore: DateTime, $first: Int, $after: String) {
  predictions(model: $model, createdAfter: $createdAfter, createdBefore: $createdBefore, first: $first, after: $after) {
    edges { cursor node { id createdAt model { name version } input output } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

PREDICTION = """
query Prediction($id: ID!) { prediction(id: $id) { id input output model { name } } }
"""


def _predict(gql, token, model_name, instances):
    _, body = gql(CREATE, {"input": {"modelName": model_name, "instances": instances}}, token=token)
    payload = body["data"]["createPrediction"]
    assert payload["errors"] == []
    return [p["id"] for p in payload["predictions"]]


def _ids(body):
    return [e["node"]["id"] for e in body["data"]["predictions"]["edges"]]


def _error_codes(body):
    return [e["extensions"]["code"] for e in body["errors"]]


def _cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def test_paging_through_25_predictions_sees_each_once_newest_first(make_user, issue_token, gql, iris_model):
    # given: three calls (10, 10, 5): ties on created_at within a call, distinct times across calls
    token = issue_token(make_user())
    calls = [_predict(gql, token, "iris", [IRIS_SETOSA] * n) for n in (10, 10, 5)]
    # when
    seen, created, after, pages = [], [], None, 0
    while True:
        status, body = gql(PREDICTIONS, {"first": 10, "after": after}, token=token)
        assert status == 200 and "errors" not in body
        seen += _ids(body)
        created += [e["node"]["createdAt"] for e in body["data"]["predictions"]["edges"]]
        pages += 1
        info = body["data"]["predictions"]["pageInfo"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
        assert pages < 10
    # then
    assert pages == 3
    assert len(seen) == 25 and set(seen) == {i for call in calls for i in call}
    assert set(seen[:5]) == set(calls[2])
    assert set(seen[5:15]) == set(calls[1])
    stored = {str(p.pk): p.created_at for p in Prediction.objects.all()}
    times = [stored[i] for i in seen]
    assert times == sorted(times, reverse=True)


def test_a_single_batch_of_25_pages_without_gaps_or_repeats(make_user, issue_token, gql, iris_model):
    # given: one call, so every row has the same created_at and the id breaks the tie
    token = issue_token(make_user())
    ids = _predict(gql, token, "iris", [IRIS_SETOSA] * 25)
    # when
    _, page1 = gql(PREDICTIONS, {"first": 10}, token=token)
    _, page2 = gql(
        PREDICTIONS, {"first": 10, "after": page1["data"]["predictions"]["pageInfo"]["endCursor"]}, token=token
    )
    _, page3 = gql(
        PREDICTIONS, {"first": 10, "after": page2["data"]["predictions"]["pageInfo"]["endCursor"]}, token=token
    )
    # then
    seen = _ids(page1) + _ids(page2) + _ids(page3)
    assert [len(_ids(p)) for p in (page1, page2, page3)] == [10, 10, 5]
    assert sorted(seen) == sorted(ids)
    assert page3["data"]["predictions"]["pageInfo"]["hasNextPage"] is False


def test_users_see_only_their_own_predictions_and_staff_with_the_staff_scope_see_all(
    make_user, staff_user, issue_token, gql, iris_model
):
    # given
    alice_token, bob_token = issue_token(make_user("alice")), issue_token(make_user("bob"))
    alice_ids = _predict(gql, alice_token, "iris", [IRIS_SETOSA] * 2)
    bob_ids = _predict(gql, bob_token, "iris", [IRIS_SETOSA] * 3)
    # when
    _, for_alice = gql(PREDICTIONS, token=alice_token)
    _, for_bob = gql(PREDICTIONS, token=bob_token)
    _, for_staff = gql(PREDICTIONS, token=issue_token(staff_user, scope="read staff"))
    _, for_staff_read_only = gql(PREDICTIONS, token=issue_token(staff_user, scope="read"))
    # then
    assert sorted(_ids(for_alice)) == sorted(alice_ids)
    assert sorted(_ids(for_bob)) == sorted(bob_ids)
    assert sorted(_ids(for_staff)) == sorted(alice_ids + bob_ids)
    assert _ids(for_staff_read_only) == []


def test_someone_elses_prediction_is_null_never_the_data(make_user, staff_user, issue_token, gql, iris_model):
    # given
    alice_token, bob_token = issue_token(make_user("alice")), issue_token(make_user("bob"))
    [alice_id] = _predict(gql, alice_token, "iris", [IRIS_SETOSA])
    # when
    status, for_bob = gql(PREDICTION, {"id": alice_id}, token=bob_token)
    _, for_alice = gql(PREDICTION, {"id": alice_id}, token=alice_token)
    _, for_staff = gql(PREDICTION, {"id": alice_id}, token=issue_token(staff_user, scope="read staff"))
    _, for_staff_read_only = gql(PREDICTION, {"id": alice_id}, token=issue_token(staff_user, scope="read"))
    # then
    assert status == 200
    assert for_bob == {"data": {"prediction": None}}
    assert for_alice["data"]["prediction"]["id"] == alice_id
    assert for_alice["data"]["prediction"]["input"] == IRIS_SETOSA
    assert for_staff["data"]["prediction"]["id"] == alice_id
    assert for_staff_read_only == {"data": {"prediction": None}}


def test_unknown_or_malformed_prediction_ids_are_null_not_errors(make_user, issue_token, gql, iris_model):
    token = issue_token(make_user())
    results = [gql(PREDICTION, {"id": value}, token=token) for value in (str(uuid.uuid4()), "not-a-uuid", "1", "")]
    for status, body in results:
        assert status == 200
        assert body == {"data": {"prediction": None}}


def test_predictions_filtered_by_model(make_user, issue_token, gql, iris_model, bank_model):
    # given
    token = issue_token(make_user())
    iris_ids = _predict(gql, token, "iris", [IRIS_SETOSA] * 2)
    _predict(gql, token, "bank-marketing", [BANK_CLIENT])
    # when
    _, by_iris = gql(PREDICTIONS, {"model": str(iris_model.pk)}, token=token)
    _, by_unknown = gql(PREDICTIONS, {"model": "999999"}, token=token)
    # then
    assert sorted(_ids(by_iris)) == sorted(iris_ids)
    assert {e["node"]["model"]["name"] for e in by_iris["data"]["predictions"]["edges"]} == {"iris"}
    assert _ids(by_unknown) == []


def test_predictions_filtered_by_creation_time(make_user, issue_token, gql, iris_model):
    # given: an older call (moved back a day) and a recent one
    token = issue_token(make_user())
    old_ids = _predict(gql, token, "iris", [IRIS_SETOSA])
    Prediction.objects.filter(pk__in=old_ids).update(
        created_at=Prediction.objects.get(pk=old_ids[0]).created_at - timedelta(days=1)
    )
    new_ids = _predict(gql, token, "iris", [IRIS_SETOSA] * 2)
    cut = (Prediction.objects.get(pk=new_ids[0]).created_at - timedelta(hours=1)).isoformat()
    # when
    _, after = gql(PREDICTIONS, {"createdAfter": cut}, token=token)
    _, before = gql(PREDICTIONS, {"createdBefore": cut}, token=token)
    # then
    assert sorted(_ids(after)) == sorted(new_ids)
    assert _ids(before) == old_ids


def test_first_above_the_max_limit_is_a_user_error(make_user, issue_token, gql, iris_model, settings):
    token = issue_token(make_user())
    status, body = gql(PREDICTIONS, {"first": settings.RELAY_CONNECTION_MAX_LIMIT + 1}, token=token)
    assert status == 200
    assert _error_codes(body) == ["BAD_USER_INPUT"]
    assert body["data"] is None


def test_first_at_the_max_limit_is_allowed(make_user, issue_token, gql, iris_model, settings):
    token = issue_token(make_user())
    _predict(gql, token, "iris", [IRIS_SETOSA] * 3)
    _, body = gql(PREDICTIONS, {"first": settings.RELAY_CONNECTION_MAX_LIMIT}, token=token)
    assert len(_ids(body)) == 3


def test_garbage_cursor_is_a_user_error_not_a_crash(make_user, issue_token, gql, iris_model):
    token = issue_token(make_user())
    _predict(gql, token, "iris", [IRIS_SETOSA])
    for after in ("garbage", "!!!", _cursor(["only-one"]), _cursor({"a": 1})):
        status, body = gql(PREDICTIONS, {"after": after}, token=token)
        assert status == 200
        assert _error_codes(body) == ["INVALID_CURSOR"]


def test_cursor_with_wrongly_typed_values_is_a_user_error(make_user, issue_token, gql, iris_model):
    # given
    token = issue_token(make_user())
    _predict(gql, token, "iris", [IRIS_SETOSA])
    # when
    status, body = gql(PREDICTIONS, {"after": _cursor(["yesterday", "not-a-uuid"])}, token=token)
    # then
    assert status == 200
    assert _error_codes(body) == ["INVALID_CURSOR"]


def test_predictions_without_a_token_is_unauthenticated(gql, iris_model):
    status, body = gql(PREDICTIONS)
    assert status == 200
    assert _error_codes(body) == ["UNAUTHENTICATED"]


def test_listing_predictions_costs_the_same_queries_for_1_or_20_rows(
    make_user, issue_token, gql, iris_model, bank_model
):
    # given: rows on two models, so a per-row model lookup would show
    token = issue_token(make_user())
    _predict(gql, token, "iris", [IRIS_SETOSA])
    with CaptureQueriesContext(connection) as one_row:
        gql(PREDICTIONS, {"first": 1}, token=token)
    _predict(gql, token, "iris", [IRIS_SETOSA] * 10)
    _predict(gql, token, "bank-marketing", [BANK_CLIENT] * 10)
    # when
    with CaptureQueriesContext(connection) as many_rows:
        _, body = gql(PREDICTIONS, {"first": 20}, token=token)
    # then
    assert len(_ids(body)) == 20
    assert len(many_rows.captured_queries) == len(one_row.captured_queries)
