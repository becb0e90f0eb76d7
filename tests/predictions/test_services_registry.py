"""model_register: who may register, which files load, how versions and input schemas are decided."""

import hashlib
import io
import pickle

import joblib
import pytest

from mlapi.errors import ApplicationError, PermissionDeniedError
from predictions.demo import BANK_CATEGORICAL, IRIS_FEATURES
from predictions.models import RegisteredModel
from predictions.services import model_register
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
    return model_register(registered_by=user, name=name, artifact=io.BytesIO(data), filename=filename or f"{name}.joblib", **kwargs)


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
    _, body = gql(CREATE, {"input": {"modelName": "iris-skops", "features": IRIS_SETOSA}}, token=issue_token(make_user()))
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
            _register(staff_user, "iris", iris_artifact()),
            _register(staff_user, "reg", regressor_artifact()),
            _register(staff_user, "iris", iris_artifact()),
            _register(staff_user, "reg", regressor_artifact()),
        )
    ]
    # then
    assert versions == [("iris", 1), ("iris", 2), ("reg", 1), ("iris", 3), ("reg", 2)]


def test_a_refused_registration_does_not_take_a_version(staff_user):
    _register(staff_user, "iris", iris_artifact())
    with pytest.raises(ApplicationError):
        _register(staff_user, "iris", b"garbage")
    assert _register(staff_user, "iris", iris_artifact()).version == 2


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
