from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from mlapi.api.exceptions import rest_errors
from mlapi.api.filters import filters_from_query
from mlapi.api.pagination import ByIdCursorPagination, NewestFirstCursorPagination
from mlapi.api.permissions import HasScope
from mlapi.errors import ApplicationError, NotFoundError
from predictions.api.lean import lean_enabled, predict_lean
from predictions.api.serializers import (
    ModelFilterSerializer,
    ModelSerializer,
    PredictionFilterSerializer,
    PredictionSerializer,
    PredictRequestSerializer,
    PredictResponseSerializer,
)
from predictions.error_codes import PredictionErrorCode
from predictions.selectors import (
    model_get_for_user,
    model_list_for_user,
    prediction_get_for_user,
    prediction_list_for_user,
)
from predictions.services import ModelRef, prediction_create

PREDICT_FIELDS = {"features", "instances"}

IRIS_EXAMPLE = OpenApiExample(
    "iris (one instance)",
    value={"features": {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}},
    request_only=True,
)
BANK_EXAMPLE = OpenApiExample(
    "bank-marketing (batch of two)",
    value={
        "instances": [
            {
                "age": 41,
                "job": "management",
                "marital": "married",
                "education": "tertiary",
                "balance": 1200.0,
                "housing": "no",
                "duration": 380,
                "campaign": 2,
            },
            {
                "age": 23,
                "job": "student",
                "marital": "single",
                "education": "secondary",
                "balance": 150.0,
                "housing": "yes",
                "duration": 90,
                "campaign": 4,
            },
        ]
    },
    request_only=True,
)


class ModelListView(generics.ListAPIView):
    """Registered models you may use, by id (production versions; staff: every stage). Cursor pages."""

    serializer_class = ModelSerializer
    permission_classes = [HasScope]
    required_scope = "read"
    pagination_class = ByIdCursorPagination
    error_statuses = (400,)

    @extend_schema(summary="List models", parameters=[ModelFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return model_list_for_user(user=self.request.user, **filters_from_query(self.request, ModelFilterSerializer))


class ModelDetailView(generics.RetrieveAPIView):
    """One registered model version by id: its task, input schema and outputs."""

    serializer_class = ModelSerializer
    permission_classes = [HasScope]
    required_scope = "read"
    error_statuses = (404,)

    @extend_schema(summary="Get a model", parameters=[OpenApiParameter("id", int, location=OpenApiParameter.PATH)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self):
        return model_get_for_user(user=self.request.user, model_id=self.kwargs["pk"])


# One bound instance, reused: `.to_representation` keeps no per-call state, and building the nested fields
# anew (DRF deep-copies every declared field per instance) was a fifth of a REST predict call's CPU.
_PREDICT_RESPONSE = PredictResponseSerializer()


def _prediction_response(outcome, *, single: bool) -> Response:
    body = _PREDICT_RESPONSE.to_representation(
        {
            "prediction": outcome.predictions[0] if single else None,
            "predictions": outcome.predictions,
            "cost": outcome.usage,
            "replayed": outcome.replayed,
            "warnings": rest_errors([w.as_dict() for w in outcome.warnings]),
        }
    )
    return Response(body, status=status.HTTP_200_OK if outcome.replayed else status.HTTP_201_CREATED)


class PredictView(APIView):
    """Score one instance (`features`) or a batch (`instances`); stored and billed like GraphQL's createPrediction.

    201 with the new predictions and their cost; 200 when an `Idempotency-Key` replays an earlier call (nothing is
    charged twice). Validation errors name each bad input by its path (`features.age`, `instances.2.job`)."""

    permission_classes = [HasScope]
    required_scope = "predict"
    error_statuses = (400, 404, 409, 413, 415, 429, 502)
    error_field_renames = {"model_name": "name", "model_version": "version"}  # the path's name, ?version=
    PREDICT_FIELDS = PREDICT_FIELDS

    def dispatch(self, request, *args, **kwargs):
        """The common call takes the lean lane (predictions/api/lean.py); everything else DRF's."""
        if lean_enabled():
            self.args, self.kwargs, self.request = args, kwargs, request
            name = kwargs["name"]
            lean = predict_lean(
                request,
                view=self,
                name=name,
                answer=lambda user, body, version: self._predict(
                    user=user, name=name, body=body, version=version, request=request
                ),
            )
            if lean is not None:
                return lean
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(
        summary="Predict with a model",
        tags=["predictions"],
        request=PredictRequestSerializer,
        responses={201: PredictResponseSerializer, 200: PredictResponseSerializer},
        parameters=[
            OpenApiParameter("version", int, description="Model version; default: the latest production version."),
            OpenApiParameter("Idempotency-Key", str, location=OpenApiParameter.HEADER, required=False),
        ],
        examples=[IRIS_EXAMPLE, BANK_EXAMPLE],
    )
    def post(self, request, name: str):
        body = request.data
        if not isinstance(body, dict):
            raise ParseError("The body must be a JSON object.")
        unknown = sorted(set(body) - PREDICT_FIELDS)
        if unknown:
            raise ApplicationError.single(
                PredictionErrorCode.UNKNOWN_FIELD, f"Unknown field(s): {unknown[:5]}.", field=str(unknown[0])[:100]
            )
        version = request.query_params.get("version")
        if version is not None and not version.isdigit():
            raise NotFoundError.single(PredictionErrorCode.NOT_FOUND, "No such model version.", field="version")
        return self._predict(user=request.user, name=name, body=body, version=version, request=request)

    @staticmethod
    def _predict(*, user, name: str, body: dict, version: str | None, request) -> Response:
        outcome = prediction_create(
            user=user,
            model_ref=ModelRef(name=name, version=int(version) if version is not None else None),
            features=body.get("features"),
            instances=body.get("instances"),
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return _prediction_response(outcome, single=body.get("features") is not None)


class PredictionListView(generics.ListAPIView):
    """Your predictions, newest first (cursor pagination; staff tokens with the staff scope: everyone's).

    Filters as GraphQL's `predictions`: a model id and an exclusive creation-time range."""

    serializer_class = PredictionSerializer
    permission_classes = [HasScope]
    required_scope = "read"
    pagination_class = NewestFirstCursorPagination
    error_statuses = (400,)

    @extend_schema(summary="List predictions", parameters=[PredictionFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = filters_from_query(self.request, PredictionFilterSerializer)
        if "model" in filters:
            filters["model_id"] = filters.pop("model")
        return prediction_list_for_user(
            user=self.request.user, every_tenant=self.request.auth.sees_every_tenant, **filters
        )


class PredictionDetailView(generics.RetrieveAPIView):
    """One of your predictions by id (staff scope: anyone's)."""

    serializer_class = PredictionSerializer
    permission_classes = [HasScope]
    required_scope = "read"
    error_statuses = (404,)

    @extend_schema(
        summary="Get a prediction",
        parameters=[OpenApiParameter("id", OpenApiTypes.UUID, location=OpenApiParameter.PATH)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self):
        return prediction_get_for_user(
            user=self.request.user, prediction_id=self.kwargs["pk"], every_tenant=self.request.auth.sees_every_tenant
        )
