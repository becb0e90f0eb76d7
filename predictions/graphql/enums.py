from billing.error_codes import BillingErrorCode
from mlapi.graphql_core.enums import choices_enum
from mlapi.graphql_core.types import error_type
from predictions.error_codes import PredictionErrorCode, RegistryErrorCode
from predictions.models import RegisteredModel
from quality.error_codes import DriftErrorCode

ModelStage = choices_enum(
    RegisteredModel.Stage,
    name="ModelStage",
    description="A model version's place in its life cycle.",
    values={
        "staging": "Registered, visible to staff only; not served to clients that name no version.",
        "production": "Served: the latest production version is what a call without a version gets.",
        "archived": "Retired; visible to staff only.",
    },
)

ModelTask = choices_enum(
    RegisteredModel.Task,
    name="ModelTask",
    description="What the estimator predicts, which decides the shape of each prediction's `output`.",
    values={
        "classification": "One label per instance, with class probabilities when the estimator has them.",
        "multilabel_classification": "A set of labels per instance.",
        "regression": "One number per instance.",
        "multioutput_regression": "Several numbers per instance.",
        "clustering": "A cluster id per instance.",
        "outlier_detection": "An inlier/outlier verdict per instance, with its score.",
    },
)

ArtifactFormat = choices_enum(
    RegisteredModel.Format,
    name="ArtifactFormat",
    description="How a model's artifact is serialized.",
    values={
        "joblib": "A joblib pickle (runs code when loaded: staff-registered only).",
        "skops": "A skops file, loaded with only the types approved at registration.",
    },
)

PredictionError = error_type(
    "PredictionError",
    (PredictionErrorCode, BillingErrorCode),
    description="A user-level problem of a prediction (input, model, or a billing limit it hit).",
)

RegistryError = error_type(
    "RegistryError",
    (RegistryErrorCode, PredictionErrorCode, DriftErrorCode),
    description="A user-level problem registering a model (or its drift reference) or changing its stage.",
)
