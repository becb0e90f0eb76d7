from mlapi.errors import ErrorCode


class AccountErrorCode(ErrorCode):
    """Codes of the accounts domain. A member is `NAME = "NAME", "description"`; GraphQL publishes both."""

    INVALID_USERNAME = "INVALID_USERNAME", "The username is not valid (characters, length, or already taken)."
    UNKNOWN_TIER = "UNKNOWN_TIER", "No pricing tier has that name."
