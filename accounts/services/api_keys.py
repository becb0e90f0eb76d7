"""Customers' API keys: confidential client-credentials applications they create, rotate, rename and revoke
themselves (the portal's /keys/ page and the GraphQL mutations both call these)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application, RefreshToken

from accounts.error_codes import AccountErrorCode
from accounts.models import ApiKey
from accounts.oauth import CUSTOMER_KEY_SCOPES, DEFAULT_KEY_SCOPES
from billing.services.usage import pricing_tier_for_user
from mlapi.errors import ApplicationError, LimitExceededError, NotFoundError

# A key's last use is written at most this often: a token issued or used within it writes nothing.
LAST_USED_RESOLUTION = timedelta(minutes=1)
NAME_MAX_LENGTH = 80


@dataclass(frozen=True)
class ApiKeySecret:
    """A key with its secret in clear: returned only by create and rotate, never stored (DOT hashes it)."""

    application: Application
    client_secret: str


def _name_clean(name: str) -> str:
    cleaned = " ".join((name or "").split())
    # Control characters (NUL, which PostgreSQL cannot store in text, among them) are refused, not stored.
    if not cleaned or len(cleaned) > NAME_MAX_LENGTH or not cleaned.isprintable():
        raise ApplicationError.single(
            AccountErrorCode.INVALID_NAME,
            f"Give the key a name of 1 to {NAME_MAX_LENGTH} printable characters.",
            field="name",
        )
    return cleaned


def _scopes_clean(scopes) -> str:
    chosen = list(dict.fromkeys(scopes)) if scopes is not None else list(DEFAULT_KEY_SCOPES)
    unknown = [scope for scope in chosen if scope not in CUSTOMER_KEY_SCOPES]
    if unknown or not chosen:
        raise ApplicationError.single(
            AccountErrorCode.INVALID_SCOPE,
            f"A key may carry one or more of {', '.join(sorted(CUSTOMER_KEY_SCOPES))}"
            + (f", not {', '.join(unknown)}." if unknown else "."),
            field="scopes",
        )
    return " ".join(scope for scope in sorted(CUSTOMER_KEY_SCOPES) if scope in chosen)


def _owned_key(*, user, key_id) -> Application:
    """The user's own client-credentials application, locked; someone else's is NOT_FOUND, like a missing one."""
    try:
        pk = int(key_id)
    except (TypeError, ValueError):
        pk = None
    application = (
        Application.objects.select_for_update()
        .filter(pk=pk, user=user, authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS)
        .first()
        if pk is not None
        else None
    )
    if application is None:
        raise NotFoundError.single(AccountErrorCode.NOT_FOUND, "No such API key.", field="id")
    return application


def _tokens_revoke(*, application: Application) -> None:
    """Deletes the application's access and refresh tokens; the per-process token memo forgets them on commit."""
    from mlapi.auth import token_cache_evict

    checksums = list(AccessToken.objects.filter(application=application).values_list("token_checksum", flat=True))
    RefreshToken.objects.filter(application=application).delete()
    AccessToken.objects.filter(application=application).delete()
    # Now, and again on commit: a request between the two could have memoised a token not yet deleted.
    token_cache_evict(checksums)
    transaction.on_commit(lambda: token_cache_evict(checksums))


@transaction.atomic
def api_key_create(*, user, name: str, scopes=None) -> ApiKeySecret:
    """A new key for `user`, within their tier's `max_api_keys` (API_KEY_LIMIT_REACHED beyond it)."""
    name = _name_clean(name)
    scope_text = _scopes_clean(scopes)
    # The user's row is the lock: two creates at once cannot both pass the limit.
    get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).get()
    limit = pricing_tier_for_user(user=user).max_api_keys
    if limit is not None:
        held = Application.objects.filter(
            user=user, authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS
        ).count()
        if held >= limit:
            raise LimitExceededError.single(
                AccountErrorCode.API_KEY_LIMIT_REACHED,
                f"Your plan allows {limit} API keys: revoke one, or change your plan, to create another.",
            )
    secret = generate_client_secret()
    application = Application(
        user=user,
        name=name,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
    )
    application.full_clean(exclude=["client_secret"])
    application.save()
    ApiKey.objects.create(application=application, origin=ApiKey.Origin.CUSTOMER, scopes=scope_text)
    return ApiKeySecret(application=application, client_secret=secret)


@transaction.atomic
def api_key_rotate_secret(*, user, key_id) -> ApiKeySecret:
    """A new secret; the old one stops working, and so do the tokens got with it (it may have leaked)."""
    application = _owned_key(user=user, key_id=key_id)
    secret = generate_client_secret()
    application.client_secret = secret
    application.save(update_fields=["client_secret", "updated"])
    ApiKey.objects.update_or_create(
        application=application,
        defaults={"secret_rotated_at": timezone.now()},
        create_defaults={"origin": ApiKey.Origin.OPERATOR, "secret_rotated_at": timezone.now()},
    )
    _tokens_revoke(application=application)
    return ApiKeySecret(application=application, client_secret=secret)


@transaction.atomic
def api_key_rename(*, user, key_id, name: str) -> Application:
    application = _owned_key(user=user, key_id=key_id)
    application.name = _name_clean(name)
    application.save(update_fields=["name", "updated"])
    return application


@transaction.atomic
def api_key_revoke(*, user, key_id) -> int:
    """Deletes the key and its tokens: a token got with it is refused from the next request. Returns its id."""
    application = _owned_key(user=user, key_id=key_id)
    pk = application.pk
    _tokens_revoke(application=application)
    application.delete()
    return pk


def api_key_touch(*, application, now: datetime | None = None) -> None:
    """Records that the key was used (a token issued with it, or one of its tokens used), to the minute.

    Reads what the caller already loaded (`application.api_key`, select_related): no query unless the last
    recorded use is a minute old; then one conditional UPDATE, which other processes' races only repeat."""
    now = now or timezone.now()
    try:
        key = application.api_key
    except ApiKey.DoesNotExist:
        return
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    stale_before = now - LAST_USED_RESOLUTION
    from django.db.models import Q

    ApiKey.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale_before), pk=key.pk).update(
        last_used_at=now
    )
    key.last_used_at = now
