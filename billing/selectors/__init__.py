from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from billing.error_codes import BillingErrorCode
from billing.metering import AMOUNT_STEP, CPU_SECONDS_STEP
from billing.models import Invoice, MonthlyUsage, PricingTier, Subscription, UsageRecord
from billing.periods import period_bounds, period_of
from mlapi.errors import ApplicationError


@dataclass(frozen=True)
class TierSpan:
    """[start, end): the tier in force for that stretch of time."""

    tier: PricingTier
    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def default_pricing_tier() -> PricingTier:
    tier = PricingTier.objects.filter(name=settings.DEFAULT_PRICING_TIER).first()
    if tier is None:
        raise ApplicationError.single(BillingErrorCode.NO_PRICING_TIER, "No pricing tier is configured.")
    return tier


def _overlapping(start: datetime, end: datetime) -> Q:
    return Q(started_at__lt=end) & (Q(ended_at__isnull=True) | Q(ended_at__gt=start))


def subscription_in_force(*, user, at: datetime) -> Subscription | None:
    """One indexed query (user, started_at), the tier joined in."""
    return (
        Subscription.objects.select_related("tier")
        .filter(user=user, started_at__lte=at)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at))
        .order_by("-started_at")
        .first()
    )


def tier_in_force(*, user, at: datetime) -> PricingTier:
    """The tier of the user's subscription at `at`, else the default tier.

    On every priced call, so one plain SQL statement (the same filter as `subscription_in_force`, on the
    (user, started_at) index): building it through the ORM cost about twice the query's own time."""
    subscription, tier = Subscription._meta, PricingTier._meta
    quote = connection.ops.quote_name
    moment = connection.ops.adapt_datetimefield_value(at)
    found = PricingTier.objects.raw(
        f"SELECT t.* FROM {quote(tier.db_table)} t JOIN {quote(subscription.db_table)} s ON s.tier_id = t.id "
        "WHERE s.user_id = %s AND s.started_at <= %s AND (s.ended_at IS NULL OR s.ended_at > %s) "
        "ORDER BY s.started_at DESC LIMIT 1",
        [user.pk, moment, moment],
    )
    return next(iter(found), None) or default_pricing_tier()


def tier_spans(*, user, start: datetime, end: datetime) -> list[TierSpan]:
    """Who was on which tier in [start, end), in time order, gap-free from the user's joining (or `start`).

    Time no subscription covers is on the default tier; time before the user joined is on none."""
    subscriptions = list(
        Subscription.objects.select_related("tier").filter(_overlapping(start, end), user=user).order_by("started_at")
    )
    spans: list[TierSpan] = []
    cursor = max(start, user.date_joined) if user.date_joined else start
    if subscriptions:
        cursor = min(cursor, max(start, subscriptions[0].started_at))
    default = None
    for subscription in subscriptions:
        span_start, span_end = max(start, subscription.started_at, cursor), min(end, subscription.ended_at or end)
        if span_start >= span_end:
            continue  # only overlapping history (which subscription_change never writes) ends up here
        if span_start > cursor:
            default = default or default_pricing_tier()
            spans.append(TierSpan(tier=default, start=cursor, end=span_start))
        spans.append(TierSpan(tier=subscription.tier, start=span_start, end=span_end))
        cursor = span_end
    if cursor < end:
        spans.append(TierSpan(tier=default or default_pricing_tier(), start=cursor, end=end))
    return spans


def period_is_closed(*, user, period: date) -> bool:
    return MonthlyUsage.objects.filter(user=user, period=period, closed_at__isnull=False).exists()


def closed_since(*, user, moment: datetime) -> bool:
    """Whether any month from `moment`'s on is closed for the user (a change there would alter a finalized invoice)."""
    return MonthlyUsage.objects.filter(user=user, period__gte=period_of(moment), closed_at__isnull=False).exists()


@dataclass(frozen=True)
class UsageSummary:
    period: date
    predictions: int
    cpu_seconds: Decimal
    stored_bytes: int
    amount: Decimal
    currency: str


def usage_record_get_by_key(*, user, idempotency_key: str) -> UsageRecord | None:
    return UsageRecord.objects.filter(user=user, idempotency_key=idempotency_key).first()


def usage_summary(*, user, period: date) -> UsageSummary:
    totals = UsageRecord.objects.filter(user=user, period=period).aggregate(
        predictions=Sum("predictions"),
        cpu_seconds=Sum("cpu_seconds"),
        stored_bytes=Sum("stored_bytes"),
        amount=Sum("amount"),
    )
    return UsageSummary(
        period=period,
        predictions=totals["predictions"] or 0,
        cpu_seconds=(totals["cpu_seconds"] or Decimal("0")).quantize(CPU_SECONDS_STEP),
        stored_bytes=totals["stored_bytes"] or 0,
        amount=(totals["amount"] or Decimal("0")).quantize(AMOUNT_STEP),
        currency=tier_in_force(
            user=user, at=min(timezone.now(), period_bounds(period)[1] - timedelta(microseconds=1))
        ).currency,
    )


def quota_remaining(*, user, now: datetime) -> int | None:
    tier = tier_in_force(user=user, at=now)
    if tier.monthly_quota is None:
        return None
    used = (
        MonthlyUsage.objects.filter(user=user, period=period_of(now)).values_list("predictions", flat=True).first() or 0
    )
    return max(0, tier.monthly_quota - used)


def invoice_list_for_owner(*, user, status: str | None = None) -> QuerySet[Invoice]:
    """Only the caller's own invoices, staff included: staff manage others' in the admin."""
    invoices = Invoice.objects.prefetch_related("lines").filter(user=user)
    return invoices.filter(status=status) if status else invoices


def invoice_get_for_owner(*, user, invoice_id) -> Invoice | None:
    try:
        return invoice_list_for_owner(user=user).filter(pk=int(invoice_id)).first()
    except (ValueError, TypeError, OverflowError):
        return None


def invoice_get_for_viewer(*, user, invoice_id: int, every_tenant: bool = False) -> Invoice | None:
    """The printable page: the owner's invoice, or any invoice for staff asking with `every_tenant`."""
    invoices = Invoice.objects.select_related("user").prefetch_related("lines")
    if not (every_tenant and user.is_staff):
        invoices = invoices.filter(user=user)
    return invoices.filter(pk=invoice_id).first()


def users_to_invoice(*, period: date, user_model) -> QuerySet:
    """Users charged in the period (their monthly counter says so: no scan of usage records), and
    active users on a tier with a monthly fee at some time in the period. When the default tier has
    a fee, every active user who had joined by then may owe part of it."""
    start, end = period_bounds(period)
    charged = MonthlyUsage.objects.filter(period=period, predictions__gt=0).values("user_id")
    with_fee = Q(
        pk__in=Subscription.objects.filter(_overlapping(start, end), tier__monthly_fee__gt=0).values("user_id")
    )
    default_tier = PricingTier.objects.filter(name=settings.DEFAULT_PRICING_TIER).first()
    if default_tier is not None and default_tier.monthly_fee > 0:
        # Anyone may have spent part of the month on the default tier, except users on one fee-free
        # subscription for all of it.
        free_all_month = Subscription.objects.filter(
            Q(ended_at__isnull=True) | Q(ended_at__gte=end), started_at__lte=start, tier__monthly_fee=0
        )
        with_fee = ~Q(pk__in=free_all_month.values("user_id"))
    return user_model.objects.filter(Q(pk__in=charged) | (with_fee & Q(is_active=True, date_joined__lt=end))).order_by(
        "pk"
    )


def pricing_tier_list_public() -> QuerySet[PricingTier]:
    """The tiers customers may choose on the plan page, cheapest first."""
    return PricingTier.objects.filter(is_public=True).order_by("monthly_fee", "name")
