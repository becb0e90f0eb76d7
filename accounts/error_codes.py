from enum import Enum


class AccountErrorCode(str, Enum):
    INVALID_USERNAME = "INVALID_USERNAME"
    UNKNOWN_TIER = "UNKNOWN_TIER"
