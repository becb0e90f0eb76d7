"""Settings of the Celery worker processes the worker tests start: the test settings, on the test process's
MEDIA_ROOT (mlapi.settings.test makes a new temporary one per process), with unacked messages restored
as soon as their short visibility time-out has passed."""

import os

from mlapi.settings.test import *  # noqa: F403

MEDIA_ROOT = os.environ["BATCH_TEST_MEDIA_ROOT"]
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "4")),
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
