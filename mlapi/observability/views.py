from django.db import connection
from django.http import JsonResponse

from predictions.registry.cache import production_models_state


def healthz(request):
    """Liveness: the process answers. No I/O."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """Readiness: the database answers and this process's cache holds every production model.

    It only reads the cache's state: loading is the warm-up thread's job, so an anonymous request can never
    make the server open, load or run an artifact.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        state = production_models_state()
    except Exception as exc:  # noqa: BLE001 - any database failure means not ready
        return JsonResponse({"status": "unavailable", "database": type(exc).__name__}, status=503)
    if not state.ready:
        return JsonResponse(
            {"status": "unavailable", "models_loading": state.loading, "models_unavailable": state.unavailable},
            status=503,
        )
    return JsonResponse({"status": "ok", "models_loaded": len(state.loaded)})
