"""Batches: rows/s for 1,000 iris rows per call through the project, against the model in-process."""

import json
import time
import warnings
from collections.abc import Callable

import joblib
import numpy as np
import requests

from bench.report import PROJECT_GRAPHQL, PROJECT_REST

IRIS_FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
BATCH_GRAPHQL = (
    'mutation($rows: [GenericScalar]) { createPrediction(input: {modelName: "iris", instances: $rows}) '
    "{ predictions { id output } cost { amount } errors { code } } }"
)


def iris_rows(count: int = 1000) -> list[dict]:
    """`count` rows cycled from the iris data set that scikit-learn ships (no download)."""
    from sklearn.datasets import load_iris

    data = load_iris().data
    return [dict(zip(IRIS_FEATURES, map(float, data[i % len(data)]), strict=True)) for i in range(count)]


def _rate(call: Callable[[], object], *, rows: int, min_seconds: float) -> float:
    call()  # warm
    calls, started = 0, time.perf_counter()
    while True:
        call()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return rows * calls / elapsed


def in_process_rates(*, artifact_path, rows: list[dict], min_seconds: float) -> dict:
    """The same artifact, loaded here, scoring the rows as the float64 array the product feeds it.

    Also the floor of any JSON service: decode the request, build the array, predict_proba, encode
    label + probabilities per row; no HTTP, no auth, no storage.
    """
    # Fitted on a DataFrame, fed an array (as the product does): silence the per-call warning.
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    model = joblib.load(artifact_path)
    matrix = np.array([[row[name] for name in IRIS_FEATURES] for row in rows], dtype=np.float64)
    request_body = json.dumps({"instances": rows})
    classes = [str(c) for c in model.classes_]

    def json_roundtrip():
        instances = json.loads(request_body)["instances"]
        features = np.array([[row[name] for name in IRIS_FEATURES] for row in instances], dtype=np.float64)
        probabilities = model.predict_proba(features)
        outputs = [
            {"label": classes[best], "probabilities": dict(zip(classes, row, strict=True))}
            for best, row in zip(probabilities.argmax(axis=1).tolist(), probabilities.tolist(), strict=True)
        ]
        return json.dumps({"predictions": outputs})

    count = len(rows)
    return {
        "predict_rows_per_s": round(_rate(lambda: model.predict(matrix), rows=count, min_seconds=min_seconds), 1),
        "predict_proba_rows_per_s": round(
            _rate(lambda: model.predict_proba(matrix), rows=count, min_seconds=min_seconds), 1
        ),
        "json_roundtrip_rows_per_s": round(_rate(json_roundtrip, rows=count, min_seconds=min_seconds), 1),
    }


def _graphql_ok(response: requests.Response, rows: int) -> str:
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    data = response.json()
    if data.get("errors"):
        return f"GraphQL error: {data['errors'][0].get('message', '')[:200]}"
    payload = (data.get("data") or {}).get("createPrediction") or {}
    if payload.get("errors"):
        return f"payload errors: {[e.get('code') for e in payload['errors']]}"
    if len(payload.get("predictions") or []) != rows:
        return f"expected {rows} predictions, got {len(payload.get('predictions') or [])}"
    return ""


def _rest_ok(response: requests.Response, rows: int) -> str:
    if not 200 <= response.status_code < 300:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    predictions = response.json().get("predictions") or []
    if len(predictions) != rows:
        return f"expected {rows} predictions, got {len(predictions)}"
    return ""


def batch_endpoint(*, target: str, base_url: str, token: str, rows: list[dict], iterations: int) -> dict:
    """`iterations` sequential calls after one checked warm-up call; rows/s over the measured calls."""
    if target == PROJECT_GRAPHQL:
        url, body, check = f"{base_url}/graphql/", {"query": BATCH_GRAPHQL, "variables": {"rows": rows}}, _graphql_ok
    elif target == PROJECT_REST:
        url, body, check = f"{base_url}/api/v1/models/iris/predict", {"instances": rows}, _rest_ok
    else:
        raise ValueError(target)
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        problem = check(session.post(url, json=body, timeout=60), len(rows))
        if problem:
            return {"rows_per_s": None, "note": f"not available: {problem}"}
        errors, durations = 0, []
        for _ in range(iterations):
            started = time.perf_counter()
            response = session.post(url, json=body, timeout=60)
            durations.append(time.perf_counter() - started)
            if check(response, len(rows)):
                errors += 1
    total = sum(durations)
    return {
        "rows_per_s": round(len(rows) * iterations / total, 1),
        "ms_per_call": round(total / iterations * 1000, 2),
        "iterations": iterations,
        "errors": errors,
    }
