from mlapi.errors import ErrorCode


class PredictionErrorCode(ErrorCode):
    """Codes of online predictions. A member is `NAME = "NAME", "description"`; GraphQL publishes both."""

    REQUIRED = "REQUIRED", "A feature the model's input schema requires is missing."
    INVALID_TYPE = "INVALID_TYPE", "A value has the wrong JSON type for its feature."
    UNKNOWN_FIELD = "UNKNOWN_FIELD", "A feature the model's input schema does not know."
    INVALID_CHOICE = "INVALID_CHOICE", "A categorical value outside the feature's allowed values."
    INVALID_VALUE = "INVALID_VALUE", "A value (or the model's output for it) is not usable, e.g. not finite."
    INVALID_INPUT = (
        "INVALID_INPUT",
        "The input as a whole is malformed (e.g. both or neither of features and instances).",
    )
    TOO_MANY_INSTANCES = "TOO_MANY_INSTANCES", "More instances in one call than the server allows."
    NOT_FOUND = "NOT_FOUND", "No such model, model version or prediction (or not visible to you)."
    MODEL_UNAVAILABLE = "MODEL_UNAVAILABLE", "The model could not be loaded right now; retry later."
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT", "The idempotency key was used before with a different request."
    UNKNOWN_CATEGORY = "UNKNOWN_CATEGORY", "A warning: an unseen category that the model's encoder handles."
    MODEL_OUTPUT_MISMATCH = "MODEL_OUTPUT_MISMATCH", "The estimator did not answer one output per row."
    EXPLANATION_UNSUPPORTED = (
        "EXPLANATION_UNSUPPORTED",
        "explain was asked of a model that is neither a linear model nor a tree ensemble (nothing billed).",
    )


class RegistryErrorCode(ErrorCode):
    """Codes of the model registry (register a model, change its stage)."""

    PERMISSION_DENIED = "PERMISSION_DENIED", "Only staff may register models or change stages."
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT", "The artifact is neither a .joblib nor a .skops file."
    ARTIFACT_TOO_LARGE = "ARTIFACT_TOO_LARGE", "The artifact is larger than the server accepts."
    ARTIFACT_UNREADABLE = "ARTIFACT_UNREADABLE", "The artifact could not be read or loaded."
    UNTRUSTED_TYPES = "UNTRUSTED_TYPES", "The skops file holds types that were not approved."
    NOT_AN_ESTIMATOR = "NOT_AN_ESTIMATOR", "The artifact holds no fitted estimator with predict()."
    INVALID_SCHEMA = "INVALID_SCHEMA", "The input schema is malformed or does not fit the estimator."
    INVALID_STAGE = "INVALID_STAGE", "The stage is not one of staging, production, archived."
    NOT_FOUND = "NOT_FOUND", "No such model or version."
    INVALID_NAME = "INVALID_NAME", "The model name is not a valid slug."
    INVALID_METRICS = "INVALID_METRICS", "The metrics are not a JSON object of finite numbers."
    UNSUPPORTED_ESTIMATOR = "UNSUPPORTED_ESTIMATOR", "The estimator's task or outputs cannot be served."
    DUPLICATE_ARTIFACT = (
        "DUPLICATE_ARTIFACT",
        "The same file is already registered under this name (force to register it again).",
    )
    VERSION_CONFLICT = (
        "VERSION_CONFLICT",
        "No version number could be allocated: others registered the name at once; retry.",
    )
    BREAKING_CHANGE = (
        "BREAKING_CHANGE",
        "The new input schema breaks clients of the production version (allow breaking to proceed).",
    )
    INVALID_VERSION = "INVALID_VERSION", "The version is not a positive integer, or that version number is taken."
    REQUIRED = "REQUIRED", "A field the registration needs is missing (name, artifact)."
    UNKNOWN_FIELD = "UNKNOWN_FIELD", "A form field the registry does not take: a typo is refused, not ignored."
    INVALID_VALUE = "INVALID_VALUE", "A field's value is not valid (e.g. force=maybe)."
