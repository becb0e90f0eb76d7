"""The served answer is the model's answer: every zoo model, saved as joblib and (where skops can) as
skops, is registered, called through GraphQL and REST on the same rows, and compared with the estimator
called in-process on those rows: labels exactly, numbers to 1e-9; billed = stored = returned rows."""

import io
import math

import joblib
import numpy as np
import pytest

from billing.models import UsageRecord
from predictions.models import Prediction
from tests.conformance.zoo import ZOO, zoo_model

CREATE = """
mutation($input: CreatePredictionInput!) {
  createPrediction(input: $input) {
    predictions { id output }
    cost { predictions }
    warnings { field code }
    errors { field code message }
  }
}
"""
TOLERANCE = 1e-9


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def _by_class(classes, row) -> dict:
    return {str(_plain(c)): float(p) for c, p in zip(classes, row, strict=True)}


def expected_outputs(estimator, rows, task: str) -> list[dict]:
    """What the estimator says in-process, written out independently of the served code."""
    labels = estimator.predict(rows)
    if task == "classification":
        outputs = [{"label": _plain(label)} for label in labels]
        if hasattr(estimator, "predict_proba"):
            for output, row in zip(outputs, estimator.predict_proba(rows), strict=True):
                output["probabilities"] = _by_class(estimator.classes_, row)
        elif hasattr(estimator, "decision_function"):
            scores = estimator.decision_function(rows)
            for output, row in zip(outputs, scores, strict=True):
                keys = estimator.classes_[-1:] if np.ndim(row) == 0 else estimator.classes_
                output["scores"] = _by_class(keys, np.atleast_1d(row))
        return outputs
    if task == "multilabel_classification":
        outputs = [{"labels": [_plain(v) for v in row]} for row in np.asarray(labels)]
        if hasattr(estimator, "predict_proba"):
            probabilities = estimator.predict_proba(rows)
            for index, output in enumerate(outputs):
                if isinstance(probabilities, list):
                    output["probabilities"] = [
                        _by_class(classes, array[index])
                        for classes, array in zip(estimator.classes_, probabilities, strict=True)
                    ]
                else:
                    output["probabilities"] = [float(p) for p in probabilities[index]]
        return outputs
    if task in ("regression", "multioutput_regression"):
        values = np.asarray(labels)
        if values.ndim == 1:
            return [{"value": float(v)} for v in values]
        return [{"values": [float(v) for v in row]} for row in values]
    if task == "clustering":
        return [{"cluster": int(c)} for c in labels]
    if task == "outlier_detection":
        scores = estimator.score_samples(rows)
        return [
            {"label": "outlier" if label == -1 else "inlier", "score": float(score)}
            for label, score in zip(labels, scores, strict=True)
        ]
    raise AssertionError(f"no expectation for task {task}")


def assert_same(served, expected, path="output"):
    if isinstance(expected, float) or isinstance(served, float):
        assert isinstance(served, (int, float)) and not isinstance(served, bool), f"{path}: {served!r}"
        assert math.isclose(served, expected, rel_tol=TOLERANCE, abs_tol=TOLERANCE), f"{path}: {served} != {expected}"
    elif isinstance(expected, dict):
        assert isinstance(served, dict) and set(served) == set(expected), f"{path}: {served!r} != {expected!r}"
        for key in expected:
            assert_same(served[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(served, list) and len(served) == len(expected), f"{path}: {served!r} != {expected!r}"
        for index, (s, e) in enumerate(zip(served, expected, strict=True)):
            assert_same(s, e, f"{path}.{index}")
    else:
        assert type(served) is type(expected) and served == expected, f"{path}: {served!r} != {expected!r}"


def _artifact(estimator, artifact_format: str) -> tuple[bytes, list[str]]:
    if artifact_format == "skops":
        import skops.io as sio

        data = sio.dumps(estimator)
        return data, sio.get_untrusted_types(data=data)
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    return buffer.getvalue(), []


CASES = [(name, fmt) for name in ZOO for fmt in ("joblib", "skops")]


@pytest.mark.parametrize(("name", "artifact_format"), CASES, ids=[f"{n}-{f}" for n, f in CASES])
def test_served_output_is_the_estimators_own(name, artifact_format, register, make_user, issue_token, gql, rest):
    zoo = zoo_model(name)
    if artifact_format == "skops" and not zoo.skops:
        pytest.skip(f"{name}: skops cannot save this estimator type; served as joblib")
    # given: the model registered as its data scientist would, and its in-process answer on the rows
    data, untrusted = _artifact(zoo.estimator, artifact_format)
    model = register(name.replace("_", "-"), data, filename=f"{name}.{artifact_format}", approved_types=untrusted)
    expected = expected_outputs(zoo.estimator, zoo.rows, model.task)
    if zoo.decision_differs:  # the rows must show the difference, or this case proves nothing
        assert any(e["label"] != max(e["probabilities"], key=e["probabilities"].get) for e in expected)
    token = issue_token(make_user())
    # when
    status, body = gql(CREATE, {"input": {"modelName": model.name, "instances": zoo.instances}}, token=token)
    response = rest("post", f"/api/v1/models/{model.name}/predict", {"instances": zoo.instances}, token=token)
    # then: both APIs answer what the estimator answers, row for row
    payload = body["data"]["createPrediction"]
    assert status == 200 and payload["errors"] == [], payload["errors"]
    assert response.status_code == 201, response.content
    for served in (payload["predictions"], response.json()["predictions"]):
        assert_same([p["output"] for p in served], expected)
    # and: billed = stored = returned, per call
    for usage in UsageRecord.objects.filter(model=model):
        assert usage.predictions == len(zoo.instances)
        assert Prediction.objects.filter(usage=usage).count() == len(zoo.instances)
    assert payload["cost"]["predictions"] == response.json()["cost"]["predictions"] == len(zoo.instances)
    assert UsageRecord.objects.filter(model=model).count() == 2


def test_zoo_covers_every_task():
    tasks = set()
    from predictions.registry.estimators import task_detect

    for name in ZOO:
        tasks.add(task_detect(zoo_model(name).estimator))
    assert tasks == {
        "classification",
        "multilabel_classification",
        "regression",
        "multioutput_regression",
        "clustering",
        "outlier_detection",
    }


@pytest.mark.parametrize("name", list(ZOO))
def test_a_batch_chunks_stored_json_is_the_served_answer_byte_for_byte(name, register):
    # given: the model registered, and the zoo's rows validated as an online call validates them
    import json

    from mlapi.compact_json import compact_json
    from predictions.registry.cache import loaded_model_get
    from predictions.registry.inference import predict
    from predictions.registry.schema import instances_prepare

    zoo = zoo_model(name)
    data, untrusted = _artifact(zoo.estimator, "joblib")
    model = register(name.replace("_", "-"), data, filename=f"{name}.joblib", approved_types=untrusted)
    loaded = loaded_model_get(model=model)
    prepared = instances_prepare(schema=model.input_schema, instances=zoo.instances, path="instances")
    assert prepared.errors == []
    # when: scored as a batch chunk scores them (JSON only) and as an online call does (objects)
    as_json = predict(loaded=loaded, instances=prepared.rows, as_json=True).outputs
    as_objects = predict(loaded=loaded, instances=prepared.rows).outputs
    # then: the same text as the objects' compact JSON, and the estimator's own answer
    assert as_json == [compact_json(output) for output in as_objects]
    assert_same([json.loads(text) for text in as_json], expected_outputs(zoo.estimator, zoo.rows, model.task))
    assert loaded.inputs_json(prepared.rows) == [compact_json(row) for row in prepared.rows]
    if model.task == "classification" and hasattr(loaded.answer.final, "predict_proba"):
        assert loaded.answer.shape_json is not None  # the rows went through the %-format, not compact_json
