from batch.error_codes import BatchErrorCode
from batch.models import BatchJob, FileFormat
from billing.error_codes import BillingErrorCode
from mlapi.graphql_core.enums import choices_enum
from mlapi.graphql_core.types import error_type
from predictions.error_codes import PredictionErrorCode

BatchJobStatus = choices_enum(
    BatchJob.Status,
    name="BatchJobStatus",
    description="Where a batch job is: queued → running → succeeded, or paused/failed (resumable) or cancelled.",
    values={
        "queued": "Accepted; no chunk has started yet.",
        "running": "Chunks are being scored.",
        "paused": "Stopped by a limit (e.g. the monthly quota); resume it when the limit allows.",
        "succeeded": "Every row was scored or refused with a row error.",
        "failed": "Stopped by an error (see `error`); resume it to retry the remaining chunks.",
        "cancelled": "Cancelled by you; rows already scored stay (and are billed).",
    },
)

BatchFileFormat = choices_enum(
    FileFormat,
    name="BatchFileFormat",
    description="The format of a batch input file.",
    values={
        "csv": "Comma-separated values with a header row naming the features.",
        "jsonl": "One JSON object (an instance) per line.",
    },
)

BatchError = error_type(
    "BatchError",
    (BatchErrorCode, PredictionErrorCode, BillingErrorCode),
    description="A user-level problem of a batch job or upload: the request, the file, a row, the model or a "
    "billing limit that paused the job.",
)
