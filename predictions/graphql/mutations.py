import graphene
from graphene.types.generic import GenericScalar

from billing.graphql.types import CostType
from mlapi.graphql_core.mutations import BaseMutation
from mlapi.graphql_core.permissions import require_scope
from mlapi.graphql_core.types import Error
from predictions.graphql.types import PredictionType
from predictions.services import model_ref_from_input, prediction_create


class CreatePredictionInput(graphene.InputObjectType):
    model_id = graphene.ID(description="A model id; or give modelName (+ modelVersion).")
    model_name = graphene.String()
    model_version = graphene.Int(description="Omitted: the latest production version.")
    features = GenericScalar(
        description="One instance: a JSON object of feature values, or an array of values in input-schema order."
    )
    instances = graphene.List(GenericScalar, description="A batch: a list of instances (objects or arrays).")
    idempotency_key = graphene.String(description="Retrying with the same key returns the original result.")


class CreatePrediction(BaseMutation):
    prediction = graphene.Field(PredictionType, description="The prediction, when `features` was given.")
    predictions = graphene.List(graphene.NonNull(PredictionType), description="Every prediction of this call, in input order.")
    cost = graphene.Field(CostType)
    replayed = graphene.Boolean(description="True when an idempotency key matched an earlier call.")
    warnings = graphene.List(
        graphene.NonNull(Error),
        required=True,
        description="Non-fatal notes on the input (code UNKNOWN_CATEGORY: an unseen category the model's encoder handles).",
    )

    class Arguments:
        input = CreatePredictionInput(required=True)

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
        )
        single = input.get("features") is not None
        return cls(
            prediction=outcome.predictions[0] if single else None,
            predictions=outcome.predictions,
            cost=outcome.usage,
            replayed=outcome.replayed,
            warnings=[Error(**w.as_dict()) for w in outcome.warnings],
            errors=[],
        )
