"""POST /api/v1/models/<name>/predict: stored and billed like createPrediction; every refusal stores and bills
nothing."""

import json
from decimal import Decimal

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.utils import timezone

from billing.models import PricingTier, UsageRecord
from predictions.models import Prediction, RegisteredModel
from tests.api.conftest import PREDICT_BANK, PREDICT_IRIS, error_codes
from tests.conftest import BANK_CLIENT, IRIS_SETOSA, iris_artifact

IRIS_VIRGINICA = {"sepal_length": 7.7, "sepal_width": 3.0, "petal_length": 6.1, "petal_width": 2.3}


def _limited_tier(**limits) -> PricingTier:
    return PricingTier.objects.create(
        name="limited",
        price_per_prediction=Decimal("0.001"),
        price_per_cpu_second=Decimal("0.05"),
        price_per_mb=Decimal("0.01"),
        **limits,
    )


# --- success ------------------------------------------------------------------------------------------


def test_iris_single_prediction_is_created_stored_and_billed(make_user, issue_token, rest, iris_model):
    # given
    user = make_user()
    token = issue_token(user, scope="predict")
    # when
    response = rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token)
    # then
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"prediction", "predictions", "cost", "replayed", "warnings"}
    assert body["replayed"] is False
    assert body["prediction"]["output"]["label"] == "setosa"
    assert set(body["prediction"]["output"]["probabilities"]) == {"setosa", "versicolor", "virginica"}
    assert body["prediction"]["model"] == {"id": iris_model.pk, "name": "iris", "version": 1}
    assert body["prediction"]["input"] == IRIS_SETOSA
    assert [p["id"] for p in body["predictions"]] == [body["prediction"]["id"]]
    stored = Prediction.objects.get(pk=body["prediction"]["id"])
    assert stored.user == user and stored.input == IRIS_SETOSA and stored.output == body["prediction"]["output"]
    usage = UsageRecord.objects.get(user=user)
    cost = body["cost"]
    assert set(cost) == {"amount", "currency", "predictions", "billable_predictions", "cpu_seconds", "stored_bytes"}
    assert Decimal(cost["amount"]) == usage.amount > 0
    assert (cost["currency"], cost["predictions"], cost["billable_predictions"]) == ("USD", 1, 1)
    assert cost["stored_bytes"] == usage.stored_bytes > 0
    assert Decimal(cost["cpu_seconds"]) == usage.cpu_seconds


def test_bank_marketing_batch_is_one_call_with_predictions_in_input_order(make_user, issue_token, rest, bank_model):
    # given
    user = make_user()
    second = {**BANK_CLIENT, "age": 23, "job": "student", "marital": "single", "housing": "yes"}
    # when
    response = rest("post", PREDICT_BANK, {"instances": [BANK_CLIENT, second]}, token=issue_token(user))
    # then
    assert response.status_code == 201
    body = response.json()
    assert body["prediction"] is None
    assert [p["input"] for p in body["predictions"]] == [BANK_CLIENT, second]
    assert all(p["output"]["label"] in ("yes", "no") for p in body["predictions"])
    assert (body["cost"]["predictions"], body["cost"]["billable_predictions"]) == (2, 2)
    assert UsageRecord.objects.filter(user=user).count() == 1
    assert Prediction.objects.filter(user=user).count() == 2


def test_latest_production_version_by_default_and_a_given_version_on_request(
    make_user, issue_token, rest, iris_model, register
):
    # given: v2 in production, v3 in staging
    v2 = register("iris", iris_artifact())
    register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    token = issue_token(make_user())
    # when
    default = rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token)
    pinned = rest("post", f"{PREDICT_IRIS}?version=1", {"features": IRIS_SETOSA}, token=token)
    # then
    assert default.status_code == pinned.status_code == 201
    assert default.json()["prediction"]["model"] == {"id": v2.pk, "name": "iris", "version": 2}
    assert pinned.json()["prediction"]["model"] == {"id": iris_model.pk, "name": "iris", "version": 1}


def test_staff_may_score_a_staging_version_by_number(staff_user, issue_token, rest, iris_model, register):
    staging = register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    response = rest("post", f"{PREDICT_IRIS}?version=2", {"features": IRIS_SETOSA}, token=issue_token(staff_user))
    assert response.status_code == 201
    assert response.json()["prediction"]["model"]["id"] == staging.pk


# --- not found ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/models/no-such-model/predict", "name"),
        (f"{PREDICT_IRIS}?version=9", "version"),
        (f"{PREDICT_IRIS}?version=2", "version"),  # staging: invisible to users
        (f"{PREDICT_IRIS}?version=abc", "version"),
        (f"{PREDICT_IRIS}?version=-1", "version"),
    ],
)
def test_unknown_model_or_version_is_not_found(
    make_user, issue_token, rest, iris_model, register, stored_counts, path, field
):
    # given
    register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    token = issue_token(make_user())
    before = stored_counts()
    # when
    response = rest("post", path, {"features": IRIS_SETOSA}, token=token)
    # then
    assert response.status_code == 404
    assert error_codes(response) == [(field, "NOT_FOUND")]
    assert stored_counts() == before


def test_model_with_only_a_staging_version_is_not_found_for_users(
    make_user, issue_token, rest, register, stored_counts
):
    register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    before = stored_counts()
    response = rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=issue_token(make_user()))
    assert response.status_code == 404
    assert error_codes(response) == [("name", "NOT_FOUND")]
    assert stored_counts() == before


# --- validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"features": {k: v for k, v in IRIS_SETOSA.items() if k != "petal_width"}},
            [("features.petal_width", "REQUIRED")],
        ),
        ({"features": {**IRIS_SETOSA, "sepal_width": None}}, [("features.sepal_width", "REQUIRED")]),
        ({"features": {**IRIS_SETOSA, "sepal_length": "5.1"}}, [("features.sepal_length", "INVALID_TYPE")]),
        ({"features": {**IRIS_SETOSA, "sepal_length": True}}, [("features.sepal_length", "INVALID_TYPE")]),
        ({"features": {**IRIS_SETOSA, "colour": "blue"}}, [("features.colour", "UNKNOWN_FIELD")]),
        ({"features": "setosa"}, [("features", "INVALID_TYPE")]),
        ({"features": IRIS_SETOSA, "model": "iris"}, [("model", "UNKNOWN_FIELD")]),
        ({"features": IRIS_SETOSA, "instances": [IRIS_SETOSA]}, [("features", "INVALID_INPUT")]),
        ({}, [("features", "INVALID_INPUT")]),
        ({"features": None}, [("features", "INVALID_INPUT")]),
        ({"instances": []}, [("instances", "INVALID_INPUT")]),
        ({"instances": IRIS_SETOSA}, [("instances", "INVALID_INPUT")]),
        ({"instances": [IRIS_SETOSA] * 1001}, [("instances", "TOO_MANY_INSTANCES")]),
        (
            {"instances": [IRIS_SETOSA, {**IRIS_SETOSA, "petal_length": "long"}, 7]},
            [("instances.1.petal_length", "INVALID_TYPE"), ("instances.2", "INVALID_TYPE")],
        ),
    ],
    ids=[
        "missing",
        "null",
        "string-for-number",
        "bool-for-number",
        "unknown-feature",
        "features-not-object",
        "unknown-top-level-field",
        "both",
        "neither",
        "null-features",
        "empty-batch",
        "batch-not-list",
        "too-many",
        "batch-paths",
    ],
)
def test_invalid_iris_input_is_400_with_codes(make_user, issue_token, rest, iris_model, stored_counts, body, expected):
    # given
    token = issue_token(make_user())
    before = stored_counts()
    # when
    response = rest("post", PREDICT_IRIS, body, token=token)
    # then
    assert response.status_code == 400
    assert error_codes(response) == expected
    assert stored_counts() == before


def test_every_problem_of_a_bank_instance_is_reported_at_once(make_user, issue_token, rest, bank_model, stored_counts):
    # given
    features = {**BANK_CLIENT, "age": "forty", "job": 7, "favourite_colour": "red"}
    del features["campaign"]
    before = stored_counts()
    # when
    response = rest("post", PREDICT_BANK, {"features": features}, token=issue_token(make_user()))
    # then
    assert response.status_code == 400
    assert sorted(error_codes(response)) == sorted(
        [
            ("features.age", "INVALID_TYPE"),
            ("features.job", "INVALID_TYPE"),
            ("features.campaign", "REQUIRED"),
            ("features.favourite_colour", "UNKNOWN_FIELD"),
        ]
    )
    assert stored_counts() == before


@pytest.mark.parametrize(
    "raw",
    ["{not json", '{"features": {"sepal_length": NaN}}', "[]", '"features"', "null", b'\xff\xfe{"features"'],
    ids=["syntax", "nan-literal", "array", "string", "null", "not-utf8"],
)
def test_malformed_or_non_object_json_is_malformed_json(make_user, issue_token, client, iris_model, stored_counts, raw):
    token = issue_token(make_user())
    before = stored_counts()
    response = client.post(PREDICT_IRIS, raw, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 400
    assert error_codes(response) == [(None, "MALFORMED_JSON")]
    assert stored_counts() == before


def test_overflowing_float_literal_is_invalid_type(make_user, issue_token, client, iris_model, stored_counts):
    # given: 1e400 parses to infinity
    raw = '{"features": {"sepal_length": 1e400, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}}'
    before = stored_counts()
    # when
    response = client.post(
        PREDICT_IRIS, raw, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {issue_token(make_user())}"
    )
    # then
    assert response.status_code == 400
    assert error_codes(response) == [("features.sepal_length", "INVALID_TYPE")]
    assert stored_counts() == before


@pytest.mark.parametrize(
    ("path", "features", "field"),
    [
        (PREDICT_IRIS, {**IRIS_SETOSA, "sepal_length": 10**400}, "features.sepal_length"),
        (PREDICT_BANK, {**BANK_CLIENT, "age": 10**400}, "features.age"),
    ],
    ids=["iris", "bank-marketing"],
)
def test_integer_beyond_float_range_is_invalid_type(
    make_user, issue_token, rest, iris_model, bank_model, stored_counts, path, features, field
):
    # given
    before = stored_counts()
    # when
    response = rest("post", path, {"features": features}, token=issue_token(make_user()))
    # then
    assert response.status_code == 400
    assert error_codes(response) == [(field, "INVALID_TYPE")]
    assert stored_counts() == before


def test_oversized_body_is_413_like_graphql(make_user, issue_token, client, iris_model, stored_counts, settings):
    # given: a body past the upload limit (GraphQL answers 413 PAYLOAD_TOO_LARGE)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    token = issue_token(make_user())
    body = json.dumps({"features": {**IRIS_SETOSA, "padding": "x" * 20_000}})
    before = stored_counts()
    # when
    response = client.post(PREDICT_IRIS, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    # then
    assert response.status_code == 413
    assert error_codes(response) == [(None, "PAYLOAD_TOO_LARGE")]
    assert stored_counts() == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_non_json_content_type_is_415(make_user, issue_token, client, iris_model, stored_counts, content_type):
    token = issue_token(make_user())
    before = stored_counts()
    response = client.post(PREDICT_IRIS, "features=1", content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 415
    assert error_codes(response) == [(None, "UNSUPPORTED_MEDIA_TYPE")]
    assert stored_counts() == before


def test_get_on_predict_is_405(make_user, issue_token, rest, iris_model):
    response = rest("get", PREDICT_IRIS, token=issue_token(make_user()))
    assert response.status_code == 405
    assert error_codes(response) == [(None, "METHOD_NOT_ALLOWED")]


# --- idempotency --------------------------------------------------------------------------------------


def test_same_idempotency_key_and_body_replays_without_storing_or_billing(make_user, issue_token, rest, iris_model):
    # given
    user = make_user()
    token = issue_token(user)
    first = rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token, HTTP_IDEMPOTENCY_KEY="order-1")
    # when
    again = rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token, HTTP_IDEMPOTENCY_KEY="order-1")
    # then
    assert (first.status_code, again.status_code) == (201, 200)
    assert (first.json()["replayed"], again.json()["replayed"]) == (False, True)
    assert again.json()["prediction"]["id"] == first.json()["prediction"]["id"]
    assert again.json()["cost"] == first.json()["cost"]
    assert UsageRecord.objects.filter(user=user).count() == 1
    assert Prediction.objects.filter(user=user).count() == 1


def test_batch_replay_returns_every_prediction_in_order(make_user, issue_token, rest, iris_model):
    token = issue_token(make_user())
    body = {"instances": [IRIS_SETOSA, IRIS_VIRGINICA, IRIS_SETOSA]}
    first = rest("post", PREDICT_IRIS, body, token=token, HTTP_IDEMPOTENCY_KEY="batch-1")
    again = rest("post", PREDICT_IRIS, body, token=token, HTTP_IDEMPOTENCY_KEY="batch-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert [p["id"] for p in again.json()["predictions"]] == [p["id"] for p in first.json()["predictions"]]
    assert [p["input"] for p in again.json()["predictions"]] == body["instances"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (PREDICT_IRIS, {"features": IRIS_VIRGINICA}),
        (PREDICT_IRIS, {"instances": [IRIS_SETOSA]}),
        (PREDICT_BANK, {"features": BANK_CLIENT}),
    ],
    ids=["other-features", "same-instance-as-batch", "other-model"],
)
def test_same_idempotency_key_with_a_different_request_is_409(
    make_user, issue_token, rest, iris_model, bank_model, stored_counts, path, body
):
    # given
    token = issue_token(make_user())
    assert (
        rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token, HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    )
    before = stored_counts()
    # when
    response = rest("post", path, body, token=token, HTTP_IDEMPOTENCY_KEY="k")
    # then
    assert response.status_code == 409
    assert [code for _, code in error_codes(response)] == ["IDEMPOTENCY_CONFLICT"]
    assert stored_counts() == before


def test_idempotency_keys_are_per_user(make_user, issue_token, rest, iris_model):
    alice, bob = make_user("alice"), make_user("bob")
    a = rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=issue_token(alice), HTTP_IDEMPOTENCY_KEY="k")
    b = rest("post", PREDICT_IRIS, {"features": IRIS_VIRGINICA}, token=issue_token(bob), HTTP_IDEMPOTENCY_KEY="k")
    assert (a.status_code, b.status_code) == (201, 201)
    assert b.json()["replayed"] is False and b.json()["prediction"]["id"] != a.json()["prediction"]["id"]
    assert UsageRecord.objects.filter(user=bob).count() == 1


@pytest.mark.parametrize("key", ["", "k" * 201])
def test_empty_or_too_long_idempotency_key_is_invalid_input(
    make_user, issue_token, rest, iris_model, stored_counts, key
):
    token = issue_token(make_user())
    before = stored_counts()
    response = rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token, HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert error_codes(response) == [("idempotency_key", "INVALID_INPUT")]
    assert stored_counts() == before


# --- limits -------------------------------------------------------------------------------------------


def test_monthly_quota_exceeded_is_429_with_retry_after(make_user, issue_token, rest, iris_model, stored_counts):
    # given: a quota of two, one used
    token = issue_token(make_user(tier=_limited_tier(monthly_quota=2)))
    assert rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token).status_code == 201
    before = stored_counts()
    # when: a batch of two would go past it
    batch = rest("post", PREDICT_IRIS, {"instances": [IRIS_SETOSA, IRIS_SETOSA]}, token=token)
    # then
    assert batch.status_code == 429
    assert [code for _, code in error_codes(batch)] == ["QUOTA_EXCEEDED"]
    assert int(batch["Retry-After"]) > 0
    assert stored_counts() == before
    # and the one left can still be used, after which single calls are refused too
    assert rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token).status_code == 201
    refused = rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token)
    assert refused.status_code == 429 and [c for _, c in error_codes(refused)] == ["QUOTA_EXCEEDED"]


def test_replay_of_an_accepted_call_is_not_refused_by_the_quota(
    make_user, issue_token, rest, iris_model, stored_counts
):
    token = issue_token(make_user(tier=_limited_tier(monthly_quota=1)))
    first = rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token, HTTP_IDEMPOTENCY_KEY="k")
    before = stored_counts()
    again = rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token, HTTP_IDEMPOTENCY_KEY="k")
    assert (first.status_code, again.status_code) == (201, 200)
    assert stored_counts() == before


def test_rate_limit_exceeded_is_429_with_retry_after(
    make_user, issue_token, rest, iris_model, stored_counts, monkeypatch
):
    # given: one call per minute, and the clock stopped mid-minute so both calls share a window
    token = issue_token(make_user(tier=_limited_tier(rate_limit_per_minute=1)))
    stopped = timezone.now().replace(second=30)
    monkeypatch.setattr(timezone, "now", lambda: stopped)
    assert rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token).status_code == 201
    before = stored_counts()
    # when
    response = rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token)
    # then
    assert response.status_code == 429
    assert [code for _, code in error_codes(response)] == ["RATE_LIMITED"]
    assert response["Retry-After"] == "30"
    assert stored_counts() == before


# --- sessions and CSRF --------------------------------------------------------------------------------


def test_session_post_without_csrf_token_is_refused(make_user, iris_model, stored_counts):
    # given: a logged-in browser session that does not send the CSRF token
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(make_user())
    before = stored_counts()
    # when
    response = browser.post(PREDICT_IRIS, json.dumps({"features": IRIS_SETOSA}), content_type="application/json")
    # then
    assert response.status_code == 403
    assert error_codes(response) == [(None, "CSRF_FAILED")]
    assert stored_counts() == before


def test_session_post_with_csrf_token_is_accepted(make_user, iris_model):
    # given
    user = make_user()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    secret = _get_new_csrf_string()
    browser.cookies["csrftoken"] = secret
    # when
    response = browser.post(
        PREDICT_IRIS, json.dumps({"features": IRIS_SETOSA}), content_type="application/json", HTTP_X_CSRFTOKEN=secret
    )
    # then
    assert response.status_code == 201
    assert Prediction.objects.get(pk=response.json()["prediction"]["id"]).user == user


def test_bearer_token_needs_no_csrf_token_even_with_a_session(make_user, issue_token, iris_model):
    # given: a session for alice and a bearer token for bob, no CSRF token
    alice, bob = make_user("alice"), make_user("bob")
    token = issue_token(bob)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    # when
    response = browser.post(
        PREDICT_IRIS,
        json.dumps({"features": IRIS_SETOSA}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    # then: the token alone decides who calls
    assert response.status_code == 201
    assert Prediction.objects.get(pk=response.json()["prediction"]["id"]).user == bob
    assert not Prediction.objects.filter(user=alice).exists()


def test_bearer_token_scopes_apply_even_with_a_session(make_user, issue_token, iris_model, stored_counts):
    # given: a session (which may predict) and a read-only token for the same user
    user = make_user()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    token = issue_token(user, scope="read")
    before = stored_counts()
    # when
    response = browser.post(
        PREDICT_IRIS,
        json.dumps({"features": IRIS_SETOSA}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    # then
    assert response.status_code == 403
    assert error_codes(response) == [(None, "FORBIDDEN")]
    assert stored_counts() == before
