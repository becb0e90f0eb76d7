"""Reads of the quality app. Quality figures come from the hourly rollups only (see `quality/metrics.py`)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet, Sum
from django.utils import timezone

from mlapi.errors import ApplicationError
from predictions.models import RegisteredModel
from quality.error_codes import QualityErrorCode
from quality.hours import hour_of
from quality.metrics import SUM_FIELDS, Sums, figures_of
from quality.models import AgreementRollup, Feedback, QualityDay, QualityRollup


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


def window_start(*, window: str, now: datetime) -> datetime:
    """The first hour of the window: the `window` hours up to and including the current one."""
    return hour_of(now) - WINDOWS[window] + timedelta(hours=1)


def model_quality(
    *, model: RegisteredModel, user, every_customer: bool, window: str, now: datetime | None = None
) -> QualityReport:
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
    total = Sums()
    for row in rollups.values_list(*SUM_FIELDS):
        total.add(Sums(*row))
    # Per day: the figures the rollup computed when it last changed the day (whole UTC days that
    # overlap the window).
    days = QualityDay.objects.filter(model=model, day__gte=since.date())
    days = days.filter(user__isnull=True) if every_customer else days.filter(user=user)
    per_day = [{**figures, "date": day} for day, figures in days.order_by("day").values_list("day", "figures")]
    return QualityReport(
        model=model,
        window=window,
        since=since,
        every_customer=every_customer,
        figures=figures_of(model=model, sums=total),
        days=per_day,
        offline_metrics=model.metrics or {},
    )


@dataclass(frozen=True)
class ShadowAgreement:
    shadow: RegisteredModel
    compared: int
    agreed: int
    absolute_difference_sum: float
    absolute_difference_count: int
    window: str
    every_customer: bool

    @property
    def agreement_rate(self) -> float | None:
        return self.agreed / self.compared if self.compared else None

    @property
    def mean_absolute_difference(self) -> float | None:
        return self.absolute_difference_sum / self.absolute_difference_count if self.absolute_difference_count else None


def model_shadow_agreements(
    *, model: RegisteredModel, user, every_customer: bool, window: str, since: datetime
) -> list[ShadowAgreement]:
    """How each shadow version that scored `model`'s predictions since `since` agreed with it (hourly
    rollup rows only). Shadows are staging versions: only staff see them."""
    if not user.is_staff:
        return []
    rows = AgreementRollup.objects.filter(model=model, hour__gte=since)
    rows = rows.filter(user__isnull=True) if every_customer else rows.filter(user=user)
    totals = rows.values("shadow").annotate(
        compared=Sum("compared"),
        agreed=Sum("agreed"),
        difference=Sum("absolute_difference_sum"),
        differences=Sum("absolute_difference_count"),
    )
    shadows = RegisteredModel.objects.in_bulk([t["shadow"] for t in totals])
    return [
        ShadowAgreement(
            shadows[t["shadow"]],
            t["compared"],
            t["agreed"],
            t["difference"] or 0.0,
            t["differences"] or 0,
            window,
            every_customer,
        )
        for t in sorted(totals, key=lambda t: t["shadow"])
    ]


def model_drift(*, model: RegisteredModel, user, window: str) -> QuerySet:
    """The latest drift figures of `model` over `window` (computed on every customer's inputs: staff only)."""
    from quality.models import DriftResult

    if window not in WINDOWS:
        raise ApplicationError.single(
            QualityErrorCode.INVALID_WINDOW, f"window must be one of {sorted(WINDOWS)}.", field="window"
        )
    if not user.is_staff:
        return DriftResult.objects.none()
    return DriftResult.objects.filter(model=model, window=window).order_by("feature", "statistic")


CHART_DAYS = 30


def model_quality_chart(*, model: RegisteredModel, now: datetime | None = None) -> dict | None:
    """The admin model page's chart: one figure per UTC day over the last 30 days on every customer's
    feedback (accuracy for classifiers and outlier detectors, MAE for regressors; None for tasks without
    one), read from the daily rollups. Days without feedback are null, so the line has gaps, not zeros."""
    from quality.actuals import CLASS_TASKS

    if model.task in CLASS_TASKS:
        figure, label = "accuracy", "Accuracy"
    elif model.task == RegisteredModel.Task.REGRESSION:
        figure, label = "mae", "MAE"
    else:
        return None
    today = (now or timezone.now()).date()
    first = today - timedelta(days=CHART_DAYS - 1)
    stored = dict(
        QualityDay.objects.filter(model=model, user__isnull=True, day__gte=first, day__lte=today).values_list(
            "day", "figures"
        )
    )
    dates = [first + timedelta(days=i) for i in range(CHART_DAYS)]
    return {
        "figure": figure,
        "label": label,
        "days": [d.isoformat() for d in dates],
        "values": [(stored.get(d) or {}).get(figure) for d in dates],
        "counts": [(stored.get(d) or {}).get("count", 0) for d in dates],
    }
