from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from batch.models import BatchJob, BatchUpload, FileFormat
from mlapi.api.serializers import ErrorSerializer
from predictions.api.serializers import ModelRefSerializer


class BatchUploadSerializer(serializers.ModelSerializer):
    class Meta:
        model = BatchUpload
        fields = ("id", "filename", "format", "size_bytes", "sha256", "created_at")


class BatchUploadRequestSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="A .csv (header row of feature names) or .jsonl (one JSON object per line) file."
    )
    format = serializers.ChoiceField(
        choices=FileFormat.choices, required=False, help_text="Default: from the file name."
    )


class BatchJobSerializer(serializers.ModelSerializer):
    model = ModelRefSerializer()
    filename = serializers.CharField(source="upload.filename")
    format = serializers.CharField(source="upload.format")
    progress = serializers.FloatField(help_text="(rows_done + rows_failed) / rows_total")
    error = serializers.SerializerMethodField(help_text="Why the job is paused or failed; null otherwise.")

    class Meta:
        model = BatchJob
        fields = (
            "id",
            "status",
            "model",
            "filename",
            "format",
            "rows_total",
            "rows_done",
            "rows_failed",
            "progress",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        )

    @extend_schema_field(ErrorSerializer(allow_null=True))
    def get_error(self, job: BatchJob) -> dict | None:
        return {"field": None, "code": job.error_code, "message": job.error} if job.error_code else None


class BatchJobCreateSerializer(serializers.Serializer):
    """Shape only: multipart with `file`, or JSON/multipart with `upload_id` (from POST /batch-uploads)."""

    model = serializers.CharField(max_length=100, help_text="The model's name.")
    version = serializers.IntegerField(required=False, min_value=1, help_text="Default: the latest production version.")
    file = serializers.FileField(required=False)
    upload_id = serializers.UUIDField(required=False)
    format = serializers.ChoiceField(
        choices=FileFormat.choices, required=False, help_text="Default: from the file name."
    )


class BatchJobFilterSerializer(serializers.Serializer):
    """Query parameters of GET /batch-jobs: GraphQL `batchJobs(status:)`."""

    status = serializers.ChoiceField(
        choices=BatchJob.Status.choices, required=False, help_text="Only jobs in this status."
    )
