"""The admin: uploading a model goes through model_register; stage actions; predictions are read-only."""

import hashlib

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile

from predictions.models import Prediction, RegisteredModel
from tests.conftest import IRIS_SETOSA, iris_artifact

ADD_URL = "/admin/predictions/registeredmodel/add/"
CHANGELIST_URL = "/admin/predictions/registeredmodel/"

CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) { prediction { id output } errors { field code } }
}
"""


@pytest.fixture
def superuser(make_user):
    user = make_user("root", is_staff=True)
    user.is_superuser = True
    user.save()
    return user


@pytest.fixture
def superuser_client(client, superuser):
    """`client` logged in as a staff superuser (a session, not a token)."""
    client.force_login(superuser)
    return client


def _upload_form(name="iris", filename="iris.joblib", data=None, stage="production"):
    return {
        "name": name,
        "description": "uploaded in the admin",
        "stage": stage,
        "artifact_upload": SimpleUploadedFile(filename, data if data is not None else iris_artifact()),
        "input_schema_json": "",
        "metrics_json": "",
        "approved_types": "",
    }


def test_superuser_opens_the_add_form(superuser_client):
    response = superuser_client.get(ADD_URL)
    assert response.status_code == 200
    assert b'name="artifact_upload"' in response.content


def test_upload_registers_the_model_and_it_serves(superuser_client, superuser, make_user, issue_token, gql):
    # when
    response = superuser_client.post(ADD_URL, _upload_form())
    # then
    assert response.status_code == 302
    model = RegisteredModel.objects.get(name="iris")
    assert (model.version, model.stage, model.description) == (1, "production", "uploaded in the admin")
    assert model.registered_by == superuser
    assert model.sha256 == hashlib.sha256(iris_artifact()).hexdigest()
    assert [f["name"] for f in model.input_schema["features"]] == [
        "sepal_length", "sepal_width", "petal_length", "petal_width"
    ]
    _, body = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=issue_token(make_user()))
    assert body["data"]["createPrediction"]["prediction"]["output"]["label"] == "setosa"


def test_second_upload_gets_the_next_version(superuser_client):
    superuser_client.post(ADD_URL, _upload_form())
    superuser_client.post(ADD_URL, _upload_form(stage="staging"))
    assert list(RegisteredModel.objects.filter(name="iris").values_list("version", "stage")) == [
        (2, "staging"),
        (1, "production"),
    ]


def test_upload_with_metrics_and_schema_json(superuser_client):
    form = _upload_form()
    form["metrics_json"] = '{"accuracy": 0.95}'
    form["input_schema_json"] = (
        '[{"name": "sepal_length", "type": "number"}, {"name": "sepal_width", "type": "number"},'
        ' {"name": "petal_length", "type": "number"}, {"name": "petal_width", "type": "number"}]'
    )
    response = superuser_client.post(ADD_URL, form)
    assert response.status_code == 302
    assert RegisteredModel.objects.get(name="iris").metrics == {"accuracy": 0.95}


def test_upload_of_an_unsupported_file_registers_nothing(superuser_client):
    # when
    response = superuser_client.post(ADD_URL, _upload_form(filename="iris.txt"))
    # then
    assert response.status_code in (200, 302)
    assert RegisteredModel.objects.count() == 0
    assert any("UNSUPPORTED_FORMAT" in str(m) for m in get_messages(response.wsgi_request))


def test_upload_with_invalid_metrics_json_is_a_form_error(superuser_client):
    form = _upload_form()
    form["metrics_json"] = "{not json"
    response = superuser_client.post(ADD_URL, form)
    assert response.status_code == 200
    assert "metrics_json" in response.context["adminform"].form.errors
    assert RegisteredModel.objects.count() == 0


def test_staff_without_admin_permissions_cannot_upload(client, staff_user):
    client.force_login(staff_user)
    response = client.post(ADD_URL, _upload_form())
    assert response.status_code == 403
    assert RegisteredModel.objects.count() == 0


def test_promote_and_archive_actions_change_the_stage(superuser_client, register):
    # given
    staging = register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    other = register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    # when
    promoted = superuser_client.post(
        CHANGELIST_URL, {"action": "promote_to_production", "_selected_action": [staging.pk], "index": 0}
    )
    # then
    assert promoted.status_code == 302
    staging.refresh_from_db()
    other.refresh_from_db()
    assert (staging.stage, other.stage) == ("production", "staging")
    # when
    archived = superuser_client.post(
        CHANGELIST_URL, {"action": "archive", "_selected_action": [staging.pk, other.pk], "index": 0}
    )
    # then
    assert archived.status_code == 302
    assert set(RegisteredModel.objects.values_list("stage", flat=True)) == {"archived"}


def test_change_form_updates_stage_and_description_only(superuser_client, register):
    # given
    model = register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    sha256 = model.sha256
    # when
    response = superuser_client.post(
        f"/admin/predictions/registeredmodel/{model.pk}/change/",
        {"description": "promoted by hand", "stage": "production", "name": "renamed", "sha256": "0" * 64},
    )
    # then
    assert response.status_code == 302
    model.refresh_from_db()
    assert (model.stage, model.description, model.name, model.sha256) == ("production", "promoted by hand", "iris", sha256)


def test_prediction_changelist_loads_and_has_no_add(superuser_client, make_user, issue_token, gql, iris_model):
    # given
    _, body = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=issue_token(make_user()))
    prediction_id = body["data"]["createPrediction"]["prediction"]["id"]
    # when
    listing = superuser_client.get("/admin/predictions/prediction/")
    add = superuser_client.get("/admin/predictions/prediction/add/")
    # then
    assert listing.status_code == 200
    assert prediction_id in listing.content.decode()
    assert add.status_code == 403
    assert Prediction.objects.count() == 1


def test_prediction_detail_is_read_only(superuser_client, make_user, issue_token, gql, iris_model):
    # given
    _, body = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=issue_token(make_user()))
    prediction = Prediction.objects.get(pk=body["data"]["createPrediction"]["prediction"]["id"])
    url = f"/admin/predictions/prediction/{prediction.pk}/change/"
    # when
    view = superuser_client.get(url)
    edit = superuser_client.post(url, {"input": "{}", "output": "{}"})
    delete = superuser_client.post(f"/admin/predictions/prediction/{prediction.pk}/delete/", {"post": "yes"})
    # then
    assert view.status_code == 200
    assert edit.status_code == 403
    assert delete.status_code == 403
    prediction.refresh_from_db()
    assert prediction.input == IRIS_SETOSA
