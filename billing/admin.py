from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from billing.models import (
    Invoice,
    InvoiceLine,
    MonthlyUsage,
    PaymentEvent,
    PricingTier,
    Subscription,
    UsageDaily,
    UsageRecord,
)
from billing.services.invoices import SEND_NOT_QUEUED, invoice_finalize, invoice_mark_paid, invoice_void
from mlapi.admin_display import PLAIN_DECIMAL_FIELDS, admin_link, decimal, size
from mlapi.errors import ApplicationError


@admin.register(PricingTier)
class PricingTierAdmin(admin.ModelAdmin):
    formfield_overrides = PLAIN_DECIMAL_FIELDS
    list_display = (
        "name",
        "currency",
        "monthly_fee",
        "included_predictions",
        "per_prediction",
        "per_cpu_second",
        "per_mb",
        "monthly_quota",
        "rate_limit_per_minute",
        "max_api_keys",
        "is_public",
        "storage_allowance",
    )

    @admin.display(description="price per prediction", ordering="price_per_prediction")
    def per_prediction(self, tier):
        return decimal(tier.price_per_prediction)

    @admin.display(description="price per CPU second", ordering="price_per_cpu_second")
    def per_cpu_second(self, tier):
        return decimal(tier.price_per_cpu_second)

    @admin.display(description="price per MB", ordering="price_per_mb")
    def per_mb(self, tier):
        return decimal(tier.price_per_mb)

    @admin.display(description="storage allowance", ordering="storage_allowance_bytes")
    def storage_allowance(self, tier):
        return size(tier.storage_allowance_bytes) if tier.storage_allowance_bytes is not None else "unlimited"


class ReadOnlyAdmin(admin.ModelAdmin):
    @admin.display(description="user", ordering="user__username")
    def user_link(self, obj):
        return admin_link(obj.user)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    """The tier history, read-only: a user's tier is changed on the user's page (through subscription_change)."""

    list_display = ("user_link", "tier", "started_at", "ended_at")
    list_filter = ("tier",)
    search_fields = ("user__username",)
    date_hierarchy = "started_at"
    list_select_related = ("user", "tier")


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "user_link",
        "model_link",
        "source",
        "predictions",
        "billable_predictions",
        "cpu",
        "stored",
        "cost",
        "currency",
        "predictions_link",
    )
    list_filter = ("period", "source", "tier")
    search_fields = ("user__username", "idempotency_key")
    date_hierarchy = "created_at"
    list_select_related = ("user", "model")

    @admin.display(description="model", ordering="model__name")
    def model_link(self, record):
        return admin_link(record.model)

    @admin.display(description="CPU seconds", ordering="cpu_seconds")
    def cpu(self, record):
        return decimal(record.cpu_seconds)

    @admin.display(description="stored", ordering="stored_bytes")
    def stored(self, record):
        return size(record.stored_bytes)

    @admin.display(description="amount", ordering="amount")
    def cost(self, record):
        return decimal(record.amount)

    @admin.display(description="predictions stored")
    def predictions_link(self, record):
        url = reverse("admin:predictions_prediction_changelist")
        return format_html('<a href="{}?usage__id__exact={}">rows</a>', url, record.pk)


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    fields = ("kind", "description", "line_quantity", "line_unit_price", "amount")
    readonly_fields = fields

    @admin.display(description="quantity")
    def line_quantity(self, line):
        return decimal(line.quantity)

    @admin.display(description="unit price")
    def line_unit_price(self, line):
        return decimal(line.unit_price)

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "user_link",
        "period",
        "status",
        "total",
        "currency",
        "payment_provider",
        "send_attempts",
        "last_send_error",
        "printable_page",
    )
    list_filter = ("status", "period", "payment_provider")
    search_fields = ("number", "user__username", "provider_invoice_id")
    list_select_related = ("user",)
    readonly_fields = ("printable_page",)
    inlines = (InvoiceLineInline,)
    actions = ("finalize", "mark_paid", "void")

    @admin.display(description="printable page")
    def printable_page(self, invoice):
        if invoice.pk is None:
            return "—"
        page = reverse("invoice-page", args=[invoice.pk])
        if invoice.number is None:
            return format_html('<a href="{}">page</a>', page)
        return format_html(
            '<a href="{}">page</a> · <a href="{}">PDF</a>', page, reverse("invoice-pdf", args=[invoice.pk])
        )

    def has_change_permission(self, request, obj=None):
        return obj is None  # the changelist (and its actions) yes; editing an invoice's fields never

    def _apply(self, request, queryset, service, verb: str) -> list[Invoice]:
        done = []
        for invoice in queryset:
            try:
                done.append(service(invoice=invoice))
            except ApplicationError as error:
                self.message_user(request, f"{invoice}: {error.errors[0].message}", level=messages.WARNING)
        self.message_user(request, f"{len(done)} invoice(s) {verb}.")
        return done

    @admin.action(description="Finalize (draft → open, numbered, sent)")
    def finalize(self, request, queryset):
        finalized = self._apply(request, queryset, invoice_finalize, "finalized")
        not_queued = [str(invoice) for invoice in finalized if invoice.last_send_error.startswith(SEND_NOT_QUEUED)]
        if not_queued:
            self.message_user(
                request,
                f"{', '.join(not_queued)}: finalized, but the task queue is unavailable, so not sent yet; "
                "the hourly re-send will send them.",
                level=messages.WARNING,
            )

    @admin.action(description="Mark paid")
    def mark_paid(self, request, queryset):
        self._apply(request, queryset, invoice_mark_paid, "marked paid")

    @admin.action(description="Void")
    def void(self, request, queryset):
        self._apply(request, queryset, invoice_void, "voided")


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "provider", "event_type", "event_id", "invoice")


@admin.register(MonthlyUsage)
class MonthlyUsageAdmin(ReadOnlyAdmin):
    """The counters quotas are checked against (one row per user and month)."""

    list_display = ("period", "user_link", "predictions", "closed_at")
    list_filter = ("period",)
    search_fields = ("user__username",)
    list_select_related = ("user",)


@admin.register(UsageDaily)
class UsageDailyAdmin(ReadOnlyAdmin):
    """The dashboard's daily rollup, written by the rollup beat task only."""

    list_display = ("day", "user_link", "model", "source", "calls", "predictions", "stored", "cost", "currency")
    list_filter = ("period", "source")
    search_fields = ("user__username",)
    date_hierarchy = "day"
    list_select_related = ("user", "model")

    @admin.display(description="stored", ordering="stored_bytes")
    def stored(self, row):
        return size(row.stored_bytes)

    @admin.display(description="amount", ordering="amount")
    def cost(self, row):
        return decimal(row.amount)
