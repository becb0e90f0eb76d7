"""Batches (one call, N predictions, one usage record) and idempotency keys (replay, conflict, per user)."""

from decimal import Decimal

from billing.models import UsageRecord
from predictions.models import Prediction
from tests.conftest import BANK_CLIENT, IRIS_SETOSA, bank_artifact

CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) {
    prediction { id input output }
    predictions { id input output }
    cost { amount currency predictions cpuSeconds storedBytes }
    replayed
    errors { field code message }
  }
}
"""

ME_USAGE = "{ me { usage { predictions } } }"

IRIS_VERSICOLOR = {"sepal_length": 6.4, "sepal_width": 3.2, "petal_length": 4.5, "petal_width": 1.5}
IRIS_VIRGINICA = {"sepal_length": 7.7, "sepal_width": 3.0, "petal_length": 6.1, "petal_width": 2.3}


def _payload(body):
    return body["data"]["createPrediction"]


def _codes(body):
    return [(e["field"], e["code"]) for e in _payload(body)["errors"]]


def test_batch_returns_predictions_in_input_order_with_one_usage_record(make_user, issue_token, gql, iris_model):
    # given
    user = make_user()
    token = issue_token(user)
    instances = [IRIS_VIRGINICA, IRIS_SETOSA, IRIS_VERSICOLOR, IRIS_SETOSA, IRIS_VIRGINICA]
    # when
    status, body = gql(CREATE, {"input": {"modelName": "iris", "instances": instances}}, token=token)
    # then
    assert status == 200
    payload = _payload(body)
    assert payload["errors"] == []
    assert payload["prediction"] is None
    assert [p["input"] for p in payload["predictions"]] == instances
    assert [p["output"]["label"] for p in payload["predictions"]] == [
        "virginica",
        "setosa",
        "versicolor",
        "setosa",
        "virginica",
    ]
    assert len({p["id"] for p in payload["predictions"]}) == 5
    usage = UsageRecord.objects.get(user=user)
    assert usage.predictions == 5
    assert payload["cost"]["predictions"] == 5
    assert Decimal(payload["cost"]["amount"]) == usage.amount
    stored = Prediction.objects.filter(user=user).order_by("position")
    assert [str(p.pk) for p in stored] == [p["id"] for p in payload["predictions"]]
    assert {p.usage_id for p in stored} == {usage.pk}


def test_batch_counts_every_instance_in_monthly_usage(make_user, issue_token, gql, iris_model):
    token = issue_token(make_user())
    gql(CREATE, {"input": {"modelName": "iris", "instances": [IRIS_SETOSA] * 7}}, token=token)
    _, body = gql(ME_USAGE, token=token)
    assert body["data"]["me"]["usage"]["predictions"] == 7


def test_one_bad_instance_refuses_the_whole_batch(make_user, issue_token, gql, iris_model, stored_counts):
    # given: instance 3 lacks a feature, instance 1 is not an object
    token = issue_token(make_user())
    broken = {k: v for k, v in IRIS_SETOSA.items() if k != "petal_width"}
    before = stored_counts()
    # when
    status, body = gql(
        CREATE, {"input": {"modelName": "iris", "instances": [IRIS_SETOSA, "x", IRIS_SETOSA, broken]}}, token=token
    )
    # then
    assert status == 200
    assert _codes(body) == [("instances.1", "INVALID_TYPE"), ("instances.3.petal_width", "REQUIRED")]
    assert _payload(body)["predictions"] is None
    assert stored_counts() == before


def test_batch_errors_name_the_instance_and_the_feature(make_user, issue_token, gql, register, stored_counts):
    # given
    register("bank-marketing", bank_artifact())
    token = issue_token(make_user())
    instances = [BANK_CLIENT, {**BANK_CLIENT, "marital": 3}, BANK_CLIENT, {**BANK_CLIENT, "pet": "cat"}]
    before = stored_counts()
    # when
    _, body = gql(CREATE, {"input": {"modelName": "bank-marketing", "instances": instances}}, token=token)
    # then
    assert _codes(body) == [("instances.1.marital", "INVALID_TYPE"), ("instances.3.pet", "UNKNOWN_FIELD")]
    assert stored_counts() == before


def test_same_key_and_payload_replays_the_original_call(make_user, issue_token, gql, iris_model, stored_counts):
    # given
    user = make_user()
    token = issue_token(user)
    variables = {
        "input": {"modelName": "iris", "instances": [IRIS_SETOSA, IRIS_VIRGINICA], "idempotencyKey": "order-1"}
    }
    _, first = gql(CREATE, variables, token=token)
    after_first = stored_counts()
    # when
    _, second = gql(CREATE, variables, token=token)
    # then
    assert _codes(first) == [] and _codes(second) == []
    assert _payload(first)["replayed"] is False
    assert _payload(second)["replayed"] is True
    assert [p["id"] for p in _payload(second)["predictions"]] == [p["id"] for p in _payload(first)["predictions"]]
    assert _payload(second)["cost"] == _payload(first)["cost"]
    assert stored_counts() == after_first
    assert UsageRecord.objects.filter(user=user).count() == 1
    _, me = gql(ME_USAGE, token=token)
    assert me["data"]["me"]["usage"]["predictions"] == 2


def test_the_same_features_in_another_key_order_are_the_same_payload(
    make_user, issue_token, gql, iris_model, stored_counts
):
    # given
    token = issue_token(make_user())
    reordered = dict(reversed(list(IRIS_SETOSA.items())))
    _, first = gql(
        CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA, "idempotencyKey": "k"}}, token=token
    )
    before = stored_counts()
    # when
    _, second = gql(CREATE, {"input": {"modelName": "iris", "features": reordered, "idempotencyKey": "k"}}, token=token)
    # then
    assert _codes(second) == []
    assert _payload(second)["replayed"] is True
    assert _payload(second)["prediction"]["id"] == _payload(first)["prediction"]["id"]
    assert stored_counts() == before


def test_replay_of_a_single_prediction_returns_it(make_user, issue_token, gql, iris_model):
    token = issue_token(make_user())
    variables = {"input": {"modelName": "iris", "features": IRIS_SETOSA, "idempotencyKey": "single"}}
    _, first = gql(CREATE, variables, token=token)
    _, second = gql(CREATE, variables, token=token)
    assert _payload(second)["replayed"] is True
    assert _payload(second)["prediction"]["id"] == _payload(first)["prediction"]["id"]
    assert _payload(second)["prediction"]["output"] == _payload(first)["prediction"]["output"]


def test_same_key_with_a_different_payload_is_a_conflict(
    make_user, issue_token, gql, iris_model, bank_model, stored_counts
):
    # given
    token = issue_token(make_user())
    gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA, "idempotencyKey": "k1"}}, token=token)
    before = stored_counts()
    # when: other features, the same features as a batch, another model
    others = [
        {"modelName": "iris", "features": IRIS_VIRGINICA},
        {"modelName": "iris", "instances": [IRIS_SETOSA]},
        {"modelName": "bank-marketing", "features": BANK_CLIENT},
    ]
    results = [gql(CREATE, {"input": {**other, "idempotencyKey": "k1"}}, token=token) for other in others]
    # then
    for status, body in results:
        assert status == 200
        assert _codes(body) == [("idempotencyKey", "IDEMPOTENCY_CONFLICT")]
        assert _payload(body)["predictions"] is None
    assert stored_counts() == before


def test_two_users_may_use_the_same_key_independently(make_user, issue_token, gql, iris_model):
    # given
    alice, bob = make_user("alice"), make_user("bob")
    variables = {"input": {"modelName": "iris", "features": IRIS_SETOSA, "idempotencyKey": "shared"}}
    # when
    _, for_alice = gql(CREATE, variables, token=issue_token(alice))
    _, for_bob = gql(CREATE, variables, token=issue_token(bob))
    # then
    assert _payload(for_alice)["replayed"] is False
    assert _payload(for_bob)["replayed"] is False
    assert _payload(for_alice)["prediction"]["id"] != _payload(for_bob)["prediction"]["id"]
    assert Prediction.objects.get(pk=_payload(for_bob)["prediction"]["id"]).user == bob
    assert UsageRecord.objects.filter(user=alice).count() == 1
    assert UsageRecord.objects.filter(user=bob).count() == 1


def test_calls_without_a_key_are_never_replayed(make_user, issue_token, gql, iris_model, stored_counts):
    token = issue_token(make_user())
    before = stored_counts()
    variables = {"input": {"modelName": "iris", "features": IRIS_SETOSA}}
    _, first = gql(CREATE, variables, token=token)
    _, second = gql(CREATE, variables, token=token)
    assert _payload(second)["replayed"] is False
    assert _payload(first)["prediction"]["id"] != _payload(second)["prediction"]["id"]
    assert stored_counts() == (before[0] + 2, before[1] + 2)


def test_the_request_is_fingerprinted_only_when_a_key_may_come_back(make_user, issue_token, gql, iris_model):
    # given: the same batch without a key, then with one
    user = make_user()
    token = issue_token(user)
    instances = [IRIS_SETOSA, IRIS_VIRGINICA]
    gql(CREATE, {"input": {"modelName": "iris", "instances": instances}}, token=token)
    gql(CREATE, {"input": {"modelName": "iris", "instances": instances, "idempotencyKey": "fp"}}, token=token)
    # when: the key comes back with other instances
    _, retried = gql(
        CREATE, {"input": {"modelName": "iris", "instances": instances[::-1], "idempotencyKey": "fp"}}, token=token
    )
    # then: only the keyed call's usage record holds a fingerprint, and the retry is checked against it
    hashes = dict(UsageRecord.objects.filter(user=user).values_list("idempotency_key", "request_hash"))
    assert hashes[None] == ""
    assert len(hashes["fp"]) == 64 and set(hashes["fp"]) <= set("0123456789abcdef")
    assert _codes(retried) == [("idempotencyKey", "IDEMPOTENCY_CONFLICT")]


def test_a_refused_call_does_not_burn_its_key(make_user, issue_token, gql, iris_model):
    # given: the first try with the key is invalid
    token = issue_token(make_user())
    bad = {k: v for k, v in IRIS_SETOSA.items() if k != "petal_width"}
    _, refused = gql(CREATE, {"input": {"modelName": "iris", "features": bad, "idempotencyKey": "retry"}}, token=token)
    # when: the corrected call reuses the key
    _, accepted = gql(
        CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA, "idempotencyKey": "retry"}}, token=token
    )
    # then
    assert [code for _, code in _codes(refused)] == ["REQUIRED"]
    assert _codes(accepted) == []
    assert _payload(accepted)["replayed"] is False
