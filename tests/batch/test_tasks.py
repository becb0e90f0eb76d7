from datetime import timedelta

from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone
from oauth2_provider.models import AccessToken

from mlapi.celery import app


def test_beat_schedule_runs_invoices_monthly_and_token_cleanup_daily():
    schedule = settings.CELERY_BEAT_SCHEDULE
    tasks = {entry["task"]: entry["schedule"] for entry in schedule.values()}

    assert tasks["billing.tasks.generate_invoices_for_previous_month"] == crontab(minute=5, hour=0, day_of_month=1)
    assert tasks["accounts.tasks.clear_expired_tokens"] == crontab(minute=30, hour=3)
    assert settings.CELERY_TIMEZONE == "UTC"


def test_every_scheduled_task_and_the_chunk_task_are_registered():
    app.loader.import_default_modules()

    for name in [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()] + ["batch.tasks.run_batch_chunk"]:
        assert name in app.tasks, name
    chunk = app.tasks["batch.tasks.run_batch_chunk"]
    assert (chunk.acks_late, chunk.reject_on_worker_lost) == (True, True)
    assert app.conf.worker_prefetch_multiplier == 1


def test_clear_expired_tokens_deletes_expired_access_tokens_only(make_user):
    from accounts.tasks import clear_expired_tokens

    user = make_user()
    now = timezone.now()
    AccessToken.objects.create(user=user, token="old", expires=now - timedelta(days=1), scope="read")
    AccessToken.objects.create(user=user, token="fresh", expires=now + timedelta(hours=1), scope="read")

    clear_expired_tokens.apply()

    assert list(AccessToken.objects.values_list("token", flat=True)) == ["fresh"]
