"""Usage dashboard read time for a customer with 1M usage records in the month, on PostgreSQL.

Loads LARGE usage records (and their predictions) for one user, spread over the 30 days up to now, across
two models and both sources (generate_series, as prediction_create would have written them), runs the
daily rollup (`usage_daily_rollup`, twice: it rolls up what the previous run saw), then adds a tail of
TAIL records not rolled up yet (about two beat intervals of heavy traffic). Then it times, as p50 over
SAMPLES runs:
  - the dashboard's reads through the selectors (`usage_overview`, `usage_daily_series` for 30 and 90 days,
    the last predictions) for the month holding the bulk of the records;
  - GET /dashboard/ and GET /dashboard/usage.json?days=90&split=model through Django's test client (session);
  - for contrast, the same month's totals and per-day split aggregated straight from the usage records (a scan);
  - one incremental rollup run over the tail.
Target: the dashboard read under 200 ms.

    .venv/bin/python -m bench.dashboard [--database-url postgres://postgres@127.0.0.1:5432/mlapi_dashboard_bench]

The database is dropped and recreated; its name must contain "bench".
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
TARGET_MS = 200.0


def recreate_database(url: str) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.growth import recreate_database as growth_recreate_database

    growth_recreate_database(url, name_must_contain=("bench",))


def setup_django(url: str, media: Path) -> None:
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="mlapi.settings.local",
        DEBUG="false",
        MEDIA_ROOT=str(media),
        LOG_LEVEL="WARNING",
        WARM_MODELS_ON_STARTUP="false",
        DATABASE_STATEMENT_TIMEOUT_SECONDS="0",  # the bulk load of a million rows takes longer than the default 10 s
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare():
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from accounts.services import user_ensure
    from predictions.demo import demo_seed

    call_command("migrate", verbosity=0)
    demo_seed()
    user = user_ensure(username="dashboard-bench", email="bench@example.com", tier_name="pro")
    get_user_model().objects.filter(pk=user.pk).update(date_joined=datetime(2020, 1, 1, tzinfo=UTC))
    return user


def bulk_load(user, count: int, *, start: datetime, end: datetime) -> float:
    """`count` usage records (one prediction each) between start and end, alternating model and source."""
    from django.db import connection
    from django.db.models import F

    from billing.models import MonthlyUsage, PricingTier
    from predictions.models import RegisteredModel

    models = list(RegisteredModel.objects.filter(stage="production").order_by("name").values_list("pk", flat=True))
    tier = PricingTier.objects.get(name="pro")
    span_ms = max(1, int((end - start).total_seconds() * 1000))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM billing_usagerecord")
        first_id = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO billing_usagerecord (user_id, model_id, tier_id, created_at, period, source, idempotency_key,
                request_hash, predictions, billable_predictions, cpu_seconds, stored_bytes, currency,
                price_per_prediction, price_per_cpu_second, price_per_mb,
                prediction_amount, compute_amount, storage_amount, amount)
            SELECT %(user)s, (%(models)s::bigint[])[1 + g %% %(n_models)s], %(tier)s, t,
                   date_trunc('month', t AT TIME ZONE 'UTC')::date,
                   CASE WHEN g %% 5 = 0 THEN 'batch' ELSE 'online' END, NULL, md5(g::text), 1, 1, 0.000412, 208,
                   'USD', 0.0004, 0.05, 0.001, 0.0004, 0.0000206, 0.000000208, 0.000420808
            FROM (SELECT g, %(start)s::timestamptz + (g::bigint * %(span)s / %(n)s) * interval '1 millisecond' AS t
                  FROM generate_series(1, %(n)s) AS g) AS s
            """,
            {
                "user": user.pk,
                "models": models,
                "n_models": len(models),
                "tier": tier.pk,
                "start": start,
                "span": span_ms,
                "n": count,
            },
        )
        cursor.execute(
            """
            INSERT INTO predictions_prediction """
            """(id, user_id, model_id, usage_id, position, input, output, latency_ms, created_at)
            SELECT gen_random_uuid(), u.user_id, u.model_id, u.id, 0,
                   '{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}'::jsonb,
                   '{"label": "setosa"}'::jsonb, 0.4, u.created_at
            FROM billing_usagerecord u WHERE u.id > %(first)s
            """,
            {"first": first_id},
        )
        cursor.execute(
            "SELECT period, COUNT(*) FROM billing_usagerecord WHERE user_id = %s AND id > %s GROUP BY period",
            [user.pk, first_id],
        )
        per_period = cursor.fetchall()
        cursor.execute("ANALYZE billing_usagerecord")
        cursor.execute("ANALYZE predictions_prediction")
    for period, n in per_period:
        MonthlyUsage.objects.bulk_create([MonthlyUsage(user=user, period=period)], ignore_conflicts=True)
        MonthlyUsage.objects.filter(user=user, period=period).update(predictions=F("predictions") + n)
    return time.perf_counter() - started


def p50_ms(run, samples: int) -> float:
    for _ in range(3):
        run()
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "DASHBOARD_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mlapi_dashboard_bench"
        ),
    )
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--tail", type=int, default=2_000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument(
        "--layout",
        choices=("month", "current"),
        default="month",
        help="month: the records fill the month with the most days so far (early in a month, the previous one); "
        "current: they fill the current month up to now, so GET /dashboard/ reads a month of LARGE records",
    )
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        print("bench.dashboard needs PostgreSQL (it bulk-loads with generate_series)", file=sys.stderr)
        return 2
    recreate_database(args.database_url)
    media = RESULTS.parent / ".dashboard-media"
    media.mkdir(exist_ok=True)
    setup_django(args.database_url, media)

    from django.db import connection
    from django.test import Client

    from billing.periods import period_bounds, period_of
    from billing.selectors.usage import usage_daily_series, usage_overview
    from billing.services.rollups import usage_daily_rollup
    from predictions.selectors import prediction_list_recent_with_cost

    user = prepare()
    now = datetime.now(UTC)
    # The month measured is the one holding the bulk of the records: the current month, or, early in a month,
    # the previous one (its last second is `month_now`).
    month_start = period_bounds(period_of(now))[0]
    if args.layout == "month" and (now - month_start) < timedelta(days=15):
        month_start = period_bounds(period_of(month_start - timedelta(days=1)))[0]
    month_end = period_bounds(period_of(month_start))[1]
    month_now = min(now, month_end - timedelta(seconds=1))
    load_s = bulk_load(user, args.large, start=month_start, end=min(now, month_end) - timedelta(minutes=5))
    started = time.perf_counter()
    usage_daily_rollup()
    first_rollup = usage_daily_rollup()
    rollup_s = time.perf_counter() - started
    tail_load_s = bulk_load(user, args.tail, start=now - timedelta(minutes=3), end=now - timedelta(seconds=1))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM billing_usagerecord WHERE user_id = %s AND period = %s", [user.pk, month_start.date()]
        )
        in_month = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM billing_usagedaily")
        rollup_rows = cursor.fetchone()[0]

    def selectors():
        usage_overview(user=user, now=month_now)
        usage_daily_series(user=user, now=month_now, days=30, split="model")
        list(prediction_list_recent_with_cost(user=user, limit=20))

    def series_90():
        usage_daily_series(user=user, now=now, days=90, split="source")

    client = Client()
    client.force_login(user)

    def page():
        response = client.get("/dashboard/")
        assert response.status_code == 200, response.status_code

    def chart():
        response = client.get("/dashboard/usage.json?days=90&split=model")
        assert response.status_code == 200, response.status_code

    def scan():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT SUM(amount), SUM(predictions) FROM billing_usagerecord WHERE user_id = %s AND period = %s",
                [user.pk, month_start.date()],
            )
            cursor.fetchall()
            cursor.execute(
                "SELECT (created_at AT TIME ZONE 'UTC')::date, model_id, SUM(predictions), SUM(amount) "
                "FROM billing_usagerecord WHERE user_id = %s AND created_at >= %s GROUP BY 1, 2",
                [user.pk, month_now - timedelta(days=29)],
            )
            cursor.fetchall()

    results = {
        "date": now.isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "database": "postgresql",
        "samples": args.samples,
        "layout": args.layout,
        "usage_records": args.large + args.tail,
        "usage_records_in_measured_month": in_month,
        "tail_not_rolled_up": args.tail,
        "rollup_rows": rollup_rows,
        "bulk_load_s": round(load_s + tail_load_s, 1),
        "initial_rollup_s": round(rollup_s, 2),
        "initial_rollup_records": first_rollup.records,
        "dashboard_selectors_p50_ms": p50_ms(selectors, args.samples),
        "chart_series_90_days_p50_ms": p50_ms(series_90, args.samples),
        "get_dashboard_p50_ms": p50_ms(page, args.samples),
        "get_usage_json_90_days_p50_ms": p50_ms(chart, args.samples),
        "direct_scan_of_usage_records_p50_ms": p50_ms(scan, max(3, args.samples // 5)),
    }
    started = time.perf_counter()
    usage_daily_rollup()
    incremental = usage_daily_rollup()
    results["incremental_rollup_s"] = round(time.perf_counter() - started, 3)
    results["incremental_rollup_records"] = incremental.records
    slowest = max(
        results["dashboard_selectors_p50_ms"], results["get_dashboard_p50_ms"], results["get_usage_json_90_days_p50_ms"]
    )
    results["target_ms"] = TARGET_MS
    results["pass"] = slowest < TARGET_MS
    print(json.dumps(results, indent=2, default=str))
    RESULTS.mkdir(exist_ok=True)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"dashboard-{stamp}.json").write_text(json.dumps(results, indent=2, default=str))
    return 0 if results["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
