"""Reconnect on failure, without a per-request health check.

Django's CONN_HEALTH_CHECKS costs a `SELECT 1` round trip before the first query of every request. It is
off (settings.base); instead, when a request starts, each open PostgreSQL connection is checked without
a round trip: an idle connection has nothing to read, so a socket that is readable (the server sent its
"terminating connection" notice and closed, or restarted) belongs to a dead session, and it is closed
here so that this request's first query connects afresh. Whatever this misses (the connection dies
mid-request) fails that request with 503 SERVICE_UNAVAILABLE and Retry-After (mlapi.unavailable), and
Django closes the connection at the end of it (errors_occurred), so the next request reconnects.
"""

import select

from django.db import DatabaseError, connections


def broken_connections_close(**kwargs) -> None:
    """request_started receiver: closes this thread's idle PostgreSQL connections whose server side is gone."""
    for connection in connections.all(initialized_only=True):
        raw = connection.connection
        if raw is None or connection.vendor != "postgresql" or connection.in_atomic_block:
            continue
        try:
            readable, _, _ = select.select([raw.fileno()], [], [], 0)
        except (OSError, ValueError):  # the socket is already closed
            readable = True
        if readable:
            try:
                connection.close()
            except DatabaseError:  # closing a dead session may complain; it is closed either way
                pass
