from datetime import UTC, datetime


def hour_of(moment: datetime) -> datetime:
    """The start of `moment`'s UTC hour: the rollups' bucket."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
