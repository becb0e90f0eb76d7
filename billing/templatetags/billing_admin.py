from django import template
from django.utils import timezone

from billing.selectors.operations import operations_overview

register = template.Library()


@register.simple_tag
def operations_dashboard():
    """The admin index's dashboard (templates/admin/mlapi_index.html)."""
    return operations_overview(now=timezone.now())
