import graphene

from mlapi.errors import NotFoundError
from mlapi.graphql_core.enums import enum_value
from mlapi.graphql_core.filters import LOOSE_ARGUMENT_DEPRECATED, filter_merge
from mlapi.graphql_core.pagination import connection_resolve, pagination_arguments
from mlapi.graphql_core.permissions import caller_of, require_scope
from predictions.graphql.enums import ModelStage
from predictions.graphql.mutations import CreatePrediction
from predictions.graphql.types import (
    ModelConnection,
    ModelType,
    PredictionConnection,
    PredictionType,
)
from predictions.selectors import (
    model_get_for_user,
    model_list_for_user,
    prediction_get_for_user,
    prediction_list_for_user,
)


class ModelFilterInput(graphene.InputObjectType):
    """Which model versions to list; every criterion given must hold."""

    name = graphene.String(description="Only versions of the model with this name.")
    stage = graphene.Field(ModelStage, description="Only versions in this stage (non-staff see production only).")


class PredictionFilterInput(graphene.InputObjectType):
    """Which predictions to list; every criterion given must hold."""

    model = graphene.ID(description="Only predictions by this model version (its id).")
    created_after = graphene.DateTime(description="Only predictions made strictly after this instant.")
    created_before = graphene.DateTime(description="Only predictions made strictly before this instant.")


class PredictionsQueries(graphene.ObjectType):
    models = graphene.Field(
        ModelConnection,
        required=True,
        name=graphene.String(description="Only versions of this model.", deprecation_reason=LOOSE_ARGUMENT_DEPRECATED),
        stage=graphene.String(description="Only versions in this stage.", deprecation_reason=LOOSE_ARGUMENT_DEPRECATED),
        filter=ModelFilterInput(description="Which versions to list."),
        **pagination_arguments(),
        description="Model versions you may see (non-staff: production only), by name then newest version first.",
    )
    model = graphene.Field(
        ModelType,
        id=graphene.ID(description="The version's id."),
        name=graphene.String(
            description="The model's name (with version, or alone for its latest production version)."
        ),
        version=graphene.Int(description="The version number, with name."),
        description="By id, or by name and version (version omitted: the latest production version).",
    )
    predictions = graphene.Field(
        PredictionConnection,
        required=True,
        model=graphene.ID(description="A model id.", deprecation_reason=LOOSE_ARGUMENT_DEPRECATED),
        created_after=graphene.DateTime(
            description="Only predictions made after this instant.", deprecation_reason=LOOSE_ARGUMENT_DEPRECATED
        ),
        created_before=graphene.DateTime(
            description="Only predictions made before this instant.", deprecation_reason=LOOSE_ARGUMENT_DEPRECATED
        ),
        filter=PredictionFilterInput(description="Which predictions to list."),
        **pagination_arguments(),
        description="Your predictions, newest first.",
    )
    prediction = graphene.Field(
        PredictionType,
        id=graphene.ID(required=True, description="The prediction's id."),
        description="One of your predictions by id; null when there is no such prediction of yours.",
    )

    @staticmethod
    def resolve_models(root, info, name=None, stage=None, filter=None, first=None, after=None, last=None, before=None):
        user = require_scope(info, "read")
        criteria = filter_merge(filter, name=name, stage=stage)
        models = model_list_for_user(user=user, name=criteria.get("name"), stage=enum_value(criteria.get("stage")))
        return connection_resolve(
            ModelConnection, models, order=("name", "-version"), first=first, after=after, last=last, before=before
        )

    @staticmethod
    def resolve_model(root, info, id=None, name=None, version=None):
        user = require_scope(info, "read")
        try:
            return model_get_for_user(user=user, model_id=id, name=name, version=version)
        except NotFoundError:
            return None

    @staticmethod
    def resolve_predictions(
        root,
        info,
        model=None,
        created_after=None,
        created_before=None,
        filter=None,
        first=None,
        after=None,
        last=None,
        before=None,
    ):
        user = require_scope(info, "read")
        every_tenant = caller_of(info).sees_every_tenant
        criteria = filter_merge(filter, model=model, created_after=created_after, created_before=created_before)
        pages = {"first": first, "after": after, "last": last, "before": before}
        model_filter = None
        if criteria.get("model") is not None:
            try:
                model_filter = model_get_for_user(user=user, model_id=criteria["model"])
            except NotFoundError:
                nothing = prediction_list_for_user(user=user).none()
                return connection_resolve(
                    PredictionConnection,
                    nothing,
                    order=("-created_at", "-id"),
                    **{**pages, "after": None, "before": None},
                )
        predictions = prediction_list_for_user(
            user=user,
            every_tenant=every_tenant,
            model=model_filter,
            created_after=criteria.get("created_after"),
            created_before=criteria.get("created_before"),
        )
        return connection_resolve(PredictionConnection, predictions, order=("-created_at", "-id"), **pages)

    @staticmethod
    def resolve_prediction(root, info, id):
        user = require_scope(info, "read")
        try:
            return prediction_get_for_user(user=user, prediction_id=id, every_tenant=caller_of(info).sees_every_tenant)
        except NotFoundError:
            return None


class PredictionsMutations(graphene.ObjectType):
    create_prediction = CreatePrediction.Field()
