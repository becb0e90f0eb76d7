"""Input schemas: derived from a fitted estimator, checked when given by hand, used to validate instances.

A schema is `{"features": [{"name": str, "type": "number"|"integer"|"string"|"boolean",
"allowed": [...]?}, ...]}` in the order the estimator expects its columns.
"""

import math
from typing import Any

from mlapi.errors import ApplicationError, FieldError
from predictions.error_codes import PredictionErrorCode, RegistryErrorCode

FEATURE_TYPES = ("number", "integer", "string", "boolean")
MAX_REPORTED_ERRORS = 50


def _categories_by_column(estimator: Any) -> dict[str, list]:
    """Allowed values for columns that go through a fitted OneHotEncoder/OrdinalEncoder of a ColumnTransformer."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    found: dict[str, list] = {}

    def encoders_in(transformer: Any) -> list:
        if isinstance(transformer, Pipeline):
            return [step for _, step in transformer.steps if hasattr(step, "categories_")]
        return [transformer] if hasattr(transformer, "categories_") else []

    steps = estimator.steps if isinstance(estimator, Pipeline) else [("", estimator)]
    for _, step in steps:
        if not isinstance(step, ColumnTransformer):
            continue
        for _, transformer, columns in step.transformers_:
            if not isinstance(columns, (list, tuple)) or not all(isinstance(c, str) for c in columns):
                continue
            for encoder in encoders_in(transformer):
                for column, categories in zip(columns, encoder.categories_):
                    found[column] = [_json_scalar(value) for value in categories]
    return found


def _json_scalar(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _category_type(values: list) -> str:
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "number"
    return "string"


def input_schema_derive(*, estimator: Any) -> dict:
    """Best effort from `feature_names_in_` and fitted encoders; plain numeric features otherwise."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        count = getattr(estimator, "n_features_in_", None)
        if count is None:
            raise ApplicationError.single(
                RegistryErrorCode.INVALID_SCHEMA,
                "The estimator does not tell its input features; give the input schema explicitly.",
                field="input_schema",
            )
        names = [f"x{i}" for i in range(count)]
    categories = _categories_by_column(estimator)
    features = []
    for name in (str(n) for n in names):
        if name in categories:
            allowed = categories[name]
            features.append({"name": name, "type": _category_type(allowed), "allowed": allowed})
        else:
            features.append({"name": name, "type": "number"})
    return {"features": features}


def input_schema_check(*, schema: Any, estimator: Any) -> dict:
    """Checks a hand-written schema's shape and that it fits the estimator; returns it normalised."""

    def bad(message: str) -> ApplicationError:
        return ApplicationError.single(RegistryErrorCode.INVALID_SCHEMA, message, field="input_schema")

    if isinstance(schema, list):
        schema = {"features": schema}
    if not isinstance(schema, dict) or not isinstance(schema.get("features"), list) or not schema["features"]:
        raise bad('The input schema must be {"features": [{"name": ..., "type": ...}, ...]}.')
    features, seen = [], set()
    for index, feature in enumerate(schema["features"]):
        if not isinstance(feature, dict) or not isinstance(feature.get("name"), str) or not feature["name"]:
            raise bad(f"Feature {index} needs a non-empty string name.")
        if feature.get("type") not in FEATURE_TYPES:
            raise bad(f"Feature {feature['name']!r} has type {feature.get('type')!r}; use one of {FEATURE_TYPES}.")
        if feature["name"] in seen:
            raise bad(f"Feature {feature['name']!r} appears twice.")
        seen.add(feature["name"])
        normalised = {"name": feature["name"], "type": feature["type"]}
        if feature.get("allowed") is not None:
            if not isinstance(feature["allowed"], list) or not feature["allowed"]:
                raise bad(f"Feature {feature['name']!r}: allowed must be a non-empty list.")
            normalised["allowed"] = feature["allowed"]
        features.append(normalised)
    expected = getattr(estimator, "feature_names_in_", None)
    if expected is not None and [str(n) for n in expected] != [f["name"] for f in features]:
        raise bad(f"The estimator was fitted on features {list(map(str, expected))} in that order.")
    count = getattr(estimator, "n_features_in_", None)
    if expected is None and count is not None and count != len(features):
        raise bad(f"The estimator expects {count} features, the schema lists {len(features)}.")
    return {"features": features}


def _finite(value: int | float) -> bool:
    """JSON integers have no size limit; one that does not fit a float is not a usable feature value."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _type_error(value: Any, feature_type: str) -> str | None:
    if feature_type == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "Expected a number."
        if not _finite(value):
            return "Expected a finite number."
    elif feature_type == "integer":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "Expected an integer."
        if not _finite(value) or (isinstance(value, float) and not value.is_integer()):
            return "Expected an integer."
    elif feature_type == "string":
        if not isinstance(value, str):
            return "Expected a string."
    elif feature_type == "boolean":
        if not isinstance(value, bool):
            return "Expected true or false."
    return None


def instances_validate(*, schema: dict, instances: list, path: str) -> list[FieldError]:
    """Every problem with every instance, each named by its path (`instances.3.age`), at most 50."""
    errors: list[FieldError] = []
    features = schema["features"]
    names = {f["name"] for f in features}
    for index, instance in enumerate(instances):
        where = f"{path}.{index}" if path == "instances" else path
        if not isinstance(instance, dict):
            errors.append(FieldError(where, PredictionErrorCode.INVALID_TYPE.value, "Expected a JSON object."))
            continue
        for feature in features:
            field = f"{where}.{feature['name']}"
            if feature["name"] not in instance or instance[feature["name"]] is None:
                errors.append(FieldError(field, PredictionErrorCode.REQUIRED.value, "This feature is required."))
                continue
            value = instance[feature["name"]]
            problem = _type_error(value, feature["type"])
            if problem:
                errors.append(FieldError(field, PredictionErrorCode.INVALID_TYPE.value, problem))
            elif "allowed" in feature and value not in feature["allowed"]:
                errors.append(
                    FieldError(
                        field,
                        PredictionErrorCode.INVALID_CHOICE.value,
                        f"Unknown category; allowed: {feature['allowed'][:20]}.",
                    )
                )
        for unknown in sorted(key for key in instance if key not in names)[:10]:
            errors.append(
                FieldError(f"{where}.{unknown}"[:200], PredictionErrorCode.UNKNOWN_FIELD.value, "Unknown feature.")
            )
        if len(errors) >= MAX_REPORTED_ERRORS:
            return errors[:MAX_REPORTED_ERRORS]
    return errors
