"""Estimators loaded once per process, keyed by model id and sha256; verified on every load."""

import logging
import threading

from django.core.files.storage import default_storage

from mlapi.errors import UnavailableError
from predictions.error_codes import PredictionErrorCode
from predictions.models import RegisteredModel
from predictions.registry.artifacts import estimator_load, sha256_hex
from predictions.registry.inference import LoadedModel, loaded_model_build

logger = logging.getLogger(__name__)

_loaded: dict[tuple[int, str], LoadedModel] = {}
_load_lock = threading.Lock()


def _unavailable(model: RegisteredModel, reason: str) -> UnavailableError:
    return UnavailableError.single(
        PredictionErrorCode.MODEL_UNAVAILABLE, f"Model {model.name} v{model.version} is unavailable: {reason}."
    )


def loaded_model_get(*, model: RegisteredModel) -> LoadedModel:
    key = (model.pk, model.sha256)
    loaded = _loaded.get(key)
    if loaded is not None:
        return loaded
    with _load_lock:
        loaded = _loaded.get(key)
        if loaded is None:
            loaded = _load(model)
            _loaded[key] = loaded
    return loaded


def _load(model: RegisteredModel) -> LoadedModel:
    try:
        with default_storage.open(model.artifact.name, "rb") as stream:
            data = stream.read()
    except OSError as exc:
        logger.error("model artifact missing", extra={"model_id": model.pk, "error": type(exc).__name__})
        raise _unavailable(model, "its artifact cannot be read") from exc
    if sha256_hex(data) != model.sha256:
        logger.error("model artifact sha256 mismatch", extra={"model_id": model.pk})
        raise _unavailable(model, "its artifact does not match the registered sha256")
    try:
        estimator = estimator_load(
            data=data, artifact_format=model.artifact_format, trusted_types=list(model.trusted_types)
        )
    except Exception as exc:
        logger.error("model artifact failed to load", extra={"model_id": model.pk, "error": type(exc).__name__})
        raise _unavailable(model, "its artifact failed to load") from exc
    return loaded_model_build(
        model_id=model.pk, sha256=model.sha256, estimator=estimator, input_schema=model.input_schema, task=model.task
    )


def loaded_model_is_cached(*, model: RegisteredModel) -> bool:
    return (model.pk, model.sha256) in _loaded


def loaded_models_clear() -> None:
    with _load_lock:
        _loaded.clear()


def production_models_unavailable() -> tuple[int, list[str]]:
    """Loads every production model not loaded yet; returns (how many there are, "name:version" of those
    that cannot be loaded). Failures are logged, never raised."""
    production = list(RegisteredModel.objects.filter(stage=RegisteredModel.Stage.PRODUCTION))
    unavailable = []
    for model in production:
        try:
            loaded_model_get(model=model)
        except UnavailableError:
            unavailable.append(f"{model.name}:{model.version}")
    return len(production), unavailable


def production_models_warm() -> tuple[int, int]:
    """Loads every production model; returns (loaded, failed)."""
    total, unavailable = production_models_unavailable()
    return total - len(unavailable), len(unavailable)
