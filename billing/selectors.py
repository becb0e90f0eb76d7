from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Q, QuerySet, Sum

from billing.metering import AMOUNT_STEP, CPU_SECONDS_STEP
from billing.models import Invoice, MonthlyUsage, PricingTier, UsageRecord
from billing.periods import period_bounds, period_of
from billing.services.usage import pricing_tier_for_user


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
        currency=pricing_tier_for_user(user=user).currency,
    )


def quota_remaining(*, user, now: datetime) -> int | None:
    tier = pricing_tier_for_user(user=user)
    if tier.monthly_quota is None:
        return None
    used = (
        MonthlyUsage.objects.filter(user=user, period=period_of(now)).values_list("predictions", flat=True).first()
        or 0
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
    active users on a tier with a monthly fee (the default tier's, for users without a tier)."""
    charged = MonthlyUsage.objects.filter(period=period, predictions__gt=0).values("user_id")
    with_fee = Q(pricing_tier__monthly_fee__gt=0)
    default_tier = PricingTier.objects.filter(name=settings.DEFAULT_PRICING_TIER).first()
    if default_tier is not None and default_tier.monthly_fee > 0:
        with_fee |= Q(pricing_tier__isnull=True)
    _, period_end = period_bounds(period)
    return (
        user_model.objects.filter(Q(pk__in=charged) | (with_fee & Q(is_active=True, date_joined__lt=period_end)))
        .select_related("pricing_tier")
        .order_by("pk")
    )
