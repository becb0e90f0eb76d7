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
    username = graphene.String(required=True)
    email = graphene.String(required=True)
    is_staff = graphene.Boolean(required=True)
    tier = graphene.Field(PricingTierType)
    usage = graphene.Field(
        UsageType, required=True, period=graphene.String(description="YYYY-MM; default: this month. Scope billing.")
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
