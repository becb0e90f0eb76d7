"""Registry writes: registering a model version and changing its stage (staff only)."""

from typing import BinaryIO

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from mlapi.errors import ApplicationError, ConflictError, PermissionDeniedError
from predictions.error_codes import RegistryErrorCode
from predictions.models import RegisteredModel
from predictions.registry.artifacts import (
    artifact_format_detect,
    artifact_read,
    estimator_load,
    sha256_hex,
    skops_types_to_trust,
)
from predictions.registry.estimators import classes_of, task_detect
from predictions.registry.schema import input_schema_check, input_schema_derive


def model_register(
    *,
    registered_by,
    name: str,
    artifact: BinaryIO,
    filename: str,
    description: str = "",
    stage: str = RegisteredModel.Stage.STAGING,
    input_schema: dict | list | None = None,
    metrics: dict | None = None,
    approved_types: list[str] | None = None,
) -> RegisteredModel:
    """Stores the artifact, derives (or checks) its input schema and gives it the next version of `name`.

    joblib files run code when loaded, so only staff may register them: the check is here, not in the views.
    """
    if not registered_by.is_staff:
        raise PermissionDeniedError.single(RegistryErrorCode.PERMISSION_DENIED, "Only staff may register models.")
    if stage not in RegisteredModel.Stage.values:
        raise ApplicationError.single(RegistryErrorCode.INVALID_STAGE, f"Stage must be one of {RegisteredModel.Stage.values}.", field="stage")
    artifact_format = artifact_format_detect(filename=filename)
    data = artifact_read(stream=artifact, max_bytes=settings.MODEL_ARTIFACT_MAX_BYTES)
    trusted_types = (
        skops_types_to_trust(data=data, approved=approved_types or []) if artifact_format == "skops" else []
    )
    try:
        estimator = estimator_load(data=data, artifact_format=artifact_format, trusted_types=trusted_types)
    except ApplicationError:
        raise
    except Exception as exc:
        raise ApplicationError.single(
            RegistryErrorCode.ARTIFACT_UNREADABLE, f"The artifact could not be loaded ({type(exc).__name__}).", field="artifact"
        ) from exc
    if not hasattr(estimator, "predict"):
        raise ApplicationError.single(
            RegistryErrorCode.NOT_AN_ESTIMATOR, "The artifact holds no fitted estimator with predict().", field="artifact"
        )
    schema = (
        input_schema_check(schema=input_schema, estimator=estimator)
        if input_schema
        else input_schema_derive(estimator=estimator)
    )
    model = RegisteredModel(
        name=name,
        description=description,
        artifact_format=artifact_format,
        sha256=sha256_hex(data),
        size_bytes=len(data),
        trusted_types=trusted_types,
        input_schema=schema,
        task=task_detect(estimator),
        classes=classes_of(estimator),
        stage=stage,
        metrics=metrics or {},
        registered_by=registered_by,
    )
    model.full_clean(exclude=["version", "artifact"])
    model.artifact.save(f"{name}.{artifact_format}", ContentFile(data), save=False)
    for _attempt in range(5):
        model.version = (
            RegisteredModel.objects.filter(name=name).order_by("-version").values_list("version", flat=True).first()
            or 0
        ) + 1
        try:
            with transaction.atomic():
                model.save(force_insert=True)
            return model
        except IntegrityError:
            model.pk = None
    raise ConflictError.single(RegistryErrorCode.INVALID_STAGE, "Could not allocate a version; try again.")


def model_set_stage(*, model: RegisteredModel, stage: str, changed_by) -> RegisteredModel:
    if not changed_by.is_staff:
        raise PermissionDeniedError.single(RegistryErrorCode.PERMISSION_DENIED, "Only staff may change stages.")
    if stage not in RegisteredModel.Stage.values:
        raise ApplicationError.single(RegistryErrorCode.INVALID_STAGE, f"Stage must be one of {RegisteredModel.Stage.values}.", field="stage")
    RegisteredModel.objects.filter(pk=model.pk).update(stage=stage)
    model.stage = stage
    return model
