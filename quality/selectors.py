"""Reads of the quality app. Quality figures come from the hourly rollups only (see `quality/metrics.py`)."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from mlapi.errors import ApplicationError
from predictions.models import RegisteredModel
from quality.actuals import CLASS_TASKS, model_classes
from quality.error_codes import QualityErrorCode
from quality.metrics import Sums, classification_figures, regression_figures
from quality.models import Feedback, QualityRollup
from quality.hours import hour_of


def feedback_history_for_user(*, user, prediction_id) -> QuerySet[Feedback]:
    """Every value submitted for one of the user's predictions, oldest first (the last is current)."""
    return Feedback.objects.filter(user=user, prediction_id=prediction_id).order_by("id")


# --- live quality, from the hourly rollups only ---

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


@dataclass(frozen=True)
class QualityReport:
    model: RegisteredModel
    window: str
    since: datetime
    every_customer: bool
    figures: dict  # classification_figures / regression_figures over the window
    days: list[dict]  # the same figures per UTC day of the window, oldest first
    offline_metrics: dict


def _figures(model: RegisteredModel, sums: Sums) -> dict:
    if model.task in CLASS_TASKS:
        return classification_figures(sums=sums, classes=model_classes(model))
    if model.task == RegisteredModel.Task.REGRESSION:
        return regression_figures(sums=sums)
    return {"count": sums.count}


def window_start(*, window: str, now: datetime) -> datetime:
    """The first hour of the window: the `window` hours up to and including the current one."""
    return hour_of(now) - WINDOWS[window] + timedelta(hours=1)


def model_quality(*, model: RegisteredModel, user, every_customer: bool, window: str, now: datetime | None = None) -> QualityReport:
    """Live quality of one model version over `window` ("24h", "7d", "30d"), on the caller's own
    feedback, or on every customer's when `every_customer` (staff with the staff scope).

    Reads at most one rollup row per hour of the window: independent of how many predictions exist."""
    if window not in WINDOWS:
        raise ApplicationError.single(
            QualityErrorCode.INVALID_WINDOW, f"window must be one of {sorted(WINDOWS)}.", field="window"
        )
    now = now or timezone.now()
    since = window_start(window=window, now=now)
    rollups = QualityRollup.objects.filter(model=model, hour__gte=since)
    rollups = rollups.filter(user__isnull=True) if every_customer else rollups.filter(user=user)
    total, per_day = Sums(), defaultdict(Sums)
    fields = ["count", "confusion", "probability_count", *Sums.FLOATS]
    for row in rollups.values("hour", *fields):
        sums = Sums(**{name: row[name] for name in fields})
        total.add(sums)
        per_day[row["hour"].astimezone(UTC).date()].add(sums)
    days = [{"date": day, **_figures(model, per_day[day])} for day in sorted(per_day)]
    return QualityReport(
        model=model,
        window=window,
        since=since,
        every_customer=every_customer,
        figures=_figures(model, total),
        days=days,
        offline_metrics=model.metrics or {},
    )
