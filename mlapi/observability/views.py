from django.db import connection
from django.http import JsonResponse

from predictions.registry.cache import loaded_model_is_cached
from predictions.models import RegisteredModel
from predictions.registry.cache import loaded_model_get
from mlapi.errors import UnavailableError


def healthz(request):
    """Liveness: the process answers. No I/O."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """Readiness: the database answers and every production model is loaded."""
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        production = list(RegisteredModel.objects.filter(stage=RegisteredModel.Stage.PRODUCTION))
    except Exception as exc:  # noqa: BLE001 - any database failure means not ready
        return JsonResponse({"status": "unavailable", "database": type(exc).__name__}, status=503)
    unavailable = []
    for model in production:
        if loaded_model_is_cached(model=model):
            continue
        try:
            loaded_model_get(model=model)
        except UnavailableError:
            unavailable.append(f"{model.name}:{model.version}")
    if unavailable:
        return JsonResponse({"status": "unavailable", "models_unavailable": unavailable}, status=503)
    return JsonResponse({"status": "ok", "models_loaded": len(production)})
