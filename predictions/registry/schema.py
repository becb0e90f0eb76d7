"""Input schemas: derived from a fitted estimator, checked when given by hand, used to validate instances.

A schema is `{"features": [feature, ...]}` in the order the estimator expects its columns, where a
feature is `{"name": str, "type": "number"|"integer"|"string"|"boolean"}` plus, optionally:
- `"allowed": [...]`: the closed set of values (an encoder's categories); a string feature without it
  is free text;
- `"unknown": "pass"`: a value outside `allowed` is passed to the model (whose encoder accepts unseen
  categories) with an `UNKNOWN_CATEGORY` warning, instead of refused with `INVALID_CHOICE`;
- `"nullable": true`: `null` (or leaving the feature out) is a missing value, which the model imputes or
  handles natively (NaN for numbers; the encoder's own missing marker for categories).

An instance is a JSON object keyed by feature name, or a JSON array of values in schema order.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlapi.errors import ApplicationError, FieldError
from predictions.error_codes import PredictionErrorCode, RegistryErrorCode
from predictions.registry.estimators import column_facts, text_head

FEATURE_TYPES = ("number", "integer", "string", "boolean")
UNKNOWN_POLICIES = ("refuse", "pass")
MAX_REPORTED_ERRORS = 50
TEXT_FEATURE = "text"


def _category_type(values: list) -> str:
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    if all(isinstance(v, float) and v.is_integer() for v in values) and values:
        return "integer"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "number"
    return "string"


def _allowed_values(values: list, feature_type: str) -> list:
    """Integral float categories (HistGradientBoosting codes) are listed as integers."""
    if feature_type == "integer":
        return [int(v) for v in values]
    return values


def _invalid_schema(message: str) -> ApplicationError:
    return ApplicationError.single(RegistryErrorCode.INVALID_SCHEMA, message, field="input_schema")


def _feature_names(estimator: Any) -> list[str]:
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    count = getattr(estimator, "n_features_in_", None)
    if count is None:
        raise _invalid_schema("The estimator does not tell its input features; give the input schema explicitly.")
    return [f"x{i}" for i in range(count)]


def input_schema_derive(*, estimator: Any) -> dict:
    """From `feature_names_in_` and what the pipeline does with each column (see `estimators.column_facts`)."""
    if text_head(estimator):
        return {"features": [{"name": TEXT_FEATURE, "type": "string"}]}
    names = _feature_names(estimator)
    facts = column_facts(estimator, names)
    features = []
    for name in names:
        fact = facts.get(name)
        feature: dict[str, Any] = {"name": name, "type": "number"}
        if fact is not None and fact.text:
            feature["type"] = "string"
        elif fact is not None and fact.allowed is not None:
            feature["type"] = _category_type(fact.allowed)
            feature["allowed"] = _allowed_values(fact.allowed, feature["type"])
            if fact.unknown == "pass":
                feature["unknown"] = "pass"
        if fact is not None and fact.nullable:
            feature["nullable"] = True
        features.append(feature)
    return {"features": features}


def input_schema_check(*, schema: Any, estimator: Any) -> dict:
    """Checks a hand-written schema's shape and that it fits the estimator; returns it normalised."""
    if isinstance(schema, list):
        schema = {"features": schema}
    if not isinstance(schema, dict) or not isinstance(schema.get("features"), list) or not schema["features"]:
        raise _invalid_schema('The input schema must be {"features": [{"name": ..., "type": ...}, ...]}.')
    features, seen = [], set()
    for index, feature in enumerate(schema["features"]):
        features.append(_feature_check(feature, index, seen))
    if text_head(estimator):
        if len(features) != 1 or features[0]["type"] != "string" or "allowed" in features[0]:
            raise _invalid_schema("A text pipeline takes one free-text string feature.")
        return {"features": features}
    expected = getattr(estimator, "feature_names_in_", None)
    if expected is not None and [str(n) for n in expected] != [f["name"] for f in features]:
        raise _invalid_schema(f"The estimator was fitted on features {list(map(str, expected))} in that order.")
    count = getattr(estimator, "n_features_in_", None)
    if expected is None and count is not None and count != len(features):
        raise _invalid_schema(f"The estimator expects {count} features, the schema lists {len(features)}.")
    return {"features": features}


def _feature_check(feature: Any, index: int, seen: set) -> dict:
    if not isinstance(feature, dict) or not isinstance(feature.get("name"), str) or not feature["name"]:
        raise _invalid_schema(f"Feature {index} needs a non-empty string name.")
    name = feature["name"]
    if feature.get("type") not in FEATURE_TYPES:
        raise _invalid_schema(f"Feature {name!r} has type {feature.get('type')!r}; use one of {FEATURE_TYPES}.")
    if name in seen:
        raise _invalid_schema(f"Feature {name!r} appears twice.")
    seen.add(name)
    unknown_keys = sorted(set(feature) - {"name", "type", "allowed", "nullable", "unknown", "description"})
    if unknown_keys:
        raise _invalid_schema(f"Feature {name!r}: unknown key(s) {unknown_keys}.")
    normalised: dict[str, Any] = {"name": name, "type": feature["type"]}
    if feature.get("allowed") is not None:
        allowed = feature["allowed"]
        if not isinstance(allowed, list) or not allowed:
            raise _invalid_schema(f"Feature {name!r}: allowed must be a non-empty list.")
        if any(_type_error(value, feature["type"]) for value in allowed):
            raise _invalid_schema(f"Feature {name!r}: every allowed value must be a {feature['type']}.")
        normalised["allowed"] = allowed
    if feature.get("unknown") is not None:
        if feature["unknown"] not in UNKNOWN_POLICIES or "allowed" not in normalised:
            raise _invalid_schema(f"Feature {name!r}: unknown must be one of {UNKNOWN_POLICIES}, with allowed.")
        if feature["unknown"] == "pass":
            normalised["unknown"] = "pass"
    if feature.get("nullable") is not None:
        if not isinstance(feature["nullable"], bool):
            raise _invalid_schema(f"Feature {name!r}: nullable must be true or false.")
        if feature["nullable"]:
            normalised["nullable"] = True
    if isinstance(feature.get("description"), str):
        normalised["description"] = feature["description"][:500]
    return normalised


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


_BIG = 2**1000  # an int below this in size converts to a finite float


def plainly_valid(feature: dict) -> Callable[[Any], bool]:
    """A quick test of one feature's value that is True only where `_feature_problem` finds no problem and
    no warning (the common case: a finite number, a string, a boolean, an allowed category, an accepted
    null); everything it does not accept goes through `_feature_problem` itself."""
    feature_type, nullable = feature["type"], bool(feature.get("nullable"))
    allowed = feature.get("allowed")
    if allowed is not None:
        try:
            categories = frozenset(allowed)  # the same equality as `in` on the list, for hashable JSON values
        except TypeError:
            return lambda value: False
        kinds = {"number": (int, float), "integer": (int,), "string": (str,), "boolean": (bool,)}.get(feature_type)
        if kinds is None or feature_type == "number":
            return lambda value: False  # allowed numbers: rare, and floats need the full finite check
        return lambda value: (type(value) in kinds and value in categories) or (value is None and nullable)
    if feature_type == "number":
        return lambda value: (type(value) is float and value - value == 0.0) or (value is None and nullable)
    if feature_type == "integer":
        return lambda value: (type(value) is int and -_BIG < value < _BIG) or (value is None and nullable)
    if feature_type == "string":
        return lambda value: type(value) is str or (value is None and nullable)
    if feature_type == "boolean":
        return lambda value: type(value) is bool or (value is None and nullable)
    return lambda value: value is None and nullable


@dataclass
class PreparedInstances:
    """Instances as objects with every schema feature (a missing nullable one as None), or the errors."""

    rows: list[dict] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)


def _as_object(
    instance: Any, features: list[dict], names: list[str], where: str, errors: list[FieldError]
) -> dict | None:
    """An object as it is; a positional array zipped with the feature names (trailing nullable features may
    be left out, so appending a nullable feature to a schema breaks no client)."""
    if isinstance(instance, dict):
        return instance
    if isinstance(instance, list):
        if len(instance) <= len(names) and all(f.get("nullable") for f in features[len(instance) :]):
            return dict(zip(names, instance, strict=False))
        errors.append(
            FieldError(
                where,
                PredictionErrorCode.INVALID_TYPE.value,
                f"Expected an array of {len(names)} values in schema order, got {len(instance)}.",
            )
        )
        return None
    errors.append(FieldError(where, PredictionErrorCode.INVALID_TYPE.value, "Expected a JSON object or array."))
    return None


def _feature_problem(feature: dict, value: Any, field_path: str, warnings: list[FieldError]) -> FieldError | None:
    if value is None:
        if feature.get("nullable"):
            return None
        return FieldError(field_path, PredictionErrorCode.REQUIRED.value, "This feature is required.")
    problem = _type_error(value, feature["type"])
    if problem:
        return FieldError(field_path, PredictionErrorCode.INVALID_TYPE.value, problem)
    if "allowed" in feature and value not in feature["allowed"]:
        if feature.get("unknown") == "pass":
            warnings.append(
                FieldError(
                    field_path,
                    PredictionErrorCode.UNKNOWN_CATEGORY.value,
                    "Unseen category: the model's encoder handles it as unknown.",
                )
            )
            return None
        return FieldError(
            field_path,
            PredictionErrorCode.INVALID_CHOICE.value,
            f"Unknown category; allowed: {feature['allowed'][:20]}.",
        )
    return None


def instances_prepare(*, schema: dict, instances: list, path: str) -> PreparedInstances:
    """Every problem with every instance, each named by its path (`instances.3.age`), at most 50; with no
    problem, the instances as objects in schema order, and non-fatal warnings (unseen categories)."""
    prepared = PreparedInstances()
    errors, warnings = prepared.errors, prepared.warnings
    features = schema["features"]
    names = [f["name"] for f in features]
    known = set(names)
    checks = [(feature, plainly_valid(feature)) for feature in features]
    for index, instance in enumerate(instances):
        if len(errors) >= MAX_REPORTED_ERRORS:
            break
        where = f"{path}.{index}" if path == "instances" else path
        values = _as_object(instance, features, names, where, errors)
        if values is None:
            continue
        for feature, passes in checks:
            name = feature["name"]
            if name not in values and not feature.get("nullable"):
                errors.append(
                    FieldError(f"{where}.{name}", PredictionErrorCode.REQUIRED.value, "This feature is required.")
                )
                continue
            value = values.get(name)
            if passes(value):
                continue
            problem = _feature_problem(feature, value, f"{where}.{name}", warnings)
            if problem is not None:
                errors.append(problem)
        for unknown in sorted(key for key in values if key not in known)[:10]:
            errors.append(
                FieldError(f"{where}.{unknown}"[:200], PredictionErrorCode.UNKNOWN_FIELD.value, "Unknown feature.")
            )
        if not errors:
            prepared.rows.append(instance_row(values, names))
    if errors:
        prepared.errors = errors[:MAX_REPORTED_ERRORS]
        prepared.rows = []
    return prepared


def instance_row(instance: dict | list, names: list[str]) -> dict:
    """A valid instance (object or positional array) as an object with every feature, None where missing."""
    if isinstance(instance, list):
        instance = dict(zip(names, instance, strict=False))
    return {name: instance.get(name) for name in names}


def instances_validate(*, schema: dict, instances: list, path: str) -> list[FieldError]:
    return instances_prepare(schema=schema, instances=instances, path=path).errors


def input_schema_features(*, schema: Any) -> list[dict]:
    """The schema's features with every key present (what the typed `features` fields of both APIs show):
    `allowed` None for free values, `nullable` False unless set, `unknown` the policy for values outside
    `allowed` ("refuse", the default, or "pass"; None without `allowed`), `description` None unless given."""
    if isinstance(schema, list):
        schema = {"features": schema}
    features = (schema or {}).get("features") if isinstance(schema, dict) else None
    shown = []
    for feature in features or []:
        allowed = feature.get("allowed")
        shown.append(
            {
                "name": feature.get("name"),
                "type": feature.get("type"),
                "allowed": allowed,
                "nullable": bool(feature.get("nullable", False)),
                "unknown": (feature.get("unknown") or UNKNOWN_POLICIES[0]) if allowed is not None else None,
                "description": feature.get("description"),
            }
        )
    return shown
