"""Which OAuth2 scopes an application may be granted, and who may introspect tokens.

`staff` (see every tenant's data), `introspection` (RFC 7662 on /o/introspect/) and `registry` (register
model versions and change their stage over the API, for training pipelines) are privileged: only a
staff application gets them, that is a confidential client-credentials application whose owner is an active
staff user (`create_api_client --staff`). Tokens issued through /o/authorize/ act for a person inside a
third-party application, so they never carry a privileged scope, whoever authorizes them.
"""

from django.core.exceptions import ObjectDoesNotExist
from oauth2_provider.models import Application
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import SettingsScopes
from oauth2_provider.views import IntrospectTokenView

STAFF_SCOPE = "staff"
INTROSPECTION_SCOPE = "introspection"
REGISTRY_SCOPE = "registry"
PRIVILEGED_SCOPES = frozenset({STAFF_SCOPE, INTROSPECTION_SCOPE, REGISTRY_SCOPE})
KEYS_SCOPE = "keys"
# What a customer's own key may carry (chosen per key); `keys` only ever on a client-credentials key.
CUSTOMER_KEY_SCOPES = frozenset({"read", "predict", "billing", KEYS_SCOPE})
DEFAULT_KEY_SCOPES = ("read", "predict", "billing")


def customer_key_scopes(application) -> frozenset[str] | None:
    """The scopes a customer-made key may carry; None for any other application (operator-made, third-party).
    Reads `application.api_key` (select_related by the callers on hot paths)."""
    if application is None:
        return None
    try:
        key = application.api_key
    except ObjectDoesNotExist:
        return None
    if key.origin != "customer":
        return None
    return frozenset(key.scopes.split()) & CUSTOMER_KEY_SCOPES


def application_is_staff(application) -> bool:
    user = getattr(application, "user", None)
    return (
        application is not None
        and customer_key_scopes(application) is None
        and application.authorization_grant_type == Application.GRANT_CLIENT_CREDENTIALS
        and application.client_type == Application.CLIENT_CONFIDENTIAL
        and user is not None
        and user.is_active
        and user.is_staff
    )


def scopes_granted_to(*, application, scopes) -> frozenset[str]:
    """The scopes a token really carries: privileged ones only for a staff application (also checked when a
    token is used, so a token made by hand in the admin, or a user who is no longer staff, gains nothing)."""
    scopes = frozenset(scopes)
    own = customer_key_scopes(application)
    if own is not None:
        return scopes & own
    return scopes if application_is_staff(application) else scopes - PRIVILEGED_SCOPES


class ApplicationScopes(SettingsScopes):
    """django-oauth-toolkit's scopes backend (SCOPES_BACKEND_CLASS): the token and authorize endpoints
    refuse a privileged scope (`invalid_scope`) to any application that is not a staff application."""

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        available = super().get_available_scopes(application, request, *args, **kwargs)
        own = customer_key_scopes(application)
        if own is not None:
            return [scope for scope in available if scope in own]
        if application_is_staff(application):
            return available
        available = [scope for scope in available if scope not in PRIVILEGED_SCOPES]
        if application is not None and application.authorization_grant_type != Application.GRANT_CLIENT_CREDENTIALS:
            # A third-party app acting for a customer may not mint keys (lasting credentials) for itself.
            available = [scope for scope in available if scope != KEYS_SCOPE]
        return available

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        """The settings' default scopes this application may have; a key with none of them: all of its own."""
        default = super().get_default_scopes(application, request, *args, **kwargs)
        if application is None:
            return default
        available = self.get_available_scopes(application=application, request=request)
        return [scope for scope in default if scope in available] or available


class KeyUsageOAuth2Validator(OAuth2Validator):
    """django-oauth-toolkit's validator, recording a key's last use when a token is issued with it."""

    def save_bearer_token(self, token, request, *args, **kwargs):
        super().save_bearer_token(token, request, *args, **kwargs)
        application = getattr(request, "client", None)
        if application is not None and application.authorization_grant_type == Application.GRANT_CLIENT_CREDENTIALS:
            from accounts.services.api_keys import api_key_touch

            api_key_touch(application=application)


class ResourceServerIntrospectTokenView(IntrospectTokenView):
    """/o/introspect/ for resource servers only: a bearer token with the `introspection` scope.

    django-oauth-toolkit's own view also accepts any client's credentials (HTTP Basic or in the body) and
    then checks no scope at all, so any tenant's API client could read another tenant's token's scopes,
    expiry, client id and username. Client authentication is not accepted here.
    """

    def authenticate_client(self, request):
        return False

    def verify_request(self, request):
        valid, oauthlib_request = super().verify_request(request)
        if valid and not application_is_staff(oauthlib_request.access_token.application):
            return False, oauthlib_request
        return valid, oauthlib_request
