"""What a ground-truth value is for each task, and how one is checked against the model's task."""

import math
from typing import Any

from predictions.models import RegisteredModel

Task = RegisteredModel.Task

# Outlier detectors answer "inlier"/"outlier": their ground truth is one of those.
OUTLIER_LABELS = ("inlier", "outlier")
CLASS_TASKS = {Task.CLASSIFICATION, Task.OUTLIER_DETECTION}


class InvalidActual(ValueError):
    pass


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidActual("Expected a finite number.")
    return value


def _label(value: Any, classes: list) -> Any:
    """The class `value` names: equal to a class, or its string form (a form posts "1" for class 1)."""
    for label in classes:
        if value == label and type(value) is not bool or (isinstance(value, str) and value == str(label)):
            return label
    raise InvalidActual(f"Expected one of the model's classes {classes[:20]}.")


def model_classes(model: RegisteredModel) -> list:
    if model.task == Task.OUTLIER_DETECTION:
        return list(OUTLIER_LABELS)
    return list(model.classes or [])


def actual_clean(*, model: RegisteredModel, actual: Any) -> Any:
    """`actual` in the form stored and rolled up, or InvalidActual. Clustering has no ground truth."""
    task = model.task
    if actual is None:
        raise InvalidActual("A value is required.")
    if task in CLASS_TASKS:
        return _label(actual, model_classes(model))
    if task == Task.REGRESSION:
        return _number(actual)
    if task == Task.MULTIOUTPUT_REGRESSION:
        if not isinstance(actual, list) or not actual:
            raise InvalidActual("Expected a list of numbers, one per output.")
        return [_number(v) for v in actual]
    if task == Task.MULTILABEL_CLASSIFICATION:
        classes = model.classes or []
        if not isinstance(actual, list):
            raise InvalidActual("Expected a list of labels.")
        if classes and all(isinstance(c, list) for c in classes):  # one class list per output
            if len(actual) != len(classes):
                raise InvalidActual(f"Expected one label per output ({len(classes)}).")
            return [_label(v, c) for v, c in zip(actual, classes, strict=True)]
        labels = [_label(v, classes) for v in actual]
        if len(set(map(repr, labels))) != len(labels):
            raise InvalidActual("A label is listed twice.")
        return labels
    raise InvalidActual(f"A {task} model has no ground truth to compare with.")
