import graphene

from accounts.graphql.mutations import CreateApiClient, RenameApiClient, RevokeApiClient, RotateApiClientSecret
from accounts.graphql.types import ApiClientType, MeType
from accounts.selectors import api_key_list
from mlapi.graphql_core.permissions import require_scope


class AccountsQueries(graphene.ObjectType):
    me = graphene.Field(MeType, required=True, description="The calling user (scope read).")
    api_clients = graphene.List(
        graphene.NonNull(ApiClientType),
        required=True,
        description="Your API keys, newest first. Scope keys (a session has it).",
    )

    @staticmethod
    def resolve_me(root, info):
        return require_scope(info, "read")

    @staticmethod
    def resolve_api_clients(root, info):
        return api_key_list(user=require_scope(info, "keys"))


class AccountsMutations(graphene.ObjectType):
    create_api_client = CreateApiClient.Field(description=CreateApiClient.__doc__)
    rotate_api_client_secret = RotateApiClientSecret.Field(description=RotateApiClientSecret.__doc__)
    rename_api_client = RenameApiClient.Field(description=RenameApiClient.__doc__)
    revoke_api_client = RevokeApiClient.Field(description=RevokeApiClient.__doc__)
