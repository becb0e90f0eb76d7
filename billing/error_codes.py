from mlapi.errors import ErrorCode


class BillingErrorCode(ErrorCode):
    """Codes of the billing domain. A member is `NAME = "NAME", "description"`; GraphQL publishes both."""

    QUOTA_EXCEEDED = "QUOTA_EXCEEDED", "The tier's monthly prediction quota is used up."
    RATE_LIMITED = "RATE_LIMITED", "Too many requests this minute for the tier; retry after the time given."
    INVALID_PERIOD = "INVALID_PERIOD", "A billing period is not of the form YYYY-MM."
    NOT_FOUND = "NOT_FOUND", "No such invoice (or not yours)."
    INVALID_TRANSITION = "INVALID_TRANSITION", "The invoice's status does not allow this step."
    NO_PRICING_TIER = "NO_PRICING_TIER", "No pricing tier is configured for the account."
    PROVIDER_ERROR = "PROVIDER_ERROR", "The payment provider refused or failed the request."
    PERIOD_CLOSED = "PERIOD_CLOSED", "The billing month is closed: its invoice is finalized."
    SUBSCRIPTION_CONFLICT = "SUBSCRIPTION_CONFLICT", "The tier change conflicts with the subscription history."
    TIER_NOT_AVAILABLE = "TIER_NOT_AVAILABLE", "That tier cannot be chosen by customers (not public, or unknown)."
