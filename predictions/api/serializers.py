from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from predictions.models import RegisteredModel
from predictions.registry.schema import FEATURE_TYPES, UNKNOWN_POLICIES, input_schema_features
from predictions.selectors import model_registrant_username


class ModelFeatureSerializer(serializers.Serializer):
    """One input of the model, in the order it expects them (the typed view of `input_schema`)."""

    name = serializers.CharField(help_text="The feature name: the key in a JSON-object instance.")
    type = serializers.ChoiceField(choices=FEATURE_TYPES, help_text="The JSON type of its values.")
    allowed = serializers.ListField(
        child=serializers.JSONField(),
        allow_null=True,
        help_text="The closed set of values (categories); null: any value.",
    )
    nullable = serializers.BooleanField(help_text="Whether null, or leaving it out, is accepted (a missing value).")
    unknown = serializers.ChoiceField(
        choices=UNKNOWN_POLICIES,
        allow_null=True,
        help_text="A value outside `allowed`: refused (INVALID_CHOICE) or passed to the encoder (UNKNOWN_CATEGORY "
        "warning); null without `allowed`.",
    )
    description = serializers.CharField(
        allow_null=True, help_text="What the schema's author wrote about it, if anything."
    )


class ModelSerializer(serializers.ModelSerializer):
    registered_by = serializers.SerializerMethodField(
        help_text="Username of the staff member who registered it; null unless you are staff (staff or registry scope)."
    )
    features = serializers.SerializerMethodField(help_text="The input schema's features, typed.")

    class Meta:
        model = RegisteredModel
        fields = (*RegisteredModel.PUBLIC_FIELDS, "registered_by", "features")

    def get_registered_by(self, model: RegisteredModel) -> str | None:
        request = self.context.get("request")
        caller = getattr(request, "auth", None)
        if caller is None:
            return None
        memo = self.context.setdefault("registrants", {})
        return model_registrant_username(model=model, caller=caller, memo=memo)

    @extend_schema_field(ModelFeatureSerializer(many=True))
    def get_features(self, model: RegisteredModel) -> list[dict]:
        return input_schema_features(schema=model.input_schema)


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
