"""What prediction_create returns is exactly what it stored: every field of every row, read back."""

import time
import uuid
from decimal import Decimal

from billing.services.charge import COPY_MIN_ROWS
from predictions.ids import uuid7
from predictions.models import Prediction
from predictions.services import ModelRef, prediction_create
from tests.conftest import BANK_CLIENT, IRIS_SETOSA

IRIS_OTHER = {"sepal_length": 6.4, "sepal_width": 3.2, "petal_length": 4.5, "petal_width": 1.5}


def test_the_returned_predictions_are_the_stored_rows(make_user, iris_model, django_assert_num_queries):
    # given
    user = make_user("reader")
    # when
    outcome = prediction_create(user=user, model_ref=ModelRef(name="iris"), instances=[IRIS_SETOSA, IRIS_OTHER])
    # then: field by field equal to a fresh read, related objects at hand without a query
    stored = list(Prediction.objects.filter(usage=outcome.usage).order_by("position"))
    assert [p.pk for p in outcome.predictions] == [p.pk for p in stored]
    for returned, row in zip(outcome.predictions, stored, strict=True):
        for field in Prediction._meta.concrete_fields:
            expected = getattr(row, field.attname)
            got = getattr(returned, field.attname)
            if field.name == "latency_ms":
                assert Decimal(str(got)) == expected
            else:
                assert got == expected, field.name
        assert returned._state.adding is False
    with django_assert_num_queries(0):
        assert outcome.predictions[0].user == user
        assert outcome.predictions[0].model.name == "iris"
        assert outcome.predictions[1].usage.pk == outcome.usage.pk


# Every character COPY's text format treats specially, and others that JSON escapes (on PostgreSQL a call of
# COPY_MIN_ROWS rows or more is stored with COPY; on SQLite with an INSERT: both must read back the same).
AWKWARD_JOBS = ["back\\slash", "tab\there", "new\nline", "carriage\rreturn", 'quote"d', "ünïcødé ☃", "\\N", "plain"]


def test_a_copied_call_stores_every_awkward_string_exactly(make_user, bank_model):
    # given
    user = make_user("reader")
    rows = [{**BANK_CLIENT, "job": AWKWARD_JOBS[i % len(AWKWARD_JOBS)], "age": 20 + i} for i in range(COPY_MIN_ROWS)]
    # when
    outcome = prediction_create(user=user, model_ref=ModelRef(name="bank-marketing"), instances=rows)
    # then
    stored = list(Prediction.objects.filter(usage=outcome.usage).order_by("position"))
    assert [p.input for p in stored] == rows
    assert [p.output for p in stored] == [p.output for p in outcome.predictions]


def test_a_calls_ids_are_uuid7_stamped_with_its_time(make_user, iris_model):
    # given
    user = make_user("reader")
    # when
    outcome = prediction_create(user=user, model_ref=ModelRef(name="iris"), instances=[IRIS_SETOSA] * 3)
    # then: version 7, RFC 9562's variant, the call's millisecond in the first 48 bits, distinct random bits
    ids = [p.pk for p in outcome.predictions]
    assert {i.version for i in ids} == {7} and {i.variant for i in ids} == {uuid.RFC_4122}
    milliseconds = {i.int >> 80 for i in ids}
    assert len(milliseconds) == 1
    assert abs(milliseconds.pop() - outcome.usage.created_at.timestamp() * 1000) < 1000
    assert len({i.int & ((1 << 74) - 1) for i in ids}) == 3
    assert sorted(Prediction.objects.values_list("pk", flat=True)) == sorted(ids)


def test_ids_made_one_at_a_time_are_uuid7_and_in_time_order():
    # when
    first = uuid7()
    time.sleep(0.002)
    second = uuid7()
    # then
    assert first.version == second.version == 7
    assert first < second
    assert Prediction._meta.pk.default is uuid7
