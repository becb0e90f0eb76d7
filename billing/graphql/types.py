import graphene
from graphene_django import DjangoObjectType

from billing.models import Invoice, InvoiceLine, PricingTier
from billing.periods import period_label
from mlapi.graphql_core.scalars import Decimal


class CostType(graphene.ObjectType):
    """What one createPrediction call was charged (exact, before invoice rounding)."""

    amount = Decimal(required=True)
    currency = graphene.String(required=True)
    predictions = graphene.Int(required=True)
    billable_predictions = graphene.Int(required=True, description="Predictions beyond the monthly allowance.")
    cpu_seconds = Decimal(required=True)
    stored_bytes = graphene.Int(required=True)

    class Meta:
        name = "Cost"


class PricingTierType(DjangoObjectType):
    class Meta:
        model = PricingTier
        name = "PricingTier"
        fields = (
            "name",
            "currency",
            "monthly_fee",
            "included_predictions",
            "price_per_prediction",
            "price_per_cpu_second",
            "price_per_mb",
            "monthly_quota",
            "rate_limit_per_minute",
        )


class UsageType(graphene.ObjectType):
    period = graphene.String(required=True)
    predictions = graphene.Int(required=True)
    cpu_seconds = Decimal(required=True)
    stored_bytes = graphene.Int(required=True)
    amount = Decimal(required=True)
    currency = graphene.String(required=True)

    class Meta:
        name = "Usage"

    @staticmethod
    def resolve_period(summary, info):
        return period_label(summary.period)


class InvoiceLineType(DjangoObjectType):
    class Meta:
        model = InvoiceLine
        name = "InvoiceLine"
        fields = ("kind", "description", "quantity", "unit_price", "amount")
        convert_choices_to_enum = False


class InvoiceType(DjangoObjectType):
    period = graphene.String(required=True)
    lines = graphene.List(graphene.NonNull(InvoiceLineType), required=True)

    class Meta:
        model = Invoice
        name = "Invoice"
        fields = (
            "id",
            "number",
            "period",
            "status",
            "currency",
            "total",
            "tier_name",
            "created_at",
            "finalized_at",
            "paid_at",
            "payer_url",
        )
        convert_choices_to_enum = False

    @staticmethod
    def resolve_period(invoice, info):
        return period_label(invoice.period)

    @staticmethod
    def resolve_lines(invoice, info):
        return invoice.lines.all()


class InvoiceConnection(graphene.relay.Connection):
    class Meta:
        node = InvoiceType
