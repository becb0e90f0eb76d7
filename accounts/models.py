from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person or an API client. `pricing_tier` empty means the default tier."""

    pricing_tier = models.ForeignKey(
        "billing.PricingTier",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        help_text="Empty: the default tier (settings.DEFAULT_PRICING_TIER).",
    )
