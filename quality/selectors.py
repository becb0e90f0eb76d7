"""Reads of the quality app. Quality figures come from the hourly rollups only (see `quality/metrics.py`)."""

from django.db.models import QuerySet

from quality.models import Feedback


def feedback_history_for_user(*, user, prediction_id) -> QuerySet[Feedback]:
    """Every value submitted for one of the user's predictions, oldest first (the last is current)."""
    return Feedback.objects.filter(user=user, prediction_id=prediction_id).order_by("id")
