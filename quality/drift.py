"""Drift statistics (scipy): reference statistics of a sample, and recent values against them.

Numbers: PSI over the reference's decile bins, and the two-sample Kolmogorov–Smirnov test against the
reference's stored sample. Categories: chi-square of recent counts against reference frequencies, and
the Jensen–Shannon distance. Flags use effect sizes, not p-values (with thousands of rows a p-value
flags differences nobody cares about, and a same-distribution resample is flagged 1 time in 100 at
p < 0.01): PSI > 0.2, KS statistic > 0.15, Jensen–Shannon distance > 0.1.
"""

import math

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

OUTPUT = "__output__"
SAMPLE_SIZE = 2000
BINS = 10
EPSILON = 1e-4
THRESHOLDS = {"psi": 0.2, "ks": 0.15, "jensen_shannon": 0.1}
OTHER = "__other__"


def _numbers(values: list) -> np.ndarray:
    out = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    return np.asarray(out, dtype=np.float64)


def _is_number_column(values: list) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)


def column_reference(values: list, *, seed: int = 0) -> dict:
    """Reference statistics of one column: a histogram and a sample for numbers, frequencies for the rest."""
    nulls = sum(v is None for v in values)
    null_rate = nulls / len(values) if values else 0.0
    if _is_number_column(values):
        numbers = _numbers(values)
        edges = np.unique(np.quantile(numbers, np.linspace(0, 1, BINS + 1)[1:-1])).tolist() if len(numbers) else []
        counts = np.bincount(np.searchsorted(edges, numbers, side="right"), minlength=len(edges) + 1)
        rng = np.random.default_rng(seed)
        sample = numbers if len(numbers) <= SAMPLE_SIZE else rng.choice(numbers, SAMPLE_SIZE, replace=False)
        return {
            "kind": "number",
            "edges": edges,
            "fractions": (counts / max(len(numbers), 1)).tolist(),
            "sample": sorted(sample.tolist()),
            "mean": float(numbers.mean()) if len(numbers) else None,
            "std": float(numbers.std()) if len(numbers) else None,
            "null_rate": null_rate,
        }
    keys = [str(v) for v in values if v is not None]
    frequencies: dict[str, float] = {}
    for key in keys:
        frequencies[key] = frequencies.get(key, 0) + 1
    total = max(len(keys), 1)
    return {"kind": "category", "frequencies": {k: n / total for k, n in frequencies.items()}, "null_rate": null_rate}


def output_values(outputs: list[dict]) -> list:
    """What output drift is measured on: the label (classifiers, detectors), the value (regressors)."""
    values = []
    for output in outputs:
        for key in ("label", "value", "cluster"):
            if key in output:
                values.append(output[key])
                break
    return values


def reference_statistics(*, columns: dict[str, list], outputs: list[dict]) -> dict:
    statistics = {name: column_reference(values) for name, values in columns.items()}
    produced = output_values(outputs)
    if produced:
        statistics[OUTPUT] = column_reference(produced)
    return statistics


def _psi(reference: dict, numbers: np.ndarray) -> float:
    expected = np.asarray(reference["fractions"], dtype=np.float64)
    counts = np.bincount(np.searchsorted(reference["edges"], numbers, side="right"), minlength=len(expected))
    actual = counts / max(len(numbers), 1)
    expected, actual = np.clip(expected, EPSILON, None), np.clip(actual, EPSILON, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def column_drift(reference: dict, values: list) -> list[dict]:
    """[{statistic, value, p_value, threshold, drifted}] of recent `values` against `reference`."""
    results = []
    if reference["kind"] == "number":
        numbers = _numbers(values)
        if not len(numbers) or not reference["sample"]:
            return []
        psi = _psi(reference, numbers)
        results.append({"statistic": "psi", "value": psi, "p_value": None})
        ks = stats.ks_2samp(np.asarray(reference["sample"]), numbers)
        results.append({"statistic": "ks", "value": float(ks.statistic), "p_value": float(ks.pvalue)})
    else:
        keys = [str(v) for v in values if v is not None]
        if not keys:
            return []
        expected = dict(reference["frequencies"])
        categories = sorted(set(expected) | set(keys))
        observed = np.array([sum(1 for k in keys if k == c) for c in categories], dtype=np.float64)
        expected_share = np.array([expected.get(c, 0.0) for c in categories], dtype=np.float64)
        smoothed = np.clip(expected_share, EPSILON, None)
        smoothed = smoothed / smoothed.sum()
        chi = stats.chisquare(observed, smoothed * observed.sum())
        results.append({"statistic": "chi_square", "value": float(chi.statistic), "p_value": float(chi.pvalue)})
        distance = float(
            jensenshannon(observed / observed.sum(), expected_share / max(expected_share.sum(), EPSILON), base=2)
        )
        results.append({"statistic": "jensen_shannon", "value": distance, "p_value": None})
    for result in results:
        threshold = THRESHOLDS.get(result["statistic"])
        result["threshold"] = threshold
        result["drifted"] = threshold is not None and result["value"] > threshold
    return results
