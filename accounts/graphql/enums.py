from accounts.error_codes import AccountErrorCode
from mlapi.graphql_core.types import error_type

AccountError = error_type(
    "AccountError",
    (AccountErrorCode,),
    description="A user-level problem of an account operation (username, tier, API keys).",
)
