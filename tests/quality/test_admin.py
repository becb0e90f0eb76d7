import pytest

from predictions.models import RegisteredModel
from quality.models import Rollout
from quality.services.rollouts import rollout_set


@pytest.fixture
def superuser_client(client, make_user):
    user = make_user("root", is_staff=True)
    user.is_superuser = True
    user.save()
    client.force_login(user)
    return client


def test_the_admin_promotes_a_rollouts_candidate_in_one_action(superuser_client, staff_user, iris_model, iris_v2):
    # given
    rollout_set(name="iris", changed_by=staff_user, canary_version=2, canary_percent=20)
    rollout = Rollout.objects.get(name="iris")
    # when
    response = superuser_client.post(
        "/admin/quality/rollout/", {"action": "promote", "index": 0, "_selected_action": [rollout.pk]}, follow=True
    )
    # then
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == ["iris v2 is now in production."]
    assert RegisteredModel.objects.get(pk=iris_v2.pk).stage == "production"
    assert Rollout.objects.get(name="iris").canary is None


def test_the_admin_shows_a_refused_promotion(superuser_client, staff_user, iris_model):
    Rollout.objects.create(name="iris")
    rollout = Rollout.objects.get(name="iris")
    response = superuser_client.post(
        "/admin/quality/rollout/", {"action": "promote", "index": 0, "_selected_action": [rollout.pk]}, follow=True
    )
    [message] = [str(m) for m in response.context["messages"]]
    assert "NO_CANDIDATE" in message


def test_quality_pages_render(superuser_client, iris_model):
    for url in (
        "/admin/quality/feedback/",
        "/admin/quality/qualityday/",
        "/admin/quality/rollout/",
        "/admin/quality/driftresult/",
    ):
        assert superuser_client.get(url).status_code == 200, url


def _labelled(user, actuals):
    """Predictions of iris for `user` (all setosa) with these ground-truth values, rolled up."""
    from predictions.services import ModelRef, prediction_create
    from quality.services.feedback import FeedbackItem, feedback_submit
    from quality.services.rollups import quality_rollup_catch_up
    from tests.conftest import IRIS_SETOSA

    predictions = prediction_create(
        user=user, model_ref=ModelRef(name="iris"), instances=[IRIS_SETOSA] * len(actuals)
    ).predictions
    feedback_submit(
        user=user, items=[FeedbackItem(prediction_id=p.pk, actual=a) for p, a in zip(predictions, actuals, strict=True)]
    )
    quality_rollup_catch_up()


def test_the_admin_model_page_carries_30_days_of_accuracy_for_its_chart(
    superuser_client, make_user, iris_model, settings
):
    # given: two customers' feedback today: 3 of 4 right, then 0 of 4
    import json
    import re

    from django.utils import timezone

    settings.QUALITY_ROLLUP_SETTLE_SECONDS = 0
    _labelled(make_user("alice"), ["setosa", "setosa", "setosa", "virginica"])
    _labelled(make_user("bob"), ["virginica"] * 4)
    # when
    response = superuser_client.get(f"/admin/predictions/registeredmodel/{iris_model.pk}/change/")
    # then: every customer's figures, one value per day, today last; no inline script but the JSON
    assert response.status_code == 200
    page = response.content.decode()
    data = json.loads(re.search(r'<script id="quality-chart-data" type="application/json">(.*?)</script>', page)[1])
    assert (data["figure"], len(data["days"]), len(data["values"])) == ("accuracy", 30, 30)
    assert data["days"][-1] == timezone.now().date().isoformat()
    assert data["values"][-1] == 3 / 8 and data["counts"][-1] == 8
    assert data["values"][:-1] == [None] * 29
    assert "quality/model_quality_chart.js" in page and "chartjs-4.6.1/chart.umd.min.js" in page
    scripts = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", page)
    assert scripts == []


def test_a_clustering_model_page_has_no_quality_chart(superuser_client, register):
    from tests.conftest import iris_artifact

    model = register("iris", iris_artifact())
    model.task = RegisteredModel.Task.CLUSTERING
    model.save(update_fields=["task"])

    response = superuser_client.get(f"/admin/predictions/registeredmodel/{model.pk}/change/")

    assert response.status_code == 200 and b"quality-chart-data" not in response.content
