"""model_register: who may register, which files load, how versions and input schemas are decided."""

import hashlib
import io
import pickle

import joblib
import pytest

from mlapi.errors import ApplicationError, PermissionDeniedError
from predictions.demo import BANK_CATEGORICAL, IRIS_FEATURES
from predictions.models import RegisteredModel
from predictions.services import model_register, model_set_stage
from tests.conftest import IRIS_SETOSA, bank_artifact, iris_artifact, regressor_artifact

CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) { prediction { output model { name version } } errors { field code } }
}
"""


class ConstantModel:
    """Not part of the scientific stack: a skops file holding it needs its type approved by name."""

    def __init__(self, value=1.0):
        self.value = value
        self.n_features_in_ = 1

    def predict(self, rows):
        return [self.value for _ in rows]


def _codes(error: ApplicationError) -> list[tuple[str | None, str]]:
    return [(e.field, e.code) for e in error.errors]


def _register(user, name, data: bytes, filename=None, **kwargs):
    return model_register(
        registered_by=user, name=name, artifact=io.BytesIO(data), filename=filename or f"{name}.joblib", **kwargs
    )


def test_non_staff_may_not_register(make_user):
    # given
    user = make_user()
    # when
    with pytest.raises(PermissionDeniedError) as raised:
        _register(user, "iris", iris_artifact())
    # then
    assert [code for _, code in _codes(raised.value)] == ["PERMISSION_DENIED"]
    assert RegisteredModel.objects.count() == 0


def test_unsupported_file_name_is_refused(staff_user):
    with pytest.raises(ApplicationError) as raised:
        _register(staff_user, "iris", iris_artifact(), filename="iris.txt")
    assert _codes(raised.value) == [("artifact", "UNSUPPORTED_FORMAT")]
    assert RegisteredModel.objects.count() == 0


def test_garbage_joblib_is_unreadable(staff_user):
    with pytest.raises(ApplicationError) as raised:
        _register(staff_user, "junk", b"\x00\x01 definitely not a pickle")
    assert _codes(raised.value) == [("artifact", "ARTIFACT_UNREADABLE")]
    assert RegisteredModel.objects.count() == 0


def test_garbage_skops_is_unreadable(staff_user):
    with pytest.raises(ApplicationError) as raised:
        _register(staff_user, "junk", b"not a zip file", filename="junk.skops")
    assert _codes(raised.value) == [("artifact", "ARTIFACT_UNREADABLE")]


def test_a_loadable_file_without_predict_is_not_an_estimator(staff_user):
    buffer = io.BytesIO()
    joblib.dump({"weights": [1, 2, 3]}, buffer)
    with pytest.raises(ApplicationError) as raised:
        _register(staff_user, "dict", buffer.getvalue())
    assert _codes(raised.value) == [("artifact", "NOT_AN_ESTIMATOR")]


def test_artifact_above_the_size_limit_is_refused(staff_user, settings):
    settings.MODEL_ARTIFACT_MAX_BYTES = len(iris_artifact()) - 1
    with pytest.raises(ApplicationError) as raised:
        _register(staff_user, "iris", iris_artifact())
    assert _codes(raised.value) == [("artifact", "ARTIFACT_TOO_LARGE")]


def test_unknown_stage_is_refused(staff_user):
    with pytest.raises(ApplicationError) as raised:
        _register(staff_user, "iris", iris_artifact(), stage="live")
    assert _codes(raised.value) == [("stage", "INVALID_STAGE")]


def test_joblib_registration_records_hash_size_task_and_classes(staff_user):
    # when
    model = _register(staff_user, "iris", iris_artifact(), stage=RegisteredModel.Stage.PRODUCTION, metrics={"f1": 0.9})
    # then
    model.refresh_from_db()
    assert model.artifact_format == "joblib"
    assert model.sha256 == hashlib.sha256(iris_artifact()).hexdigest()
    assert model.size_bytes == len(iris_artifact())
    with open(model.artifact.path, "rb") as stored:
        assert stored.read() == iris_artifact()
    assert (model.task, model.classes, model.stage, model.metrics) == (
        "classification",
        ["setosa", "versicolor", "virginica"],
        "production",
        {"f1": 0.9},
    )
    assert model.registered_by == staff_user


def test_skops_file_registers_with_its_trusted_types_and_serves(staff_user, make_user, issue_token, gql):
    # given
    import skops.io as sio

    data = sio.dumps(joblib.load(io.BytesIO(iris_artifact())))
    # when
    model = _register(staff_user, "iris-skops", data, filename="iris.skops", stage=RegisteredModel.Stage.PRODUCTION)
    # then
    assert model.artifact_format == "skops"
    assert model.trusted_types == sorted(sio.get_untrusted_types(data=data))
    _, body = gql(
        CREATE, {"input": {"modelName": "iris-skops", "features": IRIS_SETOSA}}, token=issue_token(make_user())
    )
    assert body["data"]["createPrediction"]["errors"] == []
    assert body["data"]["createPrediction"]["prediction"]["output"]["label"] == "setosa"


def test_skops_file_with_types_outside_the_stack_needs_approval(staff_user, make_user, issue_token, gql):
    # given
    import skops.io as sio

    data = sio.dumps(ConstantModel(2.0))
    type_name = f"{ConstantModel.__module__}.{ConstantModel.__qualname__}"
    # when
    with pytest.raises(PermissionDeniedError) as raised:
        _register(staff_user, "const", data, filename="const.skops")
    approved = _register(staff_user, "const", data, filename="const.skops", approved_types=[type_name])
    # then
    assert _codes(raised.value) == [("artifact", "UNTRUSTED_TYPES")]
    assert type_name in approved.trusted_types
    assert approved.version == 1
    RegisteredModel.objects.filter(pk=approved.pk).update(stage=RegisteredModel.Stage.PRODUCTION)
    _, body = gql(CREATE, {"input": {"modelName": "const", "features": {"x0": 5}}}, token=issue_token(make_user()))
    assert body["data"]["createPrediction"]["errors"] == []
    assert body["data"]["createPrediction"]["prediction"]["output"] == {"value": 2.0}


def test_versions_increment_per_name_independently(staff_user):
    # when
    versions = [
        (m.name, m.version)
        for m in (
            _register(staff_user, "iris", iris_artifact()),
            _register(staff_user, "iris", iris_artifact(), force=True),
            _register(staff_user, "reg", regressor_artifact()),
            _register(staff_user, "iris", iris_artifact(), force=True),
            _register(staff_user, "reg", regressor_artifact(), force=True),
        )
    ]
    # then
    assert versions == [("iris", 1), ("iris", 2), ("reg", 1), ("iris", 3), ("reg", 2)]


def test_a_refused_registration_does_not_take_a_version(staff_user):
    _register(staff_user, "iris", iris_artifact())
    with pytest.raises(ApplicationError):
        _register(staff_user, "iris", b"garbage")
    assert _register(staff_user, "iris", iris_artifact(), force=True).version == 2


def test_iris_schema_is_derived_from_feature_names(iris_model):
    assert iris_model.input_schema == {"features": [{"name": n, "type": "number"} for n in IRIS_FEATURES]}


def test_bank_schema_lists_the_allowed_categories(bank_model):
    features = {f["name"]: f for f in bank_model.input_schema["features"]}
    for column, categories in BANK_CATEGORICAL.items():
        assert features[column]["type"] == "string"
        assert sorted(features[column]["allowed"]) == sorted(categories)
    for column in ("age", "balance", "duration", "campaign"):
        assert features[column] == {"name": column, "type": "number"}


def test_array_fitted_estimator_gets_positional_feature_names(staff_user):
    model = _register(staff_user, "reg", regressor_artifact())
    assert model.input_schema == {"features": [{"name": "x0", "type": "number"}, {"name": "x1", "type": "number"}]}
    assert (model.task, model.classes) == ("regression", [])


def test_explicit_schema_in_the_wrong_order_is_invalid(staff_user):
    # given
    schema = [{"name": n, "type": "number"} for n in reversed(IRIS_FEATURES)]
    # when
    with pytest.raises(ApplicationError) as raised:
        _register(staff_user, "iris", iris_artifact(), input_schema=schema)
    # then
    assert _codes(raised.value) == [("input_schema", "INVALID_SCHEMA")]
    assert RegisteredModel.objects.count() == 0


@pytest.mark.parametrize(
    "schema",
    [
        [{"name": "x0", "type": "number"}],
        [{"name": "x0", "type": "number"}, {"name": "x0", "type": "number"}],
        [{"name": "x0", "type": "number"}, {"name": "x1", "type": "float"}],
        [{"name": "x0", "type": "number"}, {"name": "", "type": "number"}],
        [{"name": "x0", "type": "number"}, {"name": "x1", "type": "string", "allowed": []}],
        {"columns": ["x0", "x1"]},
    ],
    ids=["too-few", "duplicate", "bad-type", "empty-name", "empty-allowed", "wrong-shape"],
)
def test_malformed_explicit_schemas_are_invalid(staff_user, schema):
    with pytest.raises(ApplicationError) as raised:
        _register(staff_user, "reg", regressor_artifact(), input_schema=schema)
    assert _codes(raised.value) == [("input_schema", "INVALID_SCHEMA")]


def test_explicit_schema_in_the_right_order_is_kept(staff_user):
    schema = {"features": [{"name": "a", "type": "number"}, {"name": "b", "type": "integer"}]}
    model = _register(staff_user, "reg", regressor_artifact(), input_schema=schema)
    assert model.input_schema == schema


def test_regressor_output_is_a_value(register, make_user, issue_token, gql):
    # given: y = 2 * x0 + x1
    register("reg", regressor_artifact())
    token = issue_token(make_user())
    # when
    _, body = gql(CREATE, {"input": {"modelName": "reg", "features": {"x0": 3.0, "x1": 4.0}}}, token=token)
    # then
    payload = body["data"]["createPrediction"]
    assert payload["errors"] == []
    assert set(payload["prediction"]["output"]) == {"value"}
    assert payload["prediction"]["output"]["value"] == pytest.approx(10.0)


def test_bank_pipeline_registered_as_pickle_suffix(staff_user):
    model = _register(staff_user, "bank", bank_artifact(), filename="bank.pkl")
    assert model.artifact_format == "joblib"
    assert model.classes == ["no", "yes"]


def test_pickle_protocol_file_is_readable_as_joblib(staff_user):
    estimator = joblib.load(io.BytesIO(regressor_artifact()))
    model = _register(staff_user, "reg", pickle.dumps(estimator), filename="reg.pickle")
    assert model.task == "regression"


# --- Registration never crashes: each failure is a coded ApplicationError, and nothing is left behind ---


class SchemaExplodes:
    """Loads and predicts, but asking for its features raises something no one planned for."""

    def predict(self, rows):
        return [0 for _ in rows]

    @property
    def feature_names_in_(self):
        raise RuntimeError("broken estimator")


class ClassesExplode:
    n_features_in_ = 1

    def predict(self, rows):
        return [0 for _ in rows]

    @property
    def classes_(self):
        raise RuntimeError("broken estimator")


def _joblib_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


class UnreadableStream(io.RawIOBase):
    def read(self, *_args):
        raise OSError(5, "Input/output error")


@pytest.fixture
def media_root(settings, tmp_path):
    """A media directory of the test's own, so "no new file" can be checked exactly."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def _stored_files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_registration_stores_exactly_one_file(staff_user, media_root):
    # the baseline the "nothing left behind" tests compare with
    model = _register(staff_user, "iris", iris_artifact())
    assert _stored_files(media_root) == [model.artifact.name]


@pytest.mark.parametrize(
    "name", ["bad name!", "", "x" * 101, "ünïcode/slash"], ids=["punctuation", "empty", "too-long", "slash"]
)
def test_a_bad_name_is_invalid_name(staff_user, media_root, name):
    with pytest.raises(ApplicationError) as raised:
        _register(staff_user, name, iris_artifact(), filename="iris.joblib")
    assert _codes(raised.value) == [("name", "INVALID_NAME")]
    assert RegisteredModel.objects.count() == 0
    assert _stored_files(media_root) == []


def test_an_artifact_stream_that_fails_to_read_is_unreadable(staff_user, media_root):
    with pytest.raises(ApplicationError) as raised:
        model_register(registered_by=staff_user, name="iris", artifact=UnreadableStream(), filename="iris.joblib")
    assert _codes(raised.value) == [("artifact", "ARTIFACT_UNREADABLE")]
    assert _stored_files(media_root) == []


def test_an_unexpected_exception_while_deriving_the_schema_is_invalid_schema(staff_user, media_root):
    with pytest.raises(ApplicationError) as raised:
        _register(staff_user, "odd", _joblib_bytes(SchemaExplodes()))
    assert _codes(raised.value) == [("input_schema", "INVALID_SCHEMA")]
    assert RegisteredModel.objects.count() == 0
    assert _stored_files(media_root) == []


def test_an_estimator_whose_classes_cannot_be_read_is_unsupported(staff_user, media_root):
    with pytest.raises(ApplicationError) as raised:
        _register(staff_user, "odd", _joblib_bytes(ClassesExplode()))
    assert _codes(raised.value) == [("artifact", "UNSUPPORTED_ESTIMATOR")]
    assert _stored_files(media_root) == []


def test_a_schema_json_cannot_carry_is_invalid_schema_on_every_database(staff_user, media_root):
    # given: NaN among the allowed values (what an encoder fitted on a column with NaN yields);
    # SQLite used to answer "could not allocate a version", PostgreSQL a DataError traceback
    schema = [{"name": "a", "type": "number", "allowed": [1.0, float("nan")]}, {"name": "b", "type": "number"}]
    # when
    with pytest.raises(ApplicationError) as raised:
        _register(staff_user, "reg", regressor_artifact(), input_schema=schema)
    # then
    assert _codes(raised.value) == [("input_schema", "INVALID_SCHEMA")]
    assert RegisteredModel.objects.count() == 0
    assert _stored_files(media_root) == []


@pytest.mark.parametrize("metrics", [{"auc": float("nan")}, [0.9], {"auc": float("inf")}], ids=["nan", "list", "inf"])
def test_metrics_must_be_a_json_object_of_finite_values(staff_user, media_root, metrics):
    with pytest.raises(ApplicationError) as raised:
        _register(staff_user, "iris", iris_artifact(), metrics=metrics)
    assert _codes(raised.value) == [("metrics", "INVALID_METRICS")]
    assert _stored_files(media_root) == []


def test_the_same_file_under_the_same_name_is_refused_naming_the_version(staff_user, media_root):
    # given
    first = _register(staff_user, "iris", iris_artifact())
    # when
    with pytest.raises(ApplicationError) as raised:
        _register(staff_user, "iris", iris_artifact())
    # then
    assert _codes(raised.value) == [("artifact", "DUPLICATE_ARTIFACT")]
    assert raised.value.http_status == 409
    assert "iris v1" in raised.value.errors[0].message
    assert RegisteredModel.objects.count() == 1
    assert _stored_files(media_root) == [first.artifact.name]


def test_the_same_file_is_registered_again_when_forced(staff_user, media_root):
    _register(staff_user, "iris", iris_artifact())
    again = _register(staff_user, "iris", iris_artifact(), force=True)
    assert again.version == 2
    assert len(_stored_files(media_root)) == 2


def test_the_same_file_under_another_name_is_not_a_duplicate(staff_user):
    _register(staff_user, "iris", iris_artifact())
    assert _register(staff_user, "iris-copy", iris_artifact()).version == 1


def test_a_version_clash_is_version_conflict_and_the_stored_file_is_deleted(staff_user, media_root, monkeypatch):
    # given: v1 exists and every attempt computes version 1 again (as when others keep winning the race)
    first = _register(staff_user, "iris", iris_artifact())
    monkeypatch.setattr("predictions.services.registry._next_version", lambda name: 1)
    # when
    with pytest.raises(ApplicationError) as raised:
        _register(staff_user, "iris", regressor_artifact(), filename="iris.joblib")
    # then
    assert _codes(raised.value) == [("name", "VERSION_CONFLICT")]
    assert raised.value.http_status == 409
    assert RegisteredModel.objects.count() == 1
    assert _stored_files(media_root) == [first.artifact.name]


# --- Stage changes compare input schemas with the current production version ---

SCHEMA_AB = [{"name": "a", "type": "number"}, {"name": "b", "type": "string", "allowed": ["x", "y"]}]
SCHEMA_AB_WIDER = [{"name": "a", "type": "number"}, {"name": "b", "type": "string", "allowed": ["x", "y", "z"]}]
SCHEMA_AC = [{"name": "a", "type": "number"}, {"name": "c", "type": "number"}]


def _version(user, schema, stage=RegisteredModel.Stage.STAGING, **kwargs):
    return _register(user, "reg", regressor_artifact(), input_schema=schema, stage=stage, force=True, **kwargs)


def test_a_breaking_promotion_is_refused_listing_each_difference(staff_user):
    # given
    _version(staff_user, SCHEMA_AB, stage=RegisteredModel.Stage.PRODUCTION)
    candidate = _version(staff_user, SCHEMA_AC)
    # when
    with pytest.raises(ApplicationError) as raised:
        model_set_stage(model=candidate, stage=RegisteredModel.Stage.PRODUCTION, changed_by=staff_user)
    # then: b removed, c new and required
    assert _codes(raised.value) == [("input_schema.b", "BREAKING_CHANGE"), ("input_schema.c", "BREAKING_CHANGE")]
    assert raised.value.http_status == 409
    candidate.refresh_from_db()
    assert candidate.stage == "staging"


def test_a_breaking_promotion_goes_through_when_allowed(staff_user):
    _version(staff_user, SCHEMA_AB, stage=RegisteredModel.Stage.PRODUCTION)
    candidate = _version(staff_user, SCHEMA_AC)
    model_set_stage(model=candidate, stage=RegisteredModel.Stage.PRODUCTION, changed_by=staff_user, allow_breaking=True)
    candidate.refresh_from_db()
    assert candidate.stage == "production"


def test_a_compatible_promotion_goes_through(staff_user):
    _version(staff_user, SCHEMA_AB, stage=RegisteredModel.Stage.PRODUCTION)
    candidate = _version(staff_user, SCHEMA_AB_WIDER)
    model_set_stage(model=candidate, stage=RegisteredModel.Stage.PRODUCTION, changed_by=staff_user)
    candidate.refresh_from_db()
    assert candidate.stage == "production"


def test_the_first_production_version_and_archiving_need_no_check(staff_user):
    # given
    old = _version(staff_user, SCHEMA_AB)
    new = _version(staff_user, SCHEMA_AC)
    # when: nothing in production yet
    model_set_stage(model=old, stage=RegisteredModel.Stage.PRODUCTION, changed_by=staff_user)
    model_set_stage(model=old, stage=RegisteredModel.Stage.ARCHIVED, changed_by=staff_user)
    model_set_stage(model=new, stage=RegisteredModel.Stage.PRODUCTION, changed_by=staff_user)
    # then
    assert dict(RegisteredModel.objects.values_list("version", "stage")) == {1: "archived", 2: "production"}


def test_registering_straight_into_production_is_checked_too(staff_user, media_root):
    # given
    _version(staff_user, SCHEMA_AB, stage=RegisteredModel.Stage.PRODUCTION)
    # when
    with pytest.raises(ApplicationError) as raised:
        _version(staff_user, SCHEMA_AC, stage=RegisteredModel.Stage.PRODUCTION)
    allowed = _version(staff_user, SCHEMA_AC, stage=RegisteredModel.Stage.PRODUCTION, allow_breaking=True)
    # then
    assert {code for _, code in _codes(raised.value)} == {"BREAKING_CHANGE"}
    assert (allowed.version, allowed.stage) == (2, "production")
    assert len(_stored_files(media_root)) == 2


def test_a_model_whose_stage_was_already_set_on_the_instance_is_still_checked(staff_user):
    # given: the admin change form sets the new stage on the instance before the service runs
    _version(staff_user, SCHEMA_AB, stage=RegisteredModel.Stage.PRODUCTION)
    candidate = _version(staff_user, SCHEMA_AC)
    candidate.stage = RegisteredModel.Stage.PRODUCTION
    # when / then
    with pytest.raises(ApplicationError):
        model_set_stage(model=candidate, stage=RegisteredModel.Stage.PRODUCTION, changed_by=staff_user)
    assert RegisteredModel.objects.get(pk=candidate.pk).stage == "staging"


def test_non_staff_may_not_change_a_stage(staff_user, make_user):
    model = _version(staff_user, SCHEMA_AB)
    with pytest.raises(PermissionDeniedError):
        model_set_stage(model=model, stage=RegisteredModel.Stage.PRODUCTION, changed_by=make_user())
    assert RegisteredModel.objects.get(pk=model.pk).stage == "staging"
