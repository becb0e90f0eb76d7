from billing.models import UsageRecord
from quality.models import Feedback
from tests.conftest import IRIS_SETOSA, regressor_artifact

VERSICOLOR = {"sepal_length": 6.0, "sepal_width": 2.9, "petal_length": 4.5, "petal_width": 1.5}


def test_owner_submits_feedback_by_id_and_by_key_and_nothing_is_billed(
    make_user, issue_token, submit, predict, iris_model
):
    # given
    user = make_user()
    token = issue_token(user)
    first = predict(user, "iris", [IRIS_SETOSA])[0]
    predict(user, "iris", [IRIS_SETOSA, VERSICOLOR], idempotency_key="order-7")
    usage_before = UsageRecord.objects.filter(user=user).count()
    # when
    payload = submit(
        [
            {"predictionId": str(first.pk), "actual": "setosa", "observedAt": "2026-11-30T10:00:00Z"},
            {"idempotencyKey": "order-7", "position": 1, "actual": "virginica"},
        ],
        token=token,
    )
    # then
    assert payload["errors"] == []
    assert [f["actual"] for f in payload["feedback"]] == ["setosa", "virginica"]
    assert payload["feedback"][0]["observedAt"].startswith("2026-11-30T10:00:00")
    assert Feedback.objects.filter(user=user, current=True).count() == 2
    second = Feedback.objects.get(actual="virginica")
    assert second.prediction.usage.idempotency_key == "order-7" and second.prediction.position == 1
    assert UsageRecord.objects.filter(user=user).count() == usage_before  # not billed


def test_resubmitting_replaces_the_current_value_and_keeps_history(make_user, issue_token, submit, predict, iris_model):
    # given
    user = make_user()
    token = issue_token(user)
    prediction = predict(user, "iris", [IRIS_SETOSA])[0]
    submit([{"predictionId": str(prediction.pk), "actual": "setosa"}], token=token)
    # when
    payload = submit([{"predictionId": str(prediction.pk), "actual": "versicolor"}], token=token)
    # then
    assert payload["errors"] == [] and payload["feedback"][0]["replaced"] is True
    history = list(Feedback.objects.filter(prediction=prediction).order_by("id"))
    assert [(f.actual, f.current) for f in history] == [("setosa", False), ("versicolor", True)]
    assert history[1].replaces_id == history[0].pk


def test_another_customers_prediction_is_not_found_and_nothing_is_stored(
    make_user, issue_token, submit, predict, iris_model
):
    # given
    owner, other = make_user(), make_user()
    mine = predict(other, "iris", [IRIS_SETOSA])[0]
    theirs = predict(owner, "iris", [IRIS_SETOSA])[0]
    # when
    payload = submit(
        [{"predictionId": str(mine.pk), "actual": "setosa"}, {"predictionId": str(theirs.pk), "actual": "setosa"}],
        token=issue_token(other),
    )
    # then
    assert payload["feedback"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("items.1.predictionId", "NOT_FOUND")]
    assert Feedback.objects.count() == 0


def test_actual_is_checked_against_the_models_task(make_user, issue_token, submit, predict, iris_model, register):
    # given
    register("line", regressor_artifact())
    user = make_user()
    token = issue_token(user)
    flower = predict(user, "iris", [IRIS_SETOSA])[0]
    number = predict(user, "line", [{"x0": 1.0, "x1": 2.0}])[0]
    # when
    payload = submit(
        [
            {"predictionId": str(flower.pk), "actual": "tulip"},
            {"predictionId": str(number.pk), "actual": "four"},
            {"predictionId": "not-a-uuid", "actual": 1},
            {"actual": 1},
        ],
        token=token,
    )
    # then
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        ("items.0.actual", "INVALID_ACTUAL"),
        ("items.1.actual", "INVALID_ACTUAL"),
        ("items.2.predictionId", "NOT_FOUND"),
        ("items.3.predictionId", "REQUIRED"),
    ]
    assert Feedback.objects.count() == 0
    ok = submit([{"predictionId": str(number.pk), "actual": 4.5}], token=token)
    assert ok["errors"] == [] and ok["feedback"][0]["actual"] == 4.5


def test_too_many_items_and_duplicates_are_refused(make_user, issue_token, submit, predict, iris_model, settings):
    # given
    settings.FEEDBACK_MAX_ITEMS = 2
    user = make_user()
    token = issue_token(user)
    prediction = predict(user, "iris", [IRIS_SETOSA])[0]
    item = {"predictionId": str(prediction.pk), "actual": "setosa"}
    # when
    too_many = submit([item, item, item], token=token)
    duplicate = submit([item, item], token=token)
    # then
    assert [e["code"] for e in too_many["errors"]] == ["TOO_MANY_ITEMS"]
    assert [(e["field"], e["code"]) for e in duplicate["errors"]] == [("items.1.predictionId", "DUPLICATE_PREDICTION")]
    assert Feedback.objects.count() == 0


def test_feedback_needs_the_predict_scope(make_user, issue_token, gql, predict, iris_model):
    from tests.quality.conftest import SUBMIT

    user = make_user()
    prediction = predict(user, "iris", [IRIS_SETOSA])[0]
    status, body = gql(
        SUBMIT,
        {"input": {"items": [{"predictionId": str(prediction.pk), "actual": "setosa"}]}},
        token=issue_token(user, scope="read"),
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert Feedback.objects.count() == 0


def test_rest_single_and_batch_feedback(make_user, issue_token, rest, predict, iris_model):
    # given
    user, other = make_user(), make_user()
    token = issue_token(user)
    a, b = predict(user, "iris", [IRIS_SETOSA, VERSICOLOR])
    theirs = predict(other, "iris", [IRIS_SETOSA])[0]
    # when
    single = rest("post", f"/api/v1/predictions/{a.pk}/feedback", {"actual": "setosa"}, token=token)
    batch = rest(
        "post",
        "/api/v1/feedback",
        {
            "items": [
                {"predictionId": str(a.pk), "actual": "versicolor"},
                {"predictionId": str(b.pk), "actual": "versicolor"},
            ]
        },
        token=token,
    )
    foreign = rest("post", f"/api/v1/predictions/{theirs.pk}/feedback", {"actual": "setosa"}, token=token)
    bad = rest("post", f"/api/v1/predictions/{b.pk}/feedback", {"actual": "rose"}, token=token)
    # then
    assert single.status_code == 201 and single.json()["feedback"][0]["actual"] == "setosa"
    assert batch.status_code == 201 and [f["replaced"] for f in batch.json()["feedback"]] == [True, False]
    assert foreign.status_code == 404 and foreign.json()["errors"][0]["code"] == "NOT_FOUND"
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "INVALID_ACTUAL"
    assert Feedback.objects.filter(current=True).count() == 2
    assert Feedback.objects.filter(prediction=theirs).count() == 0
