"""The data migration: every user with a tier gets an open subscription to it, from when they joined or
the start of their first billed month (whichever is earlier); months with a finalized invoice are closed."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from predictions.models import RegisteredModel

UTC = UTC
BEFORE = [("billing", "0004_subscription"), ("accounts", "0002_initial")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_user_tiers_become_subscriptions_and_finalized_months_are_closed():
    # given: the schema before the tier history, a user on pro with usage before they "joined", one without a tier
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    apps = _migrate(BEFORE)
    User, PricingTier = apps.get_model("accounts", "User"), apps.get_model("billing", "PricingTier")
    UsageRecord, Invoice = apps.get_model("billing", "UsageRecord"), apps.get_model("billing", "Invoice")
    pro, _ = PricingTier.objects.get_or_create(
        name="pro", defaults={"monthly_fee": Decimal("49.00")}
    )  # flushed by earlier transactional tests?
    joined = datetime(2026, 3, 15, 10, tzinfo=UTC)
    customer = User.objects.create(username="old-customer", pricing_tier=pro, date_joined=joined)
    User.objects.create(username="default-tier", date_joined=joined)
    model = RegisteredModel.objects.create(  # today's model: the predictions app is not migrated back
        name="m", version=1, artifact="x.joblib", artifact_format="joblib", sha256="0" * 64, size_bytes=1,
        input_schema={}, task="classification", registered_by_id=customer.pk,
    )  # fmt: skip
    money = {
        f: Decimal("0")
        for f in (
            "price_per_prediction",
            "price_per_cpu_second",
            "price_per_mb",
            "prediction_amount",
            "compute_amount",
            "storage_amount",
            "amount",
        )
    }
    UsageRecord.objects.create(
        user=customer, model_id=model.pk, tier=pro, created_at=datetime(2026, 2, 20, tzinfo=UTC),
        period=date(2026, 2, 1), request_hash="0" * 64, predictions=1, billable_predictions=0, cpu_seconds=0,
        stored_bytes=0, currency="USD", **money,
    )  # fmt: skip
    Invoice.objects.create(
        user=customer, period=date(2026, 2, 1), status="open", number="INV-2026-000001", currency="USD",
        total=Decimal("49.00"), tier_name="pro", finalized_at=datetime(2026, 3, 2, tzinfo=UTC),
    )  # fmt: skip
    # when
    apps = _migrate(latest)
    # then
    Subscription, MonthlyUsage = apps.get_model("billing", "Subscription"), apps.get_model("billing", "MonthlyUsage")
    assert list(Subscription.objects.values_list("user__username", "tier__name", "started_at", "ended_at")) == [
        ("old-customer", "pro", datetime(2026, 2, 1, tzinfo=UTC), None)
    ]
    assert MonthlyUsage.objects.get(user__username="old-customer", period=date(2026, 2, 1)).closed_at == datetime(
        2026, 3, 2, tzinfo=UTC
    )
    assert "pricing_tier_id" not in {
        c.name for c in connection.introspection.get_table_description(connection.cursor(), "accounts_user")
    }
