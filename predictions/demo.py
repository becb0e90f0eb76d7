"""The demo: two small models trained in seconds, the standard tiers, a demo user with an API client."""

import io
from dataclasses import dataclass

import joblib
import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.services import ApiClientCredentials, api_client_create
from billing.models import PricingTier
from billing.tiers import STANDARD_TIERS
from predictions.models import RegisteredModel
from predictions.services import model_register

IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
BANK_NUMERIC = ["age", "balance", "duration", "campaign"]
BANK_CATEGORICAL = {
    "job": [
        "admin.",
        "blue-collar",
        "entrepreneur",
        "management",
        "retired",
        "services",
        "student",
        "technician",
        "unemployed",
    ],
    "marital": ["divorced", "married", "single"],
    "education": ["primary", "secondary", "tertiary", "unknown"],
    "housing": ["no", "yes"],
}
BANK_COLUMNS = ["age", "job", "marital", "education", "balance", "housing", "duration", "campaign"]
DEMO_USERNAME = "demo"
DEMO_APPLICATION = "demo client"
REGISTRANT_USERNAME = "mlapi-admin"


def iris_train():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    data = load_iris()
    frame = pd.DataFrame(data.data, columns=IRIS_FEATURES)
    target = np.array(data.target_names)[data.target]
    x_train, x_test, y_train, y_test = train_test_split(frame, target, test_size=0.25, random_state=0, stratify=target)
    model = LogisticRegression(max_iter=500).fit(x_train, y_train)
    return model, {"accuracy": round(float(model.score(x_test, y_test)), 4)}


def bank_marketing_frame(rows: int, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    """Synthetic clients shaped like the UCI bank-marketing data, with a learnable 'subscribed' target."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, rows),
            "job": rng.choice(BANK_CATEGORICAL["job"], rows),
            "marital": rng.choice(BANK_CATEGORICAL["marital"], rows),
            "education": rng.choice(BANK_CATEGORICAL["education"], rows),
            "balance": rng.normal(1500, 3000, rows).round(0),
            "housing": rng.choice(BANK_CATEGORICAL["housing"], rows),
            "duration": rng.exponential(260, rows).round(0),
            "campaign": rng.integers(1, 10, rows),
        }
    )[BANK_COLUMNS]
    score = (
        frame["duration"] / 200
        + (frame["job"].isin(["retired", "student"])) * 1.0
        + (frame["education"] == "tertiary") * 0.5
        - (frame["housing"] == "yes") * 0.7
        - frame["campaign"] * 0.15
        + frame["balance"] / 10000
        - 1.5
    )
    subscribed = np.where(rng.random(rows) < 1 / (1 + np.exp(-score)), "yes", "no")
    return frame, subscribed


def bank_marketing_train():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame, target = bank_marketing_frame(4000)
    x_train, x_test, y_train, y_test = train_test_split(frame, target, test_size=0.25, random_state=0)
    model = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [
                        ("numeric", StandardScaler(), BANK_NUMERIC),
                        ("categorical", OneHotEncoder(handle_unknown="ignore"), list(BANK_CATEGORICAL)),
                    ]
                ),
            ),
            ("classifier", LogisticRegression(max_iter=1000)),
        ]
    ).fit(x_train, y_train)
    return model, {"accuracy": round(float(model.score(x_test, y_test)), 4)}


DEMO_MODELS = {
    "iris": (iris_train, "Iris species from sepal and petal measurements (logistic regression)."),
    "bank-marketing": (
        bank_marketing_train,
        "Will this client subscribe a term deposit? Numeric and categorical features.",
    ),
}


@dataclass(frozen=True)
class DemoSeedResult:
    registered: list[str]
    credentials: ApiClientCredentials


def demo_registrant():
    User = get_user_model()
    user, created = User.objects.get_or_create(username=REGISTRANT_USERNAME, defaults={"is_staff": True})
    if created:
        user.set_unusable_password()
        user.save()
    return user


def demo_seed() -> DemoSeedResult:
    """Idempotent: tiers and models are created only when missing; the demo client's secret is rotated."""
    for name, values in STANDARD_TIERS.items():
        PricingTier.objects.get_or_create(name=name, defaults=values)
    registrant = demo_registrant()
    registered = []
    for name, (train, description) in DEMO_MODELS.items():
        if RegisteredModel.objects.filter(name=name, stage=RegisteredModel.Stage.PRODUCTION).exists():
            continue
        estimator, metrics = train()
        buffer = io.BytesIO()
        joblib.dump(estimator, buffer)
        buffer.seek(0)
        with transaction.atomic():
            model = model_register(
                registered_by=registrant,
                name=name,
                artifact=buffer,
                filename=f"{name}.joblib",
                description=description,
                stage=RegisteredModel.Stage.PRODUCTION,
                metrics=metrics,
            )
        registered.append(f"{model.name} v{model.version}")
    credentials = api_client_create(
        username=DEMO_USERNAME, email="demo@example.com", tier_name="pro", application_name=DEMO_APPLICATION
    )
    return DemoSeedResult(registered=registered, credentials=credentials)
