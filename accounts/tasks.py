"""Celery tasks of the accounts app (scheduled by CELERY_BEAT_SCHEDULE in settings)."""

from celery import shared_task
from oauth2_provider.models import clear_expired


@shared_task(name="accounts.tasks.clear_expired_tokens", ignore_result=True)
def clear_expired_tokens() -> None:
    """Deletes expired access tokens, and refresh tokens and grants past their lifetime (django-oauth-toolkit)."""
    clear_expired()
