"""The GraphQL endpoint: resolves the caller, refuses anonymous callers before any real work, enforces CSRF for
sessions, caches parsed documents, applies the abuse limits and never answers with a traceback."""

import logging
import re
from collections import OrderedDict
from threading import Lock

from django.conf import settings
from django.http import HttpResponseNotAllowed, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from graphene_django.views import GraphQLView, HttpError
from graphql import ExecutionResult, GraphQLError, OperationType, execute, get_operation_ast

from mlapi.auth import InvalidTokenError, caller_from_request
from mlapi.graphql_core.anonymous import anonymous_refusal
from mlapi.graphql_core.validation import document_errors, document_parse, validation_settings
from mlapi.observability.context import context_update, current_request_id

logger = logging.getLogger(__name__)

_DOCUMENT_CACHE_SIZE = 256
_SUGGESTION = re.compile(r"\s*Did you mean .*\?$")
_MAX_CACHED_QUERY_LENGTH = 20_000


_dispatch_without_csrf_cookie = GraphQLView.dispatch.__wrapped__


def _csrf_failure(request) -> JsonResponse | None:
    rejected = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
    if rejected is None:
        return None
    return JsonResponse(
        {"errors": [{"message": "CSRF check failed for a session request.", "extensions": {"code": "CSRF_FAILED"}}]},
        status=403,
    )


class MlapiGraphQLView(GraphQLView):
    _documents: "OrderedDict[str, tuple]" = OrderedDict()
    _documents_lock = Lock()

    def dispatch(self, request, *args, **kwargs):
        try:
            request.caller = caller_from_request(request)
        except InvalidTokenError as error:
            response = JsonResponse(
                {"errors": [{"message": str(error), "extensions": {"code": "INVALID_TOKEN"}}]}, status=401
            )
            response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        if request.caller.via == "session" and request.method == "POST":
            rejected = _csrf_failure(request)
            if rejected is not None:
                return rejected
        content_length = request.META.get("CONTENT_LENGTH") or "0"
        if content_length.isdigit() and int(content_length) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return JsonResponse(
                {"errors": [{"message": "Request body too large.", "extensions": {"code": "PAYLOAD_TOO_LARGE"}}]},
                status=413,
            )
        if request.caller.via == "token":
            # graphene's dispatch is wrapped in ensure_csrf_cookie: a bearer caller gets no CSRF cookie.
            return _dispatch_without_csrf_cookie(self, request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def parse_body(self, request):
        try:
            return super().parse_body(request)
        except RecursionError:
            raise HttpError(JsonResponse({}, status=400), "The JSON body is nested too deeply.") from None

    def _parse_and_validate(self, query: str):
        """Parsing and validating the same document again is wasted work: keep the last 256."""
        key = (query, *validation_settings())
        cached = self._documents.get(key)
        if cached is not None:
            return cached
        try:
            document = document_parse(query)
        except GraphQLError as error:
            return None, [error]
        errors = document_errors(self.schema.graphql_schema, document)
        result = (document, errors)
        if len(query) <= _MAX_CACHED_QUERY_LENGTH:
            with self._documents_lock:
                self._documents[key] = result
                while len(self._documents) > _DOCUMENT_CACHE_SIZE:
                    self._documents.popitem(last=False)
        return result

    def execute_graphql_request(self, request, data, query, variables, operation_name, show_graphiql=False):
        if not query:
            if show_graphiql:
                return None
            raise HttpError(JsonResponse({}, status=400), "Must provide query string.")
        if not isinstance(query, str):
            return ExecutionResult(errors=[GraphQLError("The query must be a string.")])
        if not request.caller.is_authenticated:
            return anonymous_refusal(self.schema.graphql_schema, query, operation_name)
        document, errors = self._parse_and_validate(query)
        if errors:
            return ExecutionResult(data=None, errors=errors)
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            return ExecutionResult(errors=[GraphQLError("Unknown or ambiguous operation name.")])
        if request.method.lower() == "get" and operation.operation != OperationType.QUERY:
            if show_graphiql:
                return None
            raise HttpError(HttpResponseNotAllowed(["POST"]), "Mutations are only allowed over POST.")
        if variables is not None and not isinstance(variables, dict):
            return ExecutionResult(errors=[GraphQLError("Variables must be a JSON object.")])
        context_update(operation=operation.name.value if operation.name else operation.operation.value)
        try:
            return execute(
                self.schema.graphql_schema,
                document,
                root_value=self.get_root_value(request),
                context_value=self.get_context(request),
                variable_values=variables,
                operation_name=operation_name,
                middleware=self.get_middleware(request),
            )
        except Exception as error:  # noqa: BLE001 - answered as an internal error below
            return ExecutionResult(errors=[GraphQLError(str(error), original_error=error)])

    @staticmethod
    def format_error(error):
        if isinstance(error, GraphQLError):
            original = error.original_error
            if original is None or isinstance(original, GraphQLError):
                formatted = error.formatted
                if not settings.GRAPHQL_INTROSPECTION_ENABLED:
                    formatted["message"] = _SUGGESTION.sub("", formatted["message"])
                if original is not None and original.extensions:
                    formatted["extensions"] = original.extensions
                return formatted
            logger.error(
                "unexpected error while resolving GraphQL",
                exc_info=(type(original), original, original.__traceback__),
            )
            return {
                "message": "Internal server error.",
                "path": error.path,
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": current_request_id()},
            }
        if isinstance(error, HttpError):
            return {"message": error.message or "Bad request.", "extensions": {"code": "BAD_REQUEST"}}
        logger.error("unexpected error in GraphQL view", exc_info=error)
        return {"message": "Internal server error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
