"""A prediction's user and model are copies of its usage record's, written by the same statement; the database
checks them once, on the usage record (migration predictions 0006), so every path that stores predictions must
write the usage record's own."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F, ProtectedError

from billing.models import UsageRecord
from predictions.models import Prediction
from tests.api.conftest import PREDICT_IRIS
from tests.conftest import IRIS_SETOSA

CREATE = """
mutation($input: CreatePredictionInput!) {
  createPrediction(input: $input) { predictions { id } errors { code } }
}
"""

# 100 rows: past billing.services.charge.COPY_MIN_ROWS, so PostgreSQL stores them with COPY.
MANY = [IRIS_SETOSA] * 100


def _mismatched():
    return Prediction.objects.exclude(user_id=F("usage__user_id"), model_id=F("usage__model_id"))


def test_every_path_stores_the_usage_records_user_and_model(make_user, issue_token, gql, rest, iris_model):
    # given: two callers, so a row copied from the wrong one would show
    alice, bob = make_user("alice"), make_user("bob")
    for user in (alice, bob):
        token = issue_token(user, scope="predict")
        # when: one and many rows through GraphQL and through REST
        for variables in ({"modelName": "iris", "features": IRIS_SETOSA}, {"modelName": "iris", "instances": MANY}):
            status, body = gql(CREATE, {"input": variables}, token=token)
            assert status == 200 and body["data"]["createPrediction"]["errors"] == []
        for payload in ({"features": IRIS_SETOSA}, {"instances": MANY}):
            assert rest("post", PREDICT_IRIS, payload, token=token).status_code == 201
    # then
    assert Prediction.objects.filter(user=alice).count() == Prediction.objects.filter(user=bob).count() == 202
    assert not _mismatched().exists()


def test_the_usage_record_a_prediction_belongs_to_cannot_be_removed(make_user, issue_token, gql, iris_model):
    # given
    user = make_user()
    gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=issue_token(user))
    usage = UsageRecord.objects.get(user=user)
    # when / then: refused by Django (PROTECT), and by the database's own foreign key when Django is bypassed
    with pytest.raises(ProtectedError):
        usage.delete()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {UsageRecord._meta.db_table} WHERE id = %s", [usage.pk])
        connection.check_constraints()  # the deferred checks, now rather than at a commit the test never makes
    assert Prediction.objects.filter(usage=usage).exists()


def test_users_and_models_with_predictions_are_still_protected(make_user, issue_token, gql, iris_model):
    # given
    user = make_user()
    gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=issue_token(user))
    # when / then
    with pytest.raises(ProtectedError):
        user.delete()
    with pytest.raises(ProtectedError):
        iris_model.delete()
    assert Prediction.objects.filter(user=user, model=iris_model).count() == 1
