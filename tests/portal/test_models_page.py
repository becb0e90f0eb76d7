"""The models page: production models only, schema table, examples with the caller's client id, and try it."""

from decimal import Decimal

from oauth2_provider.models import Application

from billing.models import UsageRecord
from predictions.models import Prediction, RegisteredModel
from tests.conftest import iris_artifact


def test_models_page_lists_production_models_with_their_schema_and_examples(
    client, make_user, iris_model, bank_model, register
):
    # given: a staging version that customers may not call, and alice's key
    register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    alice = make_user("alice")
    application = Application.objects.create(
        user=alice, name="alice key", client_type="confidential", authorization_grant_type="client-credentials"
    )
    client.force_login(alice)

    # when
    response = client.get("/models/")

    # then
    assert response.status_code == 200
    names = [(e["model"].name, e["model"].version) for e in response.context["entries"]]
    assert names == [("bank-marketing", 1), ("iris", 1)]
    bank = response.context["entries"][0]
    job = next(row for row in bank["inputs"] if row["name"] == "job")
    assert job["type"] == "string" and "technician" in job["allowed"]
    page = response.content.decode()
    assert page.count(application.client_id) == 5  # curl and Python for each of the 2 models, and the header
    assert "createPrediction" in page and "import requests" in page


def test_without_a_key_the_examples_say_where_the_client_id_goes(client, make_user, iris_model):
    client.force_login(make_user("alice"))
    response = client.get("/models/")
    assert b"YOUR_CLIENT_ID" in response.content and b'href="/keys/"' in response.content


def test_try_it_makes_a_real_billed_prediction_as_the_user(client, make_user, iris_model):
    alice = make_user("alice")
    client.force_login(alice)
    form = {"f.sepal_length": "5.1", "f.sepal_width": "3.5", "f.petal_length": "1.4", "f.petal_width": "0.2"}

    response = client.post(f"/models/{iris_model.pk}/try/", form)

    assert response.status_code == 200
    tried = next(e["tried"] for e in response.context["entries"] if e["model"] == iris_model)
    prediction = Prediction.objects.get(user=alice)
    assert tried["prediction"] == prediction and prediction.output["label"] == "setosa"
    usage = UsageRecord.objects.get(user=alice)
    assert usage.source == "online" and usage.amount > Decimal(0) and tried["usage"] == usage
    assert b"setosa" in response.content and b"try-cost" in response.content


def test_try_it_shows_the_errors_with_their_codes_and_bills_nothing(client, make_user, iris_model):
    alice = make_user("alice")
    client.force_login(alice)
    form = {"f.sepal_length": "long", "f.sepal_width": "3.5", "f.petal_length": "1.4"}

    response = client.post(f"/models/{iris_model.pk}/try/", form)

    assert response.status_code == 400
    tried = next(e["tried"] for e in response.context["entries"] if e["model"] == iris_model)
    assert sorted(e.code for e in tried["errors"]) == ["INVALID_TYPE", "REQUIRED"]
    assert b"INVALID_TYPE" in response.content and b'value="long"' in response.content  # what was typed stays
    assert not UsageRecord.objects.filter(user=alice).exists() and not Prediction.objects.filter(user=alice).exists()


def test_try_it_refuses_a_model_not_in_production(client, make_user, register):
    staging = register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    client.force_login(make_user("alice"))

    response = client.post(f"/models/{staging.pk}/try/", {"f.sepal_length": "1"})

    assert response.status_code == 404
    assert not UsageRecord.objects.exists()


def test_models_page_needs_a_login(client, db):
    response = client.get("/models/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_models_page_shows_live_quality_on_the_customers_own_feedback_beside_the_offline_metrics(
    client, make_user, register, settings
):
    # given: iris registered with offline metrics; alice labels 4 of her predictions (3 right), bob 5 (all wrong)
    from predictions.services import ModelRef, prediction_create
    from quality.services.feedback import FeedbackItem, feedback_submit
    from quality.services.rollups import quality_rollup_catch_up
    from tests.conftest import IRIS_SETOSA

    settings.QUALITY_ROLLUP_SETTLE_SECONDS = 0
    register("iris", iris_artifact(), metrics={"accuracy": 0.97, "f1_macro": 0.96})
    alice, bob = make_user("alice"), make_user("bob")

    def label(user, actuals):
        predictions = prediction_create(
            user=user, model_ref=ModelRef(name="iris"), instances=[IRIS_SETOSA] * len(actuals)
        ).predictions
        assert {p.output["label"] for p in predictions} == {"setosa"}
        feedback_submit(
            user=user,
            items=[FeedbackItem(prediction_id=p.pk, actual=a) for p, a in zip(predictions, actuals, strict=True)],
        )

    label(alice, ["setosa", "setosa", "setosa", "virginica"])
    label(bob, ["virginica"] * 5)
    quality_rollup_catch_up()
    client.force_login(alice)

    # when
    response = client.get("/models/")

    # then: alice's own figures only, and the registered ones beside them
    assert response.status_code == 200
    quality = response.context["entries"][0]["quality"]
    assert quality["count"] == 4
    assert dict(quality["figures"])["Accuracy"] == 0.75
    assert quality["offline"] == [("accuracy", 0.97), ("f1_macro", 0.96)]
    page = response.content.decode()
    assert 'data-testid="quality-count">4<' in page
    assert 'data-figure="Accuracy">0.7500<' in page
    assert 'data-metric="accuracy">0.97<' in page


def test_models_page_without_feedback_says_so(client, make_user, iris_model):
    client.force_login(make_user("alice"))

    response = client.get("/models/")

    assert response.context["entries"][0]["quality"]["count"] == 0
    assert b"no feedback yet" in response.content and b"No metrics were registered" in response.content
