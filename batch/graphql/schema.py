import graphene

from batch.graphql.enums import BatchJobStatus
from batch.graphql.mutations import (
    CancelBatchJob,
    CreateBatchJob,
    DeleteUpload,
    ResumeBatchJob,
)
from batch.graphql.types import BatchJobConnection, BatchJobType
from batch.selectors import batch_job_get_for_owner, batch_job_list_for_owner
from mlapi.errors import NotFoundError
from mlapi.graphql_core.enums import enum_value
from mlapi.graphql_core.filters import LOOSE_ARGUMENT_DEPRECATED, filter_merge
from mlapi.graphql_core.pagination import connection_resolve, pagination_arguments
from mlapi.graphql_core.permissions import require_scope


class BatchJobFilterInput(graphene.InputObjectType):
    """Which batch jobs to list; every criterion given must hold."""

    status = graphene.Field(BatchJobStatus, description="Only jobs in this status.")


class BatchQueries(graphene.ObjectType):
    batch_jobs = graphene.Field(
        BatchJobConnection,
        required=True,
        status=graphene.String(description="Only jobs in this status.", deprecation_reason=LOOSE_ARGUMENT_DEPRECATED),
        filter=BatchJobFilterInput(description="Which jobs to list."),
        **pagination_arguments(),
        description="Your batch jobs, newest first.",
    )
    batch_job = graphene.Field(
        BatchJobType,
        id=graphene.ID(required=True, description="The job's id."),
        description="One of your batch jobs by id; null when there is no such job of yours.",
    )

    @staticmethod
    def resolve_batch_jobs(root, info, status=None, filter=None, first=None, after=None, last=None, before=None):
        user = require_scope(info, "read")
        criteria = filter_merge(filter, status=status)
        jobs = batch_job_list_for_owner(user=user, status=enum_value(criteria.get("status")))
        return connection_resolve(
            BatchJobConnection, jobs, order=("-created_at", "-id"), first=first, after=after, last=last, before=before
        )

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
