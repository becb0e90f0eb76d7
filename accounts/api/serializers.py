from rest_framework import serializers


class TierSerializer(serializers.Serializer):
    name = serializers.CharField()
    currency = serializers.CharField()
    monthly_fee = serializers.DecimalField(max_digits=14, decimal_places=2)
    included_predictions = serializers.IntegerField()
    price_per_prediction = serializers.DecimalField(max_digits=16, decimal_places=8)
    price_per_cpu_second = serializers.DecimalField(max_digits=16, decimal_places=8)
    price_per_mb = serializers.DecimalField(max_digits=16, decimal_places=8)
    monthly_quota = serializers.IntegerField(allow_null=True)
    rate_limit_per_minute = serializers.IntegerField(allow_null=True)


class UsageSerializer(serializers.Serializer):
    period = serializers.DateField(format="%Y-%m")
    predictions = serializers.IntegerField()
    cpu_seconds = serializers.DecimalField(max_digits=14, decimal_places=6)
    stored_bytes = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=20, decimal_places=10)
    currency = serializers.CharField()


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.CharField()
    is_staff = serializers.BooleanField()
    tier = TierSerializer()
    usage = UsageSerializer(allow_null=True, help_text="Needs the billing scope; null without it.")
    quota_remaining = serializers.IntegerField(allow_null=True)
