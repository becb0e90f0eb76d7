import graphene
from graphene_django import DjangoObjectType

from batch.graphql.enums import BatchError, BatchFileFormat, BatchJobStatus
from batch.models import BatchJob
from mlapi.graphql_core.pagination import CountableConnection
from predictions.graphql.types import ModelType


class BatchJobType(DjangoObjectType):
    """Scoring one uploaded file with one model in the background, chunk by chunk."""

    id = graphene.ID(required=True, description="The job's id (a UUID string, the same as REST's).")
    status = graphene.Field(BatchJobStatus, required=True, description="Where the job is.")
    model = graphene.Field(ModelType, required=True, description="The model version scoring the file.")
    rows_total = graphene.Int(required=True, description="Data rows in the file.")
    rows_done = graphene.Int(required=True, description="Rows scored (and billed).")
    rows_failed = graphene.Int(required=True, description="Rows refused with a row error.")
    created_at = graphene.DateTime(required=True, description="When the job was submitted.")
    started_at = graphene.DateTime(description="When its first chunk started; null while queued.")
    finished_at = graphene.DateTime(description="When it succeeded, failed or was cancelled; null before.")
    filename = graphene.String(required=True, description="The name the file was uploaded with.")
    format = graphene.String(
        required=True, description="csv or jsonl.", deprecation_reason="Use `fileFormat` (an enum)."
    )
    file_format = graphene.Field(BatchFileFormat, required=True, description="The input file's format.")
    progress = graphene.Float(required=True, description="(rowsDone + rowsFailed) / rowsTotal")
    error = graphene.Field(BatchError, description="Why the job is paused or failed; null otherwise.")
    results_url = graphene.String(
        required=True, description="REST download of every row's result: append ?format=csv or ?format=jsonl."
    )

    class Meta:
        model = BatchJob
        name = "BatchJob"
        fields = (
            "id",
            "status",
            "model",
            "rows_total",
            "rows_done",
            "rows_failed",
            "created_at",
            "started_at",
            "finished_at",
        )

    @staticmethod
    def resolve_filename(job: BatchJob, info):
        return job.upload.filename

    @staticmethod
    def resolve_format(job: BatchJob, info):
        return job.upload.format

    @staticmethod
    def resolve_file_format(job: BatchJob, info):
        return job.upload.format

    @staticmethod
    def resolve_error(job: BatchJob, info):
        return BatchError(field=None, code=job.error_code, message=job.error) if job.error_code else None

    @staticmethod
    def resolve_results_url(job: BatchJob, info):
        return f"/api/v1/batch-jobs/{job.pk}/results"


class BatchJobConnection(CountableConnection):
    class Meta:
        node = BatchJobType
