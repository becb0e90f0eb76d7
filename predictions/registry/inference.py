"""Turning validated instances into the estimator's input and its output into JSON."""

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlapi.errors import ApplicationError, FieldError
from predictions.error_codes import PredictionErrorCode

# Numeric models fitted on a DataFrame are fed plain arrays (much cheaper); the column order is the schema's.
warnings.filterwarnings("ignore", message="X does not have valid feature names")


@dataclass(frozen=True)
class LoadedModel:
    model_id: int
    sha256: str
    estimator: Any
    feature_names: tuple[str, ...]
    numeric_only: bool
    classes: tuple
    has_proba: bool


@dataclass(frozen=True)
class InferenceResult:
    outputs: list[dict]
    cpu_seconds: float
    wall_seconds: float


def loaded_model_build(*, model_id: int, sha256: str, estimator: Any, input_schema: dict) -> LoadedModel:
    features = input_schema["features"]
    classes = getattr(estimator, "classes_", None)
    return LoadedModel(
        model_id=model_id,
        sha256=sha256,
        estimator=estimator,
        feature_names=tuple(f["name"] for f in features),
        numeric_only=all(f["type"] in ("number", "integer") for f in features),
        classes=tuple(_json_value(c) for c in classes) if classes is not None else (),
        has_proba=classes is not None and hasattr(estimator, "predict_proba"),
    )


def _json_value(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _model_input(loaded: LoadedModel, instances: list[dict]) -> Any:
    names = loaded.feature_names
    if loaded.numeric_only:
        return np.array([[row[n] for n in names] for row in instances], dtype=np.float64)
    import pandas as pd

    return pd.DataFrame.from_records([[row[n] for n in names] for row in instances], columns=list(names))


def _require_finite(values: np.ndarray) -> None:
    """Extreme (but finite) inputs can overflow a model into NaN or inf: refuse rather than store them."""
    finite = np.isfinite(values)
    if finite.all():
        return
    rows = np.flatnonzero(~finite.reshape(len(values), -1).all(axis=1))
    raise ApplicationError(
        [
            FieldError(f"instances.{row}", PredictionErrorCode.INVALID_VALUE.value, "The model produced a non-finite output for these values.")
            for row in rows[:20].tolist()
        ]
    )


def predict(*, loaded: LoadedModel, instances: list[dict]) -> InferenceResult:
    """Scores all instances with one vectorized call; CPU time is this thread's, not wall time."""
    cpu_start, wall_start = time.thread_time(), time.perf_counter()
    features = _model_input(loaded, instances)
    if loaded.has_proba:
        probabilities = loaded.estimator.predict_proba(features)
        _require_finite(probabilities)
        best = probabilities.argmax(axis=1)
        classes = loaded.classes
        keys = [str(c) for c in classes]
        outputs = [
            {"label": classes[i], "probabilities": dict(zip(keys, row.tolist()))}
            for i, row in zip(best.tolist(), probabilities)
        ]
    else:
        values = loaded.estimator.predict(features)
        if not loaded.classes:
            _require_finite(values)
        key = "label" if loaded.classes else "value"
        outputs = [{key: _json_value(v)} for v in values]
    return InferenceResult(
        outputs=outputs,
        cpu_seconds=time.thread_time() - cpu_start,
        wall_seconds=time.perf_counter() - wall_start,
    )
