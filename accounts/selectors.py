"""Reads for the customer's own account: their API keys."""

from django.db.models import QuerySet
from oauth2_provider.models import Application


def api_key_list(*, user) -> QuerySet[Application]:
    """The user's client-credentials applications (portal-made and operator-made), newest first, with their
    ApiKey row (last use, scopes) joined."""
    return (
        Application.objects.filter(user=user, authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS)
        .select_related("api_key")
        .order_by("-created", "-id")
    )
