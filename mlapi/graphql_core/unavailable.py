"""GraphQL's side of mlapi.unavailable: an outage of the database, cache or broker is a top-level error
with `extensions.code` SERVICE_UNAVAILABLE (not INTERNAL_SERVER_ERROR), and when no data could be
produced the answer is HTTP 503 with `Retry-After`, like REST's.

A field that failed on an outage while others resolved keeps HTTP 200: the client has data to use,
and the error on that path says it may retry.
"""

import logging

from graphql import GraphQLError

from mlapi.graphql_core.view import MlapiGraphQLView
from mlapi.observability.context import current_request_id
from mlapi.unavailable import graphql_error, graphql_unavailable_response, unavailable_cause, with_retry_after

logger = logging.getLogger(__name__)
_NO_DATA = "_graphql_outage_without_data"


def _log_outage(cause: BaseException) -> None:
    logger.warning("service unavailable", extra={"error": type(cause).__name__, "detail": str(cause)[:300]})


class ServiceUnavailableMixin:
    """Goes before a GraphQLView subclass in the bases: wraps its dispatch, execution and error format."""

    def dispatch(self, request, *args, **kwargs):
        try:
            response = super().dispatch(request, *args, **kwargs)
        except Exception as error:
            # Before execution (resolving the bearer token, say): nothing was produced.
            cause = unavailable_cause(error)
            if cause is None:
                raise
            _log_outage(cause)
            return graphql_unavailable_response(request_id=current_request_id())
        if getattr(request, _NO_DATA, False):
            response.status_code = 503
            with_retry_after(response)
        return response

    def execute_graphql_request(self, request, data, query, variables, operation_name, show_graphiql=False):
        result = super().execute_graphql_request(request, data, query, variables, operation_name, show_graphiql)
        if result is not None and result.errors and any(unavailable_cause(e) for e in result.errors):
            produced = result.data
            setattr(request, _NO_DATA, not produced or all(value is None for value in produced.values()))
        return result

    def format_error(self, error):
        cause = unavailable_cause(error.original_error) if isinstance(error, GraphQLError) else None
        if cause is None:
            return super().format_error(error)
        _log_outage(cause)
        return graphql_error(path=error.path, request_id=current_request_id())


class GraphQLEndpoint(ServiceUnavailableMixin, MlapiGraphQLView):
    """The view urls.py serves at /graphql/."""
