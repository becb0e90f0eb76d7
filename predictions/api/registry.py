"""The registry over REST, for training pipelines: POST /models (multipart) and POST /models/{id}/stage.

Both need a token with the `registry` scope, which only staff applications get (accounts.oauth). The views
parse the form and call the same services as the admin, the commands and GraphQL's registerModel and
setModelStage; every refusal is `{"errors": [{field, code, message}]}` with a RegistryErrorCode.
The body is bounded before anything reads it (mlapi.uploads); authentication and the scope check come before
the form is parsed.
"""

import json

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.oauth import REGISTRY_SCOPE
from mlapi.api.permissions import HasScope
from mlapi.api.serializers import ErrorResponseSerializer
from mlapi.errors import ApplicationError, FieldError, PayloadTooLargeError
from mlapi.uploads import (
    content_length_of,
    file_size_limit_install,
    multipart_max_bytes,
)
from predictions.api.serializers import ModelSerializer
from predictions.api.views import ModelListView
from predictions.error_codes import RegistryErrorCode
from predictions.models import RegisteredModel
from predictions.selectors import model_get_for_registry
from predictions.services import model_set_stage
from quality.error_codes import DriftErrorCode
from quality.services.drift import model_register_with_reference

REGISTER_FIELDS = frozenset(
    {
        "artifact",
        "name",
        "version",
        "format",
        "description",
        "stage",
        "input_schema",
        "metrics",
        "force",
        "allow_breaking",
        "trust",
        "reference",
    }
)
STAGE_FIELDS = frozenset({"stage", "allow_breaking"})
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


class ModelRegisterRequestSerializer(serializers.Serializer):
    """The multipart form of POST /models (documentation: the view parses it, see `_registration_from`)."""

    artifact = serializers.FileField(help_text="The fitted estimator: a .joblib (.pkl) or .skops file.")
    name = serializers.SlugField(max_length=100, help_text="The model name; versions count up per name.")
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="Register exactly this version (VERSION_CONFLICT if taken); default: the next one.",
    )
    format = serializers.ChoiceField(
        choices=RegisteredModel.Format.choices, required=False, help_text="Default: from the file name's suffix."
    )
    description = serializers.CharField(required=False, allow_blank=True)
    stage = serializers.ChoiceField(
        choices=RegisteredModel.Stage.choices,
        required=False,
        help_text="Default staging. production runs the compatibility check against the current production version.",
    )
    input_schema = serializers.JSONField(
        required=False,
        help_text='JSON {"features": [{"name", "type", "allowed"?, "nullable"?, "unknown"?}, ...]} '
        "(text or a file part); "
        "checked against the estimator. Default: derived from the fitted estimator.",
    )
    metrics = serializers.JSONField(required=False, help_text="A JSON object of finite values (text or a file part).")
    force = serializers.BooleanField(
        required=False, default=False, help_text="Register a file already registered under this name."
    )
    allow_breaking = serializers.BooleanField(
        required=False,
        default=False,
        help_text="With stage=production: go ahead even if the inputs break current clients.",
    )
    trust = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="skops types to trust beyond skops' and scikit-learn's (repeat the field).",
    )
    reference = serializers.FileField(
        required=False,
        help_text="A CSV sample of the training data (a header of feature names; at most "
        "QUALITY_REFERENCE_MAX_BYTES): the version's drift reference. A refused one registers nothing.",
    )


class ModelStageRequestSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(
        choices=RegisteredModel.Stage.choices, help_text="The stage to move the version to."
    )
    allow_breaking = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Into production even if the inputs break clients of the current production version.",
    )


def _error(code: RegistryErrorCode, message: str, field: str | None) -> ApplicationError:
    return ApplicationError.single(code, message, field=field)


def _boolean(data, field: str) -> bool:
    value = data.get(field, "")
    if isinstance(value, bool):
        return value
    if not isinstance(value, str) or value.strip().lower() not in _TRUE | _FALSE:
        raise _error(RegistryErrorCode.INVALID_VALUE, f"{field} must be true or false.", field)
    return value.strip().lower() in _TRUE


def _json_part(data, files, field: str, code: RegistryErrorCode):
    """A JSON form field, sent as text (`-F 'metrics={...}'`) or as a file part (`-F input_schema=@schema.json`)."""
    upload = files.get(field)
    text = data.get(field) if upload is None else upload.read(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    if text is None or text == "":
        return None
    if len(text) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        raise _error(code, f"{field} is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.", field)
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise _error(code, f"{field} is not valid JSON.", field) from None


def _registration_from(data, files) -> dict:
    """The service's keyword arguments from the form; shape only, every rule is the service's."""
    unknown = sorted((set(data.keys()) | set(files.keys())) - REGISTER_FIELDS)
    if unknown:
        raise ApplicationError(
            FieldError(
                field=name[:100], code=RegistryErrorCode.UNKNOWN_FIELD.value, message=f"Unknown field {name[:100]!r}."
            )
            for name in unknown[:5]
        )
    artifacts = files.getlist("artifact")
    if len(artifacts) != 1:
        raise _error(RegistryErrorCode.REQUIRED, "Send the estimator as one file part named artifact.", "artifact")
    if not data.get("name"):
        raise _error(RegistryErrorCode.REQUIRED, "Give the model a name.", "name")
    version = data.get("version") or None
    if version is not None:
        if not version.isdigit():
            raise _error(RegistryErrorCode.INVALID_VERSION, "The version must be a positive integer.", "version")
        version = int(version)
    references = files.getlist("reference")
    if len(references) > 1:
        raise ApplicationError.single(
            DriftErrorCode.INVALID_REFERENCE, "Send at most one file part named reference.", field="reference"
        )
    return {
        "reference": references[0] if references else None,
        "artifact": artifacts[0],
        "filename": artifacts[0].name or "",
        "name": data["name"],
        "version": version,
        "artifact_format": data.get("format") or None,
        "description": data.get("description", ""),
        "stage": data.get("stage") or RegisteredModel.Stage.STAGING,
        "input_schema": _json_part(data, files, "input_schema", RegistryErrorCode.INVALID_SCHEMA),
        "metrics": _json_part(data, files, "metrics", RegistryErrorCode.INVALID_METRICS),
        "force": _boolean(data, "force"),
        "allow_breaking": _boolean(data, "allow_breaking"),
        "approved_types": [t for t in data.getlist("trust") if t],
    }


def _too_large(max_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError.single(
        RegistryErrorCode.ARTIFACT_TOO_LARGE, f"The artifact is larger than {max_bytes} bytes.", field="artifact"
    )


def _errors(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorResponseSerializer, description=description)


REGISTER_ERRORS = {
    400: _errors(
        "REQUIRED, UNKNOWN_FIELD, INVALID_VALUE, INVALID_NAME, INVALID_VERSION, INVALID_STAGE, UNSUPPORTED_FORMAT, "
        "ARTIFACT_UNREADABLE, NOT_AN_ESTIMATOR, UNSUPPORTED_ESTIMATOR, INVALID_SCHEMA, INVALID_METRICS, "
        "INVALID_REFERENCE, REFERENCE_TOO_LARGE (the drift reference sample; field reference)."
    ),
    401: _errors("UNAUTHENTICATED (no token) or INVALID_TOKEN."),
    403: _errors(
        "FORBIDDEN (the token lacks the registry scope) or UNTRUSTED_TYPES (skops types not approved: see trust)."
    ),
    409: _errors(
        "DUPLICATE_ARTIFACT (see force), VERSION_CONFLICT, BREAKING_CHANGE (one per difference; see allow_breaking)."
    ),
    413: _errors("ARTIFACT_TOO_LARGE: over MODEL_ARTIFACT_MAX_BYTES, refused before the body is read."),
    415: _errors("UNSUPPORTED_MEDIA_TYPE: send multipart/form-data."),
}


class ModelListRegisterView(ModelListView):
    """GET lists the models you may use (ModelListView); POST registers a new version (`registry` scope)."""

    parser_classes = [MultiPartParser]

    @property
    def required_scope(self) -> str:
        return REGISTRY_SCOPE if self.request.method == "POST" else "read"

    def initial(self, request, *args, **kwargs):
        # The bound comes first: authenticating a session runs the CSRF check, which reads a form body. Nothing
        # of the body is read before authentication and the scope check otherwise.
        if request.method == "POST":
            max_bytes = settings.MODEL_ARTIFACT_MAX_BYTES
            length = content_length_of(request)
            if length is not None and length > multipart_max_bytes(max_file_bytes=max_bytes):
                raise _too_large(max_bytes)
            self._size_limit = file_size_limit_install(request, max_bytes=max_bytes)
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="models_register",
        summary="Register a model version",
        description="Upload a fitted estimator with its metadata (multipart/form-data). Needs a token with the "
        "`registry` scope (staff applications only). A refused registration stores no row and no file.",
        request={"multipart/form-data": ModelRegisterRequestSerializer},
        responses={201: ModelSerializer, **REGISTER_ERRORS},
        examples=[
            OpenApiExample(
                "a pipeline's upload",
                value={"name": "churn", "version": 7, "stage": "staging", "metrics": '{"auc": 0.91}'},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        if not (request.content_type or "").startswith("multipart/form-data"):
            raise UnsupportedMediaType(request.content_type or "none")
        data, files = request.POST, request.FILES
        if self._size_limit.exceeded:
            raise _too_large(settings.MODEL_ARTIFACT_MAX_BYTES)
        model = model_register_with_reference(registered_by=request.user, **_registration_from(data, files))
        return Response(
            ModelSerializer(model, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED
        )


class ModelStageView(APIView):
    """Move a version to another stage; into production only if compatible with the current production version."""

    permission_classes = [HasScope]
    required_scope = REGISTRY_SCOPE

    @extend_schema(
        operation_id="models_stage",
        summary="Change a model version's stage",
        description="Into production, the version's input schema is compared with the current production "
        "version's: breaking changes are refused (BREAKING_CHANGE, one error per difference) unless allow_breaking.",
        request=ModelStageRequestSerializer,
        responses={
            200: ModelSerializer,
            400: _errors("INVALID_STAGE, UNKNOWN_FIELD, INVALID_VALUE, MALFORMED_JSON."),
            401: _errors("UNAUTHENTICATED (no token) or INVALID_TOKEN."),
            403: _errors("FORBIDDEN: the token lacks the registry scope."),
            404: _errors("NOT_FOUND: no model with this id."),
            409: _errors("BREAKING_CHANGE, one per difference."),
        },
    )
    def post(self, request, pk: str):
        body = request.data
        if not isinstance(body, dict):
            raise _error(RegistryErrorCode.INVALID_VALUE, "The body must be a JSON object.", None)
        unknown = sorted(set(body) - STAGE_FIELDS)
        if unknown:
            raise _error(RegistryErrorCode.UNKNOWN_FIELD, f"Unknown field(s): {unknown[:5]}.", str(unknown[0])[:100])
        stage = body.get("stage")
        if not isinstance(stage, str) or not stage:
            raise _error(RegistryErrorCode.REQUIRED, "Give the stage.", "stage")
        allow_breaking = body.get("allow_breaking", False)
        if not isinstance(allow_breaking, bool):
            raise _error(RegistryErrorCode.INVALID_VALUE, "allow_breaking must be true or false.", "allow_breaking")
        model = model_get_for_registry(model_id=pk)
        model = model_set_stage(model=model, stage=stage, changed_by=request.user, allow_breaking=allow_breaking)
        return Response(ModelSerializer(model, context={"request": request}).data)
