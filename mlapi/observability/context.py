"""Per-request facts shared with log records (request id, user, operation, model)."""

from contextvars import ContextVar

request_context: ContextVar[dict | None] = ContextVar("request_context", default=None)


def context_update(**values) -> None:
    current = request_context.get()
    if current is not None:
        current.update(values)


def current_request_id() -> str | None:
    current = request_context.get()
    return current.get("request_id") if current else None
