"""Keyset (cursor) pagination for relay connections: cost stays flat however many rows a user has."""

import base64
import json
from typing import Any

import graphene
from django.conf import settings
from django.db.models import Q, QuerySet
from graphql import GraphQLError

from mlapi.cursors import MAX_CURSOR_LENGTH, InvalidCursorError, PaginationErrorCode, cursor_field, cursor_json_value

DEFAULT_PAGE_SIZE = 20


def _encode(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode()


def _invalid_cursor() -> GraphQLError:
    return GraphQLError("Invalid cursor.", extensions={"code": PaginationErrorCode.INVALID_CURSOR.value})


def _decode(cursor: str, model, order: tuple[str, ...]) -> list:
    """The values of the `order` fields that `cursor` holds, each checked against its model field."""
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_LENGTH:
        raise _invalid_cursor()
    try:
        values = json.loads(base64.b64decode(cursor.encode("ascii"), altchars=b"-_", validate=True))
    except (ValueError, TypeError, RecursionError):
        raise _invalid_cursor() from None
    if not isinstance(values, list) or len(values) != len(order):
        raise _invalid_cursor()
    try:
        return [cursor_json_value(cursor_field(model, f.lstrip("-")), v) for f, v in zip(order, values, strict=True)]
    except InvalidCursorError:
        raise _invalid_cursor() from None


def _after_filter(order: tuple[str, ...], values: list) -> Q:
    """Rows strictly after `values` in `order` (fields prefixed with '-' descend)."""
    condition = Q()
    equal_so_far = Q()
    for field, value in zip(order, values, strict=True):
        name = field.lstrip("-")
        step = Q(**{f"{name}__lt" if field.startswith("-") else f"{name}__gt": value})
        condition |= equal_so_far & step
        equal_so_far &= Q(**{name: value})
    return condition


def page_size(first: int | None) -> int:
    limit = settings.RELAY_CONNECTION_MAX_LIMIT
    if first is None:
        return min(DEFAULT_PAGE_SIZE, limit)
    if first < 0 or first > limit:
        raise GraphQLError(f"`first` must be between 0 and {limit}.", extensions={"code": "BAD_USER_INPUT"})
    return first


def connection_resolve(
    connection_type: type[graphene.relay.Connection],
    queryset: QuerySet,
    *,
    order: tuple[str, ...],
    first: int | None,
    after: str | None,
) -> graphene.relay.Connection:
    size = page_size(first)
    if after:
        queryset = queryset.filter(_after_filter(order, _decode(after, queryset.model, order)))
    rows = list(queryset.order_by(*order)[: size + 1])
    has_next = len(rows) > size
    rows = rows[:size]

    def cursor(row: Any) -> str:
        return _encode([getattr(row, f.lstrip("-")) for f in order])

    edges = [connection_type.Edge(node=row, cursor=cursor(row)) for row in rows]
    return connection_type(
        edges=edges,
        page_info=graphene.relay.PageInfo(
            has_next_page=has_next,
            has_previous_page=bool(after),
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
