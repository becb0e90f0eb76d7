"""Creating (metered) predictions: validate, check limits, score, then store and bill in one transaction."""

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.db.models.base import ModelState
from django.utils import timezone

from billing.models import UsageRecord
from billing.selectors import usage_record_get_by_key
from billing.services.charge import ChargedRows
from mlapi.errors import ApplicationError, ConflictError, FieldError, LimitExceededError, NotFoundError
from predictions.error_codes import PredictionErrorCode
from predictions.ids import uuid7s
from predictions.models import Prediction, RegisteredModel
from predictions.registry.cache import loaded_model_get
from predictions.registry.schema import instances_prepare
from predictions.selectors import model_get_for_user
from predictions.services.metering import ScoredRows, metered_inference, rows_explain
from quality.services.rollouts import rollout_route, shadow_enqueue

IDEMPOTENCY_KEY_MAX_LENGTH = 200


@dataclass(frozen=True)
class ModelRef:
    model_id: str | None = None
    name: str | None = None
    version: int | None = None


@dataclass(frozen=True)
class PredictionOutcome:
    predictions: list[Prediction]
    usage: UsageRecord
    replayed: bool
    warnings: list[FieldError] = field(default_factory=list)  # non-fatal: unseen categories passed on
    explanations: list | None = None  # per prediction, when asked (explain)


def _latency_ms(scored: ScoredRows) -> float:
    return round(scored.wall_seconds * 1000, 3)


def _prediction_stored(*, id, user, model, usage, position, input, output, latency_ms, created_at) -> Prediction:
    """A Prediction instance for a row already in the database, built as unpickling builds one (no
    __init__: for a call of 1,000 rows that was 10% of its time). Every concrete field is set, and the
    related objects are cached, so nothing is fetched lazily."""
    prediction = Prediction.__new__(Prediction)
    prediction.__dict__.update(
        id=id,
        user_id=user.pk,
        model_id=model.pk,
        usage_id=usage.pk,
        position=position,
        input=input,
        output=output,
        latency_ms=latency_ms,
        created_at=created_at,
    )
    state = ModelState()
    state.adding, state.db = False, usage._state.db
    state.fields_cache = {"user": user, "model": model, "usage": usage}
    prediction._state = state
    return prediction


def _request_hash(*, model: RegisteredModel, instances: list, batch: bool) -> str:
    canonical = json.dumps(
        {"model": model.pk, "batch": batch, "instances": instances}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(
    *, usage: UsageRecord, request_hash: str, warnings: list[FieldError], explain: bool = False
) -> PredictionOutcome:
    if usage.request_hash != request_hash:
        raise ConflictError.single(
            PredictionErrorCode.IDEMPOTENCY_CONFLICT,
            "This idempotency key was already used for a different request.",
            field="idempotencyKey",
        )
    rows = list(usage.prediction_rows.select_related("model").order_by("position"))
    # A retry asking for explanations gets them again, computed from the stored inputs (the first call paid).
    explanations = (
        rows_explain(loaded=loaded_model_get(model=rows[0].model), rows=[row.input for row in rows])
        if explain and rows
        else None
    )
    return PredictionOutcome(predictions=rows, usage=usage, replayed=True, warnings=warnings, explanations=explanations)


def _instances_from_input(*, features: Any, instances: Any) -> tuple[list, bool, str]:
    if (features is None) == (instances is None):
        raise ApplicationError.single(
            PredictionErrorCode.INVALID_INPUT,
            "Give exactly one of features (one instance) or instances (a batch).",
            field="features",
        )
    if features is not None:
        return [features], False, "features"
    if not isinstance(instances, list) or not instances:
        raise ApplicationError.single(
            PredictionErrorCode.INVALID_INPUT, "instances must be a non-empty list of objects.", field="instances"
        )
    if len(instances) > settings.PREDICTION_MAX_INSTANCES:
        raise ApplicationError.single(
            PredictionErrorCode.TOO_MANY_INSTANCES,
            f"At most {settings.PREDICTION_MAX_INSTANCES} instances per call.",
            field="instances",
        )
    return instances, True, "instances"


def _check_idempotency_key(key: str | None) -> None:
    if key is not None and not (0 < len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH):
        raise ApplicationError.single(
            PredictionErrorCode.INVALID_INPUT,
            f"The idempotency key must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters.",
            field="idempotencyKey",
        )


def prediction_create(
    *,
    user,
    model_ref: ModelRef,
    features: Any = None,
    instances: Any = None,
    idempotency_key: str | None = None,
    source: str = "online",
    explain: bool = False,
) -> PredictionOutcome:
    """Validates, checks limits, scores, then stores predictions and their usage record in one transaction.

    Nothing is stored or billed unless every instance is valid and the call is within quota.
    A repeated idempotency key returns the original call's predictions and stores nothing.
    With `explain`, per-feature contributions of each prediction too, billed by their CPU time with the call.
    """
    rows, batch, path = _instances_from_input(features=features, instances=instances)
    _check_idempotency_key(idempotency_key)
    model = model_get_for_user(user=user, model_id=model_ref.model_id, name=model_ref.name, version=model_ref.version)
    if model_ref.model_id is None and model_ref.version is None:  # unpinned: a canary may answer instead
        model = rollout_route(model=model, user=user, idempotency_key=idempotency_key)
    # Compared only when the key comes back, so a call without a key has none (3 ms for 1,000 rows).
    request_hash = _request_hash(model=model, instances=rows, batch=batch) if idempotency_key else ""
    prepared = instances_prepare(schema=model.input_schema, instances=rows, path=path)
    if idempotency_key:
        existing = usage_record_get_by_key(user=user, idempotency_key=idempotency_key)
        if existing is not None:
            return _replay(usage=existing, request_hash=request_hash, warnings=prepared.warnings, explain=explain)
    if prepared.errors:
        raise ApplicationError(prepared.errors)
    now = timezone.now()

    ids = uuid7s(len(prepared.rows))

    def charged_rows(scored: ScoredRows) -> ChargedRows:
        """The call's prediction rows, written by the charging statement (JSON encoded once, in rows_score)."""
        return ChargedRows(
            model=Prediction,
            usage_column="usage_id",
            constants=(
                ("user_id", "bigint", user.pk),
                ("model_id", "bigint", model.pk),
                ("latency_ms", "numeric", _latency_ms(scored)),
                ("created_at", "timestamptz", now),
            ),
            columns=(("id", "uuid"), ("position", "integer"), ("input", "jsonb"), ("output", "jsonb")),
            values=[
                (id_.hex, position, input_json, output_json)  # 32 hex digits: PostgreSQL's uuid input takes them
                for position, (id_, input_json, output_json) in enumerate(
                    zip(ids, scored.inputs_json, scored.outputs_json, strict=True)
                )
            ],
        )

    explained: list = []

    def store(usage: UsageRecord | None, scored: ScoredRows) -> list[Prediction]:
        """What was stored, as model instances (no query): the answer is shaped from these."""
        assert usage is not None  # the rows were validated, so metered_inference charged them
        explained.append(scored.explanations)
        latency_ms = _latency_ms(scored)
        return [
            _prediction_stored(
                id=id_,
                user=user,
                model=model,
                usage=usage,
                position=position,
                input=instance,
                output=output,
                latency_ms=latency_ms,
                created_at=now,
            )
            for position, (id_, instance, output) in enumerate(zip(ids, scored.inputs, scored.outputs, strict=True))
        ]

    try:
        usage, predictions = metered_inference(
            user=user,
            model=model,
            rows=prepared.rows,
            source=source,
            now=now,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            store=store,
            rate_limited=True,
            charged_rows=charged_rows,
            explain=explain,
        )
    except (IntegrityError, LimitExceededError):
        # The same key committed meanwhile by a concurrent call (unique constraint), possibly taking
        # the last of the quota: answer with that call's result.
        existing = usage_record_get_by_key(user=user, idempotency_key=idempotency_key) if idempotency_key else None
        if existing is not None:
            return _replay(usage=existing, request_hash=request_hash, warnings=prepared.warnings, explain=explain)
        raise
    assert usage is not None  # rows were scored and charged
    shadow_enqueue(model=model, predictions=predictions)  # after commit, outside the caller's answer
    return PredictionOutcome(
        predictions=predictions,
        usage=usage,
        replayed=False,
        warnings=prepared.warnings,
        explanations=explained[0] if explained else None,
    )


def model_ref_from_input(*, model_id: Any = None, name: Any = None, version: Any = None) -> ModelRef:
    if model_id is None and not name:
        raise NotFoundError.single(PredictionErrorCode.NOT_FOUND, "Give modelId or modelName.", field="modelName")
    return ModelRef(model_id=model_id, name=name, version=version)
