import graphene

from billing.error_codes import BillingErrorCode
from mlapi.graphql_core.types import error_type
from predictions.error_codes import PredictionErrorCode, RegistryErrorCode
from quality.error_codes import (
    DriftErrorCode,
    ExplanationErrorCode,
    FeedbackErrorCode,
    QualityErrorCode,
    RolloutErrorCode,
)

QualityError = error_type(
    "QualityError",
    (
        FeedbackErrorCode,
        QualityErrorCode,
        RolloutErrorCode,
        DriftErrorCode,
        ExplanationErrorCode,
        RegistryErrorCode,  # promotion runs the registry's stage change and its compatibility check
        PredictionErrorCode,
        BillingErrorCode,  # an explanation is charged like a prediction
    ),
    description="A user-level problem of feedback, quality, rollouts, drift or explanations.",
)


class ExplanationKind(graphene.Enum):
    """How the contributions were computed."""

    linear = "linear"
    tree_path = "tree_path"

    @property
    def description(self):
        return {
            "linear": "Linear model: coefficient × the final step's (standardized) input, plus the intercept.",
            "tree_path": "Tree ensemble: contributions along each row's decision path, plus the root value.",
        }[self.name]
