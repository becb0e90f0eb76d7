import graphene

from batch.graphql.types import BatchJobType
from batch.services.jobs import batch_job_cancel, batch_job_resume, batch_job_submit
from batch.services.uploads import batch_upload_delete_for_owner
from mlapi.graphql_core.mutations import BaseMutation
from mlapi.graphql_core.permissions import require_scope
from predictions.services import model_ref_from_input


class CreateBatchJobInput(graphene.InputObjectType):
    model_id = graphene.ID(description="A model id; or give modelName (+ modelVersion).")
    model_name = graphene.String()
    model_version = graphene.Int(description="Omitted: the latest production version.")
    upload_id = graphene.ID(description="A file stored with REST POST /api/v1/batch-uploads (multipart `file`).")
    content = graphene.String(
        description="Or the file inline (CSV with a header row, or JSONL), up to the request size limit."
    )
    format = graphene.String(description="csv or jsonl; required with content (an upload knows its own).")


class CreateBatchJob(BaseMutation):
    """Score a file with a model in the background. Give exactly one of uploadId or content."""

    batch_job = graphene.Field(BatchJobType)

    class Arguments:
        input = CreateBatchJobInput(required=True)

    @classmethod
    def perform(cls, root, info, input):
        user = require_scope(info, "predict")
        job = batch_job_submit(
            user=user,
            model_ref=model_ref_from_input(
                model_id=input.get("model_id"), name=input.get("model_name"), version=input.get("model_version")
            ),
            content=input.get("content"),
            file_format=input.get("format"),
            upload_id=input.get("upload_id"),
        )
        return cls(batch_job=job, errors=[])


class CancelBatchJob(BaseMutation):
    """Stop a queued, running or paused job; rows already stored stay (and are billed)."""

    batch_job = graphene.Field(BatchJobType)

    class Arguments:
        id = graphene.ID(required=True)

    @classmethod
    def perform(cls, root, info, id):
        user = require_scope(info, "predict")
        return cls(batch_job=batch_job_cancel(user=user, job_id=id), errors=[])


class ResumeBatchJob(BaseMutation):
    """Resume a paused (quota) or failed job: its remaining chunks are queued again."""

    batch_job = graphene.Field(BatchJobType)

    class Arguments:
        id = graphene.ID(required=True)

    @classmethod
    def perform(cls, root, info, id):
        user = require_scope(info, "predict")
        return cls(batch_job=batch_job_resume(user=user, job_id=id), errors=[])


class DeleteUpload(BaseMutation):
    """Delete one of your batch uploads, with the jobs scored from it and their results, freeing its storage.
    Refused (UPLOAD_IN_USE) while one of those jobs is queued or running."""

    deleted_id = graphene.ID(description="The id of the upload deleted; null when it was not.")

    class Arguments:
        id = graphene.ID(required=True, description="The upload's id (from REST POST /api/v1/batch-uploads).")

    @classmethod
    def perform(cls, root, info, id):
        user = require_scope(info, "predict")
        batch_upload_delete_for_owner(user=user, upload_id=id)
        return cls(deleted_id=id, errors=[])
