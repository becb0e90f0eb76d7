"""drf-spectacular extension: documents the bearer-token (OAuth2) and session security of the REST API."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerOrSessionScheme(OpenApiAuthenticationExtension):
    target_class = "mlapi.api.authentication.BearerOrSessionAuthentication"
    name = ["oauth2Bearer", "cookieAuth"]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "description": "An access token from POST /o/token/ (grant_type=client_credentials); scopes read, predict, billing.",
            },
            {"type": "apiKey", "in": "cookie", "name": "sessionid"},
        ]
