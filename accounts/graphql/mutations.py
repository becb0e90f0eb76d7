"""API keys for customers who automate: the same services as the portal's /keys/ page.

Each takes a session (GraphiQL in the browser, with its CSRF token) or a bearer token with the `keys` scope,
which only a customer's own client-credentials key can carry (never granted through /o/authorize/).
"""

import graphene

from accounts.graphql.enums import AccountError
from accounts.graphql.types import ApiClientType, ApiKeyScope
from accounts.services.api_keys import (
    api_key_create,
    api_key_rename,
    api_key_revoke,
    api_key_rotate_secret,
)
from mlapi.graphql_core.mutations import BaseMutation
from mlapi.graphql_core.permissions import require_scope

KEYS = "keys"


class CreateApiClientInput(graphene.InputObjectType):
    """The new key's name and scopes."""

    name = graphene.String(required=True, description="Your name for the key (1 to 80 characters).")
    scopes = graphene.List(
        graphene.NonNull(ApiKeyScope),
        description="The scopes its tokens may carry; default READ, PREDICT, BILLING.",
    )

    class Meta:
        name = "CreateApiClientInput"


class CreateApiClient(BaseMutation):
    """Create an API key within your plan's key limit (API_KEY_LIMIT_REACHED beyond it). Its secret is in this
    payload only: it is stored hashed and cannot be shown again."""

    api_client = graphene.Field(ApiClientType, description="The key created; null on errors.")
    client_secret = graphene.String(description="The secret, shown this once; null on errors.")

    class Arguments:
        input = CreateApiClientInput(required=True, description="The key's name and scopes.")

    class Meta:
        name = "CreateApiClientPayload"
        error_type_class = AccountError

    @classmethod
    def perform(cls, root, info, input):
        user = require_scope(info, KEYS)
        scopes = input.get("scopes")
        created = api_key_create(
            user=user,
            name=input["name"],
            scopes=[getattr(s, "value", s) for s in scopes] if scopes is not None else None,
        )
        return cls(api_client=created.application, client_secret=created.client_secret, errors=[])


class ApiClientIdInput(graphene.InputObjectType):
    id = graphene.ID(required=True, description="The key's id (ApiClient.id).")


class RotateApiClientSecretInput(ApiClientIdInput):
    """Which key gets a new secret."""

    class Meta:
        name = "RotateApiClientSecretInput"


class RotateApiClientSecret(BaseMutation):
    """Give a key a new secret. The old secret stops working, and so do the tokens already got with the key."""

    api_client = graphene.Field(ApiClientType, description="The key; null on errors.")
    client_secret = graphene.String(description="The new secret, shown this once; null on errors.")

    class Arguments:
        input = RotateApiClientSecretInput(required=True, description="Which key.")

    class Meta:
        name = "RotateApiClientSecretPayload"
        error_type_class = AccountError

    @classmethod
    def perform(cls, root, info, input):
        user = require_scope(info, KEYS)
        rotated = api_key_rotate_secret(user=user, key_id=input["id"])
        return cls(api_client=rotated.application, client_secret=rotated.client_secret, errors=[])


class RenameApiClientInput(ApiClientIdInput):
    """Which key to rename, and its new name."""

    name = graphene.String(required=True, description="The new name (1 to 80 characters).")

    class Meta:
        name = "RenameApiClientInput"


class RenameApiClient(BaseMutation):
    """Rename one of your keys."""

    api_client = graphene.Field(ApiClientType, description="The key renamed; null on errors.")

    class Arguments:
        input = RenameApiClientInput(required=True, description="Which key, and its new name.")

    class Meta:
        name = "RenameApiClientPayload"
        error_type_class = AccountError

    @classmethod
    def perform(cls, root, info, input):
        user = require_scope(info, KEYS)
        return cls(api_client=api_key_rename(user=user, key_id=input["id"], name=input["name"]), errors=[])


class RevokeApiClientInput(ApiClientIdInput):
    """Which key to revoke."""

    class Meta:
        name = "RevokeApiClientInput"


class RevokeApiClient(BaseMutation):
    """Delete one of your keys and its tokens: a token got with it is refused from the next request."""

    revoked_id = graphene.ID(description="The id of the key revoked; null on errors.")

    class Arguments:
        input = RevokeApiClientInput(required=True, description="Which key.")

    class Meta:
        name = "RevokeApiClientPayload"
        error_type_class = AccountError

    @classmethod
    def perform(cls, root, info, input):
        user = require_scope(info, KEYS)
        return cls(revoked_id=str(api_key_revoke(user=user, key_id=input["id"])), errors=[])
