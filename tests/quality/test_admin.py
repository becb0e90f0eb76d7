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
