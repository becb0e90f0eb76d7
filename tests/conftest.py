"""Shared fixtures: users on known tiers, real OAuth2 tokens from /o/token/, tiny models trained here."""

import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache

import factory
import joblib
import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from accounts.services import api_client_create
from billing.models import PricingTier
from mlapi.auth import token_cache_clear
from predictions.demo import BANK_CATEGORICAL, BANK_NUMERIC, IRIS_FEATURES, bank_marketing_frame
from predictions.models import RegisteredModel
from predictions.registry.cache import loaded_models_clear
from predictions.selectors import model_lookup_cache_clear
from predictions.services import model_register

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    # Customers of long standing, so invoices for any past month in the tests include them.
    date_joined = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_model_cache():
    def clear():
        from quality.services.rollouts import rollout_cache_clear

        loaded_models_clear()
        model_lookup_cache_clear()
        token_cache_clear()
        rollout_cache_clear()

    clear()
    yield
    clear()


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def metered_tier(db):
    """Charges for everything, no allowance, no limits: every figure shows up in amounts."""
    return PricingTier.objects.create(
        name="metered",
        monthly_fee=Decimal("10.00"),
        included_predictions=0,
        price_per_prediction=Decimal("0.001"),
        price_per_cpu_second=Decimal("0.05"),
        price_per_mb=Decimal("0.01"),
        monthly_quota=None,
        rate_limit_per_minute=None,
    )


@pytest.fixture
def make_user(db, metered_tier):
    """A user on `tier` (default: metered) since they joined, through the one service that writes tier history."""
    from billing.services.subscriptions import subscription_change

    def make(username=None, *, tier=None, is_staff=False):
        kwargs = {"is_staff": is_staff}
        if username:
            kwargs["username"] = username
        user = UserFactory(**kwargs)
        subscription_change(user=user, tier=tier or metered_tier, at=user.date_joined)
        return user

    return make


@pytest.fixture
def staff_user(make_user):
    return make_user("staff", is_staff=True)


@pytest.fixture
def issue_token(client):
    """A real access token from /o/token/ (client-credentials grant) acting as `user`."""

    def issue(user, scope="read predict billing"):
        credentials = api_client_create(username=user.username)
        response = client.post(
            "/o/token/",
            {"grant_type": "client_credentials", "scope": scope},
            HTTP_AUTHORIZATION=_basic(credentials.client_id, credentials.client_secret),
        )
        assert response.status_code == 200, response.content
        return response.json()["access_token"]

    return issue


def _basic(client_id: str, secret: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture
def gql(client):
    """POST a GraphQL document; returns (status, body)."""

    def post(query, variables=None, *, token=None, **extra):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        headers.update(extra)
        response = client.post(
            "/graphql/",
            json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
            **headers,
        )
        return response.status_code, response.json()

    return post


@pytest.fixture
def rest(client):
    """Call the REST API; `body` is sent as JSON. Returns the Django test response."""

    def call(method, path, body=None, *, token=None, **extra):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        headers.update(extra)
        if body is not None:
            headers.setdefault("content_type", "application/json")
            return getattr(client, method)(path, json.dumps(body), **headers)
        return getattr(client, method)(path, **headers)

    return call


@cache
def iris_artifact() -> bytes:
    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    data = load_iris()
    frame = pd.DataFrame(data.data, columns=IRIS_FEATURES)
    target = [data.target_names[i] for i in data.target]
    buffer = io.BytesIO()
    joblib.dump(LogisticRegression(max_iter=300).fit(frame, target), buffer)
    return buffer.getvalue()


@cache
def bank_artifact() -> bytes:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame, target = bank_marketing_frame(400)
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
            ("classifier", LogisticRegression(max_iter=300)),
        ]
    ).fit(frame, target)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


@cache
def regressor_artifact() -> bytes:
    import numpy as np
    from sklearn.linear_model import LinearRegression

    x = np.arange(20, dtype=float).reshape(10, 2)
    buffer = io.BytesIO()
    joblib.dump(LinearRegression().fit(x, x[:, 0] * 2 + x[:, 1]), buffer)
    return buffer.getvalue()


@pytest.fixture
def register(staff_user):
    def register_model(name, artifact: bytes, *, stage=RegisteredModel.Stage.PRODUCTION, filename=None, **kwargs):
        # Tests make several versions from one file; the duplicate-file refusal has its own tests.
        kwargs.setdefault("force", True)
        return model_register(
            registered_by=staff_user,
            name=name,
            artifact=io.BytesIO(artifact),
            filename=filename or f"{name}.joblib",
            stage=stage,
            **kwargs,
        )

    return register_model


@pytest.fixture
def iris_model(register):
    return register("iris", iris_artifact())


@pytest.fixture
def bank_model(register):
    return register("bank-marketing", bank_artifact())


IRIS_SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
BANK_CLIENT = {
    "age": 41,
    "job": "management",
    "marital": "married",
    "education": "tertiary",
    "balance": 1200.0,
    "housing": "no",
    "duration": 380,
    "campaign": 2,
}


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def stored_counts(db):
    """(predictions, usage records) right now: a refused call must leave both unchanged."""
    from billing.models import UsageRecord
    from predictions.models import Prediction

    return lambda: (Prediction.objects.count(), UsageRecord.objects.count())


@pytest.fixture
def record_usage(iris_model):
    """Writes one usage record the way prediction_create does (under the month's lock, at the tier's prices),
    without running a model: for invoice arithmetic at chosen moments. Returns the UsageRecord."""
    from django.db import transaction

    from billing.services.usage import pricing_tier_for_user, usage_charge

    def record(user, *, at, predictions=1, cpu_seconds=0.01, stored_bytes=200, tier=None, model=None):
        tier = tier or pricing_tier_for_user(user=user, now=at)
        with transaction.atomic():
            return usage_charge(
                user=user,
                tier=tier,
                model=model or iris_model,
                predictions=predictions,
                cpu_seconds=cpu_seconds,
                stored_bytes=stored_bytes,
                idempotency_key=None,
                request_hash="0" * 64,
                source="test",
                now=at,
            )

    return record
