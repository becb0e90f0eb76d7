"""Per-feature contributions that add up (with a base value) to the model's raw output.

- Linear models (coef_/intercept_): contribution = coef × the final step's input. In a pipeline that
  input is the transformed one (a StandardScaler's output: the standardized input); base = intercept.
  Sum = decision_function (classifiers) or predict (regressors).
- Tree ensembles (DecisionTree, RandomForest, ExtraTrees, GradientBoosting): each tree's decision path,
  crediting each split's feature with the change in the node value (Saabas' method); base = the root's
  value (GradientBoosting: the initial raw prediction + learning rate × roots). Sum = predict_proba
  (forests of classifiers), predict (regressors) or decision_function (gradient boosting classifiers).
Anything else raises UnsupportedExplanation (code UNSUPPORTED_MODEL). No shap: this covers both kinds
the issue names with scikit-learn's own structures and adds no dependency.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np


class UnsupportedExplanation(ValueError):
    pass


@dataclass(frozen=True)
class Explanation:
    """For one row: per output (class or target), the base value and one contribution per feature."""

    kind: str  # "linear" or "tree_path"
    output: str  # what the contributions add up to: decision_function, predict_proba, predict
    targets: list  # the class labels (or [None] for one regression target)
    features: list[str]
    base: list[float]  # per target
    contributions: list[list[float]]  # per target, per feature


def _final_input(estimator: Any, features: Any) -> tuple[Any, Any, list[str] | None]:
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        head = estimator[:-1]
        transformed = head.transform(features)
        try:
            names = [str(n) for n in head.get_feature_names_out()]
        except Exception:  # noqa: BLE001 - a step without feature names
            names = None
        return estimator.steps[-1][1], transformed, names
    return estimator, features, None


def _dense(values: Any) -> np.ndarray:
    return np.asarray(values.toarray() if hasattr(values, "toarray") else values, dtype=np.float64)


def _linear(final: Any, x: np.ndarray, names: list[str]) -> list[Explanation]:
    coef = np.atleast_2d(np.asarray(final.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(final.intercept_, dtype=np.float64)) * np.ones(coef.shape[0])
    classes = list(getattr(final, "classes_", []))
    if hasattr(final, "classes_"):
        targets = classes[-1:] if coef.shape[0] == 1 else classes
        output = "decision_function"
    else:
        targets, output = [None] * coef.shape[0], "predict"
    return [Explanation("linear", output, targets, names, intercept.tolist(), (coef * row).tolist()) for row in x]


def _tree_paths(tree: Any, x: np.ndarray, classifier: bool) -> tuple[np.ndarray, np.ndarray]:
    """(base per target, contributions rows x features x targets) of one fitted tree."""
    structure = tree.tree_
    values = (
        structure.value[:, 0, :]
        if not classifier
        else structure.value[:, 0, :] / structure.value[:, 0, :].sum(axis=1, keepdims=True)
    )
    paths = tree.decision_path(x.astype(np.float32))
    contributions = np.zeros((x.shape[0], x.shape[1], values.shape[1]))
    for row in range(x.shape[0]):
        nodes = paths.indices[paths.indptr[row] : paths.indptr[row + 1]]
        for parent, child in zip(nodes[:-1], nodes[1:], strict=True):
            contributions[row, structure.feature[parent]] += values[child] - values[parent]
    return values[0], contributions


def _forest(final: Any, x: np.ndarray, names: list[str]) -> list[Explanation]:
    classifier = hasattr(final, "classes_")
    trees = getattr(final, "estimators_", None) or [final]
    base, contributions = 0.0, 0.0
    for tree in trees:
        tree_base, tree_contributions = _tree_paths(tree, x, classifier)
        base, contributions = base + tree_base, contributions + tree_contributions
    base, contributions = base / len(trees), contributions / len(trees)
    targets = list(final.classes_) if classifier else [None]
    output = "predict_proba" if classifier else "predict"
    return [
        Explanation("tree_path", output, targets, names, np.asarray(base).tolist(), contributions[row].T.tolist())
        for row in range(x.shape[0])
    ]


def _gradient_boosting(final: Any, x: np.ndarray, names: list[str]) -> list[Explanation]:
    stages = final.estimators_  # (n_stages, K) regression trees on the raw scale
    raw_init = final._raw_predict_init(x.astype(np.float32))
    k = stages.shape[1]
    base = np.array(raw_init[0], dtype=np.float64)
    contributions = np.zeros((x.shape[0], x.shape[1], k))
    for stage in stages:
        for j, tree in enumerate(stage):
            tree_base, tree_contributions = _tree_paths(tree, x, classifier=False)
            base[j] += final.learning_rate * tree_base[0]
            contributions[:, :, j] += final.learning_rate * tree_contributions[:, :, 0]
    classifier = hasattr(final, "classes_")
    if classifier:
        targets = list(final.classes_[-1:]) if k == 1 else list(final.classes_)
        output = "decision_function"
    else:
        targets, output = [None], "predict"
    return [
        Explanation("tree_path", output, targets, names, base.tolist(), contributions[row].T.tolist())
        for row in range(x.shape[0])
    ]


def explain(*, estimator: Any, features: Any, feature_names: list[str]) -> list[Explanation]:
    """Explanations of each row of `features` (what the estimator is fed: see registry.inference)."""
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    final, x, names = _final_input(estimator, features)
    x = _dense(x)
    names = names if names is not None and len(names) == x.shape[1] else list(feature_names)
    if len(names) != x.shape[1]:
        names = [f"x{i}" for i in range(x.shape[1])]
    forests = (
        RandomForestClassifier,
        RandomForestRegressor,
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        DecisionTreeClassifier,
        DecisionTreeRegressor,
    )
    if isinstance(final, forests):
        return _forest(final, x, names)
    if isinstance(final, (GradientBoostingClassifier, GradientBoostingRegressor)):
        return _gradient_boosting(final, x, names)
    if (
        hasattr(final, "coef_")
        and hasattr(final, "intercept_")
        and type(final).__module__.startswith("sklearn.linear_model")
    ):
        return _linear(final, x, names)
    raise UnsupportedExplanation(
        f"{type(final).__name__} models cannot be explained (linear models and tree ensembles can)."
    )
