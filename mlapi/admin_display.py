"""Small helpers for admin columns: links to related objects and changelists, sizes and Decimals for people."""

from decimal import Decimal

from django import forms
from django.db import models
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from mlapi.templatetags.mlapi_format import plain


def admin_link(obj, text: str | None = None) -> str:
    """A link to `obj`'s admin page (or its text alone when there is none)."""
    if obj is None:
        return "—"
    meta = obj._meta
    try:
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    except Exception:  # not registered in the admin
        return str(text or obj)
    return format_html('<a href="{}">{}</a>', url, text or str(obj))


def changelist_link(model, text: str, **filters) -> str:
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return format_html('<a href="{}?{}">{}</a>', url, query, text)


def links(items: list[str]) -> str:
    return format_html_join(" · ", "{}", ((item,) for item in items))


def size(value) -> str:
    return "—" if value is None else filesizeformat(value)


def decimal(value) -> str:
    return "—" if value is None else plain(value)


class PlainDecimalInput(forms.NumberInput):
    """A number input that shows a stored Decimal as typed, never in exponent form (0E-8 → 0)."""

    def format_value(self, value):
        if isinstance(value, Decimal):
            return plain(value)
        return super().format_value(value)


PLAIN_DECIMAL_FIELDS = {models.DecimalField: {"widget": PlainDecimalInput}}
