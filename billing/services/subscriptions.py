"""Tier history: the only writer of Subscription rows (admin, self-service and scripts all call it)."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from billing.error_codes import BillingErrorCode
from billing.models import PricingTier, Subscription
from billing.selectors import closed_since
from billing.services.usage import pricing_tier_forget
from mlapi.errors import ConflictError, NotFoundError


@transaction.atomic
def subscription_change(*, user, tier: PricingTier, at: datetime | None = None) -> Subscription:
    """Puts the user on `tier` from `at` (default: now): the open subscription ends at `at`, a new one
    starts there. History is never rewritten: `at` may not be in the future, before the open
    subscription's start, or in a month whose invoice is finalized. A change at the very instant the
    open subscription started replaces its tier; a change to the tier in force does nothing.
    """
    # The user's row is the lock every change takes, so two changes cannot both see no overlap.
    get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).get()
    # This process forgets the user's tier now; a call that memoizes the old one before this commits (or in
    # another process) is still priced right: the charge checks the tier in force.
    pricing_tier_forget(user=user)
    now = timezone.now()  # read under the lock: a change "now" never lands before one that got the lock first
    at = at or now
    if at > now:
        raise ConflictError.single(
            BillingErrorCode.SUBSCRIPTION_CONFLICT, "A tier change cannot be scheduled.", field="at"
        )
    if closed_since(user=user, moment=at):
        raise ConflictError.single(
            BillingErrorCode.PERIOD_CLOSED, "That month's invoice is finalized: its tiers are final.", field="at"
        )
    current = Subscription.objects.filter(user=user, ended_at__isnull=True).first()
    if current is None:
        last_end = Subscription.objects.filter(user=user).aggregate(last=Max("ended_at"))["last"]
        if last_end is not None and at < last_end:
            raise _overlap_error()
        return Subscription.objects.create(user=user, tier=tier, started_at=at)
    if at < current.started_at:
        raise _overlap_error()
    if current.tier_id == tier.pk:
        return current
    if at == current.started_at:
        current.tier = tier
        current.save(update_fields=["tier"])
        return current
    current.ended_at = at
    current.save(update_fields=["ended_at"])
    return Subscription.objects.create(user=user, tier=tier, started_at=at)


def subscription_change_by_customer(*, user, tier_name: str) -> Subscription:
    """A customer's own change of plan (the portal's plan page): to a public tier, at once.

    At once, not at the next period: the change is a normal tier change, so the month's invoice prorates
    the fee and prices each call at the tier in force when it was made (subscription_change refuses to
    schedule a change in the future, so there is no second kind of change to keep consistent)."""
    tier = PricingTier.objects.filter(name=tier_name, is_public=True).first()
    if tier is None:
        raise NotFoundError.single(BillingErrorCode.TIER_NOT_AVAILABLE, "That plan is not available.", field="tier")
    return subscription_change(user=user, tier=tier)


def _overlap_error() -> ConflictError:
    return ConflictError.single(
        BillingErrorCode.SUBSCRIPTION_CONFLICT,
        "The change would overlap the tier history already recorded.",
        field="at",
    )
