from mlapi.errors import ErrorCode


class AccountErrorCode(ErrorCode):
    """Codes of the accounts domain. A member is `NAME = "NAME", "description"`; GraphQL publishes both."""

    INVALID_USERNAME = "INVALID_USERNAME", "The username is not valid (characters, length, or already taken)."
    UNKNOWN_TIER = "UNKNOWN_TIER", "No pricing tier has that name."
    NOT_FOUND = "NOT_FOUND", "No such API key (or not yours)."
    INVALID_NAME = "INVALID_NAME", "The API key's name is empty or too long."
    INVALID_SCOPE = "INVALID_SCOPE", "A scope that customer API keys may not carry (only read, predict, billing, keys)."
    API_KEY_LIMIT_REACHED = (
        "API_KEY_LIMIT_REACHED",
        "The tier's maximum number of API keys is reached: revoke one first.",
    )
