from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person or an API client. Their tier history lives in billing (`billing.Subscription`)."""


class ApiKey(models.Model):
    """What the project knows about a client-credentials application beyond django-oauth-toolkit's row.

    A customer key (made in the portal or with `createApiClient`) may be granted only its own `scopes`,
    a subset of the customer scopes, and is never a staff application, whoever owns it. `last_used_at` is
    written at most once a minute per key (accounts.services.api_keys.api_key_touch), never per call.
    """

    class Origin(models.TextChoices):
        CUSTOMER = "customer", "Customer (portal or GraphQL)"
        OPERATOR = "operator", "Operator (create_api_client)"

    application = models.OneToOneField(
        "oauth2_provider.Application", on_delete=models.CASCADE, primary_key=True, related_name="api_key"
    )
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.CUSTOMER)
    scopes = models.CharField(
        max_length=200, blank=True, help_text="Customer keys: the scopes its tokens may carry (space-separated)."
    )
    last_used_at = models.DateTimeField(null=True, blank=True, help_text="To the minute: a token issued or used.")
    secret_rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.application.name} ({self.application.client_id})"
