from django.contrib import admin, messages

from billing.models import Invoice, InvoiceLine, PaymentEvent, PricingTier, Subscription, UsageRecord
from billing.services.invoices import SEND_NOT_QUEUED, invoice_finalize, invoice_mark_paid, invoice_void
from mlapi.errors import ApplicationError


@admin.register(PricingTier)
class PricingTierAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "currency",
        "monthly_fee",
        "included_predictions",
        "price_per_prediction",
        "price_per_cpu_second",
        "price_per_mb",
        "monthly_quota",
        "rate_limit_per_minute",
        "max_api_keys",
        "is_public",
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    """The tier history, read-only: a user's tier is changed on the user's page (through subscription_change)."""

    list_display = ("user", "tier", "started_at", "ended_at")
    list_filter = ("tier",)
    search_fields = ("user__username",)
    date_hierarchy = "started_at"
    list_select_related = ("user", "tier")


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "model", "source", "predictions", "billable_predictions", "cpu_seconds", "stored_bytes", "amount", "currency")
    list_filter = ("period", "source", "tier")
    search_fields = ("user__username", "idempotency_key")
    date_hierarchy = "created_at"
    list_select_related = ("user", "model")


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    fields = ("kind", "description", "quantity", "unit_price", "amount")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "user", "period", "status", "total", "currency", "payment_provider", "send_attempts", "last_send_error")
    list_filter = ("status", "period", "payment_provider")
    search_fields = ("number", "user__username", "provider_invoice_id")
    list_select_related = ("user",)
    inlines = (InvoiceLineInline,)
    actions = ("finalize", "mark_paid", "void")

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
