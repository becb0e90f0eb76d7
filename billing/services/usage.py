"""Metering writes: quota and rate checks, and the usage record written with each accepted call."""

import logging
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from billing.error_codes import BillingErrorCode
from billing.metering import charge_fixed
from billing.metrics import late_usage_moved_observed
from billing.models import MonthlyUsage, PricingTier, UsageRecord
from billing.periods import period_bounds, period_next, period_of
from billing.selectors import tier_in_force
from billing.services.charge import ChargedRows, charge_write, tier_terms
from mlapi.errors import LimitExceededError
from mlapi.hot_cache import HotCache

logger = logging.getLogger(__name__)

# A late call stamped in a closed month lands in the next open one; more hops than this is a bug.
MAX_CLOSED_MONTHS_SKIPPED = 24


def pricing_tier_for_user(*, user, now: datetime | None = None) -> PricingTier:
    """The tier in force at `now` (default: now): the user's subscription then, else the default tier.

    One query (subscription joined to its tier) per call, read fresh rather than from the token memo,
    so a tier change prices the very next call."""
    return tier_in_force(user=user, at=now or timezone.now())


# The tier a metered call is checked and priced with, per user: see `pricing_tier_for_call`.
_call_tiers = HotCache(setting="PRICING_TIER_CACHE_SECONDS")


def pricing_tier_for_call(*, user, now: datetime) -> tuple[PricingTier, bool]:
    """The tier to check and price one metered call with, and whether it came from the per-process memo.

    The memo (at most PRICING_TIER_CACHE_SECONDS old) saves a query on every call and is still exact for
    money: the charging statement itself checks that this is the tier in force at `now` with these very
    prices and quota (`charge_write`), and writes nothing otherwise; `usage_charge` then re-reads the tier
    and prices again. A refusal by the rate limit or the quota on a memoized tier is re-checked on a fresh
    read (`metered_inference`). What the memo can delay: a tier's new rate limit letting more calls through,
    for at most those seconds."""
    cached = _call_tiers.get(user.pk)
    if cached is not None:
        return cached, True
    tier = tier_in_force(user=user, at=now)
    _call_tiers.put(user.pk, tier)
    return tier, False


def pricing_tier_forget(*, user) -> None:
    """Drops this process's memo of the user's tier (a subscription change here; other processes rely on
    the charge's check)."""
    _call_tiers.discard(user.pk)


def rate_limit_consume(*, user, tier: PricingTier, now: datetime) -> None:
    """Fixed one-minute window in the shared cache; a cache outage lets requests through with a warning."""
    if tier.rate_limit_per_minute is not None:
        _rate_limit_check(tier=tier, count=_rate_window_count(user=user, now=now), now=now)


def _rate_limit_check(*, tier: PricingTier, count: int | None, now: datetime) -> None:
    if count is not None and tier.rate_limit_per_minute is not None and count > tier.rate_limit_per_minute:
        retry_after = 60 - now.second
        raise LimitExceededError.single(
            BillingErrorCode.RATE_LIMITED,
            f"Rate limit of {tier.rate_limit_per_minute} requests per minute reached; retry in {retry_after} s.",
            retry_after=retry_after,
        )


def call_limits_check(*, user, now: datetime, count: int, rate_limited: bool) -> PricingTier:
    """The tier one metered call of `count` rows is checked and priced with (`pricing_tier_for_call`), once
    its rate limit (when `rate_limited`) and quota pre-check pass; LimitExceededError otherwise.

    A refusal on a memoized tier is checked again on a fresh read, so a customer who has just upgraded is
    not refused by the tier they left; the call is counted in the rate window once either way."""
    tier, memoized = pricing_tier_for_call(user=user, now=now)
    window: list[int | None] = []

    def check(tier: PricingTier) -> None:
        if rate_limited and tier.rate_limit_per_minute is not None:
            if not window:
                window.append(_rate_window_count(user=user, now=now))
            _rate_limit_check(tier=tier, count=window[0], now=now)
        if count:
            quota_precheck(user=user, tier=tier, count=count, now=now)

    try:
        check(tier)
    except LimitExceededError:
        if not memoized:
            raise
        fresh = tier_in_force(user=user, at=now)
        if (fresh.rate_limit_per_minute, *tier_terms(fresh)) == (tier.rate_limit_per_minute, *tier_terms(tier)):
            raise
        _call_tiers.put(user.pk, fresh)
        tier = fresh
        check(tier)
    return tier


def _rate_window_count(*, user, now: datetime) -> int | None:
    key = f"ratelimit:{user.pk}:{int(now.timestamp()) // 60}"
    try:
        try:
            return cache.incr(key)  # one round trip once the minute's key exists
        except ValueError:  # the minute's first call
            cache.add(key, 0, timeout=120)
            return cache.incr(key)
    except Exception as exc:  # noqa: BLE001 - any cache failure must not take the API down
        logger.warning("rate limit cache unavailable; not rate limiting", extra={"error": type(exc).__name__})
        return None


def _quota_error(tier: PricingTier, now: datetime, used: int, period=None) -> LimitExceededError:
    _, resets_at = period_bounds(period or period_of(now))
    return LimitExceededError.single(
        BillingErrorCode.QUOTA_EXCEEDED,
        f"Monthly quota of {tier.monthly_quota} predictions reached ({used} used); it resets at "
        f"{resets_at:%Y-%m-%dT%H:%M:%SZ}.",
        retry_after=int((resets_at - now).total_seconds()) + 1,
    )


def quota_precheck(*, user, tier: PricingTier, count: int, now: datetime) -> None:
    """Cheap early refusal before inference; `usage_charge` is what enforces the quota."""
    if tier.monthly_quota is None:
        return
    used = (
        MonthlyUsage.objects.filter(user=user, period=period_of(now)).values_list("predictions", flat=True).first() or 0
    )
    if used + count > tier.monthly_quota:
        raise _quota_error(tier, now, used)


def usage_charge(
    *,
    user,
    tier: PricingTier,
    model,
    predictions: int,
    cpu_seconds: float,
    stored_bytes: int,
    idempotency_key: str | None,
    request_hash: str,
    source: str,
    now: datetime,
    rows: ChargedRows | None = None,
) -> UsageRecord:
    """Counts, prices and records one accepted call, and stores its `rows` with it: all or nothing (see
    `billing.services.charge`: one statement on PostgreSQL). Inside a caller's transaction the counter row
    stays locked until that commits, and a rollback undoes the count too.

    The month's counter is updated only if the month is open and the quota allows (`predictions + count <=
    quota`, checked under the row lock, so concurrent calls at the boundary cannot overshoot). The invoice's
    finalization sets closed_at on the same row, so a call and a finalization cannot cross: whichever locks
    the row first wins, and the other sees its result.

    The record keeps `now` as its timestamp. Its billing period is `now`'s month, unless that month's
    invoice is already finalized (a call that started before midnight, a skewed host): then it is the
    next open month, so it is still invoiced exactly once. A refused call (quota) writes nothing.
    """
    fixed = charge_fixed(tier=tier, predictions=predictions, cpu_seconds=cpu_seconds, stored_bytes=stored_bytes)
    first_period = period = period_of(now)
    for _ in range(MAX_CLOSED_MONTHS_SKIPPED):
        usage = charge_write(
            user=user,
            tier=tier,
            model=model,
            fixed=fixed,
            period=period,
            now=now,
            source=source,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            rows=rows,
        )
        if usage is not None:
            if period != first_period:
                logger.warning(
                    "usage stamped in a closed month billed in the next open one",
                    extra={"user": user.pk, "stamped": str(first_period), "billed": str(period)},
                )
                late_usage_moved_observed()
            return usage
        # Nothing written: the tier is no longer the one in force (or its prices changed), the counter row
        # is missing, the month closed, or the quota full.
        fresh = tier_in_force(user=user, at=now)
        if tier_terms(fresh) != tier_terms(tier):
            pricing_tier_forget(user=user)
            tier = fresh
            fixed = charge_fixed(tier=tier, predictions=predictions, cpu_seconds=cpu_seconds, stored_bytes=stored_bytes)
            continue
        state = MonthlyUsage.objects.filter(user=user, period=period).values_list("predictions", "closed_at").first()
        if state is None:
            MonthlyUsage.objects.bulk_create([MonthlyUsage(user=user, period=period)], ignore_conflicts=True)
            continue
        used, closed_at = state
        if closed_at is not None:
            period = period_next(period)
        elif tier.monthly_quota is not None and used + predictions > tier.monthly_quota:
            raise _quota_error(tier, now, used, period)
        # else the row appeared meanwhile (a concurrent first call of the month created it): try again
    raise RuntimeError(f"no open billing month within {MAX_CLOSED_MONTHS_SKIPPED} of {first_period}")
