from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.db.models import OuterRef, Subquery

from accounts.models import ApiKey, User
from accounts.services import user_set_tier
from billing.models import PricingTier, Subscription
from billing.services.usage import pricing_tier_for_user


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
    list_display = ("username", "email", "current_tier", "is_staff", "is_active", "date_joined")
    list_filter = (CurrentTierFilter, "is_staff", "is_active")
    fieldsets = (*UserAdmin.fieldsets, ("Billing", {"fields": ("tier",)}))

    def get_queryset(self, request):
        open_tier = Subscription.objects.filter(user=OuterRef("pk"), ended_at__isnull=True).values("tier__name")[:1]
        return super().get_queryset(request).annotate(current_tier_name=Subquery(open_tier))

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
