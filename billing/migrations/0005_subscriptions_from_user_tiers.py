"""Each user with a tier gets an open Subscription to it, from when they joined or from the start of
their first billed month, whichever is earlier; every month with a finalized invoice is closed."""

from datetime import UTC, datetime, time

from django.db import migrations
from django.db.models import Min


def subscriptions_from_user_tiers(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    Subscription = apps.get_model("billing", "Subscription")
    UsageRecord = apps.get_model("billing", "UsageRecord")
    MonthlyUsage = apps.get_model("billing", "MonthlyUsage")
    Invoice = apps.get_model("billing", "Invoice")
    for user in User.objects.filter(pricing_tier__isnull=False).iterator():
        first_period = UsageRecord.objects.filter(user=user).aggregate(first=Min("period"))["first"]
        started_at = user.date_joined
        if first_period is not None:
            started_at = min(started_at, datetime.combine(first_period, time.min, tzinfo=UTC))
        Subscription.objects.create(user=user, tier_id=user.pricing_tier_id, started_at=started_at)
    for invoice in Invoice.objects.filter(finalized_at__isnull=False).iterator():
        MonthlyUsage.objects.get_or_create(user_id=invoice.user_id, period=invoice.period)
        MonthlyUsage.objects.filter(user_id=invoice.user_id, period=invoice.period).update(
            closed_at=invoice.finalized_at
        )


def user_tiers_from_subscriptions(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    Subscription = apps.get_model("billing", "Subscription")
    for subscription in Subscription.objects.filter(ended_at__isnull=True).iterator():
        User.objects.filter(pk=subscription.user_id).update(pricing_tier_id=subscription.tier_id)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_subscription"),
        ("accounts", "0002_initial"),
    ]

    operations = [migrations.RunPython(subscriptions_from_user_tiers, user_tiers_from_subscriptions)]
