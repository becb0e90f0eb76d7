"""Input and output drift: a reference per model version (a CSV sample given by staff, or the first
production inputs), and the beat task's figures for recent inputs against it."""

import csv
import io
import logging
from datetime import datetime
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mlapi.errors import ApplicationError, FieldError, PermissionDeniedError
from predictions.models import Prediction, RegisteredModel
from predictions.registry.cache import loaded_model_get
from predictions.registry.inference import predict
from predictions.registry.schema import instances_prepare
from predictions.services import model_register
from quality.drift import OUTPUT, column_drift, output_values, reference_statistics
from quality.error_codes import DriftErrorCode
from quality.models import DriftReference, DriftResult, Rollout
from quality.selectors import WINDOWS

logger = logging.getLogger(__name__)
DRIFT_WINDOWS = ("24h", "7d")


def _typed(value: str, kind: str):
    if value == "":
        return None
    if kind in ("number", "integer"):
        try:
            number = float(value)
        except ValueError:
            return value  # the schema check below refuses it with its path
        return int(number) if kind == "integer" and number.is_integer() else number
    if kind == "boolean":
        return {"true": True, "false": False, "1": True, "0": False}.get(value.lower(), value)
    return value


def _columns(*, model: RegisteredModel, rows: list[dict]) -> dict[str, list]:
    return {f["name"]: [row.get(f["name"]) for row in rows] for f in model.input_schema["features"]}


def drift_reference_from_csv(*, model: RegisteredModel, file: BinaryIO, changed_by) -> DriftReference:
    """Stores `model`'s reference statistics from a CSV sample of its training data (a header of
    feature names; at most QUALITY_REFERENCE_MAX_BYTES), replacing any earlier reference."""
    if not changed_by.is_staff:
        raise PermissionDeniedError.single(DriftErrorCode.PERMISSION_DENIED, "Only staff may set drift references.")
    data = file.read(settings.QUALITY_REFERENCE_MAX_BYTES + 1)
    if len(data) > settings.QUALITY_REFERENCE_MAX_BYTES:
        raise ApplicationError.single(
            DriftErrorCode.REFERENCE_TOO_LARGE, f"At most {settings.QUALITY_REFERENCE_MAX_BYTES} bytes.", field="file"
        )
    try:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
        raw = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ApplicationError.single(
            DriftErrorCode.INVALID_REFERENCE, f"Not a UTF-8 CSV file ({exc}).", field="file"
        ) from None
    if not raw:
        raise ApplicationError.single(DriftErrorCode.INVALID_REFERENCE, "The file holds no rows.", field="file")
    kinds = {f["name"]: f["type"] for f in model.input_schema["features"]}
    instances = [{k: _typed(v or "", kinds[k]) for k, v in row.items() if k in kinds} for row in raw]
    prepared = instances_prepare(schema=model.input_schema, instances=instances, path="instances")
    if prepared.errors:
        raise ApplicationError.single(
            DriftErrorCode.INVALID_REFERENCE,
            f"Row {prepared.errors[0].field}: {prepared.errors[0].message} ({prepared.errors[0].code}).",
            field="file",
        )
    outputs = predict(loaded=loaded_model_get(model=model), instances=prepared.rows).outputs  # unmetered
    return _reference_store(model=model, source=DriftReference.Source.SAMPLE, rows=prepared.rows, outputs=outputs)


def model_register_with_reference(*, registered_by, reference: BinaryIO | None, **registration) -> RegisteredModel:
    """`model_register`, then (given a CSV `reference`) `drift_reference_from_csv` on the new version, in one
    transaction: a refused reference (INVALID_REFERENCE, REFERENCE_TOO_LARGE) registers nothing, and the
    artifact file stored by the registration is deleted again."""
    if reference is None:
        return model_register(registered_by=registered_by, **registration)
    model: RegisteredModel | None = None
    try:
        with transaction.atomic():
            model = model_register(registered_by=registered_by, **registration)
            try:
                drift_reference_from_csv(model=model, file=reference, changed_by=registered_by)
            except ApplicationError as error:  # the registration's part is `reference`, the command's `file`
                raise type(error)(
                    FieldError("reference" if e.field == "file" else e.field, e.code, e.message) for e in error.errors
                ) from None
    except BaseException:
        if model is not None and model.artifact:
            model.artifact.delete(save=False)
        raise
    return model


def _reference_store(*, model, source: str, rows: list[dict], outputs: list[dict]) -> DriftReference:
    statistics = reference_statistics(columns=_columns(model=model, rows=rows), outputs=outputs)
    reference, _ = DriftReference.objects.update_or_create(
        model=model, defaults={"source": source, "rows": len(rows), "statistics": statistics}
    )
    return reference


def drift_reference_from_production(*, model: RegisteredModel) -> DriftReference | None:
    """Without a sample, the first QUALITY_DRIFT_REFERENCE_ROWS production inputs become the reference
    (once there are that many)."""
    count = settings.QUALITY_DRIFT_REFERENCE_ROWS
    first = list(Prediction.objects.filter(model=model).order_by("created_at", "id").values("input", "output")[:count])
    if len(first) < count:
        return None
    return _reference_store(
        model=model,
        source=DriftReference.Source.PRODUCTION,
        rows=[p["input"] for p in first],
        outputs=[p["output"] for p in first],
    )


def drift_compute(
    *, model: RegisteredModel, reference: DriftReference, window: str, now: datetime
) -> list[DriftResult]:
    """Drift of the newest QUALITY_DRIFT_SAMPLE_ROWS inputs (and outputs) of the window against the reference."""
    since = now - WINDOWS[window]
    recent = list(
        Prediction.objects.filter(model=model, created_at__gte=since, created_at__lte=now)
        .order_by("-created_at")
        .values("input", "output")[: settings.QUALITY_DRIFT_SAMPLE_ROWS]
    )
    if not recent:
        return []
    columns = _columns(model=model, rows=[p["input"] for p in recent])
    columns[OUTPUT] = output_values([p["output"] for p in recent])
    results = []
    for feature, values in columns.items():
        feature_reference = reference.statistics.get(feature)
        if feature_reference is None:
            continue
        for figure in column_drift(feature_reference, values):
            results.append(
                DriftResult(model=model, window=window, feature=feature, rows=len(recent), computed_at=now, **figure)
            )
    with transaction.atomic():
        DriftResult.objects.filter(model=model, window=window).delete()
        DriftResult.objects.bulk_create(results)
    return results


def drift_compute_all(*, now: datetime | None = None) -> int:
    """The beat task: every production version and canary, each window. Returns figures written."""
    now = now or timezone.now()
    models = list(RegisteredModel.objects.filter(stage=RegisteredModel.Stage.PRODUCTION))
    models += [r.canary for r in Rollout.objects.select_related("canary").filter(canary__isnull=False)]
    written = 0
    for model in models:
        reference = DriftReference.objects.filter(model=model).first() or drift_reference_from_production(model=model)
        if reference is None:
            continue
        for window in DRIFT_WINDOWS:
            try:
                written += len(drift_compute(model=model, reference=reference, window=window, now=now))
            except Exception:  # one model's odd data must not stop the others
                logger.exception("drift of %s over %s failed", model, window)
    return written
