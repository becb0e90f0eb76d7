"""Registry API fixtures: a tiny model trained in tmp_path, `registry` tokens, and what the registry has stored."""

import io
from pathlib import Path

import joblib
import pytest
from django.conf import settings

from predictions.models import RegisteredModel

TINY_FEATURES = ["size", "color"]
TINY_ROW = {"size": 2.5, "color": "red"}


def tiny_pipeline(colors=("red", "blue")):
    """A two-feature pipeline (a number and a category) fitted on eight rows: milliseconds."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"size": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], "color": list(colors) * 4})
    target = ["small"] * 4 + ["large"] * 4
    features = ColumnTransformer(
        [("size", "passthrough", ["size"]), ("color", OneHotEncoder(handle_unknown="ignore"), ["color"])]
    )
    return Pipeline([("features", features), ("classifier", LogisticRegression())]).fit(frame, target)


@pytest.fixture
def tiny_model_file(tmp_path):
    """Trains the tiny pipeline and writes it as `model.joblib` in tmp_path, as a training job would."""

    def write(filename="model.joblib", estimator=None) -> Path:
        path = tmp_path / filename
        joblib.dump(estimator if estimator is not None else tiny_pipeline(), path)
        return path

    return write


def joblib_bytes(value) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(value, buffer)
    return buffer.getvalue()


@pytest.fixture
def registry_token(staff_user, issue_token):
    """A real token with the registry scope, from /o/token/, for a staff application."""
    return issue_token(staff_user, scope="registry read")


@pytest.fixture
def stored(db):
    """(registered model rows, artifact files on disk) right now: a refused registration changes neither."""

    def count():
        root = Path(settings.MEDIA_ROOT) / "models"
        files = sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0
        return RegisteredModel.objects.count(), files

    return count
