import pytest

from quality.services.feedback import FeedbackItem, feedback_submit
from quality.services.rollups import quality_rollup_catch_up
from tests.conftest import IRIS_SETOSA

QUALITY = """
query Quality($name: String!, $window: QualityWindow) {
  model(name: $name) {
    version
    metrics
    quality(window: $window) {
      window count everyCustomer accuracy precisionMacro recallMacro f1Macro logLoss brierScore mae
      perClass { label precision recall f1 support }
      confusionMatrix { labels counts }
      days { date count accuracy }
      offlineMetrics
    }
  }
}
"""

VIRGINICA = {"sepal_length": 7.7, "sepal_width": 3.0, "petal_length": 6.1, "petal_width": 2.3}


@pytest.fixture
def scored(make_user, predict, register, settings):
    """Alice: 3 predictions with feedback (2 right); Bob: 1 with feedback (wrong)."""
    from tests.conftest import iris_artifact

    settings.QUALITY_ROLLUP_SETTLE_SECONDS = 0
    model = register("iris", iris_artifact(), metrics={"accuracy": 0.97})
    alice, bob = make_user(), make_user()
    a = predict(alice, "iris", [IRIS_SETOSA, IRIS_SETOSA, VIRGINICA])
    b = predict(bob, "iris", [IRIS_SETOSA])
    feedback_submit(
        user=alice,
        items=[
            FeedbackItem(prediction_id=a[0].pk, actual="setosa"),
            FeedbackItem(prediction_id=a[1].pk, actual="versicolor"),
            FeedbackItem(prediction_id=a[2].pk, actual="virginica"),
        ],
    )
    feedback_submit(user=bob, items=[FeedbackItem(prediction_id=b[0].pk, actual="virginica")])
    quality_rollup_catch_up()
    return model, alice, bob


def test_a_customer_reads_live_quality_of_their_own_feedback_beside_the_offline_metrics(scored, issue_token, gql):
    # given
    model, alice, _ = scored
    # when
    status, body = gql(QUALITY, {"name": "iris", "window": "LAST_7_DAYS"}, token=issue_token(alice))
    # then
    assert status == 200 and "errors" not in body, body
    quality = body["data"]["model"]["quality"]
    assert quality["window"] == "LAST_7_DAYS" and quality["everyCustomer"] is False
    assert quality["count"] == 3
    assert quality["accuracy"] == pytest.approx(2 / 3)
    assert quality["offlineMetrics"] == {"accuracy": 0.97}
    assert quality["confusionMatrix"]["labels"] == ["setosa", "versicolor", "virginica"]
    assert quality["confusionMatrix"]["counts"] == [[1, 0, 0], [1, 0, 0], [0, 0, 1]]
    assert quality["logLoss"] > 0 and 0 < quality["brierScore"] < 2
    assert quality["mae"] is None
    assert [d["count"] for d in quality["days"]] == [3]
    assert {c["label"]: c["support"] for c in quality["perClass"]} == {"setosa": 1, "versicolor": 1, "virginica": 1}


def test_staff_with_the_staff_scope_see_every_customers_feedback(scored, issue_token, gql, staff_user):
    status, body = gql(QUALITY, {"name": "iris"}, token=issue_token(staff_user, scope="read staff"))
    quality = body["data"]["model"]["quality"]
    assert quality["everyCustomer"] is True and quality["window"] == "LAST_24_HOURS"
    assert quality["count"] == 4 and quality["accuracy"] == pytest.approx(2 / 4)


def test_rest_twin_answers_the_same_figures(scored, issue_token, gql, rest):
    model, alice, _ = scored
    token = issue_token(alice)
    _, body = gql(QUALITY, {"name": "iris", "window": "LAST_30_DAYS"}, token=token)
    response = rest("get", f"/api/v1/models/{model.pk}/quality?window=30d", token=token)
    assert response.status_code == 200
    data = response.json()
    graph = body["data"]["model"]["quality"]
    for name in (
        "count",
        "accuracy",
        "precisionMacro",
        "recallMacro",
        "f1Macro",
        "logLoss",
        "brierScore",
        "perClass",
        "confusionMatrix",
        "offlineMetrics",
    ):
        assert data[name] == graph[name], name
    bad = rest("get", f"/api/v1/models/{model.pk}/quality?window=1y", token=token)
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "INVALID_WINDOW"
