import graphene

from batch.graphql.mutations import CancelBatchJob, CreateBatchJob, DeleteUpload, ResumeBatchJob
from batch.graphql.types import BatchJobConnection, BatchJobType
from batch.selectors import batch_job_get_for_owner, batch_job_list_for_owner
from mlapi.errors import NotFoundError
from mlapi.graphql_core.pagination import connection_resolve
from mlapi.graphql_core.permissions import require_scope


class BatchQueries(graphene.ObjectType):
    batch_jobs = graphene.Field(
        BatchJobConnection,
        required=True,
        status=graphene.String(),
        first=graphene.Int(),
        after=graphene.String(),
        description="Your batch jobs, newest first.",
    )
    batch_job = graphene.Field(BatchJobType, id=graphene.ID(required=True))

    @staticmethod
    def resolve_batch_jobs(root, info, status=None, first=None, after=None):
        user = require_scope(info, "read")
        jobs = batch_job_list_for_owner(user=user, status=status)
        return connection_resolve(BatchJobConnection, jobs, order=("-created_at", "-id"), first=first, after=after)

    @staticmethod
    def resolve_batch_job(root, info, id):
        user = require_scope(info, "read")
        try:
            return batch_job_get_for_owner(user=user, job_id=id)
        except NotFoundError:
            return None


class BatchMutations(graphene.ObjectType):
    create_batch_job = CreateBatchJob.Field()
    cancel_batch_job = CancelBatchJob.Field()
    resume_batch_job = ResumeBatchJob.Field()
    delete_upload = DeleteUpload.Field()
