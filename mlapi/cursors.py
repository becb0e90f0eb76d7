"""Cursor values come from the client: each must be what the paginated model field stores, or INVALID_CURSOR.

GraphQL connections (`mlapi.graphql_core.pagination`) and REST lists (`mlapi.api.pagination`) both check their
cursors here, so a forged cursor is refused the same way before it reaches a query.
"""

from datetime import UTC, datetime
from enum import Enum

from django.core.exceptions import ValidationError
from django.db import connection, models
from django.utils import timezone

MAX_CURSOR_LENGTH = 1024  # an encoded cursor the server hands out is about 100 characters


class PaginationErrorCode(str, Enum):
    INVALID_CURSOR = "INVALID_CURSOR"


class InvalidCursorError(Exception):
    """The cursor does not decode to the values of the ordering fields."""


def cursor_field(model, name: str):
    return model._meta.pk if name == "pk" else model._meta.get_field(name)


def cursor_value(field, raw: str):
    """`raw`, the text of a value of `field`, as `field` stores it; raises InvalidCursorError."""
    if not isinstance(raw, str):
        raise InvalidCursorError
    return _checked(field, raw)


def cursor_json_value(field, raw):
    """`raw`, decoded from JSON: an int for an integer field and a string for any other, as `field` stores it."""
    expected = int if isinstance(field, models.IntegerField) else str
    if type(raw) is not expected:  # not isinstance: a bool is an int
        raise InvalidCursorError
    return _checked(field, raw)


def _checked(field, raw: str | int):
    if isinstance(raw, str) and ("\x00" in raw or len(raw) > MAX_CURSOR_LENGTH):
        raise InvalidCursorError
    try:
        value = field.to_python(raw)
        if isinstance(value, datetime):
            if timezone.is_naive(value):
                raise InvalidCursorError  # the server only hands out aware datetimes
            value.astimezone(UTC)  # and ones that exist in UTC (9999-12-31T23:59-12:00 does not)
        if value is None:
            raise InvalidCursorError
        field.run_validators(value)  # the integer range of the column, a slug's characters, ...
        field.get_db_prep_value(value, connection, prepared=False)  # as the query will send it
    except (ValidationError, ValueError, TypeError, OverflowError):
        raise InvalidCursorError from None
    return value
