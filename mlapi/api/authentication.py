from rest_framework.authentication import BaseAuthentication, CSRFCheck
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied

from mlapi.auth import InvalidTokenError, caller_from_request


class BearerOrSessionAuthentication(BaseAuthentication):
    """Same rules as GraphQL: a bearer token alone when present; otherwise a session that passes CSRF."""

    def authenticate(self, request):
        django_request = request._request
        try:
            caller = caller_from_request(django_request)
        except InvalidTokenError as error:
            raise AuthenticationFailed(str(error), code="INVALID_TOKEN") from None
        if not caller.is_authenticated:
            return None
        if caller.via == "session":
            self._enforce_csrf(django_request)
        django_request.caller = caller
        return caller.user, caller

    @staticmethod
    def _enforce_csrf(request) -> None:
        check = CSRFCheck(lambda req: None)
        check.process_request(request)
        reason = check.process_view(request, None, (), {})
        if reason:
            raise PermissionDenied("CSRF check failed for a session request.", code="CSRF_FAILED")

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="mlapi"'
