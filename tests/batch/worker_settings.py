"""Settings of the Celery worker (and beat) processes the worker tests start: the test settings, on the test
process's MEDIA_ROOT (mlapi.settings.test makes a new temporary one per process), with unacked messages
restored as soon as their short visibility time-out has passed (Redis; RabbitMQ needs none).

BATCH_TEST_QUEUE (tests/faults/test_batch_jobs_heal.py) sends every batch task this process publishes
(chunk retries, the sweeper's re-queues, beat's sweeps) to that session's queue, and beat schedules the
batch tasks only."""

import os

from mlapi.settings.test import *  # noqa: F403

MEDIA_ROOT = os.environ["BATCH_TEST_MEDIA_ROOT"]
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "4")),
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
if os.environ.get("BATCH_TEST_QUEUE"):
    CELERY_TASK_ROUTES = {"batch.tasks.*": {"queue": os.environ["BATCH_TEST_QUEUE"]}}
    CELERY_BEAT_SCHEDULE = {  # noqa: F405
        name: entry
        for name, entry in CELERY_BEAT_SCHEDULE.items()
        if entry["task"].startswith("batch.")  # noqa: F405
    }
