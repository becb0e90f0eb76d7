from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.db.models import OuterRef, Subquery
from oauth2_provider.models import get_application_model

from accounts.models import ApiKey, User
from accounts.services import user_set_tier
from billing.models import Invoice, MonthlyUsage, PricingTier, Subscription, UsageRecord
from billing.services.usage import pricing_tier_for_user
from mlapi.admin_display import changelist_link, links
from predictions.models import Prediction


class UserWithTierChangeForm(UserChangeForm):
    tier = forms.ModelChoiceField(
        queryset=PricingTier.objects.all(),
        required=False,
        help_text="Changing it ends the current tier now and starts this one (billing keeps the history; "
        "the month's fee is prorated). Empty for users never put on a tier: they are on the default tier.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            open_subscription = Subscription.objects.filter(user=self.instance, ended_at__isnull=True).first()
            self.fields["tier"].initial = open_subscription.tier_id if open_subscription else None


class CurrentTierFilter(admin.SimpleListFilter):
    title = "tier"
    parameter_name = "tier"

    def lookups(self, request, model_admin):
        return [(tier.name, tier.name) for tier in PricingTier.objects.all()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(subscriptions__ended_at__isnull=True, subscriptions__tier__name=self.value())
        return queryset


@admin.register(User)
class MlapiUserAdmin(UserAdmin):
    form = UserWithTierChangeForm
    list_display = ("username", "email", "current_tier", "is_staff", "is_active", "date_joined", "records")
    list_filter = (CurrentTierFilter, "is_staff", "is_active")
    fieldsets = (*UserAdmin.fieldsets, ("Billing", {"fields": ("tier", "related")}))
    readonly_fields = ("related",)

    @admin.display(description="their records")
    def related(self, user):
        """Links to this user's API keys, tier history, usage, predictions and invoices in the admin."""
        if user.pk is None:
            return "—"
        by_user = {"user__id__exact": user.pk}
        return links(
            [
                changelist_link(get_application_model(), "API keys", **by_user),
                changelist_link(Subscription, "tier history", **by_user),
                changelist_link(MonthlyUsage, "monthly counters", **by_user),
                changelist_link(UsageRecord, "usage records", **by_user),
                changelist_link(Prediction, "predictions", **by_user),
                changelist_link(Invoice, "invoices", **by_user),
            ]
        )

    def get_queryset(self, request):
        open_tier = Subscription.objects.filter(user=OuterRef("pk"), ended_at__isnull=True).values("tier__name")[:1]
        return super().get_queryset(request).annotate(current_tier_name=Subquery(open_tier))

    @admin.display(description="records")
    def records(self, user):
        by_user = {"user__id__exact": user.pk}
        return links(
            [
                changelist_link(get_application_model(), "keys", **by_user),
                changelist_link(UsageRecord, "usage", **by_user),
                changelist_link(Invoice, "invoices", **by_user),
            ]
        )

    @admin.display(description="tier", ordering="current_tier_name")
    def current_tier(self, user):
        return user.current_tier_name or "(default)"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        tier = form.cleaned_data.get("tier")
        if "tier" in form.changed_data and tier is not None and pricing_tier_for_user(user=obj) != tier:
            user_set_tier(user=obj, tier_name=tier.name)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Customers' and operators' client-credentials keys: who made them, their scopes and last use. Keys are
    made, rotated and revoked by their owners (portal, GraphQL) or with create_api_client, not here."""

    list_display = ("application", "owner", "origin", "scopes", "last_used_at", "secret_rotated_at")
    list_filter = ("origin",)
    search_fields = ("application__name", "application__client_id", "application__user__username")
    list_select_related = ("application__user",)
    readonly_fields = ("application", "origin", "last_used_at", "secret_rotated_at")
    fields = ("application", "origin", "scopes", "last_used_at", "secret_rotated_at")

    def has_add_permission(self, request):
        return False

    @admin.display(ordering="application__user__username")
    def owner(self, key):
        return key.application.user
