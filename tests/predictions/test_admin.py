"""The admin: uploading a model goes through model_register; stage actions; predictions are read-only."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from predictions.models import Prediction, RegisteredModel
from tests.conftest import IRIS_SETOSA, iris_artifact, regressor_artifact

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


def _form_errors(response) -> dict[str, list[str]]:
    """Each field's error codes: the admin shows a service error as "message (CODE)"."""
    form = response.context["adminform"].form
    return {
        field: [message.rsplit("(", 1)[-1].rstrip(")") for message in messages]
        for field, messages in form.errors.items()
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
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
    ]
    _, body = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=issue_token(make_user()))
    assert body["data"]["createPrediction"]["prediction"]["output"]["label"] == "setosa"


def test_second_upload_gets_the_next_version(superuser_client):
    superuser_client.post(ADD_URL, _upload_form())
    superuser_client.post(ADD_URL, {**_upload_form(stage="staging"), "force": "on"})
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
    assert response.status_code == 200
    assert RegisteredModel.objects.count() == 0
    assert _form_errors(response) == {"artifact_upload": ["UNSUPPORTED_FORMAT"]}


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
    assert (model.stage, model.description, model.name, model.sha256) == (
        "production",
        "promoted by hand",
        "iris",
        sha256,
    )


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


# --- Refused uploads: errors on the form, what was typed kept, nothing stored ---


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def _stored_files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _typed(response) -> dict:
    form = response.context["adminform"].form
    return {name: form[name].value() for name in ("name", "description", "stage", "metrics_json", "approved_types")}


def test_a_bad_name_is_a_form_error_and_the_form_keeps_what_was_typed(superuser_client, media_root):
    # given
    form = {**_upload_form(name="bad name!"), "metrics_json": '{"accuracy": 0.9}', "approved_types": "numpy.dtype"}
    # when
    response = superuser_client.post(ADD_URL, form)
    # then
    assert response.status_code == 200
    assert list(_form_errors(response)) == ["name"]
    assert _typed(response) == {
        "name": "bad name!",
        "description": "uploaded in the admin",
        "stage": "production",
        "metrics_json": '{"accuracy": 0.9}',
        "approved_types": "numpy.dtype",
    }
    assert RegisteredModel.objects.count() == 0
    assert _stored_files(media_root) == []


def test_an_unreadable_artifact_is_a_form_error_on_the_upload(superuser_client, media_root):
    response = superuser_client.post(ADD_URL, _upload_form(data=b"garbage"))
    assert response.status_code == 200
    assert _form_errors(response) == {"artifact_upload": ["ARTIFACT_UNREADABLE"]}
    assert _typed(response)["description"] == "uploaded in the admin"
    assert _stored_files(media_root) == []


def test_nan_metrics_are_a_form_error_on_the_metrics(superuser_client, media_root):
    response = superuser_client.post(ADD_URL, {**_upload_form(), "metrics_json": '{"auc": NaN}'})
    assert response.status_code == 200
    assert _form_errors(response) == {"metrics_json": ["INVALID_METRICS"]}
    assert RegisteredModel.objects.count() == 0


def test_a_duplicate_upload_is_refused_naming_the_version_then_forced(superuser_client, media_root):
    # given
    superuser_client.post(ADD_URL, _upload_form())
    # when
    refused = superuser_client.post(ADD_URL, _upload_form(stage="staging"))
    forced = superuser_client.post(ADD_URL, {**_upload_form(stage="staging"), "force": "on"})
    # then
    assert refused.status_code == 200
    assert _form_errors(refused) == {"force": ["DUPLICATE_ARTIFACT"]}
    assert "iris v1" in refused.content.decode()
    assert _typed(refused)["stage"] == "staging"
    assert forced.status_code == 302
    assert list(RegisteredModel.objects.values_list("version", "stage")) == [(2, "staging"), (1, "production")]
    assert len(_stored_files(media_root)) == 2


# --- Promotion: a breaking input change needs a confirmation ---

SCHEMA_AB = '[{"name": "a", "type": "number"}, {"name": "b", "type": "string", "allowed": ["x", "y"]}]'
SCHEMA_AB_WIDER = '[{"name": "a", "type": "number"}, {"name": "b", "type": "string", "allowed": ["x", "y", "z"]}]'
SCHEMA_AC = '[{"name": "a", "type": "number"}, {"name": "c", "type": "number"}]'


@pytest.fixture
def reg_versions(register):
    """reg v1 in production; v2 (b removed, c new and required) and v3 (b widened) in staging."""
    import json

    return [
        register("reg", regressor_artifact(), input_schema=json.loads(schema), stage=stage)
        for schema, stage in (
            (SCHEMA_AB, RegisteredModel.Stage.PRODUCTION),
            (SCHEMA_AC, RegisteredModel.Stage.STAGING),
            (SCHEMA_AB_WIDER, RegisteredModel.Stage.STAGING),
        )
    ]


def _stages() -> dict[int, str]:
    return dict(RegisteredModel.objects.filter(name="reg").values_list("version", "stage"))


def _promote(client, *models, **extra):
    return client.post(
        CHANGELIST_URL,
        {"action": "promote_to_production", "_selected_action": [m.pk for m in models], "index": 0, **extra},
    )


def test_a_breaking_promotion_shows_a_confirmation_page_listing_the_differences(superuser_client, reg_versions):
    # when
    response = _promote(superuser_client, reg_versions[1])
    # then
    assert response.status_code == 200
    assert "admin/predictions/registeredmodel/breaking_change_confirmation.html" in [t.name for t in response.templates]
    [(model, differences)] = response.context["breaking"]
    assert model == reg_versions[1]
    assert [(d.feature, d.kind.value) for d in differences] == [("b", "REMOVED"), ("c", "ADDED_REQUIRED")]
    page = response.content.decode()
    assert 'data-feature="b"' in page and 'data-feature="c"' in page
    assert 'name="confirm_breaking" value="yes"' in page
    assert _stages() == {1: "production", 2: "staging", 3: "staging"}


def test_confirming_a_breaking_promotion_promotes(superuser_client, reg_versions):
    # when: the confirmation page's button posts without "index", as Django's own confirmation pages do
    response = superuser_client.post(
        CHANGELIST_URL,
        {"action": "promote_to_production", "_selected_action": [reg_versions[1].pk], "confirm_breaking": "yes"},
    )
    # then
    assert response.status_code == 302
    assert _stages() == {1: "production", 2: "production", 3: "staging"}


def test_a_compatible_promotion_needs_no_confirmation(superuser_client, reg_versions):
    response = _promote(superuser_client, reg_versions[2])
    assert response.status_code == 302
    assert _stages() == {1: "production", 2: "staging", 3: "production"}


def test_the_change_form_refuses_a_breaking_stage_change_until_allowed(superuser_client, reg_versions):
    # given
    url = f"/admin/predictions/registeredmodel/{reg_versions[1].pk}/change/"
    # when
    refused = superuser_client.post(url, {"description": "try it", "stage": "production"})
    allowed = superuser_client.post(url, {"description": "try it", "stage": "production", "allow_breaking": "on"})
    # then
    assert refused.status_code == 200
    assert _form_errors(refused) == {"allow_breaking": ["BREAKING_CHANGE", "BREAKING_CHANGE"]}
    assert refused.context["adminform"].form["description"].value() == "try it"
    assert allowed.status_code == 302
    model = RegisteredModel.objects.get(pk=reg_versions[1].pk)
    assert (model.stage, model.description) == ("production", "try it")


def test_an_upload_into_production_with_a_breaking_schema_is_refused_until_allowed(
    superuser_client, reg_versions, media_root
):
    # given
    form = {
        **_upload_form(name="reg", filename="reg.joblib", data=regressor_artifact()),
        "input_schema_json": SCHEMA_AC,
        "force": "on",
    }
    # when
    refused = superuser_client.post(ADD_URL, form)
    allowed = superuser_client.post(
        ADD_URL,
        {**form, "artifact_upload": SimpleUploadedFile("reg.joblib", regressor_artifact()), "allow_breaking": "on"},
    )
    # then
    assert refused.status_code == 200
    assert _form_errors(refused) == {"allow_breaking": ["BREAKING_CHANGE", "BREAKING_CHANGE"]}
    assert refused.context["adminform"].form["input_schema_json"].value() == SCHEMA_AC
    assert allowed.status_code == 302
    assert _stages()[4] == "production"
    assert len(_stored_files(media_root)) == 1
