"""Billing periods are calendar months in UTC, named "YYYY-MM" and stored as their first day."""

import re
from datetime import UTC, date, datetime, time

from billing.error_codes import BillingErrorCode
from mlapi.errors import ApplicationError

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def period_of(moment: datetime) -> date:
    moment = moment.astimezone(UTC)
    return date(moment.year, moment.month, 1)


def period_parse(text: str, *, field: str = "period") -> date:
    match = _PERIOD.match(text or "")
    if not match:
        raise ApplicationError.single(BillingErrorCode.INVALID_PERIOD, "Use the form YYYY-MM.", field=field)
    return date(int(match[1]), int(match[2]), 1)


def period_next(period: date) -> date:
    return date(period.year + period.month // 12, period.month % 12 + 1, 1)


def period_previous(period: date) -> date:
    return date(period.year - (period.month == 1), (period.month - 2) % 12 + 1, 1)


def period_bounds(period: date) -> tuple[datetime, datetime]:
    """[start, end) in UTC."""
    start = datetime.combine(period, time.min, tzinfo=UTC)
    return start, datetime.combine(period_next(period), time.min, tzinfo=UTC)


def period_label(period: date) -> str:
    return f"{period:%Y-%m}"
