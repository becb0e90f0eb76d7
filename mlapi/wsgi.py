import logging
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlapi.settings.local")

application = get_wsgi_application()


def _warm_models() -> None:
    from django.conf import settings

    if not settings.WARM_MODELS_ON_STARTUP:
        return
    try:
        from predictions.registry.cache import production_models_warm

        loaded, failed = production_models_warm()
        logging.getLogger(__name__).info("models warmed", extra={"loaded": loaded, "failed": failed})
    except Exception as exc:  # noqa: BLE001 - e.g. before the first migrate; readiness will say so
        logging.getLogger(__name__).warning("model warm-up skipped", extra={"error": type(exc).__name__})


_warm_models()
