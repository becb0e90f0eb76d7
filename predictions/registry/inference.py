"""Turning validated instances into the input the estimator was fitted on, and its answer into JSON.

The input mode is chosen once per loaded model:
- "text": a text vectorizer heads the pipeline: the raw documents, as a 1-D list;
- "array": every feature is numeric and every step is scikit-learn's own numeric code: a float64 array
  (much cheaper than a DataFrame; `None` becomes NaN);
- "frame": a DataFrame in schema order, numbers as float64 (NaN for missing), categories as objects with
  the missing marker the encoder was fitted with (None or NaN).
"""

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sklearn

from mlapi.compact_json import compact_json, number_rows_encoder
from predictions.error_codes import PredictionErrorCode
from predictions.registry import estimators as kinds
from predictions.registry.outputs import Answerer, ModelOutputError, answerer_build

# Numeric models fitted on a DataFrame are fed plain arrays (much cheaper); the column order is the schema's.
warnings.filterwarnings("ignore", message="X does not have valid feature names")

_FRAME_STEPS = ("ColumnTransformer", "FunctionTransformer")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    missing_marker: Any


@dataclass(frozen=True)
class LoadedModel:
    model_id: int
    sha256: str
    estimator: Any
    feature_names: tuple[str, ...]
    task: str
    input_mode: str
    columns: tuple[Column, ...]
    answer: Answerer
    inputs_json: Callable[[list[dict]], list[str]]  # the compact JSON of validated rows, stored and billed


@dataclass(frozen=True)
class InferenceResult:
    outputs: list  # one object per instance, or with `as_json` its compact JSON
    cpu_seconds: float
    wall_seconds: float


def _input_mode(estimator: Any, features: list[dict]) -> str:
    if kinds.text_head(estimator):
        return "text"
    numeric = all(f["type"] in ("number", "integer") for f in features)
    steps = kinds.flat_steps([estimator])
    plain = all(
        (type(step).__module__ or "").startswith("sklearn.") and type(step).__name__ not in _FRAME_STEPS
        for step in steps
    )
    return "array" if numeric and plain else "frame"


def loaded_model_build(*, model_id: int, sha256: str, estimator: Any, input_schema: dict, task: str) -> LoadedModel:
    features = input_schema["features"]
    names = [f["name"] for f in features]
    mode = _input_mode(estimator, features)
    facts = kinds.column_facts(estimator, names) if mode == "frame" else {}
    columns = tuple(
        Column(f["name"], f["type"], facts[f["name"]].missing_marker if f["name"] in facts else np.nan)
        for f in features
    )
    return LoadedModel(
        model_id=model_id,
        sha256=sha256,
        estimator=estimator,
        feature_names=tuple(names),
        task=task,
        input_mode=mode,
        columns=columns,
        answer=answerer_build(estimator=estimator, task=task),
        inputs_json=_inputs_encoder(features),
    )


def _inputs_encoder(features: list[dict]) -> Callable[[list[dict]], list[str]]:
    if all(f["type"] in ("number", "integer") and not f.get("nullable") for f in features):
        return number_rows_encoder([f["name"] for f in features])  # validation let only numbers through
    return lambda rows: [compact_json(row) for row in rows]


def _frame_column(column: Column, values: list) -> Any:
    has_missing = any(v is None for v in values)
    if column.type == "number" or (column.type == "integer" and has_missing):
        return np.array(values, dtype=np.float64)
    if column.type == "integer":
        return np.array(values, dtype=np.int64)
    if column.type == "boolean" and not has_missing:
        return np.array(values, dtype=bool)
    marker = column.missing_marker
    column_values = np.empty(len(values), dtype=object)
    column_values[:] = [marker if v is None else v for v in values]
    return column_values


def _model_input(loaded: LoadedModel, instances: list[dict]) -> tuple[Any, bool]:
    """The estimator's input, and whether it is all finite (no missing value: validation refused inf and NaN)."""
    names = loaded.feature_names
    if loaded.input_mode == "text":
        return [row[names[0]] for row in instances], True
    if loaded.input_mode == "array":
        values = np.array([[row[n] for n in names] for row in instances], dtype=np.float64)
        return values, not np.isnan(values).any()
    import pandas as pd

    columns = {c.name: [row[c.name] for row in instances] for c in loaded.columns}
    finite = not any(v is None for values in columns.values() for v in values)
    frame = pd.DataFrame({c.name: _frame_column(c, columns[c.name]) for c in loaded.columns}, columns=list(names))
    return frame, finite


def estimator_input(*, loaded: LoadedModel, instances: list[dict]) -> Any:
    """The input exactly as the estimator is fed (a 1-D list of documents, an array or a typed DataFrame)."""
    return _model_input(loaded, instances)[0]


def predict(*, loaded: LoadedModel, instances: list[dict], as_json: bool = False) -> InferenceResult:
    """Scores all instances with one vectorized call; CPU time is this thread's, not wall time.

    `instances` are objects with every schema feature (see `schema.instances_prepare`). With `as_json` the
    outputs come as their compact JSON, shaped without the objects where that is cheaper."""
    cpu_start, wall_start = time.thread_time(), time.perf_counter()
    model_input, finite = _model_input(loaded, instances)
    # Validated finite input with nothing missing: scikit-learn's own finiteness checks (in every step of
    # a pipeline) would only repeat that; the outputs are still checked (outputs._require_finite).
    with sklearn.config_context(assume_finite=finite):
        answer = loaded.answer.json if as_json else loaded.answer
        outputs = answer(model_input, len(instances))
    if len(outputs) != len(instances):  # the shapers check each array; this guards any future one
        raise ModelOutputError.single(
            PredictionErrorCode.MODEL_OUTPUT_MISMATCH,
            f"The model answered {len(outputs)} outputs for {len(instances)} input rows.",
        )
    return InferenceResult(
        outputs=outputs,
        cpu_seconds=time.thread_time() - cpu_start,
        wall_seconds=time.perf_counter() - wall_start,
    )
