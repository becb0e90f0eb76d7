import graphene
from graphene.types.generic import GenericScalar

from billing.graphql.types import CostType
from mlapi.graphql_core.mutations import BaseMutation
from mlapi.graphql_core.permissions import require_scope
from predictions.graphql.enums import PredictionError
from predictions.graphql.types import PredictionType
from predictions.services import model_ref_from_input, prediction_create
from quality.graphql.types import ExplanationType


class CreatePredictionInput(graphene.InputObjectType):
    """What to score, with which model. Give exactly one of features and instances."""

    model_id = graphene.ID(description="A model id; or give modelName (+ modelVersion).")
    model_name = graphene.String(description="A model name; with modelVersion omitted, its latest production version.")
    model_version = graphene.Int(description="Omitted: the latest production version.")
    features = GenericScalar(
        description="One instance: a JSON object of feature values, or an array of values in input-schema order."
    )
    instances = graphene.List(GenericScalar, description="A batch: a list of instances (objects or arrays).")
    idempotency_key = graphene.String(description="Retrying with the same key returns the original result.")
    explain = graphene.Boolean(
        default_value=False,
        description="Also return per-feature contributions of each prediction (linear models and tree ensembles; "
        "EXPLANATION_UNSUPPORTED otherwise). Their CPU time is billed with the call.",
    )


class CreatePrediction(BaseMutation):
    """Score one instance (`features`) or a batch (`instances`) and bill the call (scope predict). Bad input
    and limits come back in `errors`, and then nothing is stored or billed."""

    prediction = graphene.Field(PredictionType, description="The prediction, when `features` was given.")
    predictions = graphene.List(
        graphene.NonNull(PredictionType), description="Every prediction of this call, in input order."
    )
    cost = graphene.Field(CostType, description="What the call was charged; null when it failed.")
    replayed = graphene.Boolean(description="True when an idempotency key matched an earlier call.")
    explanations = graphene.List(
        graphene.NonNull(ExplanationType),
        description="With explain: one per prediction, in the same order; null otherwise.",
    )
    warnings = graphene.List(
        graphene.NonNull(PredictionError),
        required=True,
        description=(
            "Non-fatal notes on the input (code UNKNOWN_CATEGORY: an unseen category the model's encoder handles)."
        ),
    )

    class Meta:
        name = "CreatePredictionPayload"
        error_type_class = PredictionError

    class Arguments:
        input = CreatePredictionInput(required=True, description="What to score.")

    @staticmethod
    def resolve_warnings(payload, info):
        return payload.warnings or []

    @classmethod
    def perform(cls, root, info, input):
        user = require_scope(info, "predict")
        outcome = prediction_create(
            user=user,
            model_ref=model_ref_from_input(
                model_id=input.get("model_id"), name=input.get("model_name"), version=input.get("model_version")
            ),
            features=input.get("features"),
            instances=input.get("instances"),
            idempotency_key=input.get("idempotency_key"),
            explain=bool(input.get("explain")),
        )
        single = input.get("features") is not None
        return cls(
            prediction=outcome.predictions[0] if single else None,
            predictions=outcome.predictions,
            cost=outcome.usage,
            replayed=outcome.replayed,
            explanations=outcome.explanations,
            warnings=cls.error_list(outcome.warnings),
            errors=[],
        )
