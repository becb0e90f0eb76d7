"""REST predict's lean lane answers exactly as DRF does.

Every case runs twice on the same database state (each inside a savepoint rolled back afterwards), with the lean
lane off and on: status, the headers a client reads, the body (key order included; new ids, clocks and the
CPU-priced amount masked to their shape) and the rows stored must match. Each case also says which lane answered.
"""

import json

import pytest
from django.db import transaction
from django.test import override_settings

from billing.models import PricingTier, UsageRecord
from predictions.api import lean
from predictions.models import Prediction
from tests.conftest import BANK_CLIENT, IRIS_SETOSA
from tests.parity import masked, raw_masked, same_second

VOLATILE = {"id", "created_at", "latency_ms", "cpu_seconds", "amount"}
HEADERS = ("Content-Type", "Allow", "Vary", "Retry-After", "WWW-Authenticate")


@pytest.fixture
def lanes(monkeypatch):
    answered = []
    original = lean.predict_lean

    def spy(*args, **kwargs):
        response = original(*args, **kwargs)
        answered.append("lean" if response is not None else "drf")
        return response

    monkeypatch.setattr("predictions.api.views.predict_lean", spy)
    return answered


@pytest.fixture
def both(client, lanes):
    def run(path, raw_body, *, token=None, content_type="application/json", **headers):
        if token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        answers = []
        for lean_on in (False, True):
            lanes.clear()
            with override_settings(REST_LEAN_PREDICT_ENABLED=lean_on), transaction.atomic():
                before = (Prediction.objects.count(), UsageRecord.objects.count())
                response = client.post(path, raw_body, content_type=content_type, **headers)
                stored = (Prediction.objects.count() - before[0], UsageRecord.objects.count() - before[1])
                transaction.set_rollback(True)
            try:
                body = json.dumps(masked(json.loads(response.content), VOLATILE))
            except ValueError:
                body = None
            raw = raw_masked(response.content, VOLATILE)
            answers.append(
                {
                    "status": response.status_code,
                    "headers": {name: response.get(name) for name in HEADERS},
                    "body": body,
                    "raw": raw,
                    "stored": stored,
                }
            )
        return answers[0], answers[1], (lanes[-1] if lanes else "none")

    return run


@pytest.fixture
def token(make_user, issue_token, iris_model, bank_model):
    return issue_token(make_user("lean"))


IRIS = "/api/v1/models/iris/predict"
LEAN_CASES = {
    "iris single": (IRIS, {"features": IRIS_SETOSA}),
    "iris as array": (IRIS, {"features": [5.1, 3.5, 1.4, 0.2]}),
    "iris version 1": (IRIS + "?version=1", {"features": IRIS_SETOSA}),
    "bank batch with a warning": (
        "/api/v1/models/bank-marketing/predict",
        {"instances": [BANK_CLIENT, {**BANK_CLIENT, "job": "astronaut"}]},
    ),
    "unknown version": (IRIS + "?version=99", {"features": IRIS_SETOSA}),
    "missing feature": (IRIS, {"features": {k: v for k, v in IRIS_SETOSA.items() if k != "petal_width"}}),
    "wrong type": (IRIS, {"features": {**IRIS_SETOSA, "sepal_length": "long"}}),
    "unknown model": ("/api/v1/models/no-such-model/predict", {"features": IRIS_SETOSA}),
    "features and instances": (IRIS, {"features": IRIS_SETOSA, "instances": [IRIS_SETOSA]}),
    "neither": (IRIS, {}),
    "too many instances": (IRIS, {"instances": [IRIS_SETOSA] * 1001}),
}


@pytest.mark.parametrize("case", sorted(LEAN_CASES))
def test_lean_lane_answers_as_drf(case, token, both):
    path, body = LEAN_CASES[case]
    drf, lean_answer, lane = both(path, json.dumps(body), token=token)
    assert lean_answer == drf
    assert lane == "lean"


DRF_CASES = {
    "version not a number": (IRIS + "?version=one", json.dumps({"features": IRIS_SETOSA}), {}),
    "unknown field": (IRIS, json.dumps({"features": IRIS_SETOSA, "colour": 1}), {}),
    "body not an object": (IRIS, json.dumps([IRIS_SETOSA]), {}),
    "malformed JSON": (IRIS, '{"features": ', {}),
    "NaN": (
        IRIS,
        '{"features": {"sepal_length": NaN, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}}',
        {},
    ),
    "format override": (IRIS + "?format=json", json.dumps({"features": IRIS_SETOSA}), {}),
    "accept html": (IRIS, json.dumps({"features": IRIS_SETOSA}), {"HTTP_ACCEPT": "text/html"}),
    "text body": (IRIS, "features", {"content_type": "text/plain"}),
}


@pytest.mark.parametrize("case", sorted(DRF_CASES))
def test_unusual_requests_are_left_to_drf_alike(case, token, both):
    path, raw, extra = DRF_CASES[case]
    drf, lean_answer, lane = both(path, raw, token=token, **extra)
    assert lean_answer == drf
    assert lane == "drf"


@pytest.mark.parametrize("authorization", ["Bearer not-a-token", "Bearer two words", None])
def test_bad_or_no_token_is_left_to_drf_alike(iris_model, both, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    drf, lean_answer, lane = both(IRIS, json.dumps({"features": IRIS_SETOSA}), **headers)
    assert lean_answer == drf and drf["status"] == 401
    assert lane == "drf"


def test_missing_scope_is_left_to_drf_alike(make_user, issue_token, iris_model, both):
    reader = issue_token(make_user("reader"), scope="read")
    drf, lean_answer, lane = both(IRIS, json.dumps({"features": IRIS_SETOSA}), token=reader)
    assert lean_answer == drf and drf["status"] == 403 and lane == "drf"


def _tier(name, **limits):
    return PricingTier.objects.create(
        name=name,
        monthly_fee=0,
        included_predictions=0,
        price_per_prediction="0.001",
        price_per_cpu_second="0",
        price_per_mb="0",
        **{"monthly_quota": None, "rate_limit_per_minute": None, **limits},
    )


def test_quota_and_rate_limit_answer_alike(make_user, issue_token, iris_model, client, both):
    quota = issue_token(make_user("quota", tier=_tier("tiny", monthly_quota=0)))
    slow = issue_token(make_user("slow", tier=_tier("slow", rate_limit_per_minute=1)))
    body = json.dumps({"features": IRIS_SETOSA})
    assert (
        client.post(IRIS, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {slow}").status_code == 201
    )
    for caller, status in ((quota, 429), (slow, 429)):
        drf, lean_answer, lane = both(IRIS, body, token=caller)
        same_second(drf, lean_answer)
        assert lean_answer == drf and drf["status"] == status and lane == "lean"
        assert drf["stored"] == (0, 0)
    assert drf["headers"]["Retry-After"]


def test_idempotency_replay_and_conflict_answer_alike(token, client, both):
    body = json.dumps({"features": IRIS_SETOSA})
    key = {"HTTP_IDEMPOTENCY_KEY": "order-9"}
    assert (
        client.post(
            IRIS, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}", **key
        ).status_code
        == 201
    )
    replay = both(IRIS, body, token=token, **key)
    conflict = both(IRIS, json.dumps({"features": [6, 3, 4, 1]}), token=token, **key)
    for drf, lean_answer, lane in (replay, conflict):
        assert lean_answer == drf and lane == "lean"
    assert (replay[0]["status"], replay[0]["stored"], conflict[0]["status"]) == (200, (0, 0), 409)
