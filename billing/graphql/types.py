import graphene
from graphene_django import DjangoObjectType

from billing.graphql.enums import InvoiceLineKind, InvoiceStatus
from billing.models import Invoice, InvoiceLine, PricingTier
from billing.periods import period_label
from mlapi.graphql_core.pagination import CountableConnection
from mlapi.graphql_core.scalars import Decimal
from mlapi.graphql_core.types import money_field

CURRENCY_DEPRECATED = "Use the currency of this type's Money fields."


def _deprecated_decimal(money_name: str, description: str) -> Decimal:
    return Decimal(required=True, description=description, deprecation_reason=f"Use `{money_name}` (Money).")


class CostType(graphene.ObjectType):
    """What one createPrediction call was charged (exact, before invoice rounding)."""

    amount_money = money_field("amount", description="The charge for the call: prediction, compute and storage parts.")
    amount = _deprecated_decimal("amountMoney", "The charge for the call, as a bare decimal.")
    currency = graphene.String(
        required=True, description="ISO 4217 currency of `amount`.", deprecation_reason=CURRENCY_DEPRECATED
    )
    predictions = graphene.Int(required=True, description="Predictions in the call.")
    billable_predictions = graphene.Int(required=True, description="Predictions beyond the monthly allowance.")
    cpu_seconds = Decimal(required=True, description="CPU seconds the call was charged for.")
    stored_bytes = graphene.Int(required=True, description="Bytes of input and output stored (and charged for).")

    class Meta:
        name = "Cost"


class PricingTierType(DjangoObjectType):
    """A price list: a monthly fee, an allowance, unit prices and limits."""

    name = graphene.String(required=True, description="The tier's unique name (a slug).")
    currency = graphene.String(
        required=True, description="ISO 4217 currency of every price.", deprecation_reason=CURRENCY_DEPRECATED
    )
    monthly_fee_money = money_field("monthly_fee", description="The fee charged each month.")
    monthly_fee = _deprecated_decimal("monthlyFeeMoney", "The fee charged each month, as a bare decimal.")
    included_predictions = graphene.Int(required=True, description="Predictions per month covered by the fee.")
    price_per_prediction_money = money_field(
        "price_per_prediction", description="Price of each prediction beyond the allowance."
    )
    price_per_prediction = _deprecated_decimal(
        "pricePerPredictionMoney", "Price of each prediction beyond the allowance."
    )
    price_per_cpu_second_money = money_field("price_per_cpu_second", description="Price of one CPU second.")
    price_per_cpu_second = _deprecated_decimal("pricePerCpuSecondMoney", "Price of one CPU second.")
    price_per_mb_money = money_field("price_per_mb", description="Price of one stored megabyte (10^6 bytes).")
    price_per_mb = _deprecated_decimal("pricePerMbMoney", "Price of one stored megabyte (10^6 bytes).")
    monthly_quota = graphene.Int(description="Hard cap of predictions per month; null: none.")
    rate_limit_per_minute = graphene.Int(description="Requests per minute; null: unlimited.")

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
    """What you used and were charged in one billing month so far."""

    period = graphene.String(required=True, description="The month, YYYY-MM (UTC).")
    predictions = graphene.Int(required=True, description="Predictions made.")
    cpu_seconds = Decimal(required=True, description="CPU seconds charged.")
    stored_bytes = graphene.Int(required=True, description="Bytes of inputs and outputs stored.")
    amount_money = money_field("amount", description="Usage charges so far (exact; the invoice rounds each line).")
    amount = _deprecated_decimal("amountMoney", "Usage charges so far, as a bare decimal.")
    currency = graphene.String(
        required=True, description="ISO 4217 currency of `amount`.", deprecation_reason=CURRENCY_DEPRECATED
    )

    class Meta:
        name = "Usage"

    @staticmethod
    def resolve_period(summary, info):
        return period_label(summary.period)


class InvoiceLineType(DjangoObjectType):
    """One charge on an invoice, rounded half-up to the currency's cents."""

    kind = graphene.Field(InvoiceLineKind, required=True, description="What the line charges for.")
    description = graphene.String(required=True, description="Human-readable text of the line.")
    quantity = Decimal(required=True, description="Units charged (predictions, CPU seconds, megabytes, months).")
    unit_price_money = money_field("unit_price", currency="invoice.currency", description="Price of one unit.")
    unit_price = _deprecated_decimal("unitPriceMoney", "Price of one unit, as a bare decimal.")
    amount_money = money_field("amount", currency="invoice.currency", description="The line's total.")
    amount = _deprecated_decimal("amountMoney", "The line's total, as a bare decimal.")

    class Meta:
        model = InvoiceLine
        name = "InvoiceLine"
        fields = ("kind", "description", "quantity", "unit_price", "amount")


class InvoiceType(DjangoObjectType):
    """A monthly invoice: the tier's fee plus usage, in lines."""

    id = graphene.ID(required=True, description="The invoice's id (the same as REST's).")
    number = graphene.String(description="Sequential number (INV-YYYY-NNNNNN), set when finalized; null while a draft.")
    period = graphene.String(required=True, description="The billed month, YYYY-MM (UTC).")
    status = graphene.Field(InvoiceStatus, required=True, description="Where the invoice is in its life.")
    currency = graphene.String(
        required=True, description="ISO 4217 currency of every amount.", deprecation_reason=CURRENCY_DEPRECATED
    )
    total_money = money_field("total", description="The sum of the lines.")
    total = _deprecated_decimal("totalMoney", "The sum of the lines, as a bare decimal.")
    tier_name = graphene.String(required=True, description="Name of the pricing tier the invoice was built under.")
    created_at = graphene.DateTime(required=True, description="When the draft was created.")
    finalized_at = graphene.DateTime(description="When it was finalized and numbered; null while a draft.")
    paid_at = graphene.DateTime(description="When payment was received; null until then.")
    payer_url = graphene.String(
        description="Where the payer can pay it (the provider's page); null when there is none."
    )
    lines = graphene.List(graphene.NonNull(InvoiceLineType), required=True, description="The charges, in order.")

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

    @staticmethod
    def resolve_period(invoice, info):
        return period_label(invoice.period)

    @staticmethod
    def resolve_payer_url(invoice, info):
        return invoice.payer_url or None

    @staticmethod
    def resolve_lines(invoice, info):
        return invoice.lines.all()


class InvoiceConnection(CountableConnection):
    class Meta:
        node = InvoiceType
