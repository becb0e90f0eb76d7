"""Explaining one of your stored predictions, billed by the CPU time it takes like a prediction."""

import hashlib
import time
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from billing.models import UsageRecord
from billing.services.usage import pricing_tier_for_user, usage_charge
from mlapi.errors import ApplicationError
from predictions.registry.cache import loaded_model_get
from predictions.registry.inference import estimator_input
from predictions.selectors import prediction_get_for_user
from quality.error_codes import ExplanationErrorCode
from quality.explanations import Explanation, UnsupportedExplanation, explain


@dataclass(frozen=True)
class ExplainOutcome:
    explanation: Explanation
    usage: UsageRecord


def prediction_explain(*, user, prediction_id) -> ExplainOutcome:
    """Per-feature contributions of one of the user's stored predictions (NOT_FOUND for anyone else's).

    Charged as a usage record of 0 predictions and the explanation's CPU seconds (source "explain") at
    the caller's tier's CPU price; an unsupported model (UNSUPPORTED_MODEL) is not charged."""
    prediction = prediction_get_for_user(user=user, prediction_id=prediction_id)
    loaded = loaded_model_get(model=prediction.model)
    cpu_start = time.thread_time()
    try:
        [explanation] = explain(
            estimator=loaded.estimator,
            features=estimator_input(loaded=loaded, instances=[prediction.input]),
            feature_names=list(loaded.feature_names),
        )
    except UnsupportedExplanation as exc:
        raise ApplicationError.single(ExplanationErrorCode.UNSUPPORTED_MODEL, str(exc), field="predictionId") from None
    cpu_seconds = time.thread_time() - cpu_start
    now = timezone.now()
    tier = pricing_tier_for_user(user=user, now=now)
    with transaction.atomic():
        usage = usage_charge(
            user=user,
            tier=tier,
            model=prediction.model,
            predictions=0,
            cpu_seconds=cpu_seconds,
            stored_bytes=0,
            idempotency_key=None,
            request_hash=hashlib.sha256(f"explain:{prediction.pk}".encode()).hexdigest(),
            source="explain",
            now=now,
        )
    return ExplainOutcome(explanation=explanation, usage=usage)
