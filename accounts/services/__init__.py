"""Users and operator-made API clients; customers' own keys are in accounts.services.api_keys."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import Application

from accounts.error_codes import AccountErrorCode
from accounts.models import ApiKey
from billing.models import PricingTier
from billing.services.subscriptions import subscription_change
from mlapi.errors import ApplicationError

User = get_user_model()


@dataclass(frozen=True)
class ApiClientCredentials:
    client_id: str
    client_secret: str
    application: Application


def user_ensure(*, username: str, email: str = "", tier_name: str | None = None):
    """The user with this username, created (without a usable password) if missing."""
    user = User.objects.filter(username=username).first()
    created = user is None
    if user is None:
        user = User(username=username, email=email)
        user.set_unusable_password()
        try:
            user.full_clean()
        except DjangoValidationError as error:
            raise ApplicationError.single(
                AccountErrorCode.INVALID_USERNAME, "; ".join(error.messages), field="username"
            ) from None
        user.save()
    elif email and user.email != email:
        user.email = email
        user.save(update_fields=["email"])
    if tier_name is not None:
        # A new user is on the tier from the moment they joined, not on the default tier for a few milliseconds.
        user_set_tier(user=user, tier_name=tier_name, at=user.date_joined if created else None)
    return user


def user_set_tier(*, user, tier_name: str, at=None) -> None:
    """Moves the user to the named tier from `at` (default: now); billing keeps the history."""
    tier = PricingTier.objects.filter(name=tier_name).first()
    if tier is None:
        raise ApplicationError.single(
            AccountErrorCode.UNKNOWN_TIER, f"No pricing tier named {tier_name!r}.", field="tier"
        )
    subscription_change(user=user, tier=tier, at=at)


@transaction.atomic
def api_client_create(
    *,
    username: str,
    email: str = "",
    tier_name: str | None = None,
    application_name: str | None = None,
    staff: bool = False,
) -> ApiClientCredentials:
    """A confidential client-credentials application acting as `username`. The secret is shown only here.

    With `application_name`, an existing application of that name is reused and its secret rotated.
    With `staff`, the user is made staff, so the application is a staff application: it may request the
    privileged `staff` and `introspection` scopes (accounts.oauth).
    """
    user = user_ensure(username=username, email=email, tier_name=tier_name)
    if staff and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    secret = generate_client_secret()
    application = Application.objects.filter(user=user, name=application_name).first() if application_name else None
    if application is None:
        application = Application(
            user=user,
            name=application_name or f"{username} API client",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        )
    application.client_secret = secret
    application.save()
    ApiKey.objects.get_or_create(application=application, defaults={"origin": ApiKey.Origin.OPERATOR})
    return ApiClientCredentials(client_id=application.client_id, client_secret=secret, application=application)


def customer_signup_complete(*, user) -> None:
    """A new customer (portal sign-up) is on the default tier from the moment they joined, recorded in the
    tier history so a later change of DEFAULT_PRICING_TIER does not rewrite their past."""
    tier = PricingTier.objects.filter(name=settings.DEFAULT_PRICING_TIER).first()
    if tier is not None:
        subscription_change(user=user, tier=tier, at=user.date_joined)


@transaction.atomic
def customer_login_set(*, user, password: str) -> None:
    """Gives an existing user a portal login: this password, and their email address marked verified
    (for demo and operator-made accounts; customers sign up and verify through allauth)."""
    from allauth.account.models import EmailAddress

    if not user.email:
        raise ApplicationError.single(
            AccountErrorCode.INVALID_USERNAME, "The user needs an email address to log in.", field="email"
        )
    user.set_password(password)
    user.save(update_fields=["password"])
    EmailAddress.objects.filter(user=user).exclude(email__iexact=user.email).update(primary=False)
    EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})
