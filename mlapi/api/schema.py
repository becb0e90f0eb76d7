"""How the REST API describes itself in OpenAPI (drf-spectacular): one error schema for every 4xx/5xx answer,
bearer token OR session as alternative security requirements, a tag per resource, a summary per operation,
component names without a doubled `Request` suffix.

A view lists the error statuses its operations can answer besides the ones every authenticated operation
can (401, 403, 503) in `error_statuses`: a tuple for all its methods, or a dict of tuples by method name.
"""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

from mlapi.api.serializers import ErrorResponseSerializer

API_PREFIX = "/api/v1/"
COMMON_ERROR_STATUSES = (401, 403, 503)  # every operation needs a token or session, and a database

ERROR_DESCRIPTIONS = {
    400: "Invalid input: a query parameter, the body or a cursor (`INVALID_CURSOR`). One error per problem.",
    401: "No usable credentials: `UNAUTHENTICATED` (none given) or `INVALID_TOKEN` (unknown, expired or revoked).",
    403: "`FORBIDDEN`: the token lacks this operation's scope (or a session request failed its CSRF check).",
    404: "`NOT_FOUND`: no such object, or not yours (the two are not told apart).",
    409: "A conflict with the object's state or an earlier request (e.g. `IDEMPOTENCY_CONFLICT`, "
    "`INVALID_TRANSITION`, `UPLOAD_IN_USE`).",
    413: "The body or file is larger than allowed (`PAYLOAD_TOO_LARGE`, `FILE_TOO_LARGE`, `STORAGE_QUOTA_EXCEEDED`).",
    415: "`UNSUPPORTED_MEDIA_TYPE`: send the body as one of the request content types listed.",
    429: "`RATE_LIMITED` (per minute) or `QUOTA_EXCEEDED` (per month) for your tier; `Retry-After` says when to retry.",
    502: "`MODEL_OUTPUT_MISMATCH`: the model answered something other than one output per instance.",
    503: "The database, cache, broker or model is unavailable for now (`SERVICE_UNAVAILABLE`, `MODEL_UNAVAILABLE`, "
    "`QUEUE_UNAVAILABLE`); `Retry-After` says when to retry.",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}
ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"description": '`Bearer realm="mlapi"`', "schema": {"type": "string"}}},
    429: RETRY_AFTER,
    503: RETRY_AFTER,
}


def _first_line(text: str) -> str:
    return text.strip().split("\n\n")[0].replace("\n", " ").strip()


class AutoSchema(SpectacularAutoSchema):
    def get_tags(self) -> list[str]:
        """The resource: the path's first segment after /api/v1/ (`models`, `predictions`, `batch-jobs`, ...)."""
        if self.path.startswith(API_PREFIX):
            return [self.path[len(API_PREFIX) :].split("/")[0]]
        return super().get_tags()

    def get_summary(self) -> str | None:
        """An explicit `extend_schema(summary=...)` wins; otherwise the first sentence of the docstring."""
        description = self.get_description()
        return _first_line(description).split(". ")[0].rstrip(".") if description else None

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False) -> str:
        # COMPONENT_SPLIT_REQUEST appends `Request` to request components: `PredictRequest`, not
        # `PredictRequestRequest`.
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        return name[: -len("Request")] if name.endswith("RequestRequest") else name

    def error_statuses(self) -> list[int]:
        declared = getattr(self.view, "error_statuses", ())
        if isinstance(declared, dict):
            declared = declared.get(self.method.lower(), ())
        return sorted({*COMMON_ERROR_STATUSES, *declared})

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        error_schema = self.resolve_serializer(ErrorResponseSerializer, "response").ref
        for status in self.error_statuses():
            response = {
                "description": ERROR_DESCRIPTIONS[status],
                "content": {"application/json": {"schema": error_schema}},
            }
            if status in ERROR_HEADERS:
                response["headers"] = ERROR_HEADERS[status]
            responses.setdefault(str(status), response)
        return responses


class BearerOrSessionScheme(OpenApiAuthenticationExtension):
    """An OAuth2 access token (Authorization: Bearer) OR a browser session: alternatives, not both."""

    target_class = "mlapi.api.authentication.BearerOrSessionAuthentication"
    name = ["oauth2Bearer", "cookieAuth"]

    def get_security_requirement(self, auto_schema):
        scope = getattr(auto_schema.view, "required_scope", None)
        return [{"oauth2Bearer": [scope] if scope else []}, {"cookieAuth": []}]

    def get_security_definition(self, auto_schema):
        scopes = dict(settings.OAUTH2_PROVIDER["SCOPES"])
        return [
            {
                "type": "oauth2",
                "description": "An access token from POST /o/token/, sent as `Authorization: Bearer <token>`. "
                "Machine clients use the client-credentials grant; third-party apps the authorization-code "
                "grant with PKCE. Each operation names the scope it needs.",
                "flows": {
                    "clientCredentials": {"tokenUrl": "/o/token/", "scopes": scopes},
                    "authorizationCode": {
                        "authorizationUrl": "/o/authorize/",
                        "tokenUrl": "/o/token/",
                        "refreshUrl": "/o/token/",
                        "scopes": scopes,
                    },
                },
            },
            {
                "type": "apiKey",
                "in": "cookie",
                "name": "sessionid",
                "description": "A logged-in browser session (the customer portal); unsafe methods need the "
                "`X-CSRFToken` header.",
            },
        ]
