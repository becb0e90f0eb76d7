from enum import Enum


class AccountErrorCode(str, Enum):
    INVALID_USERNAME = "INVALID_USERNAME"
    UNKNOWN_TIER = "UNKNOWN_TIER"
    # API keys (portal and GraphQL): accounts.services.api_keys
    NOT_FOUND = "NOT_FOUND"
    INVALID_NAME = "INVALID_NAME"
    INVALID_SCOPE = "INVALID_SCOPE"
    API_KEY_LIMIT_REACHED = "API_KEY_LIMIT_REACHED"
