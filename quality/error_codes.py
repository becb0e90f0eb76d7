from mlapi.errors import ErrorCode


class FeedbackErrorCode(ErrorCode):
    """Codes of ground-truth feedback (submitFeedback, POST /predictions/{id}/feedback, POST /feedback)."""

    REQUIRED = "REQUIRED", "A field the feedback needs is missing (predictionId or idempotencyKey, actual)."
    INVALID_INPUT = (
        "INVALID_INPUT",
        "The feedback item is malformed (both or neither of predictionId and idempotencyKey).",
    )
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS", "More feedback items in one call than FEEDBACK_MAX_ITEMS (1,000)."
    NOT_FOUND = "NOT_FOUND", "No such prediction among your own (someone else's looks the same)."
    DUPLICATE_PREDICTION = "DUPLICATE_PREDICTION", "One call names the same prediction twice."
    INVALID_ACTUAL = "INVALID_ACTUAL", "Not a value of the model's task (a class label, a number, a label list)."
    UNSUPPORTED_TASK = "UNSUPPORTED_TASK", "The model's task has no ground truth (clustering)."
    INVALID_DATE = "INVALID_DATE", "observedAt is not an ISO 8601 date-time."
    INVALID_FILE = (
        "INVALID_FILE",
        "A batch feedback file is not a UTF-8 CSV with a header of `actual` and one of `prediction_id` or `row`.",
    )
    FILE_TOO_LARGE = "FILE_TOO_LARGE", "A batch feedback file is larger than BATCH_MAX_UPLOAD_BYTES."
    TOO_MANY_ROWS = "TOO_MANY_ROWS", "A batch feedback file has more rows than BATCH_MAX_ROWS."


class QualityErrorCode(ErrorCode):
    """Codes of live quality reads."""

    INVALID_WINDOW = "INVALID_WINDOW", "The window is not one of 24h, 7d, 30d."
    NOT_FOUND = "NOT_FOUND", "No such model version."


class RolloutErrorCode(ErrorCode):
    """Codes of shadow and canary rollouts and of promotion."""

    PERMISSION_DENIED = "PERMISSION_DENIED", "Only staff with the staff scope may change rollouts or promote."
    NOT_FOUND = "NOT_FOUND", "No such model version."
    INVALID_CANDIDATE = "INVALID_CANDIDATE", "Not another staging version of the same model (or older than production)."
    INVALID_PERCENT = "INVALID_PERCENT", "The canary percentage is not between 0 and 100."
    INVALID_INPUT = "INVALID_INPUT", "The rollout settings are inconsistent (a canary percentage without a canary)."
    NO_CANDIDATE = "NO_CANDIDATE", "Nothing to promote: no shadow or canary version is set."


class DriftErrorCode(ErrorCode):
    """Codes of drift references and drift reads."""

    PERMISSION_DENIED = "PERMISSION_DENIED", "Only staff may set a drift reference or read drift."
    REFERENCE_TOO_LARGE = "REFERENCE_TOO_LARGE", "The reference sample is larger than QUALITY_REFERENCE_MAX_BYTES."
    INVALID_REFERENCE = "INVALID_REFERENCE", "The reference is not a CSV of the model's features."
    INVALID_WINDOW = "INVALID_WINDOW", "The drift window is not one of 24h, 7d."


class ExplanationErrorCode(ErrorCode):
    """Codes of per-prediction explanations."""

    UNSUPPORTED_MODEL = "UNSUPPORTED_MODEL", "Neither a linear model nor a tree ensemble: no explanation (not charged)."
