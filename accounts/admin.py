from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import User


@admin.register(User)
class MlapiUserAdmin(UserAdmin):
    list_display = ("username", "email", "pricing_tier", "is_staff", "is_active", "date_joined")
    list_filter = ("pricing_tier", "is_staff", "is_active")
    list_select_related = ("pricing_tier",)
    fieldsets = (*UserAdmin.fieldsets, ("Billing", {"fields": ("pricing_tier",)}))
