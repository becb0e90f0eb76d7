"""What a fitted estimator is and what it expects, read from the fitted object itself.

- `task_detect`: classification, multi-label classification, regression, multi-output regression,
  clustering or outlier detection, from scikit-learn's estimator tags and fitted attributes.
- `text_head`: a text vectorizer at the head of a pipeline, which wants the raw documents (1-D).
- `column_facts`: per input column, what the pipeline does with it: the categories of the encoder it
  reaches (and whether unseen ones are refused), whether a missing value (NaN) is imputed or accepted,
  whether it is free text, and which missing marker (None or NaN) the encoder was fitted with.
"""

import math
from dataclasses import dataclass
from typing import Any

TASK_CLASSIFICATION = "classification"
TASK_MULTILABEL = "multilabel_classification"
TASK_REGRESSION = "regression"
TASK_MULTIOUTPUT = "multioutput_regression"
TASK_CLUSTERING = "clustering"
TASK_OUTLIER = "outlier_detection"

TEXT_VECTORIZERS = ("CountVectorizer", "TfidfVectorizer", "HashingVectorizer")
IMPUTERS = ("SimpleImputer", "KNNImputer", "IterativeImputer", "MissingIndicator")


@dataclass
class ColumnFacts:
    allowed: list | None = None
    unknown: str = "refuse"  # "pass": the encoder accepts unseen values (handle_unknown, HistGB categoricals)
    nullable: bool = False
    text: bool = False
    missing_marker: Any = math.nan  # what the encoder was fitted with for "missing": None or NaN


def _steps(estimator: Any) -> list:
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        return [step for _, step in estimator.steps if step is not None and step != "passthrough"]
    return [estimator]


def final_estimator(estimator: Any) -> Any:
    return _steps(estimator)[-1]


def _name(obj: Any) -> str:
    return type(obj).__name__


def is_text_vectorizer(obj: Any) -> bool:
    module = type(obj).__module__ or ""
    return _name(obj) in TEXT_VECTORIZERS and module.startswith("sklearn.")


def text_head(estimator: Any) -> bool:
    """True when the estimator's first step is a text vectorizer: it is fed a 1-D list of documents."""
    first = _steps(estimator)[0]
    if is_text_vectorizer(first):
        return True
    from sklearn.pipeline import Pipeline

    return isinstance(first, Pipeline) and text_head(first)


def _allows_nan(obj: Any) -> bool:
    from sklearn.utils import get_tags

    try:
        return bool(get_tags(obj).input_tags.allow_nan)
    except Exception:  # noqa: BLE001 - an estimator without scikit-learn tags: assume it refuses NaN
        return False


def _is_imputer(obj: Any) -> bool:
    return _name(obj) in IMPUTERS


def flat_steps(steps: list) -> list:
    from sklearn.pipeline import Pipeline

    flat: list = []
    for step in steps:
        if isinstance(step, Pipeline):
            flat.extend(flat_steps(_steps(step)))
        elif step is not None and step != "passthrough":
            flat.append(step)
    return flat


def chain_accepts_nan(steps: list) -> bool:
    """Does a NaN entering this chain of steps reach the end without an error?"""
    for step in flat_steps(steps):
        if _is_imputer(step):
            return True
        if not _allows_nan(step):
            return False
    return True


def _json_category(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _encoder_passes_unknown(encoder: Any) -> bool:
    policy = getattr(encoder, "handle_unknown", "error")
    if _name(encoder) == "TargetEncoder":
        return True  # unseen categories get the target mean
    return policy in ("ignore", "infrequent_if_exist", "use_encoded_value", "warn")


def _category_facts(categories: Any, *, unknown_passes: bool, imputed: bool) -> ColumnFacts:
    values = [_json_category(v) for v in categories]
    missing = [v for v in values if _is_missing(v)]
    facts = ColumnFacts(
        allowed=[v for v in values if not _is_missing(v)],
        unknown="pass" if unknown_passes else "refuse",
        nullable=bool(missing) or imputed,
    )
    if missing:
        facts.missing_marker = missing[0]
    return facts


def _columns_of(transformer: Any, input_names: list[str]) -> dict[str, list[str]]:
    """Names of the input columns each fitted ColumnTransformer entry reads (any column spec)."""
    indices = getattr(transformer, "_transformer_to_input_indices", {})
    return {name: [input_names[i] for i in positions] for name, positions in indices.items()}


def _chain_facts(chain: list, columns: list[str], rest_accepts_nan: bool) -> dict[str, ColumnFacts]:
    """Facts of `columns` that enter `chain` (one ColumnTransformer entry), then the rest of the pipeline."""
    flat = flat_steps(chain)
    imputed = False
    for step in flat:
        if step is None or step == "passthrough":
            continue
        if step == "drop":
            return {c: ColumnFacts(nullable=True) for c in columns}  # dropped: any value will do
        if is_text_vectorizer(step):
            return {c: ColumnFacts(text=True) for c in columns}
        if hasattr(step, "categories_") and len(getattr(step, "categories_", [])) == len(columns):
            return {
                c: _category_facts(cats, unknown_passes=_encoder_passes_unknown(step), imputed=imputed)
                for c, cats in zip(columns, step.categories_, strict=True)
            }
        if _is_imputer(step):
            imputed = True
            continue
        if not _allows_nan(step) and not imputed:
            return {c: ColumnFacts(nullable=False) for c in columns}
    return {c: ColumnFacts(nullable=imputed or rest_accepts_nan) for c in columns}


def _histgb_facts(model: Any, names: list[str]) -> dict[str, ColumnFacts]:
    """Native categorical features of a HistGradientBoosting model: categories from its fitted encoder;
    unseen categories and missing values are treated as missing (passed)."""
    mask = getattr(model, "is_categorical_", None)
    preprocessor = getattr(model, "_preprocessor", None)
    if mask is None or preprocessor is None or not any(mask):
        return {}
    encoder = preprocessor.named_transformers_.get("encoder")
    categorical = [name for name, flag in zip(names, mask, strict=True) if flag]
    if encoder is None or len(encoder.categories_) != len(categorical):
        return {}
    return {
        name: _category_facts(cats, unknown_passes=True, imputed=True)
        for name, cats in zip(categorical, encoder.categories_, strict=True)
    }


def column_facts(estimator: Any, names: list[str]) -> dict[str, ColumnFacts]:
    """Facts of every input column, by name (columns not named keep the defaults of `ColumnFacts`)."""
    from sklearn.compose import ColumnTransformer

    steps = _steps(estimator)
    facts: dict[str, ColumnFacts] = {}
    for position, step in enumerate(steps):
        if isinstance(step, ColumnTransformer):
            rest = chain_accepts_nan(steps[position + 1 :])
            for entry, transformer, _ in step.transformers_:
                columns = _columns_of(step, names).get(entry, [])
                if not columns:
                    continue
                facts.update(_chain_facts([transformer], columns, rest))
            break
        if _is_imputer(step) or not _allows_nan(step):
            nullable = _is_imputer(step)
            facts = {n: ColumnFacts(nullable=nullable) for n in names}
            break
    else:
        facts = {n: ColumnFacts(nullable=True) for n in names}  # every step, the estimator too, takes NaN
    last = steps[-1]
    if _name(last).startswith("HistGradientBoosting") and list(getattr(last, "feature_names_in_", names)) == names:
        facts.update(_histgb_facts(last, names))
    return facts


def _classes_list(classes: Any) -> list:
    return [_json_category(c) for c in classes]


def classes_of(estimator: Any) -> list:
    """JSON-safe classes: a flat list, or one list per output for multi-output classifiers."""
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return []
    if isinstance(classes, list):
        return [_classes_list(c) for c in classes]
    return _classes_list(classes)


def _estimator_type(estimator: Any) -> str | None:
    """scikit-learn's tag ("classifier", "regressor", "clusterer", "outlier_detector", ...), None without tags."""
    from sklearn.utils import get_tags

    try:
        return get_tags(estimator).estimator_type
    except Exception:  # noqa: BLE001 - an object that does not follow scikit-learn's estimator API
        return getattr(estimator, "_estimator_type", None)


def task_detect(estimator: Any) -> str:
    estimator_type = _estimator_type(estimator)
    if estimator_type == "outlier_detector":
        return TASK_OUTLIER
    if estimator_type == "clusterer":
        return TASK_CLUSTERING
    last = final_estimator(estimator)
    if estimator_type == "classifier" or (estimator_type != "regressor" and hasattr(estimator, "classes_")):
        classes = getattr(estimator, "classes_", None)
        if isinstance(classes, list) or getattr(last, "multilabel_", False):
            return TASK_MULTILABEL
        return TASK_CLASSIFICATION
    if estimator_type == "density_estimator" and hasattr(estimator, "predict"):
        return TASK_CLUSTERING  # e.g. GaussianMixture: predict() names the component
    if _multi_output_regressor(last):
        return TASK_MULTIOUTPUT
    return TASK_REGRESSION


def _multi_output_regressor(last: Any) -> bool:
    if _name(last) in ("MultiOutputRegressor", "RegressorChain"):
        return True
    outputs = getattr(last, "n_outputs_", None)
    if outputs is not None and outputs > 1:
        return True
    coef = getattr(last, "coef_", None)
    return coef is not None and getattr(coef, "ndim", 1) == 2 and coef.shape[0] > 1
