import graphene
from graphene_django import DjangoObjectType

from batch.models import BatchJob
from mlapi.graphql_core.types import Error


class BatchJobType(DjangoObjectType):
    filename = graphene.String(required=True)
    format = graphene.String(required=True, description="csv or jsonl")
    progress = graphene.Float(required=True, description="(rowsDone + rowsFailed) / rowsTotal")
    error = graphene.Field(Error, description="Why the job is paused or failed; null otherwise.")
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
        convert_choices_to_enum = False

    @staticmethod
    def resolve_filename(job: BatchJob, info):
        return job.upload.filename

    @staticmethod
    def resolve_format(job: BatchJob, info):
        return job.upload.format

    @staticmethod
    def resolve_error(job: BatchJob, info):
        return Error(field=None, code=job.error_code, message=job.error) if job.error_code else None

    @staticmethod
    def resolve_results_url(job: BatchJob, info):
        return f"/api/v1/batch-jobs/{job.pk}/results"


class BatchJobConnection(graphene.relay.Connection):
    class Meta:
        node = BatchJobType
