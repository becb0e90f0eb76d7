import pytest
from django.db import transaction

from billing.services.usage import pricing_tier_for_user, usage_charge


@pytest.fixture
def charge(iris_model):
    """One usage record as prediction_create writes it (no model run), at a chosen time, model and source."""

    def charge(user, *, at, predictions=1, source="online", model=None):
        with transaction.atomic():
            return usage_charge(
                user=user,
                tier=pricing_tier_for_user(user=user, now=at),
                model=model or iris_model,
                predictions=predictions,
                cpu_seconds=0.01,
                stored_bytes=200,
                idempotency_key=None,
                request_hash="0" * 64,
                source=source,
                now=at,
            )

    return charge
