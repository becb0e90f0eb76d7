"""The tiers every installation starts with (created by a data migration and by seed_demo)."""

from decimal import Decimal

STANDARD_TIERS = {
    "free": {
        "currency": "USD",
        "monthly_fee": Decimal("0.00"),
        "included_predictions": 1000,
        "price_per_prediction": Decimal("0"),
        "price_per_cpu_second": Decimal("0"),
        "price_per_mb": Decimal("0"),
        "monthly_quota": 1000,
        "rate_limit_per_minute": 60,
        "storage_allowance_bytes": 25 * 1024 * 1024,
        "retention_days": 7,
        "max_api_keys": 2,
        "is_public": True,
    },
    "pro": {
        "currency": "USD",
        "monthly_fee": Decimal("49.00"),
        "included_predictions": 100_000,
        "price_per_prediction": Decimal("0.0004"),
        "price_per_cpu_second": Decimal("0.05"),
        "price_per_mb": Decimal("0.001"),
        "monthly_quota": None,
        "rate_limit_per_minute": 6000,
        "storage_allowance_bytes": 10 * 1024**3,
        "retention_days": 90,
        "max_api_keys": 25,
        "is_public": True,
    },
}
