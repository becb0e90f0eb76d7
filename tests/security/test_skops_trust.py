"""skops trust: only scikit-learn's estimator classes are trusted without approval, never a name prefix.

A name under `sklearn.` can be a plain callable re-exported from elsewhere (sklearn.utils._testing.check_output
is subprocess.check_output). A crafted file calling one must be refused at registration and run nothing.
"""

import io
import json
import zipfile

import pytest
from django.core.management import CommandError, call_command

from mlapi.errors import PermissionDeniedError
from predictions.models import RegisteredModel
from predictions.registry.artifacts import sklearn_estimator_class_named
from predictions.services import model_register


def _json_str(value: str) -> dict:
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
        "__id__": id(value),
    }


def crafted_call_file(*, module: str, name: str, args: list) -> bytes:
    """A .skops file whose top-level object is `module.name(*args)`, built the way skops writes a reduced object."""
    content = [
        {
            "__class__": "list",
            "__module__": "builtins",
            "__loader__": "ListNode",
            "content": [_json_str(a) for a in arg],
            "__id__": i,
        }
        if isinstance(arg, list)
        else _json_str(arg)
        for i, arg in enumerate(args)
    ]
    schema = {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": content,
            "__id__": 1,
        },
        "__id__": 2,
        "protocol": 2,
        "_skops_version": "0.16.0",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    return buffer.getvalue()


def _shell_touch(marker) -> bytes:
    return crafted_call_file(module="sklearn.utils._testing", name="check_output", args=[["touch", str(marker)]])


def _makedirs(marker) -> bytes:
    # sklearn.datasets._base re-exports os.makedirs: not under a test module, so only the class check stops it.
    return crafted_call_file(module="sklearn.datasets._base", name="makedirs", args=[str(marker)])


CRAFTED = [
    pytest.param(_shell_touch, id="sklearn.utils._testing.check_output"),
    pytest.param(_makedirs, id="sklearn.datasets._base.makedirs"),
]


def test_the_crafted_file_really_runs_its_call_when_trusted(tmp_path):
    # given: the crafted file loaded the way the old prefix rule let it load (proves the tests below can fail)
    import skops.io as sio

    marker = tmp_path / "ran"
    data = _shell_touch(marker)
    # when
    sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    # then
    assert sio.get_untrusted_types(data=data) == ["sklearn.utils._testing.check_output"]
    assert marker.exists()


@pytest.mark.parametrize("craft", CRAFTED)
def test_a_callable_re_exported_under_sklearn_is_refused_at_registration_and_runs_nothing(staff_user, tmp_path, craft):
    # given
    marker = tmp_path / "ran"
    data = craft(marker)
    # when
    with pytest.raises(PermissionDeniedError) as refused:
        model_register(
            registered_by=staff_user,
            name="crafted",
            artifact=io.BytesIO(data),
            filename="crafted.skops",
            stage=RegisteredModel.Stage.PRODUCTION,
        )
    # then
    assert [(e.field, e.code) for e in refused.value.errors] == [("artifact", "UNTRUSTED_TYPES")]
    assert not marker.exists()
    assert RegisteredModel.objects.count() == 0


def test_the_register_command_refuses_it_without_trust_too(staff_user, tmp_path):
    # given
    marker = tmp_path / "ran"
    path = tmp_path / "crafted.skops"
    path.write_bytes(_shell_touch(marker))
    # when
    with pytest.raises(CommandError) as refused:
        call_command(
            "register_model", str(path), "--name", "crafted", "--as-user", staff_user.username, "--stage", "production"
        )
    # then
    assert "sklearn.utils._testing.check_output" in str(refused.value)
    assert not marker.exists()
    assert RegisteredModel.objects.count() == 0


@pytest.mark.parametrize(
    "type_name",
    [
        "sklearn.utils._testing.check_output",  # subprocess.check_output
        "sklearn.datasets._base.makedirs",  # os.makedirs
        "sklearn.base.clone",  # a scikit-learn function, not a class
        "sklearn.utils",  # a module
        "sklearn.",  # a prefix
        "sklearn.linear_model.LinearRegression.__init__",  # a method
        "sklearn.linear_model._base.LogisticRegression",  # a class re-exported from another sklearn module
        "sklearn.tree._tree.Tree",  # a class skops warns about: approved by name only
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.utils._testing.MinimalClassifier",  # an estimator, but a test helper
        "sklearnx.Foo",
        "numpy.load",
    ],
)
def test_only_canonical_sklearn_estimator_classes_are_trusted_by_name(type_name):
    assert sklearn_estimator_class_named(type_name) is None


@pytest.mark.parametrize(
    "type_name", ["sklearn.calibration._SigmoidCalibration", "sklearn.linear_model._logistic.LogisticRegression"]
)
def test_sklearn_estimator_classes_are_trusted(type_name):
    assert isinstance(sklearn_estimator_class_named(type_name), type)


def test_a_calibrated_model_registers_with_its_private_estimator_and_needs_the_rest_approved(staff_user):
    # given: CalibratedClassifierCV holds a private estimator class and a private plain class
    import skops.io as sio
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    data = sio.dumps(CalibratedClassifierCV(LogisticRegression(max_iter=300), cv=2).fit(x, y))

    def register(**kwargs):
        return model_register(
            registered_by=staff_user, name="calibrated", artifact=io.BytesIO(data), filename="c.skops", **kwargs
        )

    # when
    with pytest.raises(PermissionDeniedError) as refused:
        register()
    model = register(approved_types=["sklearn.calibration._CalibratedClassifier"])
    # then: only the plain class needed a name; both are recorded with the model
    assert "sklearn.calibration._CalibratedClassifier" in refused.value.errors[0].message
    assert "_SigmoidCalibration" not in refused.value.errors[0].message
    assert model.trusted_types == [
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
    ]
