"""What the registry adds to the `Model` type: who registered it, and its input schema as typed fields."""

from enum import Enum as PyEnum

import graphene
from graphene.types.generic import GenericScalar

from mlapi.graphql_core.permissions import caller_of
from predictions.models import RegisteredModel
from predictions.registry.schema import input_schema_features
from predictions.selectors import model_registrant_username

_REGISTRANTS_MEMO = "_registrant_usernames"


def _described_enum(name: str, values: dict[str, str], description: str) -> type[graphene.Enum]:
    """A GraphQL enum whose value names are the schema's own words (`number`, `pass`), as REST shows them."""
    python_enum = PyEnum(name, [(value, value) for value in values])

    def describe(member):
        return description if member is None else values[member.value]

    return graphene.Enum.from_enum(python_enum, description=describe)


FeatureType = _described_enum(
    "FeatureType",
    {
        "number": "A JSON number (NaN where the feature is nullable).",
        "integer": "A JSON integer.",
        "string": "A JSON string: a category when `allowed` is set, free text otherwise.",
        "boolean": "true or false.",
    },
    "The JSON type of a feature's values.",
)

UnknownValuePolicy = _described_enum(
    "UnknownValuePolicy",
    {
        "refuse": "Refused with INVALID_CHOICE.",
        "pass": "Passed to the model, whose encoder handles unseen categories, with an UNKNOWN_CATEGORY warning.",
    },
    "What happens to a value outside a feature's `allowed` list.",
)


class ModelFeature(graphene.ObjectType):
    """One input of a model, in the order the estimator expects them (the typed view of `inputSchema`)."""

    name = graphene.String(required=True, description="The feature name: its key in a JSON-object instance.")
    type = graphene.Field(FeatureType, required=True, description="The JSON type of its values.")
    allowed = graphene.List(
        graphene.NonNull(GenericScalar),
        description="The closed set of values (an encoder's categories); null: any value.",
    )
    nullable = graphene.Boolean(
        required=True, description="Whether null, or leaving the feature out, is accepted (a missing value)."
    )
    unknown = graphene.Field(
        UnknownValuePolicy, description="For a feature with `allowed`: what happens to other values; null otherwise."
    )
    description = graphene.String(description="What the schema's author wrote about the feature, if anything.")


class ModelRegistryFields:
    """Mixed into the `Model` type (predictions.graphql.types.ModelType)."""

    registered_by = graphene.String(
        description="Username of the staff member who registered this version; null unless you are staff "
        "(a token with the staff or registry scope)."
    )
    features = graphene.List(
        graphene.NonNull(ModelFeature),
        required=True,
        description="The input schema's features, typed; `inputSchema` is the same as JSON.",
    )

    @staticmethod
    def resolve_registered_by(model: RegisteredModel, info):
        memo = getattr(info.context, _REGISTRANTS_MEMO, None)
        if memo is None:
            memo = {}
            setattr(info.context, _REGISTRANTS_MEMO, memo)
        return model_registrant_username(model=model, caller=caller_of(info), memo=memo)

    @staticmethod
    def resolve_features(model: RegisteredModel, info):
        return input_schema_features(schema=model.input_schema)
