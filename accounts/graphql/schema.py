import graphene

from accounts.graphql.types import MeType
from mlapi.graphql_core.permissions import require_scope


class AccountsQueries(graphene.ObjectType):
    me = graphene.Field(MeType, required=True, description="The calling user (scope read).")

    @staticmethod
    def resolve_me(root, info):
        return require_scope(info, "read")
