"""The REST error body, shared by every operation's 4xx/5xx responses in the OpenAPI document."""

from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    field = serializers.CharField(
        allow_null=True,
        help_text="The input the error is about, in snake_case (a dotted path into the body for nested input, "
        "e.g. `instances.1.age`); null when it is about the request as a whole.",
    )
    code = serializers.CharField(help_text="Stable, UPPER_SNAKE_CASE: switch on this, not on the message.")
    message = serializers.CharField(help_text="For people; the wording may change.")
    request_id = serializers.CharField(
        required=False, help_text="Only on 5xx answers: quote it when reporting the failure."
    )


class ErrorResponseSerializer(serializers.Serializer):
    errors = ErrorSerializer(many=True, help_text="At least one error.")
