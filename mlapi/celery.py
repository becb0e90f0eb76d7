import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlapi.settings.local")

app = Celery("mlapi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _freeze_long_lived_objects(**kwargs) -> None:
    """A pool process is set up: what it holds now lives as long as it does (mlapi.garbage_collection)."""
    from mlapi.garbage_collection import long_lived_objects_freeze

    long_lived_objects_freeze()
