"""Keyset (cursor) pagination for relay connections: cost stays flat however many rows a user has."""

import base64
import json
from typing import Any

import graphene
from django.conf import settings
from django.db.models import Q, QuerySet
from graphql import GraphQLError

from mlapi.cursors import (
    MAX_CURSOR_LENGTH,
    InvalidCursorError,
    PaginationErrorCode,
    cursor_field,
    cursor_json_value,
)

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


def page_size(size: int | None, *, argument: str = "first") -> int:
    limit = settings.RELAY_CONNECTION_MAX_LIMIT
    if size is None:
        return min(DEFAULT_PAGE_SIZE, limit)
    if size < 0 or size > limit:
        raise GraphQLError(f"`{argument}` must be between 0 and {limit}.", extensions={"code": "BAD_USER_INPUT"})
    return size


def _reversed(order: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f[1:] if f.startswith("-") else f"-{f}" for f in order)


class CountableConnection(graphene.relay.Connection):
    """A relay connection with non-null edges and nodes and an exact `totalCount` (base of every connection)."""

    class Meta:
        abstract = True

    total_count = graphene.Int(
        required=True,
        description="How many items match the filters, across all pages: an exact COUNT, never an estimate, run "
        "only when this field is selected.",
    )

    @classmethod
    def __init_subclass_with_meta__(cls, node=None, description=None, **options):
        node_name = getattr(getattr(node, "_meta", None), "name", None) or str(node)
        description = description or f"A page of {node_name} items: `edges` in order, `pageInfo`, `totalCount`."
        super().__init_subclass_with_meta__(node=node, strict_types=True, description=description, **options)

    @staticmethod
    def resolve_total_count(connection, info) -> int:
        return connection.count_queryset.count()


PAGINATION_ARGUMENTS = {
    "first": lambda: graphene.Int(
        description="Page size from the start (after `after`); default 20, at most the server's limit."
    ),
    "after": lambda: graphene.String(description="A cursor from this connection: items after it."),
    "last": lambda: graphene.Int(description="Page size from the end (before `before`): backward pagination."),
    "before": lambda: graphene.String(description="A cursor from this connection: items before it."),
}


def pagination_arguments() -> dict:
    """`first`/`after`/`last`/`before`, described, for a connection field."""
    return {name: make() for name, make in PAGINATION_ARGUMENTS.items()}


def connection_resolve(
    connection_type: type[graphene.relay.Connection],
    queryset: QuerySet,
    *,
    order: tuple[str, ...],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> graphene.relay.Connection:
    """One page of `queryset` in `order` (keyset cursors over the `order` fields, which end in a unique one).

    Forward: `first` items after `after`. Backward: the `last` items before `before`, still in `order`.
    `after` and `before` may be combined (the items between them); `first` and `last` may not.
    """
    if first is not None and last is not None:
        raise GraphQLError("Give `first` or `last`, not both.", extensions={"code": "BAD_USER_INPUT"})
    count_queryset = queryset
    if after:
        queryset = queryset.filter(_after_filter(order, _decode(after, queryset.model, order)))
    if before:
        queryset = queryset.filter(_after_filter(_reversed(order), _decode(before, queryset.model, order)))
    backward = last is not None
    size = page_size(last, argument="last") if backward else page_size(first)
    rows = list(queryset.order_by(*(_reversed(order) if backward else order))[: size + 1])
    has_more = len(rows) > size
    rows = rows[:size]
    if backward:
        rows.reverse()

    def cursor(row: Any) -> str:
        return _encode([getattr(row, f.lstrip("-")) for f in order])

    edges = [connection_type.Edge(node=row, cursor=cursor(row)) for row in rows]
    connection = connection_type(
        edges=edges,
        page_info=graphene.relay.PageInfo(
            has_next_page=bool(before) if backward else has_more,
            has_previous_page=has_more if backward else bool(after),
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
    connection.count_queryset = count_queryset
    return connection
