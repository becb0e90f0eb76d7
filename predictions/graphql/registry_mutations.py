"""registerModel and setModelStage: the registry over GraphQL, for training pipelines (`registry` scope).

The artifact is an `Upload` sent with the GraphQL multipart request spec. Both mutations call the services the
admin, the commands and REST call (model_register, model_set_stage); a refusal is in the payload's `errors`
(codes from RegistryErrorCode, `field` in GraphQL's camelCase), a missing token or scope is a top-level error.
"""

import graphene
from django.core.files.uploadedfile import UploadedFile
from graphene.types.generic import GenericScalar

from accounts.oauth import REGISTRY_SCOPE
from mlapi.errors import ApplicationError, FieldError, NotFoundError
from mlapi.graphql_core.enums import enum_value
from mlapi.graphql_core.mutations import BaseMutation
from mlapi.graphql_core.permissions import require_scope
from mlapi.graphql_core.upload import Upload
from predictions.error_codes import RegistryErrorCode
from predictions.graphql.enums import ArtifactFormat, ModelStage, RegistryError
from predictions.graphql.types import ModelType
from predictions.models import RegisteredModel
from predictions.selectors import model_get_for_registry
from predictions.services import model_set_stage
from quality.error_codes import DriftErrorCode
from quality.services.drift import model_register_with_reference


def _camel(name: str | None) -> str | None:
    """input_schema.age -> inputSchema.age: the service names fields as Python does, GraphQL as its schema does."""
    if not name:
        return name
    head, dot, rest = name.partition(".")
    first, *others = head.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in others) + dot + rest


def _in_graphql_names(error: ApplicationError) -> ApplicationError:
    renamed = type(error)([FieldError(field=_camel(e.field), code=e.code, message=e.message) for e in error.errors])
    renamed.retry_after = error.retry_after
    return renamed


class RegisterModelInput(graphene.InputObjectType):
    """A new version of a model: the fitted estimator's file and what to record with it."""

    artifact = Upload(required=True, description="The estimator file (.joblib/.pkl or .skops), as a multipart upload.")
    name = graphene.String(required=True, description="The model name (a slug); versions count up per name.")
    version = graphene.Int(
        description="Register exactly this version (VERSION_CONFLICT if taken); default: the next one."
    )
    format = ArtifactFormat(description="Default: from the file name's suffix.")
    description = graphene.String(description="Free text shown with the model.")
    stage = ModelStage(
        description="Default staging. production runs the compatibility check against the current production version."
    )
    input_schema = GenericScalar(
        description='{"features": [{"name", "type", "allowed"?, "nullable"?, "unknown"?}, ...]}, checked against the '
        "estimator; default: derived from it."
    )
    metrics = GenericScalar(description="A JSON object of finite values (say, the pipeline's evaluation).")
    force = graphene.Boolean(
        description="Register a file already registered under this name (else DUPLICATE_ARTIFACT)."
    )
    allow_breaking = graphene.Boolean(
        description="With stage production: go ahead even if the inputs break clients of the current production "
        "version."
    )
    trust = graphene.List(
        graphene.NonNull(graphene.String), description="skops types to trust beyond those skops and scikit-learn trust."
    )
    reference = Upload(
        description="A CSV sample of the training data (a header of feature names; at most "
        "QUALITY_REFERENCE_MAX_BYTES), as a multipart upload: the version's drift reference. A refused one "
        "(INVALID_REFERENCE, REFERENCE_TOO_LARGE) registers nothing."
    )


class RegisterModel(BaseMutation):
    """Registers a model version from an uploaded estimator file (`registry` scope: staff applications only)."""

    model = graphene.Field(ModelType, description="The new version; null when `errors` is not empty.")

    class Meta:
        name = "RegisterModelPayload"
        error_type_class = RegistryError
        description = "The version registered, or why it was not (nothing is stored then)."

    class Arguments:
        input = RegisterModelInput(required=True, description="The file and its metadata.")

    @classmethod
    def perform(cls, root, info, input):
        user = require_scope(info, REGISTRY_SCOPE)
        artifact = input.get("artifact")
        if not isinstance(artifact, UploadedFile):
            raise ApplicationError.single(
                RegistryErrorCode.REQUIRED,
                "Send the file as a multipart upload (GraphQL multipart request spec) mapped to input.artifact.",
                field="artifact",
            )
        reference = input.get("reference")
        if reference is not None and not isinstance(reference, UploadedFile):
            raise ApplicationError.single(
                DriftErrorCode.INVALID_REFERENCE,
                "Send the reference as a multipart upload mapped to input.reference.",
                field="reference",
            )
        try:
            model = model_register_with_reference(
                reference=reference,
                registered_by=user,
                name=input["name"],
                artifact=artifact,
                filename=artifact.name or "",
                version=input.get("version"),
                artifact_format=enum_value(input.get("format")) or None,
                description=input.get("description") or "",
                stage=enum_value(input.get("stage")) or RegisteredModel.Stage.STAGING,
                input_schema=input.get("input_schema"),
                metrics=input.get("metrics"),
                approved_types=list(input.get("trust") or []),
                force=bool(input.get("force")),
                allow_breaking=bool(input.get("allow_breaking")),
            )
        except ApplicationError as error:
            raise _in_graphql_names(error) from None
        return cls(model=model, errors=[])


class SetModelStageInput(graphene.InputObjectType):
    """Which version moves to which stage."""

    model_id = graphene.ID(required=True, description="The model version's id.")
    stage = ModelStage(required=True, description="The stage to move the version to.")
    allow_breaking = graphene.Boolean(
        description="Into production even if the inputs break clients of the current production version "
        "(else BREAKING_CHANGE)."
    )


class SetModelStage(BaseMutation):
    """Moves a model version to another stage; into production only if its inputs are compatible (`registry` scope)."""

    model = graphene.Field(ModelType, description="The version with its new stage; null when `errors` is not empty.")

    class Meta:
        name = "SetModelStagePayload"
        error_type_class = RegistryError
        description = "The version moved, or why it was not (its stage is unchanged then)."

    class Arguments:
        input = SetModelStageInput(required=True, description="The version and its new stage.")

    @classmethod
    def perform(cls, root, info, input):
        user = require_scope(info, REGISTRY_SCOPE)
        try:
            model = model_get_for_registry(model_id=input["model_id"])
        except NotFoundError:
            raise NotFoundError.single(RegistryErrorCode.NOT_FOUND, "No such model.", field="modelId") from None
        try:
            model = model_set_stage(
                model=model,
                stage=enum_value(input["stage"]),
                changed_by=user,
                allow_breaking=bool(input.get("allow_breaking")),
            )
        except ApplicationError as error:
            raise _in_graphql_names(error) from None
        return cls(model=model, errors=[])


class RegistryMutations(graphene.ObjectType):
    register_model = RegisterModel.Field(
        description="Register a model version from an estimator file sent as a multipart upload (registry scope)."
    )
    set_model_stage = SetModelStage.Field(
        description="Move a model version to another stage, with the compatibility check into production "
        "(registry scope)."
    )
