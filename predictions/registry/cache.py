"""Estimators loaded once per process, keyed by model id and sha256; verified on every load."""

import logging
import os
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connections

from mlapi.errors import UnavailableError
from mlapi.garbage_collection import long_lived_objects_freeze
from predictions.error_codes import PredictionErrorCode
from predictions.models import RegisteredModel
from predictions.registry.artifacts import estimator_load, sha256_hex
from predictions.registry.inference import LoadedModel, loaded_model_build

logger = logging.getLogger(__name__)

_loaded: dict[tuple[int, str], LoadedModel] = {}
_load_lock = threading.Lock()
# Production models whose last warm-up load failed, by (id, sha256): /readyz reports them; the next pass retries.
_failed: dict[tuple[int, str], str] = {}


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
            long_lived_objects_freeze()  # the estimator lives as long as the process
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
        _failed.clear()


def production_models_unavailable() -> tuple[int, list[str]]:
    """Loads every production model not loaded yet; returns (how many there are, "name:version" of those
    that cannot be loaded). Failures are logged and remembered for /readyz, never raised."""
    production = list(RegisteredModel.objects.filter(stage=RegisteredModel.Stage.PRODUCTION))
    unavailable = []
    for model in production:
        key = (model.pk, model.sha256)
        try:
            loaded_model_get(model=model)
        except UnavailableError:
            _failed[key] = f"{model.name}:{model.version}"
            unavailable.append(_failed[key])
        else:
            _failed.pop(key, None)
    return len(production), unavailable


def production_models_warm() -> tuple[int, int]:
    """Loads every production model; returns (loaded, failed)."""
    total, unavailable = production_models_unavailable()
    return total - len(unavailable), len(unavailable)


@dataclass(frozen=True)
class ProductionModelsState:
    """This process's cache against the production models in the database ("name:version" lists)."""

    loaded: list[str]
    loading: list[str]  # not loaded yet: the warm-up has not reached them
    unavailable: list[str]  # the warm-up tried and failed

    @property
    def ready(self) -> bool:
        return not self.loading and not self.unavailable


def production_models_state() -> ProductionModelsState:
    """Read-only: one query, and the cache as it is. Never loads, opens or reads an artifact."""
    production = RegisteredModel.objects.filter(stage=RegisteredModel.Stage.PRODUCTION).order_by("name", "version")
    loaded, loading, unavailable = [], [], []
    for pk, sha256, name, version in production.values_list("pk", "sha256", "name", "version"):
        key, label = (pk, sha256), f"{name}:{version}"
        if key in _loaded:
            loaded.append(label)
        elif key in _failed:
            unavailable.append(label)
        else:
            loading.append(label)
    return ProductionModelsState(loaded=loaded, loading=loading, unavailable=unavailable)


_warmer_lock = threading.Lock()
_warmer_pid: int | None = None


def production_models_warm_start() -> bool:
    """Starts this process's warm-up thread (once per process; a forked worker starts its own) unless
    WARM_MODELS_ON_STARTUP is off. Returns at once: the server answers /healthz while models load, and
    /readyz says when they are in. The thread then looks for newly promoted models every
    WARM_MODELS_INTERVAL_SECONDS (0: warm once and stop), so /readyz never has to load anything."""
    global _warmer_pid
    if not settings.WARM_MODELS_ON_STARTUP:
        return False
    with _warmer_lock:
        if _warmer_pid == os.getpid():
            return False
        _warmer_pid = os.getpid()
    interval = settings.WARM_MODELS_INTERVAL_SECONDS
    threading.Thread(target=_warm_loop, args=(interval,), name="model-warm-up", daemon=True).start()
    return True


def _warm_loop(interval: float) -> None:
    while True:
        started = time.monotonic()
        try:
            loaded, failed = production_models_warm()
        except Exception as exc:  # noqa: BLE001 - e.g. the database is down or not migrated: try again later
            logger.warning("model warm-up pass failed", extra={"error": type(exc).__name__})
        else:
            logger.info(
                "model warm-up pass",
                extra={"loaded": loaded, "failed": failed, "seconds": round(time.monotonic() - started, 3)},
            )
        finally:
            connections.close_all()  # this thread's own connections: none left open between passes
        if interval <= 0:
            return
        time.sleep(interval)
