from mlapi.errors import ErrorCode


class BatchErrorCode(ErrorCode):
    """Codes of the batch domain. Row errors also use PredictionErrorCode (REQUIRED, INVALID_TYPE,
    INVALID_CHOICE, UNKNOWN_FIELD) from the same schema validation as online predictions.
    A member is `NAME = "NAME", "description"`; GraphQL publishes both."""

    NOT_FOUND = "NOT_FOUND", "No such batch job or upload (or not yours)."
    INVALID_INPUT = "INVALID_INPUT", "The request is malformed (e.g. both or neither of uploadId and content)."
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT", "The file format is neither csv nor jsonl."
    FILE_TOO_LARGE = "FILE_TOO_LARGE", "The file is larger than the server accepts."
    TOO_MANY_ROWS = "TOO_MANY_ROWS", "The file has more rows than one job may score."
    EMPTY_FILE = "EMPTY_FILE", "The file has no data rows."
    INVALID_ENCODING = "INVALID_ENCODING", "The file is not UTF-8."
    INVALID_HEADER = "INVALID_HEADER", "The CSV header row is missing, duplicated or malformed."
    TOO_MANY_COLUMNS = "TOO_MANY_COLUMNS", "The CSV header has more columns than allowed."
    HEADER_TOO_LARGE = "HEADER_TOO_LARGE", "The CSV header row is longer than allowed."
    MALFORMED_ROW = "MALFORMED_ROW", "A row cannot be parsed (bad CSV quoting, not a JSON object, wrong column count)."
    ROW_TOO_LARGE = "ROW_TOO_LARGE", "A row is longer than allowed."
    ROW_TOO_DEEP = "ROW_TOO_DEEP", "A JSONL row nests deeper than allowed."
    INVALID_CHARACTER = "INVALID_CHARACTER", "A row holds a character that is not allowed (e.g. NUL)."
    STORAGE_QUOTA_EXCEEDED = "STORAGE_QUOTA_EXCEEDED", "Storing the upload would exceed the tier's storage allowance."
    UPLOAD_IN_USE = "UPLOAD_IN_USE", "The upload has a queued or running job and cannot be deleted yet."
    INVALID_TRANSITION = "INVALID_TRANSITION", "The job's status does not allow this step (e.g. resume a finished job)."
    QUEUE_UNAVAILABLE = (
        "QUEUE_UNAVAILABLE",
        "The task queue could not be reached; the job will be queued when it is back.",
    )
    INTERNAL_ERROR = "INTERNAL_ERROR", "An unexpected server error stopped the job; resume it to retry."
