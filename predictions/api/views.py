from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from mlapi.api.pagination import ByIdCursorPagination, NewestFirstCursorPagination
from mlapi.api.permissions import HasScope
from mlapi.errors import ApplicationError, NotFoundError
from predictions.api.lean import lean_enabled, predict_lean
from predictions.api.serializers import (
    ModelSerializer,
    PredictionSerializer,
    PredictRequestSerializer,
    PredictResponseSerializer,
)
from predictions.error_codes import PredictionErrorCode
from predictions.selectors import model_get_for_user, model_list_for_user, prediction_get_for_user, prediction_list_for_user
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
            {"age": 41, "job": "management", "marital": "married", "education": "tertiary",
             "balance": 1200.0, "housing": "no", "duration": 380, "campaign": 2},
            {"age": 23, "job": "student", "marital": "single", "education": "secondary",
             "balance": 150.0, "housing": "yes", "duration": 90, "campaign": 4},
        ]
    },
    request_only=True,
)


class ModelListView(generics.ListAPIView):
    """Registered models you may use (staff: every stage)."""

    serializer_class = ModelSerializer
    permission_classes = [HasScope]
    required_scope = "read"
    pagination_class = ByIdCursorPagination

    @extend_schema(parameters=[OpenApiParameter("name", str), OpenApiParameter("stage", str)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return model_list_for_user(
            user=self.request.user, name=self.request.query_params.get("name"), stage=self.request.query_params.get("stage")
        )


class ModelDetailView(generics.RetrieveAPIView):
    serializer_class = ModelSerializer
    permission_classes = [HasScope]
    required_scope = "read"

    def get_object(self):
        return model_get_for_user(user=self.request.user, model_id=self.kwargs["pk"])


def _prediction_response(outcome, *, single: bool) -> Response:
    body = PredictResponseSerializer(
        {
            "prediction": outcome.predictions[0] if single else None,
            "predictions": outcome.predictions,
            "cost": outcome.usage,
            "replayed": outcome.replayed,
            "warnings": [w.as_dict() for w in outcome.warnings],
        }
    ).data
    return Response(body, status=status.HTTP_200_OK if outcome.replayed else status.HTTP_201_CREATED)


class PredictView(APIView):
    """Score one instance (`features`) or a batch (`instances`); stored and billed like GraphQL's createPrediction."""

    permission_classes = [HasScope]
    required_scope = "predict"
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
                answer=lambda user, body, version: self._predict(user=user, name=name, body=body, version=version, request=request),
            )
            if lean is not None:
                return lean
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(
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
            raise ApplicationError.single(PredictionErrorCode.UNKNOWN_FIELD, f"Unknown field(s): {unknown[:5]}.", field=str(unknown[0])[:100])
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
    """Your predictions, newest first (cursor pagination)."""

    serializer_class = PredictionSerializer
    permission_classes = [HasScope]
    required_scope = "read"
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        return prediction_list_for_user(user=self.request.user, every_tenant=self.request.auth.sees_every_tenant)


class PredictionDetailView(generics.RetrieveAPIView):
    serializer_class = PredictionSerializer
    permission_classes = [HasScope]
    required_scope = "read"

    @extend_schema(parameters=[OpenApiParameter("id", OpenApiTypes.UUID, location=OpenApiParameter.PATH)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self):
        return prediction_get_for_user(
            user=self.request.user, prediction_id=self.kwargs["pk"], every_tenant=self.request.auth.sees_every_tenant
        )
