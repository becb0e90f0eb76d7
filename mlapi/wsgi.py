import logging
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlapi.settings.local")

django_application = get_wsgi_application()

from mlapi.handlers import application_for  # noqa: E402 - needs the apps loaded (django.setup() above)

application = application_for(django_application)


def _serving_path_load() -> None:
    """What every API request needs, loaded now rather than by a worker's first request: the URLconf (its views,
    DRF, the admin) and the GraphQL schema, which graphene-django would import lazily: that first request
    took 140 ms instead of 2 (in-process, 2026-12-01). Loaded before gunicorn's post_worker_init freezes the
    process's long-lived objects (mlapi.garbage_collection)."""
    from django.urls import get_resolver
    from graphene_django.settings import graphene_settings

    get_resolver().url_patterns  # noqa: B018 - the import of the URLconf is the point
    graphene_settings.SCHEMA  # noqa: B018 - as is the schema's


_serving_path_load()


def _start_warm_up() -> None:
    """Production models load in a background thread: the process serves /healthz at once, /readyz says when
    the models are in. Under gunicorn post_fork has started it already; this covers any other WSGI server."""
    try:
        from predictions.registry.cache import production_models_warm_start

        production_models_warm_start()
    except Exception as exc:  # noqa: BLE001 - never stop the server from starting; readiness will say so
        logging.getLogger(__name__).warning("model warm-up not started", extra={"error": type(exc).__name__})


_start_warm_up()
