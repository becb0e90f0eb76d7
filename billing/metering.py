"""What one accepted call costs, from the unit prices in force when it was made."""

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


def billable_count(*, used_before: int, count: int, included: int) -> int:
    """How many of `count` new predictions fall beyond the monthly allowance."""
    return max(0, used_before + count - included) - max(0, used_before - included)


def charge_compute(
    *, tier: PricingTier, used_before: int, predictions: int, cpu_seconds: float, stored_bytes: int
) -> Charge:
    cpu = Decimal(repr(cpu_seconds)).quantize(CPU_SECONDS_STEP, rounding=ROUND_HALF_UP)
    billable = billable_count(used_before=used_before, count=predictions, included=tier.included_predictions)

    def exact(value: Decimal) -> Decimal:
        return value.quantize(AMOUNT_STEP, rounding=ROUND_HALF_UP)

    return Charge(
        predictions=predictions,
        billable_predictions=billable,
        cpu_seconds=cpu,
        stored_bytes=stored_bytes,
        prediction_amount=exact(billable * tier.price_per_prediction),
        compute_amount=exact(cpu * tier.price_per_cpu_second),
        storage_amount=exact(Decimal(stored_bytes) / BYTES_PER_MB * tier.price_per_mb),
    )
