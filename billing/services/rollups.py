"""The daily usage rollup (`UsageDaily`), maintained incrementally from the usage records.

Only this module writes UsageDaily, under the row lock of its `UsageRollupState`, so adding each slice's
totals to the stored ones in Python is safe (one writer at a time). The prediction hot path is untouched:
the dashboard reads the rollup plus the records newer than `rolled_id` (see billing.selectors.usage)."""

from dataclasses import dataclass
from datetime import UTC

from django.db import transaction
from django.db.models import Count, Max, Sum
from django.db.models.functions import TruncDate

from billing.models import ZERO, UsageDaily, UsageRecord, UsageRollupState

ROLLUP_BATCH_IDS = 200_000  # usage ids per transaction: bounds one run's lock time and memory
KEY = ("user_id", "period", "day", "model_id", "source", "currency")


@dataclass(frozen=True)
class RollupReport:
    rolled_from: int
    rolled_to: int
    records: int
    rows_written: int
    seen_id: int

    def as_dict(self) -> dict:
        return {
            "rolled_from": self.rolled_from,
            "rolled_to": self.rolled_to,
            "records": self.records,
            "rows_written": self.rows_written,
            "seen_id": self.seen_id,
        }


def usage_daily_totals(*, records) -> dict[tuple, dict]:
    """Totals of `records` (a UsageRecord queryset) per rollup key, aggregated in the database."""
    grouped = (
        records.annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values(*KEY)
        .annotate(
            n_calls=Count("id"),
            n_predictions=Sum("predictions"),
            n_bytes=Sum("stored_bytes"),
            total=Sum("amount"),
        )
        .order_by()
    )
    return {
        tuple(row[k] for k in KEY): {
            "calls": row["n_calls"],
            "predictions": row["n_predictions"] or 0,
            "stored_bytes": row["n_bytes"] or 0,
            "amount": row["total"] or ZERO,
        }
        for row in grouped
    }


def _add_slice(*, low: int, high: int) -> tuple[int, int]:
    """Adds the records with low < id <= high to UsageDaily; returns (records, rows written)."""
    records = UsageRecord.objects.filter(id__gt=low, id__lte=high)
    totals = usage_daily_totals(records=records)
    if not totals:
        return 0, 0
    users = {key[0] for key in totals}
    days = {key[2] for key in totals}
    existing = {
        (row.user_id, row.period, row.day, row.model_id, row.source, row.currency): row
        for row in UsageDaily.objects.filter(user_id__in=users, day__in=days)
    }
    rows = []
    for key, added in totals.items():
        row = existing.get(key) or UsageDaily(**dict(zip(KEY, key, strict=True)))
        row.calls += added["calls"]
        row.predictions += added["predictions"]
        row.stored_bytes += added["stored_bytes"]
        row.amount += added["amount"]
        rows.append(row)
    UsageDaily.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=list(KEY),
        update_fields=["calls", "predictions", "stored_bytes", "amount"],
        batch_size=2000,
    )
    return sum(added["calls"] for added in totals.values()), len(rows)


def usage_daily_rollup(*, max_ids: int = ROLLUP_BATCH_IDS) -> RollupReport:
    """One run of the beat task: rolls up the records with rolled_id < id <= seen_id (the highest id the
    previous run saw), in slices of `max_ids` ids, then remembers the highest id now as the next seen_id.

    Waiting one run before rolling an id up lets a charging transaction that had taken the id but not yet
    committed finish first: a record is never skipped because it became visible after a higher id."""
    UsageRollupState.objects.get_or_create(name="usage_daily")
    with transaction.atomic():
        state = UsageRollupState.objects.select_for_update().get(name="usage_daily")
        start, target = state.rolled_id, state.seen_id
        records = written = 0
        cursor = start
        while cursor < target:
            high = min(target, cursor + max_ids)
            n_records, n_rows = _add_slice(low=cursor, high=high)
            records, written, cursor = records + n_records, written + n_rows, high
        state.rolled_id = cursor
        state.seen_id = max(cursor, UsageRecord.objects.aggregate(top=Max("id"))["top"] or 0)
        state.save(update_fields=["rolled_id", "seen_id", "updated_at"])
    return RollupReport(
        rolled_from=start, rolled_to=cursor, records=records, rows_written=written, seen_id=state.seen_id
    )
