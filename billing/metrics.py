"""Billing's Prometheus metrics (the default registry that /metrics serves)."""

from prometheus_client import Counter

LATE_USAGE_MOVED = Counter(
    "mlapi_billing_late_usage_moved_total",
    "Usage records stamped in a month already closed for the user, billed in the next open month",
)
RECONCILIATION_RUNS = Counter(
    "mlapi_billing_reconciliation_runs_total", "Reconciliations of closed billing months", ["outcome"]
)
RECONCILIATION_DIFFERENCES = Counter(
    "mlapi_billing_reconciliation_differences_total",
    "Differences found between usage records, invoice lines and monthly counters of closed months",
    ["check"],
)


def late_usage_moved_observed() -> None:
    LATE_USAGE_MOVED.inc()


def reconciliation_observed(*, differences_by_check: dict[str, int]) -> None:
    RECONCILIATION_RUNS.labels("difference" if any(differences_by_check.values()) else "ok").inc()
    for check, count in differences_by_check.items():
        if count:
            RECONCILIATION_DIFFERENCES.labels(check).inc(count)
