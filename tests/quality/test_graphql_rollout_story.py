"""The issue's story: iris v2 as shadow, traffic and feedback, one query for v1 and v2 side by side,
then promotion with one call."""

import pytest

from predictions.models import RegisteredModel
from quality.services.rollouts import shadow_catch_up
from quality.services.rollups import quality_rollup_catch_up
from tests.conftest import IRIS_SETOSA
from tests.quality.conftest import SUBMIT
from tests.quality.test_rollouts import CREATE

SET_ROLLOUT = """
mutation($input: SetRolloutInput!) {
  setRollout(input: $input) { rollout { name shadowVersion canaryVersion canaryPercent sticky } errors { field code } }
}
"""
PROMOTE = """
mutation($input: PromoteModelInput!) { promoteModel(input: $input) { model { version stage } errors { field code } } }
"""
SIDE_BY_SIDE = """
{ model(name: "iris") {
    version
    quality(window: LAST_24_HOURS) {
      count accuracy
      shadows { version compared agreed agreementRate quality { count accuracy } }
    }
} }
"""
VERSICOLOR = {"sepal_length": 6.0, "sepal_width": 2.9, "petal_length": 4.5, "petal_width": 1.5}
VIRGINICA = {"sepal_length": 7.7, "sepal_width": 3.0, "petal_length": 6.1, "petal_width": 2.3}


def test_shadow_traffic_feedback_side_by_side_then_promote(
    staff_user, make_user, issue_token, gql, iris_model, iris_v2, settings, django_capture_on_commit_callbacks
):
    settings.QUALITY_ROLLUP_SETTLE_SECONDS = 0
    settings.QUALITY_SHADOW_SETTLE_SECONDS = 0
    staff_token = issue_token(staff_user, scope="read predict staff")
    # given: v2 as the shadow of iris
    _, body = gql(SET_ROLLOUT, {"input": {"modelName": "iris", "shadowVersion": 2}}, token=staff_token)
    assert body["data"]["setRollout"]["errors"] == []
    assert body["data"]["setRollout"]["rollout"]["shadowVersion"] == 2
    # and: traffic (a data scientist's own calls) and its feedback
    with django_capture_on_commit_callbacks(execute=True):
        _, body = gql(
            CREATE,
            {"input": {"modelName": "iris", "instances": [IRIS_SETOSA, VERSICOLOR, VIRGINICA]}},
            token=staff_token,
        )
    predictions = body["data"]["createPrediction"]["predictions"]
    items = [
        {"predictionId": p["id"], "actual": a}
        for p, a in zip(predictions, ["setosa", "versicolor", "virginica"], strict=True)
    ]
    _, body = gql(SUBMIT, {"input": {"items": items}}, token=staff_token)
    assert body["data"]["submitFeedback"]["errors"] == []
    shadow_catch_up()  # what the beat tasks run (QUALITY_SHADOW_EXECUTION=beat, the default)
    quality_rollup_catch_up()
    # when: one query
    _, body = gql(SIDE_BY_SIDE, token=staff_token)
    # then: v1's live accuracy, v2's on the same feedback, and their agreement
    quality = body["data"]["model"]["quality"]
    assert body["data"]["model"]["version"] == 1
    assert quality["count"] == 3 and quality["accuracy"] == pytest.approx(1.0)
    [shadow] = quality["shadows"]
    assert shadow["version"] == 2 and shadow["compared"] == 3
    assert shadow["quality"]["count"] == 3
    # the one-split tree tells setosa apart and nothing else: 2 of 3 right, agreeing with v1 on setosa + one more
    assert shadow["quality"]["accuracy"] == pytest.approx(2 / 3)
    assert shadow["agreementRate"] == pytest.approx(shadow["agreed"] / 3) and shadow["agreed"] == 2
    # when: promoted with one call
    _, body = gql(PROMOTE, {"input": {"modelName": "iris"}}, token=staff_token)
    # then
    assert body["data"]["promoteModel"]["errors"] == []
    assert body["data"]["promoteModel"]["model"] == {"version": 2, "stage": "production"}
    assert RegisteredModel.objects.get(pk=iris_v2.pk).stage == "production"


def test_rollout_mutations_need_the_staff_scope_and_staff(make_user, staff_user, issue_token, gql, iris_model, iris_v2):
    for token in (issue_token(staff_user, scope="read"), issue_token(make_user())):
        _, body = gql(SET_ROLLOUT, {"input": {"modelName": "iris", "shadowVersion": 2}}, token=token)
        assert [e["code"] for e in body["data"]["setRollout"]["errors"]] == ["PERMISSION_DENIED"]
    _, body = gql(SET_ROLLOUT, {"input": {"modelName": "iris", "shadowVersion": 2}})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    _, body = gql(PROMOTE, {"input": {"modelName": "iris"}}, token=issue_token(staff_user, scope="read staff"))
    assert [e["code"] for e in body["data"]["promoteModel"]["errors"]] == ["NO_CANDIDATE"]


def test_a_pipeline_with_a_registry_token_sets_a_shadow_and_promotes_it(
    staff_user, issue_token, gql, iris_model, iris_v2
):
    # given: a training pipeline's token (staff application, registry scope; no staff scope)
    token = issue_token(staff_user, scope="read registry")
    # when
    _, shadowed = gql(SET_ROLLOUT, {"input": {"modelName": "iris", "shadowVersion": 2}}, token=token)
    _, promoted = gql(PROMOTE, {"input": {"modelName": "iris"}}, token=token)
    # then
    assert shadowed["data"]["setRollout"]["errors"] == []
    assert promoted["data"]["promoteModel"] == {"model": {"version": 2, "stage": "production"}, "errors": []}


def test_customers_do_not_see_shadow_versions(make_user, staff_user, issue_token, gql, iris_model, iris_v2, settings):
    from quality.services.rollouts import rollout_set

    rollout_set(name="iris", changed_by=staff_user, shadow_version=2)
    _, body = gql(SIDE_BY_SIDE, token=issue_token(make_user()))
    assert body["data"]["model"]["quality"]["shadows"] == []
