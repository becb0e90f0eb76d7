"""Submitting ground truth for stored predictions: the owner only, validated against the model's task,
all or nothing, not billed (feedback is free on every tier: it costs one small row and makes the
product's quality figures possible; the tier has no feedback price)."""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.models import UsageRecord
from mlapi.errors import ApplicationError, FieldError, NotFoundError
from predictions.models import Prediction, RegisteredModel
from quality.actuals import InvalidActual, actual_clean
from quality.error_codes import FeedbackErrorCode
from quality.models import Feedback

Code = FeedbackErrorCode


@dataclass(frozen=True)
class FeedbackItem:
    """One value as the APIs parsed it: a prediction id, or the idempotency key of the call (+ the
    instance's position in it, default 0)."""

    actual: Any
    prediction_id: Any = None
    idempotency_key: str | None = None
    position: int | None = None
    observed_at: Any = None


@dataclass
class StoredFeedback:
    """A feedback row as stored (what both APIs answer); `id` and `replaces_id` are set by the insert."""

    prediction_id: uuid.UUID
    model_id: int
    actual: Any
    observed_at: datetime
    id: int | None = None
    replaces_id: int | None = None


def _error(errors: list[FieldError], index: int, field: str, code: Code, message: str) -> None:
    errors.append(FieldError(f"items.{index}.{field}", code.value, message))


def _observed_at(value: Any, now: datetime) -> datetime | None:
    if value is None:
        return now
    if isinstance(value, str):
        value = parse_datetime(value)
    if not isinstance(value, datetime):
        return None
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _predictions_by_id(*, user, items: list[FeedbackItem]) -> dict[uuid.UUID, dict]:
    ids = {_uuid_or_none(item.prediction_id) for item in items if item.prediction_id is not None} - {None}
    if not ids:
        return {}
    rows = Prediction.objects.filter(user=user, pk__in=ids).values("id", "model_id")
    return {row["id"]: row for row in rows}


def _predictions_by_key(*, user, items: list[FeedbackItem]) -> dict[tuple[str, int], dict]:
    keys = {item.idempotency_key for item in items if item.prediction_id is None and item.idempotency_key}
    if not keys:
        return {}
    usages = dict(UsageRecord.objects.filter(user=user, idempotency_key__in=keys).values_list("id", "idempotency_key"))
    rows = Prediction.objects.filter(user=user, usage_id__in=usages).values("id", "model_id", "usage_id", "position")
    return {(usages[row["usage_id"]], row["position"]): row for row in rows}


def _resolve(*, user, items: list[FeedbackItem], now: datetime) -> list["StoredFeedback"]:
    errors: list[FieldError] = []
    by_id = _predictions_by_id(user=user, items=items)
    by_key = _predictions_by_key(user=user, items=items)
    models = {
        m.pk: m
        for m in RegisteredModel.objects.filter(pk__in={r["model_id"] for r in [*by_id.values(), *by_key.values()]})
    }
    seen: set = set()
    rows: list[Feedback] = []
    for index, item in enumerate(items):
        if item.prediction_id is not None:
            found = by_id.get(_uuid_or_none(item.prediction_id))
            field = "predictionId"
        elif item.idempotency_key:
            position = item.position or 0
            found = by_key.get((item.idempotency_key, position)) if isinstance(position, int) else None
            field = "idempotencyKey"
        else:
            _error(errors, index, "predictionId", Code.REQUIRED, "Give predictionId or idempotencyKey.")
            continue
        if found is None:
            _error(errors, index, field, Code.NOT_FOUND, "No such prediction.")
            continue
        if found["id"] in seen:
            _error(errors, index, field, Code.DUPLICATE_PREDICTION, "This prediction is already named in this call.")
            continue
        seen.add(found["id"])
        model = models[found["model_id"]]
        try:
            actual = actual_clean(model=model, actual=item.actual)
        except InvalidActual as exc:
            code = Code.UNSUPPORTED_TASK if model.task == RegisteredModel.Task.CLUSTERING else Code.INVALID_ACTUAL
            _error(errors, index, "actual", code, str(exc))
            continue
        observed_at = _observed_at(item.observed_at, now)
        if observed_at is None:
            _error(errors, index, "observedAt", Code.INVALID_DATE, "Expected an ISO 8601 date-time.")
            continue
        rows.append(
            StoredFeedback(prediction_id=found["id"], model_id=model.pk, actual=actual, observed_at=observed_at)
        )
    if errors:
        if all(e.code == Code.NOT_FOUND.value for e in errors):
            raise NotFoundError(errors[:100])
        raise ApplicationError(errors[:100])
    return rows


def _store_postgresql(*, user, rows: list[StoredFeedback], now: datetime) -> None:
    """Two statements whatever the batch size: retire the current rows, insert the new ones from arrays."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE quality_feedback SET current = false WHERE current AND prediction_id = ANY(%s::uuid[]) "
            "RETURNING prediction_id, id",
            [[row.prediction_id for row in rows]],
        )
        previous = dict(cursor.fetchall())
        for row in rows:
            row.replaces_id = previous.get(row.prediction_id)
        cursor.execute(
            "INSERT INTO quality_feedback "
            "(prediction_id, model_id, user_id, actual, observed_at, created_at, replaces_id, current) "
            "SELECT p, m, %s, a::jsonb, o, %s, r, true "
            "FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::timestamptz[], %s::bigint[]) AS v(p, m, a, o, r) "
            "RETURNING prediction_id, id",
            [
                user.pk,
                now,
                [row.prediction_id for row in rows],
                [row.model_id for row in rows],
                [json.dumps(row.actual) for row in rows],
                [row.observed_at for row in rows],
                [row.replaces_id for row in rows],
            ],
        )
        ids = dict(cursor.fetchall())
    for row in rows:
        row.id = ids[row.prediction_id]


def _store_orm(*, user, rows: list[StoredFeedback], now: datetime) -> None:
    previous = dict(
        Feedback.objects.select_for_update()
        .filter(prediction_id__in=[row.prediction_id for row in rows], current=True)
        .values_list("prediction_id", "id")
    )
    if previous:
        Feedback.objects.filter(id__in=previous.values()).update(current=False)
    stored = Feedback.objects.bulk_create(
        Feedback(
            prediction_id=row.prediction_id,
            model_id=row.model_id,
            user=user,
            actual=row.actual,
            observed_at=row.observed_at,
            created_at=now,
            replaces_id=previous.get(row.prediction_id),
        )
        for row in rows
    )
    for row, feedback in zip(rows, stored, strict=True):
        row.id, row.replaces_id = feedback.pk, feedback.replaces_id


def _store(*, user, rows: list[StoredFeedback], now: datetime) -> list[StoredFeedback]:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _store_postgresql(user=user, rows=rows, now=now)
        else:
            _store_orm(user=user, rows=rows, now=now)
    return rows


def feedback_submit(*, user, items: list[FeedbackItem]) -> list[StoredFeedback]:
    """Stores one ground-truth value per item (up to FEEDBACK_MAX_ITEMS), all or nothing.

    Only the caller's own predictions: another customer's id is NOT_FOUND, exactly like a made-up one.
    A prediction that already has feedback gets the new value; the old row is kept as history."""
    if not isinstance(items, list) or not items:
        raise ApplicationError.single(Code.INVALID_INPUT, "Give a non-empty list of items.", field="items")
    if len(items) > settings.FEEDBACK_MAX_ITEMS:
        raise ApplicationError.single(
            Code.TOO_MANY_ITEMS, f"At most {settings.FEEDBACK_MAX_ITEMS} items per call.", field="items"
        )
    now = timezone.now()
    rows = _resolve(user=user, items=items, now=now)
    try:
        return _store(user=user, rows=rows, now=now)
    except IntegrityError:
        # A concurrent submission for one of these predictions committed first (the one-current-row
        # constraint): replace that one instead (once; a second clash is a real error).
        return _store(user=user, rows=rows, now=now)
