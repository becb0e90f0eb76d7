"""A zoo of ordinary model kinds, each trained here in milliseconds on generated data.

Every entry returns the fitted estimator, the rows as the data scientist feeds them in-process (a
DataFrame, an array or a list of documents) and the same rows as JSON instances for the API. Some rows
hold what the model handles but a strict validator would refuse: missing values where the pipeline
imputes or the estimator takes NaN, categories never seen in training where the encoder ignores them.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

ROWS = 6


@dataclass(frozen=True)
class Zoo:
    estimator: object
    rows: object  # what estimator.predict is called with in-process
    instances: list  # the same rows as JSON
    skops: bool = True
    decision_differs: bool = False  # some rows' predict() is not the most probable class


def _rows_where_decision_differs(estimator, pool: pd.DataFrame) -> pd.DataFrame:
    """Test rows where predict() and argmax(predict_proba) disagree, beside rows where they agree."""
    proba_labels = estimator.classes_[estimator.predict_proba(pool).argmax(axis=1)]
    differs = np.flatnonzero(estimator.predict(pool) != proba_labels)
    agrees = np.flatnonzero(estimator.predict(pool) == proba_labels)
    return pool.iloc[np.r_[differs[:3], agrees[: ROWS - min(3, len(differs))]]].reset_index(drop=True)


def _thresholded_classifier(make) -> Zoo:
    train = _numeric_frame(200)
    estimator = make().fit(train, _binary_target(train))
    test = _rows_where_decision_differs(estimator, _numeric_frame(3000, seed=1))
    return Zoo(estimator, test, frame_instances(test), decision_differs=True)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _json_scalar(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def frame_instances(frame: pd.DataFrame) -> list[dict]:
    return [
        {c: _json_scalar(v) for c, v in zip(frame.columns, row, strict=True)} for row in frame.itertuples(index=False)
    ]


def array_instances(array: np.ndarray) -> list[list]:
    """Positional instances (models fitted on a numpy array have features x0..xN)."""
    return [[_json_scalar(v) for v in row] for row in array]


def _numeric_frame(rows: int, seed: int = 0, columns=("a", "b", "c", "d")) -> pd.DataFrame:
    return pd.DataFrame(_rng(seed).normal(size=(rows, len(columns))), columns=list(columns))


def _binary_target(frame: pd.DataFrame) -> np.ndarray:
    return np.where(frame.iloc[:, 0] + 0.5 * frame.iloc[:, 1] > 0, "yes", "no")


def _three_classes(frame: pd.DataFrame) -> np.ndarray:
    score = frame.iloc[:, 0] - frame.iloc[:, 2]
    return np.select([score < -0.5, score > 0.5], ["low", "high"], "mid")


def _numeric_classifier(make, *, target=_binary_target, skops=True) -> Zoo:
    train = _numeric_frame(200)
    estimator = make().fit(train, target(train))
    test = _numeric_frame(ROWS, seed=1)
    return Zoo(estimator, test, frame_instances(test), skops)


def logistic_regression():
    from sklearn.linear_model import LogisticRegression

    return _numeric_classifier(lambda: LogisticRegression(max_iter=500), target=_three_classes)


def random_forest_classifier():
    from sklearn.ensemble import RandomForestClassifier

    return _numeric_classifier(lambda: RandomForestClassifier(n_estimators=10, random_state=0), target=_three_classes)


def svc_platt_scaling():
    """predict() follows the decision function, predict_proba Platt's scaling: they can disagree."""
    from sklearn.svm import SVC

    return _thresholded_classifier(lambda: SVC(probability=True, random_state=0))


def fixed_threshold_classifier():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import FixedThresholdClassifier

    return _thresholded_classifier(
        lambda: FixedThresholdClassifier(LogisticRegression(), threshold=0.85, pos_label="yes")
    )


def tuned_threshold_classifier():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import TunedThresholdClassifierCV

    return _thresholded_classifier(
        lambda: TunedThresholdClassifierCV(LogisticRegression(), cv=3, scoring="balanced_accuracy", random_state=0)
    )


def linear_svc_scores():
    """No predict_proba: the decision function's scores come beside the label."""
    from sklearn.svm import LinearSVC

    return _numeric_classifier(lambda: LinearSVC(), target=_three_classes)


def k_neighbors_classifier():
    from sklearn.neighbors import KNeighborsClassifier

    return _numeric_classifier(lambda: KNeighborsClassifier(n_neighbors=5), target=_three_classes)


def gaussian_nb():
    from sklearn.naive_bayes import GaussianNB

    return _numeric_classifier(GaussianNB)


def gradient_boosting_on_numpy():
    """Fitted on a plain array: features x0..x3, sent positionally."""
    from sklearn.ensemble import GradientBoostingClassifier

    train = _numeric_frame(200).to_numpy()
    estimator = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(train, train[:, 0] > 0)
    test = _numeric_frame(ROWS, seed=1).to_numpy()
    return Zoo(estimator, test, array_instances(test))


def _with_missing(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.iloc[1, 0] = np.nan
    frame.iloc[3, 2] = np.nan
    return frame


def hist_gradient_boosting_nan():
    from sklearn.ensemble import HistGradientBoostingClassifier

    train = _with_missing(_numeric_frame(200))
    estimator = HistGradientBoostingClassifier(max_iter=10).fit(train, _binary_target(train.fillna(0)))
    test = _with_missing(_numeric_frame(ROWS, seed=1))
    return Zoo(estimator, test, frame_instances(test))


def _mixed_frame(rows: int, seed: int, colours=("red", "green", "blue")) -> pd.DataFrame:
    rng = _rng(seed)
    return pd.DataFrame(
        {"size": rng.normal(size=rows), "colour": rng.choice(list(colours), rows), "weight": rng.normal(size=rows)}
    )


def _mixed_target(frame: pd.DataFrame) -> np.ndarray:
    return np.where((frame["size"] > 0) ^ (frame["colour"] == "red"), "yes", "no")


def hist_gradient_boosting_native_categories():
    from sklearn.ensemble import HistGradientBoostingClassifier

    train = _mixed_frame(300, 0)
    target = _mixed_target(train)
    train["colour"] = train["colour"].astype("category")
    estimator = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype").fit(train, target)
    test = _mixed_frame(ROWS, 1)
    test.loc[2, "colour"] = "purple"  # unseen: HistGradientBoosting treats it as missing
    test["colour"] = test["colour"].astype(object)
    return Zoo(estimator, test, frame_instances(test))


def hist_gradient_boosting_categories_by_index():
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = _rng(0)
    train = np.c_[rng.normal(size=300), rng.integers(0, 4, 300)]
    estimator = HistGradientBoostingRegressor(max_iter=10, categorical_features=[1]).fit(
        train, train[:, 1] * 2 + train[:, 0]
    )
    test = np.c_[_rng(1).normal(size=ROWS), [0, 1, 2, 3, 1, 2]]
    return Zoo(estimator, test, array_instances(test))


def _one_hot_pipeline(encoder):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        [
            (
                "features",
                ColumnTransformer([("num", StandardScaler(), ["size", "weight"]), ("cat", encoder, ["colour"])]),
            ),
            ("classifier", LogisticRegression()),
        ]
    )


def one_hot_ignore_unknown():
    from sklearn.preprocessing import OneHotEncoder

    train = _mixed_frame(200, 0)
    estimator = _one_hot_pipeline(OneHotEncoder(handle_unknown="ignore")).fit(train, _mixed_target(train))
    test = _mixed_frame(ROWS, 1)
    test.loc[4, "colour"] = "purple"
    return Zoo(estimator, test, frame_instances(test))


def one_hot_infrequent():
    from sklearn.preprocessing import OneHotEncoder

    train = _mixed_frame(200, 0, colours=("red", "green", "blue", "blue", "blue", "green"))
    train.loc[:4, "colour"] = "rare"
    encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=10)
    estimator = _one_hot_pipeline(encoder).fit(train, _mixed_target(train))
    test = _mixed_frame(ROWS, 1)
    test.loc[0, "colour"] = "rare"
    test.loc[5, "colour"] = "purple"
    return Zoo(estimator, test, frame_instances(test))


def ordinal_encoded_value():
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    train = _mixed_frame(200, 0)
    estimator = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), ["colour"])],
                    remainder="passthrough",
                ),
            ),
            ("regressor", RandomForestRegressor(n_estimators=10, random_state=0)),
        ]
    ).fit(train, train["size"] * 3 + (train["colour"] == "red"))
    test = _mixed_frame(ROWS, 1)
    test.loc[3, "colour"] = "purple"
    return Zoo(estimator, test, frame_instances(test))


def imputing_pipeline():
    """Numbers imputed by mean, a category by its most frequent value: nulls are the pipeline's to fill."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train = _mixed_frame(200, 0)
    target = _mixed_target(train)
    train.loc[5, "size"] = np.nan
    train["colour"] = train["colour"].astype(object)
    train.loc[7, "colour"] = np.nan
    estimator = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [
                        ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["size", "weight"]),
                        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()), ["colour"]),
                    ]
                ),
            ),
            ("classifier", LogisticRegression()),
        ]
    ).fit(train, target)
    test = _mixed_frame(ROWS, 1)
    test["colour"] = test["colour"].astype(object)
    test.loc[1, "size"] = np.nan
    test.loc[2, "colour"] = np.nan
    return Zoo(estimator, test, frame_instances(test))


def encoder_fitted_with_nan():
    """The encoder learnt NaN as a category of its own: a JSON-safe schema, the feature nullable."""
    from sklearn.preprocessing import OneHotEncoder

    train = _mixed_frame(200, 0)
    target = _mixed_target(train)
    train["colour"] = train["colour"].astype(object)
    train.loc[::9, "colour"] = np.nan
    estimator = _one_hot_pipeline(OneHotEncoder()).fit(train, target)
    test = _mixed_frame(ROWS, 1)
    test["colour"] = test["colour"].astype(object)
    test.loc[2, "colour"] = np.nan
    return Zoo(estimator, test, frame_instances(test))


DOCUMENTS = [
    "I love it, wonderful and great",
    "great product, love the quality",
    "terrible, I hate it",
    "awful quality, broken and bad",
    "wonderful, would buy again",
    "bad, waste of money",
]


def text_pipeline():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    labels = ["positive", "positive", "negative", "negative", "positive", "negative"]
    estimator = Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression())]).fit(DOCUMENTS * 5, labels * 5)
    test = ["I love it", "I hate it", "great quality", "broken", "never seen words", ""]
    return Zoo(estimator, test, [{"text": doc} for doc in test])


def text_column_in_frame():
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    train = pd.DataFrame({"review": DOCUMENTS * 5, "stars": _rng(0).integers(1, 6, 30).astype(float)})
    labels = ["positive", "positive", "negative", "negative", "positive", "negative"] * 5
    estimator = Pipeline(
        [
            (
                "features",
                ColumnTransformer([("words", CountVectorizer(), "review"), ("stars", "passthrough", ["stars"])]),
            ),
            ("clf", LogisticRegression()),
        ]
    ).fit(train, labels)
    test = pd.DataFrame(
        {"review": ["I love it", "I hate it", "great", "bad", "new words", "love"], "stars": [5.0, 1, 4, 2, 3, 5]}
    )
    return Zoo(estimator, test, frame_instances(test))


def linear_regression():
    from sklearn.linear_model import LinearRegression

    train = _numeric_frame(100)
    estimator = LinearRegression().fit(train, train["a"] * 2 - train["b"])
    test = _numeric_frame(ROWS, seed=1)
    return Zoo(estimator, test, frame_instances(test))


def random_forest_two_targets():
    from sklearn.ensemble import RandomForestRegressor

    train = _numeric_frame(100)
    estimator = RandomForestRegressor(n_estimators=10, random_state=0).fit(train, np.c_[train["a"], train["b"] * 2])
    test = _numeric_frame(ROWS, seed=1)
    return Zoo(estimator, test, frame_instances(test))


def multi_output_regressor():
    from sklearn.linear_model import Ridge
    from sklearn.multioutput import MultiOutputRegressor

    train = _numeric_frame(100)
    estimator = MultiOutputRegressor(Ridge()).fit(train, np.c_[train["a"], train["c"], train["d"]])
    test = _numeric_frame(ROWS, seed=1)
    return Zoo(estimator, test, frame_instances(test))


def _labels(frame: pd.DataFrame) -> np.ndarray:
    return np.c_[frame["a"] > 0, frame["b"] > 0, frame["a"] + frame["c"] > 0].astype(int)


def multi_label_forest():
    from sklearn.ensemble import RandomForestClassifier

    train = _numeric_frame(150)
    estimator = RandomForestClassifier(n_estimators=10, random_state=0).fit(train, _labels(train))
    test = _numeric_frame(ROWS, seed=1)
    return Zoo(estimator, test, frame_instances(test))


def multi_output_classifier():
    from sklearn.linear_model import LogisticRegression
    from sklearn.multioutput import MultiOutputClassifier

    train = _numeric_frame(150)
    estimator = MultiOutputClassifier(LogisticRegression()).fit(train, _labels(train))
    test = _numeric_frame(ROWS, seed=1)
    return Zoo(estimator, test, frame_instances(test))


def one_vs_rest_multi_label():
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    train = _numeric_frame(150)
    estimator = OneVsRestClassifier(LogisticRegression()).fit(train, _labels(train))
    test = _numeric_frame(ROWS, seed=1)
    return Zoo(estimator, test, frame_instances(test))


def k_means():
    from sklearn.cluster import KMeans

    train = _numeric_frame(100)
    estimator = KMeans(n_clusters=3, n_init=2, random_state=0).fit(train)
    test = _numeric_frame(ROWS, seed=1)
    return Zoo(estimator, test, frame_instances(test))


def isolation_forest():
    from sklearn.ensemble import IsolationForest

    train = _numeric_frame(100)
    estimator = IsolationForest(n_estimators=20, random_state=0).fit(train)
    test = _numeric_frame(ROWS, seed=1) * 3
    return Zoo(estimator, test, frame_instances(test))


def xgboost_classifier():
    from xgboost import XGBClassifier

    train = _with_missing(_numeric_frame(200))
    estimator = XGBClassifier(n_estimators=10, max_depth=3).fit(train, _three_classes(train.fillna(0)) == "high")
    test = _with_missing(_numeric_frame(ROWS, seed=1))
    return Zoo(estimator, test, frame_instances(test), skops=False)


def xgboost_regressor():
    from xgboost import XGBRegressor

    train = _numeric_frame(200)
    estimator = XGBRegressor(n_estimators=10, max_depth=3).fit(train, train["a"] * 2)
    test = _numeric_frame(ROWS, seed=1)
    return Zoo(estimator, test, frame_instances(test), skops=False)


def lightgbm_classifier():
    from lightgbm import LGBMClassifier

    train = _numeric_frame(200)
    estimator = LGBMClassifier(n_estimators=10, verbose=-1).fit(train, _three_classes(train))
    test = _numeric_frame(ROWS, seed=1)
    return Zoo(estimator, test, frame_instances(test), skops=False)


def lightgbm_regressor_nan():
    from lightgbm import LGBMRegressor

    train = _with_missing(_numeric_frame(200))
    estimator = LGBMRegressor(n_estimators=10, verbose=-1).fit(train, train["b"].fillna(0) * 2)
    test = _with_missing(_numeric_frame(ROWS, seed=1))
    return Zoo(estimator, test, frame_instances(test), skops=False)


ZOO: dict[str, Callable[[], Zoo]] = {
    fn.__name__: fn
    for fn in (
        logistic_regression,
        random_forest_classifier,
        svc_platt_scaling,
        fixed_threshold_classifier,
        tuned_threshold_classifier,
        linear_svc_scores,
        k_neighbors_classifier,
        gaussian_nb,
        gradient_boosting_on_numpy,
        hist_gradient_boosting_nan,
        hist_gradient_boosting_native_categories,
        hist_gradient_boosting_categories_by_index,
        one_hot_ignore_unknown,
        one_hot_infrequent,
        ordinal_encoded_value,
        imputing_pipeline,
        encoder_fitted_with_nan,
        text_pipeline,
        text_column_in_frame,
        linear_regression,
        random_forest_two_targets,
        multi_output_regressor,
        multi_label_forest,
        multi_output_classifier,
        one_vs_rest_multi_label,
        k_means,
        isolation_forest,
        xgboost_classifier,
        xgboost_regressor,
        lightgbm_classifier,
        lightgbm_regressor_nan,
    )
}


@cache
def zoo_model(name: str) -> Zoo:
    return ZOO[name]()
