"""Shared by the registry commands: who acts, and how a refusal is reported (one line, codes first, exit 1)."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from mlapi.errors import ApplicationError


def command_error(error: ApplicationError) -> CommandError:
    parts = []
    for e in error.errors:
        where = f" ({e.field})" if e.field else ""
        parts.append(f"{e.code}{where}: {' '.join(e.message.split())}")
    return CommandError("; ".join(parts))


def registrant_get(username: str | None):
    """The named user, or the first active superuser; the services decide whether they may act."""
    User = get_user_model()
    user = (
        User.objects.filter(username=username).first()
        if username
        else User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    )
    if user is None:
        raise CommandError(
            f"NOT_FOUND: no user {username!r}."
            if username
            else "NOT_FOUND: no superuser to act as; create one or pass --as-user."
        )
    return user
