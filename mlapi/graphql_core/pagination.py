"""Keyset (cursor) pagination for relay connections: cost stays flat however many rows a user has."""

import base64
import json
from typing import Any

import graphene
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from graphql import GraphQLError

DEFAULT_PAGE_SIZE = 20


def _encode(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode()


def _decode(cursor: str, size: int) -> list:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        values = None
    if not isinstance(values, list) or len(values) != size:
        raise GraphQLError("Invalid cursor.", extensions={"code": "BAD_USER_INPUT"})
    return values


def _after_filter(order: tuple[str, ...], values: list) -> Q:
    """Rows strictly after `values` in `order` (fields prefixed with '-' descend)."""
    condition = Q()
    equal_so_far = Q()
    for field, value in zip(order, values):
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
    try:
        if after:
            queryset = queryset.filter(_after_filter(order, _decode(after, len(order))))
        rows = list(queryset.order_by(*order)[: size + 1])
    except (DjangoValidationError, ValueError, TypeError):
        raise GraphQLError("Invalid cursor.", extensions={"code": "BAD_USER_INPUT"}) from None
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
