from rest_framework import serializers

from billing.models import Invoice, InvoiceLine


class InvoiceLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = ("kind", "description", "quantity", "unit_price", "amount")


class InvoiceSerializer(serializers.ModelSerializer):
    period = serializers.DateField(format="%Y-%m")
    lines = InvoiceLineSerializer(many=True)

    class Meta:
        model = Invoice
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
            "lines",
        )


class InvoiceFilterSerializer(serializers.Serializer):
    """Query parameters of GET /invoices: GraphQL `invoices(status:)`."""

    status = serializers.ChoiceField(
        choices=Invoice.Status.choices, required=False, help_text="Only invoices in this status."
    )
