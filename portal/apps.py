from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The customers' own pages: account, API keys, usage, models, invoices and plan.

    Pages only: the rules they apply live in the domain apps' services and selectors.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "portal"
