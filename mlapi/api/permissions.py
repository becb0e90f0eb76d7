from rest_framework.permissions import BasePermission


class HasScope(BasePermission):
    """The view's `required_scope` must be among the caller's token scopes."""

    message = "This token lacks the required scope."
    code = "FORBIDDEN"

    def has_permission(self, request, view) -> bool:
        scope = getattr(view, "required_scope", None)
        caller = request.auth
        return bool(request.user and request.user.is_authenticated) and (
            scope is None or (caller is not None and scope in caller.scopes)
        )
