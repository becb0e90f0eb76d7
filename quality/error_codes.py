from enum import Enum


class FeedbackErrorCode(str, Enum):
    REQUIRED = "REQUIRED"
    INVALID_INPUT = "INVALID_INPUT"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    NOT_FOUND = "NOT_FOUND"  # no such prediction among the caller's own (others' ids look the same)
    DUPLICATE_PREDICTION = "DUPLICATE_PREDICTION"  # one call names the same prediction twice
    INVALID_ACTUAL = "INVALID_ACTUAL"  # not a value of the model's task (a class label, a number, a label list)
    UNSUPPORTED_TASK = "UNSUPPORTED_TASK"  # the model's task has no ground truth (clustering)
    INVALID_DATE = "INVALID_DATE"


class QualityErrorCode(str, Enum):
    INVALID_WINDOW = "INVALID_WINDOW"
    NOT_FOUND = "NOT_FOUND"


class RolloutErrorCode(str, Enum):
    PERMISSION_DENIED = "PERMISSION_DENIED"
    NOT_FOUND = "NOT_FOUND"
    INVALID_CANDIDATE = "INVALID_CANDIDATE"  # not another version of the same model, or not staging
    INVALID_PERCENT = "INVALID_PERCENT"
    INVALID_INPUT = "INVALID_INPUT"
    NO_CANDIDATE = "NO_CANDIDATE"  # nothing to promote: no shadow or canary version set


class DriftErrorCode(str, Enum):
    PERMISSION_DENIED = "PERMISSION_DENIED"
    REFERENCE_TOO_LARGE = "REFERENCE_TOO_LARGE"
    INVALID_REFERENCE = "INVALID_REFERENCE"  # not a CSV of the model's features
    INVALID_WINDOW = "INVALID_WINDOW"


class ExplanationErrorCode(str, Enum):
    UNSUPPORTED_MODEL = "UNSUPPORTED_MODEL"  # neither a linear model nor a tree ensemble
