"""Who is calling: an OAuth2 bearer token (alone, when present) or a logged-in session.

GraphQL and REST both resolve the caller here, so the rules are the same for both APIs.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from oauth2_provider.models import AccessToken

from accounts.oauth import STAFF_SCOPE, scopes_granted_to
from accounts.services.api_keys import api_key_touch
from mlapi.hot_cache import HotCache

SESSION_SCOPES = frozenset({"read", "predict", "billing", "keys"})


@dataclass(frozen=True)
class Caller:
    user: object
    scopes: frozenset[str]
    via: str  # "token", "session" or "anonymous"

    @property
    def is_authenticated(self) -> bool:
        return self.via != "anonymous"

    @property
    def sees_every_tenant(self) -> bool:
        """Staff see other tenants' data only with the `staff` scope: their own session (the admin's
        browser) has it; a token has it only when issued to a staff application. A staff member's token
        with plain `read`, e.g. granted to a third-party app, sees only their own data."""
        return bool(getattr(self.user, "is_staff", False)) and STAFF_SCOPE in self.scopes


ANONYMOUS = Caller(user=AnonymousUser(), scopes=frozenset(), via="anonymous")


class InvalidTokenError(Exception):
    """The bearer token is malformed, unknown, expired or revoked, or its user is inactive."""


def bearer_token_from_header(header: str) -> str | None:
    """None when there is no bearer header; raises when it is there but unusable."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    if not token or len(token) > 255 or " " in token:
        raise InvalidTokenError("Malformed bearer token.")
    return token


# Valid tokens only, for ACCESS_TOKEN_CACHE_SECONDS: a revoked token stops working within that time.
_valid_tokens = HotCache(setting="ACCESS_TOKEN_CACHE_SECONDS")


def _token_load(checksum: str) -> tuple[Caller, datetime]:
    try:
        access_token = AccessToken.objects.select_related("user", "application__user", "application__api_key").get(
            token_checksum=checksum
        )
    except AccessToken.DoesNotExist:
        raise InvalidTokenError("Unknown or revoked access token.") from None
    user = access_token.user or (access_token.application.user if access_token.application else None)
    if user is None or not user.is_active:
        raise InvalidTokenError("The access token has no active user.")
    scopes = scopes_granted_to(application=access_token.application, scopes=access_token.scope.split())
    if access_token.application is not None:
        # Written at most once a minute per key, and only here, where the token memo already spares most calls.
        api_key_touch(application=access_token.application)
    return Caller(user=user, scopes=scopes, via="token"), access_token.expires


def caller_from_token(token: str) -> Caller:
    checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
    caller, expires = _valid_tokens.get_or_load(checksum, lambda: _token_load(checksum))
    if expires <= timezone.now():
        raise InvalidTokenError("The access token has expired.")
    return caller


def caller_from_request(request) -> Caller:
    token = bearer_token_from_header(request.META.get("HTTP_AUTHORIZATION", ""))
    if token is not None:
        return caller_from_token(token)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_active:
        scopes = SESSION_SCOPES | {STAFF_SCOPE} if user.is_staff else SESSION_SCOPES
        return Caller(user=user, scopes=scopes, via="session")
    return ANONYMOUS


def token_cache_clear() -> None:
    _valid_tokens.clear()


def token_cache_evict(checksums) -> None:
    """Forgets these tokens in this process (a revoked key's): other processes forget them within
    ACCESS_TOKEN_CACHE_SECONDS."""
    for checksum in checksums:
        _valid_tokens.discard(checksum)
