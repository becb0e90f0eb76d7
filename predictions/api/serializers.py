from rest_framework import serializers

from predictions.models import RegisteredModel


class ModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = RegisteredModel
        fields = RegisteredModel.PUBLIC_FIELDS


# Plain serializers on the predict path: a ModelSerializer rebuilds its fields from the model on every use.
class ModelRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.IntegerField()


class PredictionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    model = ModelRefSerializer()
    input = serializers.JSONField()
    output = serializers.JSONField()
    latency_ms = serializers.FloatField()
    created_at = serializers.DateTimeField()


class PredictRequestSerializer(serializers.Serializer):
    """Shape only; the service validates every instance against the model's input schema."""

    features = serializers.JSONField(
        required=False, help_text="One instance: feature name → value, or an array of values in input-schema order."
    )
    instances = serializers.JSONField(required=False, help_text="A batch: a list of instances (objects or arrays).")


class CostSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=20, decimal_places=10, coerce_to_string=True)
    currency = serializers.CharField()
    predictions = serializers.IntegerField()
    billable_predictions = serializers.IntegerField()
    cpu_seconds = serializers.DecimalField(max_digits=14, decimal_places=6, coerce_to_string=True)
    stored_bytes = serializers.IntegerField()


class WarningSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True)
    code = serializers.CharField()
    message = serializers.CharField()


class PredictResponseSerializer(serializers.Serializer):
    prediction = PredictionSerializer(allow_null=True)
    predictions = PredictionSerializer(many=True)
    cost = CostSerializer()
    replayed = serializers.BooleanField()
    warnings = WarningSerializer(many=True, help_text="Non-fatal notes on the input (UNKNOWN_CATEGORY).")


class ModelFilterSerializer(serializers.Serializer):
    """Query parameters of GET /models: GraphQL `models(name:, stage:)`."""

    name = serializers.CharField(required=False, max_length=100, help_text="Only the versions of this model.")
    stage = serializers.ChoiceField(
        choices=RegisteredModel.Stage.choices, required=False, help_text="Only versions in this stage (staff)."
    )


class PredictionFilterSerializer(serializers.Serializer):
    """Query parameters of GET /predictions: GraphQL `predictions(model:, createdAfter:, createdBefore:)`."""

    model = serializers.IntegerField(
        required=False, min_value=1, help_text="A model id (one version): an unknown one matches nothing."
    )
    created_after = serializers.DateTimeField(
        required=False, help_text="ISO 8601 with an offset; only predictions created after it (exclusive)."
    )
    created_before = serializers.DateTimeField(
        required=False, help_text="ISO 8601 with an offset; only predictions created before it (exclusive)."
    )
