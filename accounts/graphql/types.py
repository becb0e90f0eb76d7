import graphene
from django.utils import timezone
from graphql import GraphQLError

from billing.graphql.types import PricingTierType, UsageType
from billing.periods import period_of, period_parse
from billing.selectors import quota_remaining, usage_summary
from billing.services.usage import pricing_tier_for_user
from mlapi.errors import ApplicationError
from mlapi.graphql_core.permissions import require_scope


class MeType(graphene.ObjectType):
    """The calling user: identity, tier, usage and quota."""

    username = graphene.String(required=True, description="Your username.")
    email = graphene.String(required=True, description="Your e-mail address; may be empty.")
    is_staff = graphene.Boolean(required=True, description="True for staff (who see every model version).")
    tier = graphene.Field(PricingTierType, description="The pricing tier in force now; null when none is configured.")
    usage = graphene.Field(
        UsageType,
        period=graphene.String(description="YYYY-MM; default: this month."),
        description="Usage and charges of a month (scope billing). Null, with a FORBIDDEN error on this path, for "
        "a token without the billing scope: the rest of the query is still answered (REST `me` answers "
        "`usage: null` too).",
    )
    quota_remaining = graphene.Int(description="Predictions left this month; null when the tier has no hard quota.")

    class Meta:
        name = "Me"

    @staticmethod
    def resolve_tier(user, info):
        return pricing_tier_for_user(user=user)

    @staticmethod
    def resolve_usage(user, info, period=None):
        require_scope(info, "billing")
        try:
            month = period_parse(period) if period else period_of(timezone.now())
        except ApplicationError as error:
            raise GraphQLError(error.errors[0].message, extensions={"code": error.errors[0].code}) from None
        return usage_summary(user=user, period=month)

    @staticmethod
    def resolve_quota_remaining(user, info):
        return quota_remaining(user=user, now=timezone.now())


class ApiKeyScope(graphene.Enum):
    """A scope a customer's API key may carry."""

    READ = "read"
    PREDICT = "predict"
    BILLING = "billing"
    KEYS = "keys"

    class Meta:
        name = "ApiKeyScope"

    @property
    def description(self):
        return {
            "READ": "Read the model registry and your own predictions.",
            "PREDICT": "Create predictions: spends your money.",
            "BILLING": "Read your usage and invoices.",
            "KEYS": "Create, rotate, rename and revoke your API keys (for scripts that manage keys).",
        }[self.name]


class ApiClientType(graphene.ObjectType):
    """One of your API keys: an OAuth2 client-credentials application (exchange its id and secret at /o/token/)."""

    id = graphene.ID(required=True, description="The key's id, for the rotate/rename/revoke mutations.")
    name = graphene.String(required=True, description="Your name for the key.")
    client_id = graphene.String(required=True, description="The OAuth2 client id (not secret).")
    scopes = graphene.List(
        graphene.NonNull(graphene.String),
        required=True,
        description="The scopes its tokens may carry; empty for operator-made keys, which carry the defaults.",
    )
    created_at = graphene.DateTime(required=True, description="When the key was created.")
    last_used_at = graphene.DateTime(description="A token issued or used with it, to the minute; null: never.")

    class Meta:
        name = "ApiClient"

    @staticmethod
    def resolve_id(application, info):
        return str(application.pk)

    @staticmethod
    def resolve_created_at(application, info):
        return application.created

    @staticmethod
    def resolve_scopes(application, info):
        key = _key_of(application)
        return key.scopes.split() if key is not None and key.origin == "customer" else []

    @staticmethod
    def resolve_last_used_at(application, info):
        key = _key_of(application)
        return key.last_used_at if key is not None else None


def _key_of(application):
    from django.core.exceptions import ObjectDoesNotExist

    try:
        return application.api_key
    except ObjectDoesNotExist:
        return None
