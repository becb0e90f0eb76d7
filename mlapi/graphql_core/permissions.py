"""Top-level GraphQL errors for missing authentication or scope."""

from graphql import GraphQLError

from mlapi.auth import ANONYMOUS, Caller


def caller_of(info) -> Caller:
    return getattr(info.context, "caller", ANONYMOUS)


def require_scope(info, scope: str):
    """The calling user, if authenticated with `scope`; a top-level error otherwise."""
    caller = caller_of(info)
    if not caller.is_authenticated:
        raise GraphQLError(
            "Authentication required: send Authorization: Bearer <token>.", extensions={"code": "UNAUTHENTICATED"}
        )
    if scope not in caller.scopes:
        raise GraphQLError(f"This token lacks the '{scope}' scope.", extensions={"code": "FORBIDDEN"})
    return caller.user
