from django.db import connection
from django.http import JsonResponse

from predictions.registry.cache import production_models_unavailable


def healthz(request):
    """Liveness: the process answers. No I/O."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """Readiness: the database answers and every production model is loaded."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        total, unavailable = production_models_unavailable()
    except Exception as exc:  # noqa: BLE001 - any database failure means not ready
        return JsonResponse({"status": "unavailable", "database": type(exc).__name__}, status=503)
    if unavailable:
        return JsonResponse({"status": "unavailable", "models_unavailable": unavailable}, status=503)
    return JsonResponse({"status": "ok", "models_loaded": total})
