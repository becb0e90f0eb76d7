import graphene

from batch.error_codes import BatchErrorCode
from batch.graphql.enums import BatchError, BatchFileFormat
from batch.graphql.types import BatchJobType
from batch.services.jobs import batch_job_cancel, batch_job_resume, batch_job_submit
from batch.services.uploads import batch_upload_delete_for_owner
from mlapi.errors import ApplicationError
from mlapi.graphql_core.enums import enum_value
from mlapi.graphql_core.mutations import BaseMutation
from mlapi.graphql_core.permissions import require_scope
from predictions.services import model_ref_from_input


class CreateBatchJobInput(graphene.InputObjectType):
    """The model and the file of a batch job: give exactly one of uploadId or content."""

    model_id = graphene.ID(description="A model id; or give modelName (+ modelVersion).")
    model_name = graphene.String(description="A model name; with modelVersion omitted, its latest production version.")
    model_version = graphene.Int(description="Omitted: the latest production version.")
    upload_id = graphene.ID(description="A file stored with REST POST /api/v1/batch-uploads (multipart `file`).")
    content = graphene.String(
        description="Or the file inline (CSV with a header row, or JSONL), up to the request size limit."
    )
    format = graphene.String(
        description="csv or jsonl; required with content (an upload knows its own).",
        deprecation_reason="Use `fileFormat` (an enum).",
    )
    file_format = graphene.Field(
        BatchFileFormat, description="The format of `content`; required with it (an upload knows its own)."
    )


def _file_format(input) -> str | None:
    legacy, chosen = input.get("format"), enum_value(input.get("file_format"))
    if legacy is not None and chosen is not None:
        raise ApplicationError.single(
            BatchErrorCode.INVALID_INPUT, "Give fileFormat or the deprecated format, not both.", field="fileFormat"
        )
    return chosen if chosen is not None else legacy


class CreateBatchJob(BaseMutation):
    """Score a file with a model in the background (scope predict). Give exactly one of uploadId or content."""

    batch_job = graphene.Field(BatchJobType, description="The job, queued; null when it was refused.")

    class Meta:
        name = "CreateBatchJobPayload"
        error_type_class = BatchError

    class Arguments:
        input = CreateBatchJobInput(required=True, description="The model and the file.")

    @classmethod
    def perform(cls, root, info, input):
        user = require_scope(info, "predict")
        job = batch_job_submit(
            user=user,
            model_ref=model_ref_from_input(
                model_id=input.get("model_id"), name=input.get("model_name"), version=input.get("model_version")
            ),
            content=input.get("content"),
            file_format=_file_format(input),
            upload_id=input.get("upload_id"),
        )
        return cls(batch_job=job, errors=[])


class CancelBatchJob(BaseMutation):
    """Stop a queued, running or paused job (scope predict); rows already stored stay (and are billed)."""

    batch_job = graphene.Field(BatchJobType, description="The job, cancelled; null when it was not.")

    class Meta:
        name = "CancelBatchJobPayload"
        error_type_class = BatchError

    class Arguments:
        id = graphene.ID(required=True, description="The job's id.")

    @classmethod
    def perform(cls, root, info, id):
        user = require_scope(info, "predict")
        return cls(batch_job=batch_job_cancel(user=user, job_id=id), errors=[])


class ResumeBatchJob(BaseMutation):
    """Resume a paused (quota) or failed job (scope predict): its remaining chunks are queued again."""

    batch_job = graphene.Field(BatchJobType, description="The job, queued again; null when it was not.")

    class Meta:
        name = "ResumeBatchJobPayload"
        error_type_class = BatchError

    class Arguments:
        id = graphene.ID(required=True, description="The job's id.")

    @classmethod
    def perform(cls, root, info, id):
        user = require_scope(info, "predict")
        return cls(batch_job=batch_job_resume(user=user, job_id=id), errors=[])


class DeleteUpload(BaseMutation):
    """Delete one of your batch uploads, with the jobs scored from it and their results, freeing its storage.
    Refused (UPLOAD_IN_USE) while one of those jobs is queued or running."""

    deleted_id = graphene.ID(description="The id of the upload deleted; null when it was not.")

    class Meta:
        name = "DeleteUploadPayload"
        error_type_class = BatchError

    class Arguments:
        id = graphene.ID(required=True, description="The upload's id (from REST POST /api/v1/batch-uploads).")

    @classmethod
    def perform(cls, root, info, id):
        user = require_scope(info, "predict")
        batch_upload_delete_for_owner(user=user, upload_id=id)
        return cls(deleted_id=id, errors=[])
