import graphene

from mlapi.errors import NotFoundError
from mlapi.graphql_core.pagination import connection_resolve
from mlapi.graphql_core.permissions import caller_of, require_scope
from predictions.graphql.mutations import CreatePrediction
from predictions.graphql.types import ModelConnection, ModelType, PredictionConnection, PredictionType
from predictions.selectors import (
    model_get_for_user,
    model_list_for_user,
    prediction_get_for_user,
    prediction_list_for_user,
)


class PredictionsQueries(graphene.ObjectType):
    models = graphene.Field(
        ModelConnection,
        required=True,
        name=graphene.String(),
        stage=graphene.String(),
        first=graphene.Int(),
        after=graphene.String(),
    )
    model = graphene.Field(
        ModelType,
        id=graphene.ID(),
        name=graphene.String(),
        version=graphene.Int(),
        description="By id, or by name and version (version omitted: the latest production version).",
    )
    predictions = graphene.Field(
        PredictionConnection,
        required=True,
        model=graphene.ID(description="A model id."),
        created_after=graphene.DateTime(),
        created_before=graphene.DateTime(),
        first=graphene.Int(),
        after=graphene.String(),
        description="Your predictions, newest first.",
    )
    prediction = graphene.Field(PredictionType, id=graphene.ID(required=True))

    @staticmethod
    def resolve_models(root, info, name=None, stage=None, first=None, after=None):
        user = require_scope(info, "read")
        models = model_list_for_user(user=user, name=name, stage=stage)
        return connection_resolve(ModelConnection, models, order=("name", "-version"), first=first, after=after)

    @staticmethod
    def resolve_model(root, info, id=None, name=None, version=None):
        user = require_scope(info, "read")
        try:
            return model_get_for_user(user=user, model_id=id, name=name, version=version)
        except NotFoundError:
            return None

    @staticmethod
    def resolve_predictions(root, info, model=None, created_after=None, created_before=None, first=None, after=None):
        user = require_scope(info, "read")
        every_tenant = caller_of(info).sees_every_tenant
        model_filter = None
        if model is not None:
            try:
                model_filter = model_get_for_user(user=user, model_id=model)
            except NotFoundError:
                return connection_resolve(
                    PredictionConnection, prediction_list_for_user(user=user).none(), order=("-created_at", "-id"), first=first, after=None
                )
        predictions = prediction_list_for_user(
            user=user, every_tenant=every_tenant, model=model_filter, created_after=created_after, created_before=created_before
        )
        return connection_resolve(PredictionConnection, predictions, order=("-created_at", "-id"), first=first, after=after)

    @staticmethod
    def resolve_prediction(root, info, id):
        user = require_scope(info, "read")
        try:
            return prediction_get_for_user(user=user, prediction_id=id, every_tenant=caller_of(info).sees_every_tenant)
        except NotFoundError:
            return None


class PredictionsMutations(graphene.ObjectType):
    create_prediction = CreatePrediction.Field()
