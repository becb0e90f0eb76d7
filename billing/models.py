from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

MONEY = {"max_digits": 14, "decimal_places": 2}
UNIT_PRICE = {"max_digits": 16, "decimal_places": 8}
EXACT_AMOUNT = {"max_digits": 20, "decimal_places": 10}
ZERO = Decimal("0")


class PricingTier(models.Model):
    name = models.SlugField(max_length=40, unique=True)
    currency = models.CharField(max_length=3, default="USD")
    monthly_fee = models.DecimalField(**MONEY, default=ZERO, validators=[MinValueValidator(ZERO)])
    included_predictions = models.PositiveIntegerField(default=0)
    price_per_prediction = models.DecimalField(**UNIT_PRICE, default=ZERO, validators=[MinValueValidator(ZERO)])
    price_per_cpu_second = models.DecimalField(**UNIT_PRICE, default=ZERO, validators=[MinValueValidator(ZERO)])
    price_per_mb = models.DecimalField(**UNIT_PRICE, default=ZERO, validators=[MinValueValidator(ZERO)])
    monthly_quota = models.PositiveIntegerField(null=True, blank=True, help_text="Hard cap per month; empty = none.")
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True, help_text="Empty = unlimited.")
    storage_allowance_bytes = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Bytes of batch uploads a user may hold at once; empty = unlimited."
    )
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Batch uploads, and finished jobs with their results, are removed this many days after their "
        "last use; empty = kept until deleted.",
    )
    max_api_keys = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="API keys (client-credentials applications) a user may hold; empty = unlimited.",
    )
    is_public = models.BooleanField(
        default=False, help_text="Listed on the portal's plan page, where customers may move to it themselves."
    )

    class Meta:
        ordering = ["monthly_fee", "name"]

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    """The tier a user was on from `started_at` until `ended_at` (empty: still in force).

    History is only appended to, by `subscription_change`: at most one open subscription per user
    (a partial unique constraint) and no overlaps (checked under the user's row lock). Time not
    covered by any subscription is on the default tier (settings.DEFAULT_PRICING_TIER).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions")
    tier = models.ForeignKey(PricingTier, on_delete=models.PROTECT, related_name="subscriptions")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Empty: the subscription in force now.")

    class Meta:
        ordering = ["user", "started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(ended_at__isnull=True), name="subscription_one_open_per_user"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gt=models.F("started_at")),
                name="subscription_ends_after_it_starts",
            ),
        ]
        indexes = [models.Index(fields=["user", "started_at"], name="subscription_user_started_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.tier_id} from {self.started_at:%Y-%m-%d %H:%M:%S}"


class MonthlyUsage(models.Model):
    """Running totals per user and calendar month (UTC): the row quotas lock and count against.

    `closed_at` is set when the month's invoice is finalized: no usage is counted or recorded in a
    closed month any more (a late call lands in the next open month, see `usage_charge`)."""

    # Not indexed alone: the (user, period) unique constraint leads with user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="monthly_usage", db_index=False
    )
    period = models.DateField(help_text="First day of the month, UTC.")
    predictions = models.PositiveBigIntegerField(default=0)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When the month's invoice was finalized.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "period"], name="monthly_usage_user_period_unique")]

    def __str__(self) -> str:
        return f"{self.user} {self.period:%Y-%m}: {self.predictions} predictions"


class UsageRecord(models.Model):
    """One accepted, billed call: written in the same transaction as its predictions."""

    # Not indexed alone: usage_user_period_idx leads with user (one index less on every insert).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="usage_records", db_index=False
    )
    model = models.ForeignKey("predictions.RegisteredModel", on_delete=models.PROTECT, related_name="usage_records")
    tier = models.ForeignKey(PricingTier, on_delete=models.PROTECT, related_name="usage_records")
    created_at = models.DateTimeField(db_index=True)
    period = models.DateField(
        help_text="The billing month it is invoiced in: created_at's (UTC), or the next open one when that "
        "month was already closed for the user."
    )
    source = models.CharField(max_length=16, default="online")
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    request_hash = models.CharField(
        max_length=64,
        blank=True,
        help_text="SHA-256 of the request an idempotency key was used for (a retry must match it); "
        "empty for a call without a key.",
    )
    predictions = models.PositiveIntegerField()
    billable_predictions = models.PositiveIntegerField()
    cpu_seconds = models.DecimalField(max_digits=14, decimal_places=6)
    stored_bytes = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    price_per_prediction = models.DecimalField(**UNIT_PRICE)
    price_per_cpu_second = models.DecimalField(**UNIT_PRICE)
    price_per_mb = models.DecimalField(**UNIT_PRICE)
    prediction_amount = models.DecimalField(**EXACT_AMOUNT)
    compute_amount = models.DecimalField(**EXACT_AMOUNT)
    storage_amount = models.DecimalField(**EXACT_AMOUNT)
    amount = models.DecimalField(**EXACT_AMOUNT)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="usage_record_idempotency_key_unique",
            ),
            models.CheckConstraint(
                condition=Q(billable_predictions__lte=models.F("predictions")),
                name="usage_record_billable_lte_predictions",
            ),
        ]
        indexes = [models.Index(fields=["user", "period"], name="usage_user_period_idx")]

    def __str__(self) -> str:
        return f"usage {self.pk}: {self.user} {self.predictions} × {self.model} ({self.source})"


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        OPEN = "open"
        PAID = "paid"
        VOID = "void"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="invoices")
    period = models.DateField(help_text="First day of the billed month, UTC.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT, db_index=True)
    number = models.CharField(max_length=32, unique=True, null=True, blank=True)
    currency = models.CharField(max_length=3)
    total = models.DecimalField(**MONEY)
    tier_name = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    payment_provider = models.CharField(max_length=16, blank=True)
    provider_invoice_id = models.CharField(max_length=64, blank=True)
    payer_url = models.URLField(blank=True)
    send_attempts = models.PositiveIntegerField(default=0)
    last_send_error = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "period"], name="invoice_user_period_unique"),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(number__isnull=False), name="invoice_number_unless_draft"
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"draft {self.user_id} {self.period:%Y-%m}"


class InvoiceLine(models.Model):
    class Kind(models.TextChoices):
        SUBSCRIPTION = "subscription"
        PREDICTIONS = "predictions"
        COMPUTE = "compute"
        STORAGE = "storage"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=20, decimal_places=6)
    unit_price = models.DecimalField(**UNIT_PRICE)
    amount = models.DecimalField(**MONEY)
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"{self.invoice} line {self.position}: {self.description}"


class InvoiceNumberSequence(models.Model):
    """Gap-free sequential invoice numbers per year, taken under a row lock."""

    year = models.PositiveSmallIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"invoice numbers {self.year}: last {self.last_number}"


class PaymentEvent(models.Model):
    """A webhook event already processed: a replay hits the unique constraint and changes nothing."""

    provider = models.CharField(max_length=16)
    event_id = models.CharField(max_length=128)
    event_type = models.CharField(max_length=64)
    invoice = models.ForeignKey(Invoice, on_delete=models.SET_NULL, null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="payment_event_unique")]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id}"


class UsageDaily(models.Model):
    """Usage per user, billing period, UTC day, model, source and currency: a rollup of `UsageRecord`s, written only
    by `usage_daily_rollup` (a Celery beat task), so the prediction hot path writes nothing more.

    It covers the usage records with id <= `UsageRollupState.rolled_id`; the dashboard adds the newer
    ones (the tail) read live."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_daily")
    period = models.DateField(help_text="The billing month of the usage records (first day).")
    day = models.DateField(help_text="The UTC day of the records' created_at.")
    model = models.ForeignKey("predictions.RegisteredModel", on_delete=models.CASCADE, related_name="usage_daily")
    source = models.CharField(max_length=16)
    currency = models.CharField(max_length=3)
    calls = models.PositiveBigIntegerField(default=0)
    predictions = models.PositiveBigIntegerField(default=0)
    stored_bytes = models.PositiveBigIntegerField(default=0)
    amount = models.DecimalField(max_digits=24, decimal_places=10, default=ZERO)

    class Meta:
        ordering = ["user", "day", "model", "source"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "period", "day", "model", "source", "currency"], name="usage_daily_key_unique"
            )
        ]
        indexes = [
            models.Index(fields=["user", "day"], name="usage_daily_user_day_idx"),
            models.Index(fields=["period"], name="usage_daily_period_idx"),
            models.Index(fields=["day"], name="usage_daily_day_idx"),
        ]
        verbose_name_plural = "usage daily"

    def __str__(self) -> str:
        return f"{self.user_id} {self.day:%Y-%m-%d} model {self.model_id} {self.source}"


class UsageRollupState(models.Model):
    """One row: how far `UsageDaily` has rolled the usage records up.

    `rolled_id`: every record with id <= it is in UsageDaily. `seen_id`: the highest id at the previous
    run; the next run rolls up to it (not further), so a record whose id was taken by a transaction still
    open during one run is committed by the next (the charging transactions last milliseconds; a run is
    USAGE_ROLLUP_INTERVAL_SECONDS apart)."""

    name = models.CharField(max_length=32, unique=True, default="usage_daily")
    rolled_id = models.BigIntegerField(default=0)
    seen_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}: rolled up to usage record {self.rolled_id}"
