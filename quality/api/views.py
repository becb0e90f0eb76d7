from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from mlapi.api.permissions import HasScope
from mlapi.errors import ApplicationError, PayloadTooLargeError
from predictions.selectors import model_get_for_user
from quality.error_codes import FeedbackErrorCode
from quality.selectors import model_quality
from quality.services.batch_feedback import batch_feedback_submit
from quality.services.feedback import FeedbackItem, feedback_submit


class FeedbackSerializer(serializers.Serializer):
    id = serializers.CharField()
    prediction_id = serializers.UUIDField()
    actual = serializers.JSONField()
    observed_at = serializers.DateTimeField()
    replaced = serializers.SerializerMethodField()

    def get_replaced(self, feedback) -> bool:
        return feedback.replaces_id is not None


class FeedbackRequestSerializer(serializers.Serializer):
    """Shape only; the service checks `actual` against the model's task."""

    actual = serializers.JSONField()
    observedAt = serializers.DateTimeField(required=False)


class FeedbackBatchItemSerializer(FeedbackRequestSerializer):
    predictionId = serializers.UUIDField(required=False)
    idempotencyKey = serializers.CharField(required=False)
    position = serializers.IntegerField(required=False)


class FeedbackBatchRequestSerializer(serializers.Serializer):
    items = FeedbackBatchItemSerializer(many=True)


class FeedbackResponseSerializer(serializers.Serializer):
    feedback = FeedbackSerializer(many=True)


def _body_object(request) -> dict:
    if not isinstance(request.data, dict):
        raise ApplicationError.single(FeedbackErrorCode.INVALID_INPUT, "The body must be a JSON object.")
    return request.data


def _item(raw, **extra) -> FeedbackItem:
    if not isinstance(raw, dict):
        raise ApplicationError.single(FeedbackErrorCode.INVALID_INPUT, "Each item must be an object.", field="items")
    return FeedbackItem(
        actual=raw.get("actual"),
        prediction_id=extra.get("prediction_id", raw.get("predictionId")),
        idempotency_key=raw.get("idempotencyKey"),
        position=raw.get("position"),
        observed_at=raw.get("observedAt"),
    )


def _created(feedback) -> Response:
    return Response(FeedbackResponseSerializer({"feedback": feedback}).data, status=status.HTTP_201_CREATED)


class PredictionFeedbackView(APIView):
    """The ground truth of one of your predictions (not billed); re-submitting replaces it, keeping history."""

    permission_classes = [HasScope]
    required_scope = "predict"

    @extend_schema(
        request=FeedbackRequestSerializer,
        responses={201: FeedbackResponseSerializer},
        parameters=[OpenApiParameter("id", OpenApiTypes.UUID, location=OpenApiParameter.PATH)],
    )
    def post(self, request, pk: str):
        body = _body_object(request)
        return _created(feedback_submit(user=request.user, items=[_item(body, prediction_id=pk)]))


class FeedbackBatchView(APIView):
    """Up to 1,000 ground-truth values in one call, all or nothing: `{"items": [{predictionId | idempotencyKey
    (+ position), actual, observedAt?}]}`."""

    permission_classes = [HasScope]
    required_scope = "predict"

    @extend_schema(request=FeedbackBatchRequestSerializer, responses={201: FeedbackResponseSerializer})
    def post(self, request):
        items = _body_object(request).get("items")
        if not isinstance(items, list):
            raise ApplicationError.single(FeedbackErrorCode.INVALID_INPUT, "items must be a list.", field="items")
        return _created(feedback_submit(user=request.user, items=[_item(raw) for raw in items]))


class BatchFeedbackRequestSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV with a header: `prediction_id` or `row` (the job's input row number), and `actual`."
    )


class BatchFeedbackResponseSerializer(serializers.Serializer):
    job = serializers.UUIDField()
    stored = serializers.IntegerField(help_text="Feedback rows stored (one per file row).")
    replaced = serializers.IntegerField(help_text="Of those, how many replaced an earlier value (kept as history).")


MULTIPART_OVERHEAD_BYTES = 64 * 1024


class BatchJobFeedbackView(APIView):
    """Ground truth for one of your batch jobs as a CSV file (multipart `file`), all or nothing, not billed.
    Errors name the file's data row: `rows.12.actual`."""

    permission_classes = [HasScope]
    required_scope = "predict"
    parser_classes = [MultiPartParser]
    error_statuses = (400, 404, 413)

    @extend_schema(
        summary="Submit ground truth for a batch job",
        request={"multipart/form-data": BatchFeedbackRequestSerializer},
        responses={201: BatchFeedbackResponseSerializer},
        parameters=[OpenApiParameter("id", OpenApiTypes.UUID, location=OpenApiParameter.PATH)],
    )
    def post(self, request, pk: str):
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > settings.BATCH_MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES:
            raise PayloadTooLargeError.single(
                FeedbackErrorCode.FILE_TOO_LARGE,
                f"The file is larger than {settings.BATCH_MAX_UPLOAD_BYTES} bytes.",
                field="file",
            )
        form = BatchFeedbackRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        stored = batch_feedback_submit(user=request.user, job_id=pk, stream=form.validated_data["file"])
        body = {"job": pk, "stored": len(stored), "replaced": sum(1 for f in stored if f.replaces_id is not None)}
        return Response(BatchFeedbackResponseSerializer(body).data, status=status.HTTP_201_CREATED)


def quality_report_body(report) -> dict:
    """The REST shape of a QualityReport: the GraphQL field names, camelCase."""
    figures = report.figures

    def shaped(f: dict) -> dict:
        return {
            "count": f.get("count", 0),
            **{
                camel: f.get(name)
                for name, camel in (
                    ("accuracy", "accuracy"),
                    ("precision_macro", "precisionMacro"),
                    ("recall_macro", "recallMacro"),
                    ("f1_macro", "f1Macro"),
                    ("log_loss", "logLoss"),
                    ("brier_score", "brierScore"),
                    ("mae", "mae"),
                    ("rmse", "rmse"),
                    ("r2", "r2"),
                )
            },
        }

    return {
        "model": {"id": report.model.pk, "name": report.model.name, "version": report.model.version},
        "window": report.window,
        "since": report.since.isoformat(),
        "everyCustomer": report.every_customer,
        **shaped(figures),
        "perClass": figures.get("per_class", []),
        "confusionMatrix": (
            {"labels": figures["confusion_labels"], "counts": figures["confusion_matrix"]}
            if "confusion_matrix" in figures
            else None
        ),
        "days": [{"date": day["date"].isoformat(), **shaped(day)} for day in report.days],
        "offlineMetrics": report.offline_metrics,
    }


class ModelQualityView(APIView):
    """Live quality of one model version on ground-truth feedback (yours; staff with the staff scope: everyone's)."""

    permission_classes = [HasScope]
    required_scope = "read"

    @extend_schema(
        parameters=[OpenApiParameter("window", str, enum=["24h", "7d", "30d"], description="Default 24h.")],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, pk: str):
        model = model_get_for_user(user=request.user, model_id=pk)
        report = model_quality(
            model=model,
            user=request.user,
            every_customer=request.auth.sees_every_tenant,
            window=request.query_params.get("window", "24h"),
        )
        return Response(quality_report_body(report))
