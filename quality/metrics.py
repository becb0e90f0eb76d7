"""Quality figures from summed rollups, with scikit-learn's metrics.

How each figure over a window equals the figure sklearn computes on the window's rows:
- accuracy, precision/recall/F1 (per class and macro) and the confusion matrix depend on the rows only
  through the (actual, predicted) counts: sklearn is called on the distinct pairs with the counts as
  `sample_weight`, which is the same computation as on the rows themselves.
- log-loss and Brier score are means of per-row terms: the rollup stores sklearn's sum over each
  hour's rows (`log_loss(normalize=False)`, `brier_score_loss × n`) and the window divides the summed
  sums by the summed count.
- MAE and RMSE are means of |e| and e²: sums over the window, divided by the count.
- R² = 1 − Σe² / Σ(y − ȳ)², with Σ(y − ȳ)² = Σy² − (Σy)²/n from the summed Σy and Σy² (the one
  place float cancellation can cost digits, for values far from zero with little spread); when
  Σ(y − ȳ)² is 0 it is 1.0 for a perfect fit and 0.0 otherwise, as sklearn's r2_score answers.
"""

import json
import math
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
)


@dataclass
class Sums:
    """What one rollup row holds; `+=`-able so windows and days are sums of hours."""

    count: int = 0
    confusion: dict = field(default_factory=dict)
    probability_count: int = 0
    log_loss_sum: float = 0.0
    brier_sum: float = 0.0
    actual_sum: float = 0.0
    actual_square_sum: float = 0.0
    absolute_error_sum: float = 0.0
    squared_error_sum: float = 0.0

    FLOATS = ("log_loss_sum", "brier_sum", "actual_sum", "actual_square_sum", "absolute_error_sum", "squared_error_sum")

    def add(self, other, sign: int = 1) -> None:
        self.count += sign * other.count
        self.probability_count += sign * other.probability_count
        for name in self.FLOATS:
            setattr(self, name, getattr(self, name) + sign * getattr(other, name))
        for actual, row in (other.confusion or {}).items():
            mine = self.confusion.setdefault(actual, {})
            for predicted, n in row.items():
                mine[predicted] = mine.get(predicted, 0) + sign * n
                if mine[predicted] == 0:
                    del mine[predicted]
            if not mine:
                del self.confusion[actual]


# The columns of a rollup row, in Sums' field order.
SUM_FIELDS = ["count", "confusion", "probability_count", *Sums.FLOATS]


def label_key(label) -> str:
    return json.dumps(label)


# --- per hour, when feedback is folded in: sums over rows ---


def probability_sums(*, actuals: list, probabilities: list[list[float]], classes: list) -> tuple[float, float]:
    """sklearn's log-loss and Brier score summed (not averaged) over the rows."""
    y_proba = np.asarray(probabilities, dtype=np.float64)
    total_log_loss = float(log_loss(actuals, y_proba, labels=classes, normalize=False))
    total_brier = float(brier_score_loss(actuals, y_proba, labels=classes)) * len(actuals)
    return total_log_loss, total_brier


def regression_sums(*, actuals: list[float], predicted: list[float]) -> dict:
    y, y_hat = np.asarray(actuals, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    errors = y - y_hat
    return {
        "actual_sum": float(y.sum()),
        "actual_square_sum": float((y * y).sum()),
        "absolute_error_sum": float(np.abs(errors).sum()),
        "squared_error_sum": float((errors * errors).sum()),
    }


# --- over a window: figures from summed sums ---


def _mean(total: float, count: int) -> float | None:
    return total / count if count else None


def classification_figures(*, sums: Sums, classes: list) -> dict:
    pairs = [
        (json.loads(actual), json.loads(predicted), n)
        for actual, row in sorted(sums.confusion.items())
        for predicted, n in sorted(row.items())
        if n > 0
    ]
    figures = {
        "count": sums.count,
        "accuracy": None,
        "precision_macro": None,
        "recall_macro": None,
        "f1_macro": None,
        "per_class": [],
        "confusion_labels": list(classes),
        "confusion_matrix": [[0] * len(classes) for _ in classes],
        "log_loss": _mean(sums.log_loss_sum, sums.probability_count),
        "brier_score": _mean(sums.brier_sum, sums.probability_count),
        "probability_count": sums.probability_count,
    }
    if not pairs:
        return figures
    y_true = [p[0] for p in pairs]
    y_pred = [p[1] for p in pairs]
    weights = [p[2] for p in pairs]
    labels = sorted({*y_true, *y_pred}, key=lambda v: (str(type(v)), v))
    figures["accuracy"] = float(accuracy_score(y_true, y_pred, sample_weight=weights))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, sample_weight=weights, zero_division=0
    )
    # average="macro" is the unweighted mean of these per-class figures over the labels present in
    # y_true or y_pred (exactly `labels`): one sklearn call instead of two (tests compare with "macro").
    figures.update(
        precision_macro=float(np.mean(precision)), recall_macro=float(np.mean(recall)), f1_macro=float(np.mean(f1))
    )
    figures["per_class"] = [
        {"label": label, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(round(s))}
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    ]
    matrix_labels = list(classes) + [v for v in labels if v not in classes]
    figures["confusion_labels"] = matrix_labels
    figures["confusion_matrix"] = [
        [int(round(v)) for v in row]
        for row in confusion_matrix(y_true, y_pred, labels=matrix_labels, sample_weight=weights).tolist()
    ]
    return figures


def regression_figures(*, sums: Sums) -> dict:
    n = sums.count
    figures = {"count": n, "mae": None, "rmse": None, "r2": None}
    if not n:
        return figures
    figures["mae"] = sums.absolute_error_sum / n
    figures["rmse"] = math.sqrt(max(sums.squared_error_sum, 0.0) / n)
    if n >= 2:  # sklearn: R² is not defined for fewer than two samples
        total = sums.actual_square_sum - sums.actual_sum * sums.actual_sum / n
        if total > 1e-12 * max(sums.actual_square_sum, 1.0):  # above float noise: y varies
            figures["r2"] = 1.0 - sums.squared_error_sum / total
        else:
            figures["r2"] = 1.0 if sums.squared_error_sum == 0 else 0.0
    return figures


def figures_of(*, model, sums: Sums) -> dict:
    """The figures of `model`'s task from `sums` (JSON-safe)."""
    from quality.actuals import CLASS_TASKS, model_classes

    if model.task in CLASS_TASKS:
        return classification_figures(sums=sums, classes=model_classes(model))
    if model.task == "regression":
        return regression_figures(sums=sums)
    return {"count": sums.count}
