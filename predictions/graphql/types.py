import graphene
from graphene.types.generic import GenericScalar
from graphene_django import DjangoObjectType

from mlapi.graphql_core.permissions import caller_of
from predictions.models import Prediction, RegisteredModel
from predictions.selectors import model_versions
from quality.graphql.types import ModelQualityFields


class ModelType(ModelQualityFields, DjangoObjectType):
    input_schema = GenericScalar(required=True)
    classes = GenericScalar(required=True)
    metrics = GenericScalar(required=True)
    versions = graphene.List(graphene.NonNull(lambda: ModelType), required=True, description="Every version of this model you may see, newest first.")

    class Meta:
        model = RegisteredModel
        name = "Model"
        fields = RegisteredModel.PUBLIC_FIELDS
        convert_choices_to_enum = False

    @staticmethod
    def resolve_versions(model: RegisteredModel, info):
        return model_versions(model=model, user=caller_of(info).user)


class ModelConnection(graphene.relay.Connection):
    class Meta:
        node = ModelType


class PredictionType(DjangoObjectType):
    input = GenericScalar(required=True)
    output = GenericScalar(required=True)
    latency_ms = graphene.Float(required=True)

    class Meta:
        model = Prediction
        name = "Prediction"
        fields = ("id", "model", "input", "output", "latency_ms", "created_at")


class PredictionConnection(graphene.relay.Connection):
    class Meta:
        node = PredictionType
