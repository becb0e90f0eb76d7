"""A per-address rate limit for the payment webhook, checked before the body is read or verified."""

import logging
from datetime import datetime

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


def webhook_rate_limit_consume(*, address: str, now: datetime) -> int | None:
    """None when the call may go on; else the seconds until the address's one-minute window resets.

    A fixed window in the shared cache, like the API's own limit; a cache outage lets calls through (each
    forged call is cheap: verification is local), with a warning.
    """
    limit = settings.PAYMENT_WEBHOOK_RATE_LIMIT_PER_MINUTE
    if limit <= 0:
        return None
    key = f"webhook-ratelimit:{address[:64]}:{int(now.timestamp()) // 60}"
    try:
        cache.add(key, 0, timeout=120)
        count = cache.incr(key)
    except Exception as exc:  # noqa: BLE001 - the cache must not take the webhook down
        logger.warning("webhook rate limit cache unavailable; not rate limiting", extra={"error": type(exc).__name__})
        return None
    return 60 - now.second if count > limit else None
