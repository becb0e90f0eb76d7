import logging
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlapi.settings.local")

django_application = get_wsgi_application()

from mlapi.handlers import application_for  # noqa: E402 - needs the apps loaded (django.setup() above)

application = application_for(django_application)


def _start_warm_up() -> None:
    """Production models load in a background thread: the process serves /healthz at once, /readyz says when
    the models are in. Under gunicorn post_fork has started it already; this covers any other WSGI server."""
    try:
        from predictions.registry.cache import production_models_warm_start

        production_models_warm_start()
    except Exception as exc:  # noqa: BLE001 - never stop the server from starting; readiness will say so
        logging.getLogger(__name__).warning("model warm-up not started", extra={"error": type(exc).__name__})


_start_warm_up()
