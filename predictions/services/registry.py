"""Registry writes: registering a model version and changing its stage (staff only).

Every refusal is an `ApplicationError` with a `RegistryErrorCode`, whatever the file holds; a refused
registration leaves no row and no file behind.
"""

import json
import logging
from typing import Any, BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from mlapi.errors import ApplicationError, ConflictError, FieldError, PermissionDeniedError
from predictions.error_codes import RegistryErrorCode
from predictions.models import RegisteredModel
from predictions.registry.artifacts import (
    artifact_format_detect,
    artifact_read,
    estimator_load,
    sha256_hex,
    skops_types_to_trust,
)
from predictions.registry.compatibility import SchemaDifference, schema_differences
from predictions.registry.estimators import classes_of, task_detect
from predictions.registry.schema import input_schema_check, input_schema_derive

logger = logging.getLogger(__name__)

VERSION_ATTEMPTS = 5
_MESSAGE_DETAIL_CHARS = 200
# Which code a model-field validation failure gets; anything else was derived from the estimator.
_CODE_BY_FIELD = {
    "name": RegistryErrorCode.INVALID_NAME,
    "stage": RegistryErrorCode.INVALID_STAGE,
    "input_schema": RegistryErrorCode.INVALID_SCHEMA,
    "metrics": RegistryErrorCode.INVALID_METRICS,
}


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
    force: bool = False,
    allow_breaking: bool = False,
    version: int | None = None,
    artifact_format: str | None = None,
) -> RegisteredModel:
    """Stores the artifact, derives (or checks) its input schema and gives it the next version of `name`.

    With `version`, exactly that version (a pipeline that numbers its own runs): VERSION_CONFLICT if it is
    taken. `artifact_format` (joblib or skops) overrides what the file name's suffix says.

    joblib files run code when loaded, so only staff may register them: the check is here, not in the views.
    The same file under the same name is refused (DUPLICATE_ARTIFACT) unless `force`; registering
    straight into production is a stage change and gets its compatibility check (`allow_breaking`).
    """
    if not registered_by.is_staff:
        raise PermissionDeniedError.single(RegistryErrorCode.PERMISSION_DENIED, "Only staff may register models.")
    if stage not in RegisteredModel.Stage.values:
        raise ApplicationError.single(
            RegistryErrorCode.INVALID_STAGE, f"Stage must be one of {RegisteredModel.Stage.values}.", field="stage"
        )
    _name_check(name)
    _metrics_check(metrics)
    _version_check(name=name, version=version)
    artifact_format = _format_for(filename=filename, artifact_format=artifact_format)
    data = _artifact_bytes(artifact)
    if not force:
        _duplicate_refuse(name=name, sha256=sha256_hex(data))
    trusted_types = skops_types_to_trust(data=data, approved=approved_types or []) if artifact_format == "skops" else []
    estimator = _estimator_from(data=data, artifact_format=artifact_format, trusted_types=trusted_types)
    schema = _unexpected_as(
        RegistryErrorCode.INVALID_SCHEMA,
        "The input schema could not be derived; give it explicitly",
        "input_schema",
        lambda: _input_schema_for(estimator=estimator, input_schema=input_schema),
    )
    model = _unexpected_as(
        RegistryErrorCode.UNSUPPORTED_ESTIMATOR,
        "The estimator's task or classes could not be read",
        "artifact",
        lambda: _model_build(
            estimator=estimator,
            schema=schema,
            name=name,
            description=description,
            artifact_format=artifact_format,
            data=data,
            trusted_types=trusted_types,
            stage=stage,
            metrics=metrics,
            registered_by=registered_by,
        ),
    )
    _json_fields_check(model)
    _full_clean(model)
    if stage == RegisteredModel.Stage.PRODUCTION and not allow_breaking:
        _breaking_refuse(model=model)
    model.version = version
    return _model_store(model=model, data=data)


def _format_for(*, filename: str, artifact_format: str | None) -> str:
    if artifact_format is None or artifact_format == "":
        return artifact_format_detect(filename=filename)
    if artifact_format not in RegisteredModel.Format.values:
        raise ApplicationError.single(
            RegistryErrorCode.UNSUPPORTED_FORMAT,
            f"The format must be one of {RegisteredModel.Format.values}.",
            field="format",
        )
    return artifact_format


def _version_check(*, name: str, version: int | None) -> None:
    if version is None:
        return
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 2_147_483_647:
        raise ApplicationError.single(
            RegistryErrorCode.INVALID_VERSION, "The version must be a positive integer.", field="version"
        )
    if RegisteredModel.objects.filter(name=name, version=version).exists():
        raise ConflictError.single(
            RegistryErrorCode.VERSION_CONFLICT, f"{name} v{version} is already registered.", field="version"
        )


def _input_schema_for(*, estimator: Any, input_schema: dict | list | None) -> dict:
    schema = (
        input_schema_check(schema=input_schema, estimator=estimator)
        if input_schema
        else input_schema_derive(estimator=estimator)
    )
    return schema


def _model_build(
    *, estimator, schema, name, description, artifact_format, data, trusted_types, stage, metrics, registered_by
) -> RegisteredModel:
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
    return model


def _one_line(text: object) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _MESSAGE_DETAIL_CHARS else flat[: _MESSAGE_DETAIL_CHARS - 1] + "…"


def _unexpected_as(code: RegistryErrorCode, message: str, field: str, step):
    """Runs a step that inspects the estimator; an exception it did not mean to raise becomes `code`."""
    try:
        return step()
    except ApplicationError:
        raise
    except Exception as exc:
        logger.warning("model registration refused: %s", message, exc_info=True)
        raise ApplicationError.single(
            code, f"{message} ({type(exc).__name__}: {_one_line(exc)}).", field=field
        ) from exc


def _name_check(name: Any) -> None:
    try:
        RegisteredModel._meta.get_field("name").clean(name, None)
    except ValidationError as error:
        raise ApplicationError.single(
            RegistryErrorCode.INVALID_NAME,
            f"{name!r} is not a model name: " + " ".join(error.messages),
            field="name",
        ) from None


def _strict_json(value: Any) -> bool:
    """What PostgreSQL's json and SQLite's JSON_VALID accept: no NaN/Infinity, no numpy scalars."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _metrics_check(metrics: Any) -> None:
    if metrics is None:
        return
    if not isinstance(metrics, dict) or not _strict_json(metrics):
        raise ApplicationError.single(
            RegistryErrorCode.INVALID_METRICS,
            "Metrics must be a JSON object of finite values.",
            field="metrics",
        )


def _artifact_bytes(artifact: BinaryIO) -> bytes:
    try:
        return artifact_read(stream=artifact, max_bytes=settings.MODEL_ARTIFACT_MAX_BYTES)
    except OSError as exc:
        raise ApplicationError.single(
            RegistryErrorCode.ARTIFACT_UNREADABLE,
            f"The artifact could not be read ({type(exc).__name__}).",
            field="artifact",
        ) from exc


def _duplicate_refuse(*, name: str, sha256: str) -> None:
    existing = RegisteredModel.objects.filter(name=name, sha256=sha256).order_by("-version").first()
    if existing is not None:
        raise ConflictError.single(
            RegistryErrorCode.DUPLICATE_ARTIFACT,
            f"This file is already registered as {existing.name} v{existing.version} ({existing.stage}); "
            "force to register it again.",
            field="artifact",
        )


def _estimator_from(*, data: bytes, artifact_format: str, trusted_types: list[str]) -> Any:
    try:
        estimator = estimator_load(data=data, artifact_format=artifact_format, trusted_types=trusted_types)
    except ApplicationError:
        raise
    except Exception as exc:
        raise ApplicationError.single(
            RegistryErrorCode.ARTIFACT_UNREADABLE,
            f"The artifact could not be loaded ({type(exc).__name__}).",
            field="artifact",
        ) from exc
    if not hasattr(estimator, "predict"):
        raise ApplicationError.single(
            RegistryErrorCode.NOT_AN_ESTIMATOR,
            "The artifact holds no fitted estimator with predict().",
            field="artifact",
        )
    return estimator


def _json_fields_check(model: RegisteredModel) -> None:
    """A NaN category or a numpy scalar would only fail at INSERT (and differently per database)."""
    if not _strict_json(model.input_schema):
        raise ApplicationError.single(
            RegistryErrorCode.INVALID_SCHEMA,
            "The input schema holds values JSON cannot carry (NaN, infinity or non-JSON types).",
            field="input_schema",
        )
    if not _strict_json(model.classes):
        raise ApplicationError.single(
            RegistryErrorCode.UNSUPPORTED_ESTIMATOR,
            "The estimator's classes are not JSON values (NaN or non-JSON types).",
            field="artifact",
        )


def _full_clean(model: RegisteredModel) -> None:
    try:
        model.full_clean(exclude=["version", "artifact"])
    except ValidationError as error:
        raise ApplicationError(
            FieldError(
                field=field,
                code=_CODE_BY_FIELD.get(field, RegistryErrorCode.UNSUPPORTED_ESTIMATOR).value,
                message=f"{field}: " + " ".join(messages),
            )
            for field, messages in error.message_dict.items()
        ) from None


def _model_store(*, model: RegisteredModel, data: bytes) -> RegisteredModel:
    """Saves the file, then the row; if the row cannot be inserted the file is deleted again."""
    model.artifact.save(f"{model.name}.{model.artifact_format}", ContentFile(data), save=False)
    try:
        return _version_insert(model)
    except BaseException:
        model.artifact.delete(save=False)
        raise


def _next_version(name: str) -> int:
    latest = RegisteredModel.objects.filter(name=name).order_by("-version").values_list("version", flat=True).first()
    return (latest or 0) + 1


def _version_insert(model: RegisteredModel) -> RegisteredModel:
    if model.version is not None:
        return _given_version_insert(model)
    for _attempt in range(VERSION_ATTEMPTS):
        model.version = _next_version(model.name)
        try:
            with transaction.atomic():
                model.save(force_insert=True)
            return model
        except IntegrityError:
            model.pk = None
            if not RegisteredModel.objects.filter(name=model.name, version=model.version).exists():
                raise  # not a version clash: the checks above missed something, a server error
    raise ConflictError.single(
        RegistryErrorCode.VERSION_CONFLICT,
        f"Could not allocate a version of {model.name!r}: others are registering it at the same time; try again.",
        field="name",
    )


def _given_version_insert(model: RegisteredModel) -> RegisteredModel:
    try:
        with transaction.atomic():
            model.save(force_insert=True)
    except IntegrityError:
        model.pk = None
        if not RegisteredModel.objects.filter(name=model.name, version=model.version).exists():
            raise
        raise ConflictError.single(
            RegistryErrorCode.VERSION_CONFLICT, f"{model} was registered at the same time.", field="version"
        ) from None
    return model


def model_production_current(*, name: str, excluding: RegisteredModel | None = None) -> RegisteredModel | None:
    """The version unpinned clients of `name` are served: the latest one in production."""
    production = RegisteredModel.objects.filter(name=name, stage=RegisteredModel.Stage.PRODUCTION)
    if excluding is not None and excluding.pk is not None:
        production = production.exclude(pk=excluding.pk)
    return production.order_by("-version").first()


def model_production_differences(*, model: RegisteredModel) -> list[SchemaDifference]:
    """How `model`'s input schema differs from the current production version's (none: no production yet)."""
    current = model_production_current(name=model.name, excluding=model)
    if current is None:
        return []
    return schema_differences(old=current.input_schema, new=model.input_schema)


def _breaking_refuse(*, model: RegisteredModel) -> None:
    current = model_production_current(name=model.name, excluding=model)
    if current is None:
        return
    breaking = [d for d in schema_differences(old=current.input_schema, new=model.input_schema) if d.breaking]
    if breaking:
        raise ConflictError(
            FieldError(
                field=f"input_schema.{difference.feature}",
                code=RegistryErrorCode.BREAKING_CHANGE.value,
                message=f"Breaking for clients of {current}: {difference.message}",
            )
            for difference in breaking
        )


def model_set_stage(*, model: RegisteredModel, stage: str, changed_by, allow_breaking: bool = False) -> RegisteredModel:
    """Moves a version to `stage`; into production only if its inputs are compatible with the current one's."""
    if not changed_by.is_staff:
        raise PermissionDeniedError.single(RegistryErrorCode.PERMISSION_DENIED, "Only staff may change stages.")
    if stage not in RegisteredModel.Stage.values:
        raise ApplicationError.single(
            RegistryErrorCode.INVALID_STAGE, f"Stage must be one of {RegisteredModel.Stage.values}.", field="stage"
        )
    # The stored stage, not `model.stage`: an admin form has already set the new one on the instance.
    stored_stage = RegisteredModel.objects.filter(pk=model.pk).values_list("stage", flat=True).first()
    if stage == RegisteredModel.Stage.PRODUCTION and stored_stage != stage and not allow_breaking:
        _breaking_refuse(model=model)
    RegisteredModel.objects.filter(pk=model.pk).update(stage=stage)
    model.stage = stage
    return model
