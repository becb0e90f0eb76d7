"""What prediction_create returns is exactly what it stored: every field of every row, read back."""

from decimal import Decimal

from predictions.models import Prediction
from predictions.services import ModelRef, prediction_create
from tests.conftest import IRIS_SETOSA

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
