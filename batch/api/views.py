from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import APIView

from batch.api.serializers import (
    BatchJobCreateSerializer,
    BatchJobFilterSerializer,
    BatchJobSerializer,
    BatchUploadRequestSerializer,
    BatchUploadSerializer,
)
from batch.error_codes import BatchErrorCode
from batch.exports import CONTENT_TYPES, RESULT_FORMATS, results_stream
from batch.selectors import batch_job_get_for_owner, batch_job_list_for_owner
from batch.services.jobs import batch_job_cancel, batch_job_resume, batch_job_submit
from batch.services.uploads import (
    batch_request_admit,
    batch_upload_create,
    batch_upload_delete_for_owner,
    upload_too_large_error,
)
from mlapi.api.filters import filters_from_query
from mlapi.api.pagination import NewestFirstCursorPagination
from mlapi.api.permissions import HasScope
from mlapi.errors import ApplicationError
from predictions.services import ModelRef

MULTIPART_OVERHEAD_BYTES = 64 * 1024
JOB_ID = OpenApiParameter("id", OpenApiTypes.UUID, location=OpenApiParameter.PATH)
UPLOAD_ID = OpenApiParameter("id", OpenApiTypes.UUID, location=OpenApiParameter.PATH)


def _declared_length(request) -> int:
    length = request.META.get("CONTENT_LENGTH") or "0"
    return int(length) if length.isdigit() else 0


def _admit_before_parsing(request, *, scoring: bool):
    """Before the body is parsed (multipart spools it to disk): the declared length against the upload limit,
    then the rate limit, the quota (`scoring`) and the storage allowance. An over-limit user's body is never read."""
    declared = _declared_length(request)
    if declared > settings.BATCH_MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES:
        raise upload_too_large_error()
    return batch_request_admit(
        user=request.user, scoring=scoring, incoming_bytes=max(0, declared - MULTIPART_OVERHEAD_BYTES)
    )


class _ReadOrPredictScope:
    """GET needs the `read` scope; POST needs `predict`."""

    permission_classes = [HasScope]

    @property
    def required_scope(self) -> str:
        return "read" if self.request.method in SAFE_METHODS else "predict"


class BatchUploadCreateView(APIView):
    """Store an input file (multipart `file`) for GraphQL's createBatchJob(uploadId) or POST /batch-jobs."""

    permission_classes = [HasScope]
    required_scope = "predict"
    parser_classes = [MultiPartParser]
    error_statuses = (400, 413, 415, 429)

    @extend_schema(
        summary="Upload a batch input file",
        request={"multipart/form-data": BatchUploadRequestSerializer},
        responses={201: BatchUploadSerializer},
    )
    def post(self, request):
        admission = _admit_before_parsing(request, scoring=False)
        form = BatchUploadRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = batch_upload_create(
            user=request.user,
            stream=form.validated_data["file"],
            filename=form.validated_data["file"].name,
            file_format=form.validated_data.get("format"),
            tier=admission.tier,
        )
        return Response(BatchUploadSerializer(upload).data, status=status.HTTP_201_CREATED)


class BatchUploadDetailView(APIView):
    """Delete one of your uploads (and the jobs scored from it, with their results) to free its storage."""

    permission_classes = [HasScope]
    required_scope = "predict"
    error_statuses = (404, 409)

    @extend_schema(summary="Delete an upload", request=None, responses={204: None}, parameters=[UPLOAD_ID])
    def delete(self, request, pk: str):
        batch_upload_delete_for_owner(user=request.user, upload_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BatchJobListCreateView(_ReadOrPredictScope, generics.ListAPIView):
    """Your batch jobs, newest first (GET, scope read); submit one (POST, scope predict).

    POST multipart: `file` (.csv with a header row, or .jsonl), `model` (name), optional `version`
    and `format`; or `upload_id` of a file from POST /batch-uploads instead of `file` (JSON works too).
    Answers 201 with the job: queued (with workers), or already finished when it ran in-process.
    """

    serializer_class = BatchJobSerializer
    pagination_class = NewestFirstCursorPagination
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    error_statuses = {"get": (400,), "post": (400, 404, 413, 415, 429)}
    error_field_renames = {"model_name": "model", "model_version": "version"}  # the form's own fields

    def get_queryset(self):
        return batch_job_list_for_owner(
            user=self.request.user, **filters_from_query(self.request, BatchJobFilterSerializer)
        )

    @extend_schema(
        summary="List batch jobs",
        description="Your batch jobs, newest first (cursor pages), optionally only those in one status.",
        parameters=[BatchJobFilterSerializer],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Submit a batch job",
        description="Submit a file (multipart `file`, .csv with a header row or .jsonl) or an earlier upload "
        "(`upload_id`) for scoring by `model` (name; optional `version`, default the latest production one).\n\n"
        "201 with the job: queued (with workers), or already finished when it ran in-process.",
        request={"multipart/form-data": BatchJobCreateSerializer, "application/json": BatchJobCreateSerializer},
        responses={201: BatchJobSerializer},
    )
    def post(self, request):
        admission = _admit_before_parsing(request, scoring=True)
        form = BatchJobCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        upload_file = data.get("file")
        job = batch_job_submit(
            user=request.user,
            model_ref=ModelRef(name=data["model"], version=data.get("version")),
            stream=upload_file,
            filename=upload_file.name if upload_file is not None else None,
            file_format=data.get("format"),
            upload_id=data.get("upload_id"),
            admission=admission,
        )
        return Response(BatchJobSerializer(job).data, status=status.HTTP_201_CREATED)


class BatchJobDetailView(generics.RetrieveAPIView):
    """One of your batch jobs by id: status, row counts and progress, and why it paused or failed."""

    serializer_class = BatchJobSerializer
    permission_classes = [HasScope]
    required_scope = "read"
    error_statuses = (404,)

    @extend_schema(summary="Get a batch job", parameters=[JOB_ID])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self):
        return batch_job_get_for_owner(user=self.request.user, job_id=self.kwargs["pk"])


class BatchJobCancelView(APIView):
    """Stop a queued, running or paused job; rows already stored stay (and are billed)."""

    permission_classes = [HasScope]
    required_scope = "predict"
    error_statuses = (404, 409)

    @extend_schema(summary="Cancel a batch job", request=None, responses={200: BatchJobSerializer}, parameters=[JOB_ID])
    def post(self, request, pk: str):
        return Response(BatchJobSerializer(batch_job_cancel(user=request.user, job_id=pk)).data)


class BatchJobResumeView(APIView):
    """Resume a paused (quota) or failed job: its remaining chunks are queued again."""

    permission_classes = [HasScope]
    required_scope = "predict"
    error_statuses = (404, 409, 429)

    @extend_schema(summary="Resume a batch job", request=None, responses={200: BatchJobSerializer}, parameters=[JOB_ID])
    def post(self, request, pk: str):
        return Response(BatchJobSerializer(batch_job_resume(user=request.user, job_id=pk)).data)


class _IgnoreFormatParameter(DefaultContentNegotiation):
    """`?format=` names the results' file format here, not a DRF renderer; errors are rendered as JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class BatchJobResultsView(APIView):
    """Download every row's result (row number, line, output or errors), streamed, as CSV or JSONL."""

    permission_classes = [HasScope]
    required_scope = "read"
    content_negotiation_class = _IgnoreFormatParameter
    error_statuses = (400, 404)

    @extend_schema(
        summary="Download a batch job's results",
        parameters=[JOB_ID, OpenApiParameter("format", str, enum=list(RESULT_FORMATS), description="Default csv.")],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR),
        },
    )
    def get(self, request, pk: str):
        result_format = (request.query_params.get("format") or "csv").lower()
        if result_format not in RESULT_FORMATS:
            raise ApplicationError.single(
                BatchErrorCode.UNSUPPORTED_FORMAT, f"format must be one of {list(RESULT_FORMATS)}.", field="format"
            )
        job = batch_job_get_for_owner(user=request.user, job_id=pk)
        response = StreamingHttpResponse(
            results_stream(job=job, result_format=result_format), content_type=CONTENT_TYPES[result_format]
        )
        response["Content-Disposition"] = f'attachment; filename="batch-{job.pk}-results.{result_format}"'
        response["X-Batch-Job-Status"] = job.status
        return response
