"""Model artifacts: skops files load only trusted types, joblib is staff-only, registration records who and
what (sha256), and a damaged or swapped artifact makes only its own model unavailable."""

import builtins
import hashlib
import io
import json
import os

import joblib
import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.test import Client
from django.utils import timezone

from mlapi.errors import ApplicationError, PermissionDeniedError
from predictions.demo import IRIS_FEATURES
from predictions.models import RegisteredModel
from predictions.services import model_register
from tests.conftest import BANK_CLIENT, IRIS_SETOSA, iris_artifact

CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) { prediction { id output } errors { field code } }
}
"""


def doubled(values):
    """Not part of the scientific stack: a skops file calling it needs it approved by name."""
    return values * 2


DOUBLED = f"{__name__}.doubled"


def _iris_frame():
    import pandas as pd
    from sklearn.datasets import load_iris

    data = load_iris()
    return pd.DataFrame(data.data, columns=IRIS_FEATURES), [data.target_names[i] for i in data.target]


def _skops_bytes(estimator) -> bytes:
    import skops.io as sio

    frame, target = _iris_frame()
    return sio.dumps(estimator.fit(frame, target))


def _pipeline_with(func):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    return make_pipeline(FunctionTransformer(func=func), LogisticRegression(max_iter=300))


def _register(user, name, data: bytes, filename: str, **kwargs):
    return model_register(
        registered_by=user,
        name=name,
        artifact=io.BytesIO(data),
        filename=filename,
        stage=RegisteredModel.Stage.PRODUCTION,
        **kwargs,
    )


def _codes(error: ApplicationError) -> list[str]:
    return [e.code for e in error.errors]


def _payload_codes(body) -> list[str]:
    return [e["code"] for e in body["data"]["createPrediction"]["errors"]]


# --- skops ----------------------------------------------------------------------------------------


def test_skops_model_registers_and_serves(staff_user, make_user, issue_token, gql):
    # given
    from sklearn.linear_model import LogisticRegression

    data = _skops_bytes(LogisticRegression(max_iter=300))
    # when
    model = _register(staff_user, "iris-skops", data, "iris.skops")
    _, body = gql(
        CREATE, {"input": {"modelName": "iris-skops", "features": IRIS_SETOSA}}, token=issue_token(make_user())
    )
    # then
    assert model.artifact_format == "skops"
    assert model.trusted_types == []
    assert body["data"]["createPrediction"]["errors"] == []
    assert body["data"]["createPrediction"]["prediction"]["output"]["label"] == "setosa"


def test_skops_file_with_a_function_outside_the_stack_is_refused_unless_approved_by_name(
    staff_user, make_user, issue_token, gql
):
    # given: a pipeline whose FunctionTransformer calls a function of this test module
    data = _skops_bytes(_pipeline_with(doubled))
    # when
    with pytest.raises(PermissionDeniedError) as unapproved:
        _register(staff_user, "doubled", data, "doubled.skops")
    with pytest.raises(PermissionDeniedError) as approved_prefix_only:
        _register(staff_user, "doubled", data, "doubled.skops", approved_types=[__name__, "tests."])
    model = _register(staff_user, "doubled", data, "doubled.skops", approved_types=[DOUBLED])
    _, body = gql(CREATE, {"input": {"modelName": "doubled", "features": IRIS_SETOSA}}, token=issue_token(make_user()))
    # then
    assert _codes(unapproved.value) == ["UNTRUSTED_TYPES"]
    assert _codes(approved_prefix_only.value) == ["UNTRUSTED_TYPES"]
    assert RegisteredModel.objects.filter(name="doubled").count() == 1
    assert DOUBLED in model.trusted_types
    assert body["data"]["createPrediction"]["errors"] == []


@pytest.mark.parametrize(
    "func",
    [
        pytest.param(
            builtins.eval,
            id="builtins.eval",
        ),
        pytest.param(
            builtins.exec,
            id="builtins.exec",
        ),
        pytest.param(open, id="io.open"),
    ],
)
def test_skops_file_calling_a_dangerous_builtin_is_refused(staff_user, func):
    # given: a pipeline that would call `func` on its input (steps fitted one by one: `func` cannot fit)
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    frame, target = _iris_frame()
    pipeline = Pipeline(
        [
            ("call", FunctionTransformer(func=func).fit(frame)),
            ("classify", LogisticRegression(max_iter=300).fit(frame, target)),
        ]
    )
    data = sio.dumps(pipeline)
    # when
    with pytest.raises(ApplicationError) as refused:
        _register(staff_user, "dangerous", data, "dangerous.skops")
    # then
    assert _codes(refused.value) == ["UNTRUSTED_TYPES"]
    assert not RegisteredModel.objects.filter(name="dangerous").exists()


def test_garbage_skops_file_is_unreadable(staff_user):
    with pytest.raises(ApplicationError) as refused:
        _register(staff_user, "junk", b"PK\x03\x04 not really a zip", "junk.skops")
    assert _codes(refused.value) == ["ARTIFACT_UNREADABLE"]
    assert not RegisteredModel.objects.filter(name="junk").exists()


# --- joblib is staff-only -------------------------------------------------------------------------


def test_non_staff_cannot_register_a_joblib_model(make_user):
    # given
    user = make_user()
    # when
    with pytest.raises(PermissionDeniedError) as refused:
        _register(user, "iris", iris_artifact(), "iris.joblib")
    # then
    assert _codes(refused.value) == ["PERMISSION_DENIED"]
    assert not RegisteredModel.objects.exists()


def test_non_staff_cannot_register_a_skops_model_either(make_user):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(PermissionDeniedError) as refused:
        _register(make_user(), "iris", _skops_bytes(LogisticRegression(max_iter=300)), "iris.skops")
    assert _codes(refused.value) == ["PERMISSION_DENIED"]
    assert not RegisteredModel.objects.exists()


def test_admin_upload_page_is_staff_only(make_user, admin_user):
    # given
    from django.core.files.uploadedfile import SimpleUploadedFile

    member, superuser = Client(), Client()
    member.force_login(make_user())
    superuser.force_login(admin_user)
    # when
    form = member.get("/admin/predictions/registeredmodel/add/")
    upload = member.post(
        "/admin/predictions/registeredmodel/add/",
        {"name": "sneaky", "stage": "production", "artifact_upload": SimpleUploadedFile("m.joblib", iris_artifact())},
    )
    staff_form = superuser.get("/admin/predictions/registeredmodel/add/")
    # then
    assert form.status_code == 302
    assert form["Location"].startswith("/admin/login/")
    assert upload.status_code == 302
    assert not RegisteredModel.objects.filter(name="sneaky").exists()
    assert staff_form.status_code == 200


def test_artifact_over_the_size_limit_is_refused(staff_user, settings):
    settings.MODEL_ARTIFACT_MAX_BYTES = 1_000
    with pytest.raises(ApplicationError) as refused:
        _register(staff_user, "iris", iris_artifact(), "iris.joblib")
    assert _codes(refused.value) == ["ARTIFACT_TOO_LARGE"]
    assert not RegisteredModel.objects.exists()


def test_a_model_name_with_path_characters_writes_no_file(staff_user):
    # given: a name that, used in the upload path, would climb out of models/ and MEDIA_ROOT
    media = django_settings.MEDIA_ROOT
    escaped = os.path.normpath(os.path.join(media, "models", "../../evil"))
    # when
    with pytest.raises((ApplicationError, DjangoValidationError)):
        _register(staff_user, "../../evil", iris_artifact(), "evil.joblib")
    # then
    assert not os.path.exists(escaped)
    assert not any("evil" in name for _, _, names in os.walk(media) for name in names)
    assert not RegisteredModel.objects.exists()


# --- What registration records --------------------------------------------------------------------


def test_registration_records_who_when_and_the_sha256_of_the_bytes(staff_user):
    # given
    data = iris_artifact()
    started = timezone.now()
    # when
    model = _register(staff_user, "iris", data, "iris.joblib")
    # then
    model.refresh_from_db()
    assert model.registered_by == staff_user
    assert started <= model.created_at <= timezone.now()
    assert model.sha256 == hashlib.sha256(data).hexdigest()
    assert model.size_bytes == len(data)
    with model.artifact.open("rb") as stored:
        assert stored.read() == data


# --- Damaged or swapped artifacts -----------------------------------------------------------------


def _overwrite(model: RegisteredModel, data: bytes) -> None:
    with open(model.artifact.path, "wb") as stored:
        stored.write(data)


def test_truncated_artifact_makes_only_its_model_unavailable(
    client, make_user, issue_token, gql, iris_model, bank_model, stored_counts
):
    # given: the first half of iris's bytes written over its stored file, before it was ever loaded
    with open(iris_model.artifact.path, "rb") as stored:
        original = stored.read()
    _overwrite(iris_model, original[: len(original) // 2])
    token = issue_token(make_user())
    before = stored_counts()
    # when
    _, iris = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=token)
    rest = client.post(
        "/api/v1/models/iris/predict",
        json.dumps({"features": IRIS_SETOSA}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    after_refusals = stored_counts()
    _, bank = gql(CREATE, {"input": {"modelName": "bank-marketing", "features": BANK_CLIENT}}, token=token)
    health = client.get("/healthz")
    # then
    assert _payload_codes(iris) == ["MODEL_UNAVAILABLE"]
    assert iris["data"]["createPrediction"]["prediction"] is None
    assert rest.status_code == 503
    assert [e["code"] for e in rest.json()["errors"]] == ["MODEL_UNAVAILABLE"]
    assert b"Traceback" not in rest.content
    assert after_refusals == before
    assert bank["data"]["createPrediction"]["errors"] == []
    assert health.status_code == 200


def test_valid_artifact_swapped_for_other_bytes_is_unavailable(make_user, issue_token, gql, iris_model, stored_counts):
    # given: a different but perfectly loadable iris classifier written over the registered file
    from sklearn.linear_model import LogisticRegression

    frame, target = _iris_frame()
    buffer = io.BytesIO()
    joblib.dump(LogisticRegression(C=0.01, max_iter=300).fit(frame, target), buffer)
    assert hashlib.sha256(buffer.getvalue()).hexdigest() != iris_model.sha256
    _overwrite(iris_model, buffer.getvalue())
    before = stored_counts()
    # when
    _, body = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=issue_token(make_user()))
    # then
    assert _payload_codes(body) == ["MODEL_UNAVAILABLE"]
    assert stored_counts() == before


def test_swapped_skops_artifact_is_unavailable(staff_user, make_user, issue_token, gql, stored_counts):
    # given: a skops model whose file is replaced by another valid skops file
    from sklearn.linear_model import LogisticRegression

    model = _register(staff_user, "iris-skops", _skops_bytes(LogisticRegression(max_iter=300)), "iris.skops")
    _overwrite(model, _skops_bytes(LogisticRegression(C=0.01, max_iter=300)))
    before = stored_counts()
    # when
    _, body = gql(
        CREATE, {"input": {"modelName": "iris-skops", "features": IRIS_SETOSA}}, token=issue_token(make_user())
    )
    # then
    assert _payload_codes(body) == ["MODEL_UNAVAILABLE"]
    assert stored_counts() == before
