import graphene
from graphene.types.generic import GenericScalar
from graphene_django import DjangoObjectType

from mlapi.graphql_core.pagination import CountableConnection
from mlapi.graphql_core.permissions import caller_of
from predictions.graphql.enums import ArtifactFormat, ModelStage, ModelTask
from predictions.graphql.registry_types import ModelRegistryFields
from predictions.models import Prediction, RegisteredModel
from predictions.selectors import model_versions
from quality.graphql.types import ModelQualityFields


class ModelType(ModelRegistryFields, ModelQualityFields, DjangoObjectType):
    """One version of a trained model in the registry."""

    id = graphene.ID(required=True, description="The version's id (the same as REST's; give it as modelId).")
    name = graphene.String(required=True, description="The model's name (a slug), shared by its versions.")
    version = graphene.Int(required=True, description="1, 2, …: numbered per name in order of registration.")
    description = graphene.String(required=True, description="Free text from whoever registered it; may be empty.")
    stage = graphene.Field(ModelStage, required=True, description="Staging, production or archived.")
    task = graphene.Field(ModelTask, required=True, description="What the estimator predicts.")
    artifact_format = graphene.Field(ArtifactFormat, required=True, description="How the artifact is serialized.")
    sha256 = graphene.String(required=True, description="SHA-256 of the artifact file, hex.")
    size_bytes = graphene.BigInt(required=True, description="Size of the artifact file in bytes.")
    input_schema = GenericScalar(
        required=True, description="The features the model takes: {features: [{name, type, allowed?, nullable?}]}."
    )
    classes = GenericScalar(
        required=True, description="The class labels of a classifier, in the estimator's order; [] otherwise."
    )
    metrics = GenericScalar(
        required=True, description="Evaluation metrics given at registration, e.g. {accuracy: 0.97}."
    )
    created_at = graphene.DateTime(required=True, description="When the version was registered.")
    versions = graphene.List(
        graphene.NonNull(lambda: ModelType),
        required=True,
        description="Every version of this model you may see, newest first.",
    )

    class Meta:
        model = RegisteredModel
        name = "Model"
        fields = RegisteredModel.PUBLIC_FIELDS

    @staticmethod
    def resolve_versions(model: RegisteredModel, info):
        return model_versions(model=model, user=caller_of(info).user)


class ModelConnection(CountableConnection):
    class Meta:
        node = ModelType


class PredictionType(DjangoObjectType):
    """One scored instance, stored with its usage."""

    id = graphene.ID(required=True, description="The prediction's id (a UUID string, the same as REST's).")
    model = graphene.Field(ModelType, required=True, description="The model version that answered.")
    input = GenericScalar(required=True, description="The instance as sent.")
    output = GenericScalar(required=True, description="The estimator's answer, shaped by the model's task.")
    latency_ms = graphene.Float(required=True, description="Time spent predicting, in milliseconds.")
    created_at = graphene.DateTime(required=True, description="When it was made.")

    class Meta:
        model = Prediction
        name = "Prediction"
        fields = ("id", "model", "input", "output", "latency_ms", "created_at")


class PredictionConnection(CountableConnection):
    class Meta:
        node = PredictionType
