"""The estimator's own answer as JSON, one small function per task (chosen once, when a model is loaded).

The label is always `predict()`. Beside it: `predict_proba` where the estimator has it, else
`decision_function` ("scores"). A pipeline's transforms run once per call even when its final step is
asked two things (Pipeline.predict and .predict_proba would each run them again, with the same result).
Each function returns exactly one output per input row or raises MODEL_OUTPUT_MISMATCH.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlapi.compact_json import compact_json
from mlapi.errors import ApplicationError, FieldError
from predictions.error_codes import PredictionErrorCode
from predictions.registry import estimators as kinds

# Final steps whose predict() is the most probable class of predict_proba (same scores, a monotone
# transform): one call gives both. Rows where two classes tie fall back to predict().
_PREDICT_IS_ARGMAX_PROBA = frozenset(
    {
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.ExtraTreesClassifier",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._gb.GradientBoostingClassifier",
        "sklearn.naive_bayes.GaussianNB",
    }
)


@dataclass(frozen=True)
class Answerer:
    """Runs the estimator on prepared input: `transform` (a pipeline's transforms, once) then `final`."""

    transform: Callable[[Any], Any]
    final: Any
    classes: tuple
    class_keys: tuple[str, ...]
    shape: Callable[["Answerer", Any, int], list[dict]]
    cheap_proba: bool = False
    shape_json: Callable[["Answerer", Any, int], list[str]] | None = None  # the JSON of `shape`, when cheaper

    def __call__(self, features: Any, count: int) -> list[dict]:
        return self.shape(self, self.transform(features), count)

    def json(self, features: Any, count: int) -> list[str]:
        """The compact JSON of each output of `self(features, count)`, byte for byte."""
        if self.shape_json is None:
            return [compact_json(output) for output in self(features, count)]
        return self.shape_json(self, self.transform(features), count)


def _json_value(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class ModelOutputError(ApplicationError):
    """The estimator broke its contract (not one output per row): the model's fault, not the caller's."""

    http_status = 502


def _mismatch(expected: int, got: int) -> ApplicationError:
    return ModelOutputError.single(
        PredictionErrorCode.MODEL_OUTPUT_MISMATCH,
        f"The model answered {got} outputs for {expected} input rows; nothing was stored or billed.",
    )


def _rows(values: Any, expected: int) -> Any:
    got = getattr(values, "shape", (len(values),))[0]
    if got != expected:
        raise _mismatch(expected, got)
    return values


def _require_finite(values: np.ndarray) -> None:
    """Extreme (but finite) inputs can overflow a model into NaN or inf: refuse rather than store them."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if finite.all():
        return
    rows = np.flatnonzero(~finite.reshape(len(values), -1).all(axis=1))
    raise ApplicationError(
        [
            FieldError(
                f"instances.{row}",
                PredictionErrorCode.INVALID_VALUE.value,
                "The model produced a non-finite output for these values.",
            )
            for row in rows[:20].tolist()
        ]
    )


def _labels_from_proba(answerer: Answerer, features: Any, probabilities: np.ndarray) -> list:
    if probabilities.shape[1] > 1:
        top2 = np.partition(probabilities, -2, axis=1)[:, -2:]
        if (top2[:, 0] == top2[:, 1]).any():
            return answerer.final.predict(features).tolist()
    classes = answerer.classes
    return [classes[i] for i in probabilities.argmax(axis=1).tolist()]


def _labels_and_probabilities(answerer: Answerer, features: Any, count: int) -> tuple[list, np.ndarray]:
    final = answerer.final
    probabilities = _rows(final.predict_proba(features), count)
    _require_finite(probabilities)
    if answerer.cheap_proba:
        labels = _labels_from_proba(answerer, features, probabilities)
    else:
        labels = _rows(final.predict(features), count).tolist()
    return labels, probabilities


def classification(answerer: Answerer, features: Any, count: int) -> list[dict]:
    final, keys = answerer.final, answerer.class_keys
    if hasattr(final, "predict_proba"):
        labels, probabilities = _labels_and_probabilities(answerer, features, count)
        return [
            {"label": _json_value(label), "probabilities": dict(zip(keys, row.tolist(), strict=True))}
            for label, row in zip(labels, probabilities, strict=True)
        ]
    labels = _rows(final.predict(features), count).tolist()
    if not hasattr(final, "decision_function"):
        return [{"label": _json_value(label)} for label in labels]
    scores = _rows(np.asarray(final.decision_function(features), dtype=np.float64), count)
    _require_finite(scores)
    if scores.ndim == 1:  # binary: the score of the positive class, classes_[1]
        return [
            {"label": _json_value(label), "scores": {keys[-1]: score}}
            for label, score in zip(labels, scores.tolist(), strict=True)
        ]
    return [
        {"label": _json_value(label), "scores": dict(zip(keys, row, strict=True))}
        for label, row in zip(labels, scores.tolist(), strict=True)
    ]


def probabilities_json_shaper(classes: tuple, class_keys: tuple[str, ...]) -> Callable[[Answerer, Any, int], list[str]]:
    """`[compact_json(output) for output in classification(...)]` for a classifier with predict_proba, byte for
    byte, without building the outputs: one %-format per row (json writes a finite float as its repr). For a
    batch job, which stores the JSON and never returns the objects."""
    labels_json = {(type(c), c): compact_json(c) for c in classes}
    head = '{"label":'
    tail = ',"probabilities":{' + ",".join(compact_json(k).replace("%", "%%") + ":%r" for k in class_keys) + "}}"

    def label_json(label: Any) -> str:
        known = labels_json.get((type(label), label))
        return known if known is not None else compact_json(_json_value(label))

    def shape(answerer: Answerer, features: Any, count: int) -> list[str]:
        labels, probabilities = _labels_and_probabilities(answerer, features, count)
        return [
            head + label_json(label) + tail % tuple(row)
            for label, row in zip(labels, probabilities.tolist(), strict=True)
        ]

    return shape


def _per_output_probabilities(final: Any, features: Any, count: int) -> list | None:
    if not hasattr(final, "predict_proba"):
        return None
    probabilities = final.predict_proba(features)
    if isinstance(probabilities, list):  # one (rows, classes) array per output
        classes = final.classes_
        per_output = []
        for output_classes, array in zip(classes, probabilities, strict=True):
            _rows(array, count)
            _require_finite(array)
            keys = [str(_json_value(c)) for c in output_classes]
            per_output.append([dict(zip(keys, row, strict=True)) for row in array.tolist()])
        return [list(row) for row in zip(*per_output, strict=True)]
    probabilities = _rows(np.asarray(probabilities, dtype=np.float64), count)  # one probability per label
    _require_finite(probabilities)
    return probabilities.tolist()


def multilabel(answerer: Answerer, features: Any, count: int) -> list[dict]:
    labels = _rows(answerer.final.predict(features), count)
    if hasattr(labels, "toarray"):
        labels = labels.toarray()
    outputs = [{"labels": [_json_value(v) for v in row]} for row in np.asarray(labels).tolist()]
    probabilities = _per_output_probabilities(answerer.final, features, count)
    if probabilities is not None:
        for output, row in zip(outputs, probabilities, strict=True):
            output["probabilities"] = row
    return outputs


def regression(answerer: Answerer, features: Any, count: int) -> list[dict]:
    values = _rows(np.asarray(answerer.final.predict(features)), count)
    _require_finite(values)
    if values.ndim == 1:
        return [{"value": _json_value(v)} for v in values.tolist()]
    return [{"values": row} for row in values.reshape(count, -1).tolist()]


def clustering(answerer: Answerer, features: Any, count: int) -> list[dict]:
    clusters = _rows(np.asarray(answerer.final.predict(features)), count)
    return [{"cluster": _json_value(c)} for c in clusters.tolist()]


def outlier_detection(answerer: Answerer, features: Any, count: int) -> list[dict]:
    final = answerer.final
    labels = _rows(np.asarray(final.predict(features)), count).tolist()
    scorer = getattr(final, "score_samples", None) or getattr(final, "decision_function", None)
    outputs = [{"label": "outlier" if label == -1 else "inlier"} for label in labels]
    if scorer is not None:
        scores = _rows(np.asarray(scorer(features), dtype=np.float64), count)
        _require_finite(scores)
        for output, score in zip(outputs, scores.tolist(), strict=True):
            output["score"] = score
    return outputs


SHAPERS = {
    kinds.TASK_CLASSIFICATION: classification,
    kinds.TASK_MULTILABEL: multilabel,
    kinds.TASK_REGRESSION: regression,
    kinds.TASK_MULTIOUTPUT: regression,
    kinds.TASK_CLUSTERING: clustering,
    kinds.TASK_OUTLIER: outlier_detection,
}
# Tasks whose final step is asked one thing: the whole estimator is called (no transform split).
_ONE_CALL = {kinds.TASK_REGRESSION, kinds.TASK_MULTIOUTPUT, kinds.TASK_CLUSTERING}


def _qualified(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _identity(features: Any) -> Any:
    return features


def answerer_build(*, estimator: Any, task: str) -> Answerer:
    from sklearn.pipeline import Pipeline

    transform, final = _identity, estimator
    if task not in _ONE_CALL and isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        transform, final = estimator[:-1].transform, estimator.steps[-1][1]
    classes = getattr(final, "classes_", None)
    flat_classes = (
        tuple(_json_value(c) for c in classes) if classes is not None and not isinstance(classes, list) else ()
    )
    class_keys = tuple(str(c) for c in flat_classes)
    shape = SHAPERS.get(task, regression)
    shape_json = None
    # Distinct keys only: where two classes print alike, the outputs' dict keeps one of them.
    distinct = len(set(class_keys)) == len(class_keys) > 0
    if shape is classification and hasattr(final, "predict_proba") and distinct:
        shape_json = probabilities_json_shaper(flat_classes, class_keys)
    return Answerer(
        transform=transform,
        final=final,
        classes=flat_classes,
        class_keys=class_keys,
        shape=shape,
        cheap_proba=_qualified(kinds.final_estimator(estimator)) in _PREDICT_IS_ARGMAX_PROBA,
        shape_json=shape_json,
    )
