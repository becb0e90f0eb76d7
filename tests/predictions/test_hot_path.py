"""The hot path of createPrediction: how many queries one call costs, and what the per-process memos
(valid tokens, model lookups) may and may not remember."""

import hashlib
import time

import pytest
from django.db import connection
from oauth2_provider.models import AccessToken

from billing.models import MonthlyUsage, UsageRecord
from predictions.models import Prediction, RegisteredModel
from tests.conftest import IRIS_SETOSA

CREATE = """
mutation($f: GenericScalar!) {
  createPrediction(input: {modelName: "iris", features: $f}) { prediction { id } cost { amount } errors { code } }
}
"""


def _predict(gql, token):
    status, body = gql(CREATE, {"f": IRIS_SETOSA}, token=token)
    return status, body


# The accepted call's write: PostgreSQL, one statement (counter UPDATE + usage INSERT + prediction INSERT as
# one CTE, which also checks the tier in force); SQLite, the tier check and those three in a plain transaction.
WRITES = 1 if connection.vendor == "postgresql" else 4


def test_one_prediction_costs_the_lookups_and_one_write_without_the_memos(
    make_user, issue_token, gql, iris_model, django_assert_num_queries
):
    # given: a warm process (model loaded, the write already PREPAREd on this connection)
    token = issue_token(make_user())
    _predict(gql, token)
    # when / then: token, model, the subscription in force (joined to its tier), the write (+ the SAVEPOINT /
    # RELEASE pair of the call's own all-or-nothing block inside the test's transaction)
    with django_assert_num_queries(3 + WRITES + 2):
        status, body = _predict(gql, token)
    assert status == 200 and body["data"]["createPrediction"]["errors"] == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement write is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_an_accepted_call_is_one_round_trip_for_its_writes(
    make_user, issue_token, gql, iris_model, django_assert_num_queries
):
    # given: autocommit, as under gunicorn (no test transaction around the request)
    token = issue_token(make_user())
    _predict(gql, token)
    # when
    with django_assert_num_queries(4) as captured:
        status, body = _predict(gql, token)
    # then: token, model, tier, and ONE statement that counts, bills and stores (no BEGIN / COMMIT)
    assert status == 200 and body["data"]["createPrediction"]["errors"] == []
    write = captured.captured_queries[-1]["sql"]
    assert write.startswith("EXECUTE mlapi_charge_")
    assert not any(q["sql"].upper().startswith(("BEGIN", "SAVEPOINT", "COMMIT")) for q in captured.captured_queries)
    assert Prediction.objects.count() == UsageRecord.objects.count() == 2
    assert MonthlyUsage.objects.get().predictions == 2


def test_with_the_memos_a_repeated_prediction_only_writes(
    make_user, issue_token, gql, iris_model, settings, django_assert_num_queries
):
    # given
    settings.ACCESS_TOKEN_CACHE_SECONDS = 60
    settings.MODEL_LOOKUP_CACHE_SECONDS = 60
    settings.PRICING_TIER_CACHE_SECONDS = 60
    token = issue_token(make_user())
    _predict(gql, token)
    # when / then: no token, model or tier lookup (the write itself checks the tier in force, so a tier
    # change still prices the very next call: tests/billing/test_tier_memo.py), only the write
    # (+ SAVEPOINT / RELEASE)
    with django_assert_num_queries(WRITES + 2):
        status, body = _predict(gql, token)
    assert body["data"]["createPrediction"]["errors"] == []
    assert Prediction.objects.count() == 2


def test_a_revoked_token_stops_working_once_its_memo_expires(make_user, issue_token, gql, iris_model, settings):
    # given: a token remembered for 0.5 s
    settings.ACCESS_TOKEN_CACHE_SECONDS = 0.5
    token = issue_token(make_user())
    assert _predict(gql, token)[0] == 200
    # when: revoked (the token row is deleted, as /o/revoke_token/ does)
    AccessToken.objects.filter(token_checksum=hashlib.sha256(token.encode()).hexdigest()).delete()
    time.sleep(0.6)
    # then
    status, body = _predict(gql, token)
    assert status == 401 and body["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"


def test_an_expired_token_is_refused_even_while_remembered(make_user, issue_token, gql, iris_model, settings):
    # given
    settings.ACCESS_TOKEN_CACHE_SECONDS = 60
    token = issue_token(make_user())
    assert _predict(gql, token)[0] == 200
    # when: it expires (the memo keeps its expiry and checks it on every use)
    from datetime import timedelta

    from django.utils import timezone

    checksum = hashlib.sha256(token.encode()).hexdigest()
    expires = AccessToken.objects.get(token_checksum=checksum).expires
    from unittest import mock

    with mock.patch("mlapi.auth.timezone.now", return_value=expires + timedelta(seconds=1)):
        status, body = _predict(gql, token)
    # then
    assert status == 401 and body["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"
    assert timezone.now() < expires


def test_an_archived_model_stops_serving_once_its_memo_expires(make_user, issue_token, gql, iris_model, settings):
    # given
    settings.MODEL_LOOKUP_CACHE_SECONDS = 0.5
    token = issue_token(make_user())
    assert _predict(gql, token)[1]["data"]["createPrediction"]["errors"] == []
    # when
    RegisteredModel.objects.filter(pk=iris_model.pk).update(stage=RegisteredModel.Stage.ARCHIVED)
    time.sleep(0.6)
    # then
    errors = _predict(gql, token)[1]["data"]["createPrediction"]["errors"]
    assert [e["code"] for e in errors] == ["NOT_FOUND"]
