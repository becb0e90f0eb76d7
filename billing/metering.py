"""What one accepted call costs, from the unit prices in force when it was made.

The parts that do not depend on the month's counter (CPU, storage) are priced here in Python before the
charge. The one part that does (how many of the call's predictions fall beyond the allowance) is
computed where the counter is locked: by `billable_count_sql` inside the charging statement on
PostgreSQL, by `billable_count` in Python on SQLite. Both are the same formula; a test compares them.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from billing.models import PricingTier

BYTES_PER_MB = Decimal(1_000_000)
CPU_SECONDS_STEP = Decimal("0.000001")
AMOUNT_STEP = Decimal("0.0000000001")


@dataclass(frozen=True)
class Charge:
    predictions: int
    billable_predictions: int
    cpu_seconds: Decimal
    stored_bytes: int
    prediction_amount: Decimal
    compute_amount: Decimal
    storage_amount: Decimal

    @property
    def amount(self) -> Decimal:
        return self.prediction_amount + self.compute_amount + self.storage_amount


@dataclass(frozen=True)
class FixedCharge:
    """The part of a call's price known before its counter is locked."""

    predictions: int
    cpu_seconds: Decimal
    stored_bytes: int
    compute_amount: Decimal
    storage_amount: Decimal


def _exact(value: Decimal) -> Decimal:
    return value.quantize(AMOUNT_STEP, rounding=ROUND_HALF_UP)


def billable_count(*, used_before: int, count: int, included: int) -> int:
    """How many of `count` new predictions fall beyond the monthly allowance."""
    return max(0, used_before + count - included) - max(0, used_before - included)


def billable_count_sql(*, used_before: str, count: str, included: str) -> str:
    """`billable_count` as a PostgreSQL expression over the given SQL operands."""
    return f"(GREATEST(0, {used_before} + {count} - {included}) - GREATEST(0, {used_before} - {included}))"


def prediction_amount(*, tier: PricingTier, billable: int) -> Decimal:
    """Exact: an integer times a unit price of 8 decimals (PostgreSQL computes the same product)."""
    return _exact(billable * tier.price_per_prediction)


def charge_fixed(*, tier: PricingTier, predictions: int, cpu_seconds: float, stored_bytes: int) -> FixedCharge:
    cpu = Decimal(repr(cpu_seconds)).quantize(CPU_SECONDS_STEP, rounding=ROUND_HALF_UP)
    return FixedCharge(
        predictions=predictions,
        cpu_seconds=cpu,
        stored_bytes=stored_bytes,
        compute_amount=_exact(cpu * tier.price_per_cpu_second),
        storage_amount=_exact(Decimal(stored_bytes) / BYTES_PER_MB * tier.price_per_mb),
    )


def charge_complete(*, tier: PricingTier, fixed: FixedCharge, billable: int) -> Charge:
    return Charge(
        predictions=fixed.predictions,
        billable_predictions=billable,
        cpu_seconds=fixed.cpu_seconds,
        stored_bytes=fixed.stored_bytes,
        prediction_amount=prediction_amount(tier=tier, billable=billable),
        compute_amount=fixed.compute_amount,
        storage_amount=fixed.storage_amount,
    )


def charge_compute(
    *, tier: PricingTier, used_before: int, predictions: int, cpu_seconds: float, stored_bytes: int
) -> Charge:
    fixed = charge_fixed(tier=tier, predictions=predictions, cpu_seconds=cpu_seconds, stored_bytes=stored_bytes)
    billable = billable_count(used_before=used_before, count=predictions, included=tier.included_predictions)
    return charge_complete(tier=tier, fixed=fixed, billable=billable)
