"""Cost growth with data: does a user with 1M stored predictions pay for it in latency?

Measures, in one run against PostgreSQL, the p50 latency of createPrediction and of
`predictions(first: 20)` for a user with SMALL and then LARGE stored predictions (bulk-loaded with
generate_series, as the service would have written them: one usage record per prediction), and
`generate_invoices` for a month holding LARGE usage records against a raw SQL SUM over the same rows.
The results are ratios; absolute times depend on the (shared, noisy) machine.

Runs in the product's virtualenv (it imports Django):
    .venv/bin/python bench/growth.py [--database-url postgres://postgres@127.0.0.1:5432/mlapi_growth]
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"

CREATE = (
    'mutation { createPrediction(input: {modelName: "iris", features: {sepal_length: 5.1, sepal_width: 3.5, '
    "petal_length: 1.4, petal_width: 0.2}}) { prediction { id } cost { amount } errors { code } } }"
)
LIST = "{ predictions(first: 20) { edges { node { id output createdAt } } pageInfo { hasNextPage endCursor } } }"


def recreate_database(url: str, *, name_must_contain: tuple[str, ...] = ("growth",)) -> None:
    """Every run starts from an empty database, so the 'small' level really holds SMALL rows. Refuses a
    database whose name holds none of `name_must_contain` (each bench guards its own databases)."""
    from urllib.parse import urlparse

    import psycopg2

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if not any(part in name for part in name_must_contain):
        raise SystemExit(f"refusing to drop {name!r}: the database's name must contain one of {name_must_contain}")
    admin = psycopg2.connect(
        host=parsed.hostname,
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        dbname="postgres",
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def setup_django(url: str, media: Path) -> None:
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="mlapi.settings.local",
        DEBUG="false",
        MEDIA_ROOT=str(media),
        LOG_LEVEL="WARNING",
        WARM_MODELS_ON_STARTUP="false",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare():
    """Schema, demo models, a caller on a tier without limits, a real token."""
    from django.core.management import call_command
    from django.test import Client

    from accounts.services import api_client_create
    from billing.models import PricingTier
    from predictions.demo import demo_seed

    call_command("migrate", verbosity=0)
    demo_seed()
    PricingTier.objects.update_or_create(
        name="bench",
        defaults=dict(
            monthly_fee=0,
            included_predictions=0,
            price_per_prediction="0.0004",
            price_per_cpu_second="0.05",
            price_per_mb="0.001",
            monthly_quota=None,
            rate_limit_per_minute=None,
        ),
    )
    credentials = api_client_create(username="growth", tier_name="bench", application_name="growth bench")
    client = Client()
    import base64

    basic = base64.b64encode(f"{credentials.client_id}:{credentials.client_secret}".encode()).decode()
    token = client.post(
        "/o/token/", {"grant_type": "client_credentials", "scope": "read predict"}, HTTP_AUTHORIZATION=f"Basic {basic}"
    ).json()["access_token"]
    return credentials.application.user, client, token


def stored_count(user) -> int:
    from predictions.models import Prediction

    return Prediction.objects.filter(user=user).count()


def bulk_load(user, target: int) -> float:
    """Adds usage records + predictions (one each per call, as online single predictions write them)."""
    from django.db import connection

    from billing.models import MonthlyUsage, PricingTier
    from billing.periods import period_of
    from predictions.models import RegisteredModel

    missing = target - stored_count(user)
    if missing <= 0:
        return 0.0
    model = RegisteredModel.objects.get(name="iris", version=1)
    tier = PricingTier.objects.get(name="bench")
    now = datetime.now(UTC)
    period = period_of(now)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    span_ms = max(1, int((now - start).total_seconds() * 1000) - 3_600_000)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO billing_usagerecord (user_id, model_id, tier_id, created_at, period, source, idempotency_key,
                request_hash, predictions, billable_predictions, cpu_seconds, stored_bytes, currency,
                price_per_prediction, price_per_cpu_second, price_per_mb,
                prediction_amount, compute_amount, storage_amount, amount)
            SELECT %(user)s, %(model)s, %(tier)s,
                   %(start)s::timestamptz + ((g::bigint * 7919) %% %(span)s) * interval '1 millisecond',
                   %(period)s, 'online', NULL, md5(g::text), 1, 1, 0.000412, 208, 'USD', 0.0004, 0.05, 0.001,
                   0.0004, 0.0000206, 0.000000208, 0.000420808
            FROM generate_series(1, %(n)s) AS g
            """,
            {
                "user": user.pk,
                "model": model.pk,
                "tier": tier.pk,
                "start": start,
                "span": span_ms,
                "period": period,
                "n": missing,
            },
        )
        cursor.execute(
            """
            INSERT INTO predictions_prediction """
            """(id, user_id, model_id, usage_id, position, input, output, latency_ms, created_at)
            SELECT gen_random_uuid(), u.user_id, u.model_id, u.id, 0,
                   '{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}'::jsonb,
                   '{"label": "setosa", "probabilities": """
            """{"setosa": 0.97, "versicolor": 0.03, "virginica": 0.0}}'::jsonb,
                   0.4, u.created_at
            FROM billing_usagerecord u
            LEFT JOIN predictions_prediction p ON p.usage_id = u.id
            WHERE u.user_id = %(user)s AND p.id IS NULL
            """,
            {"user": user.pk},
        )
        cursor.execute("ANALYZE billing_usagerecord")
        cursor.execute("ANALYZE predictions_prediction")
    MonthlyUsage.objects.bulk_create([MonthlyUsage(user=user, period=period)], ignore_conflicts=True)
    from django.db.models import F

    MonthlyUsage.objects.filter(user=user, period=period).update(predictions=F("predictions") + missing)
    return time.perf_counter() - started


def p50_ms(client, token: str, query: str, samples: int) -> float:
    body = json.dumps({"query": query})
    times = []
    for _ in range(samples + 5):
        started = time.perf_counter()
        response = client.post("/graphql/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and b'"errors":[{' not in response.content, response.content[:300]
    return statistics.median(times[5:])


def invoice_timings(repeats: int = 3) -> dict:
    from django.db import connection

    from billing.models import Invoice
    from billing.periods import period_of
    from billing.services.invoices import invoices_generate

    period = period_of(datetime.now(UTC))
    generate, raw = [], []
    for _ in range(repeats):
        Invoice.objects.filter(period=period, status=Invoice.Status.DRAFT).delete()
        started = time.perf_counter()
        invoices_generate(period=period)
        generate.append(time.perf_counter() - started)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT user_id, SUM(amount) FROM billing_usagerecord WHERE period = %s GROUP BY user_id", [period]
            )
            cursor.fetchall()
        raw.append(time.perf_counter() - started)
    return {"generate_invoices_s": statistics.median(generate), "raw_sql_sum_s": statistics.median(raw)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("GROWTH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mlapi_growth"),
    )
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        print("growth.py needs PostgreSQL (it bulk-loads with generate_series)", file=sys.stderr)
        return 2
    recreate_database(args.database_url)
    media = RESULTS.parent / ".growth-media"
    media.mkdir(exist_ok=True)
    setup_django(args.database_url, media)
    user, client, token = prepare()

    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "database": "postgresql",
        "samples": args.samples,
        "levels": {},
    }
    for level in (args.small, args.large):
        load_s = bulk_load(user, level)
        results["levels"][level] = {
            "stored": stored_count(user),
            "bulk_load_s": round(load_s, 1),
            "create_prediction_p50_ms": round(p50_ms(client, token, CREATE, args.samples), 3),
            "predictions_first20_p50_ms": round(p50_ms(client, token, LIST, args.samples), 3),
        }
        print(f"{level:>9} stored: {results['levels'][level]}", flush=True)
    results["invoices"] = invoice_timings()
    small, large = results["levels"][args.small], results["levels"][args.large]
    ratios = {
        "create_prediction_p50": large["create_prediction_p50_ms"] / small["create_prediction_p50_ms"],
        "predictions_first20_p50": large["predictions_first20_p50_ms"] / small["predictions_first20_p50_ms"],
        "generate_invoices_vs_raw_sum": results["invoices"]["generate_invoices_s"]
        / results["invoices"]["raw_sql_sum_s"],
    }
    results["ratios"] = {k: round(v, 3) for k, v in ratios.items()}
    targets = {"create_prediction_p50": 1.2, "predictions_first20_p50": 1.2, "generate_invoices_vs_raw_sum": 3.0}
    lines = [
        f"| measure | {args.small:,} stored | {args.large:,} stored | ratio | target | |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key, label in (
        ("create_prediction_p50", "createPrediction p50 (ms)"),
        ("predictions_first20_p50", "predictions(first: 20) p50 (ms)"),
    ):
        field = key + "_ms"
        lines.append(
            f"| {label} | {small[field]:.2f} | {large[field]:.2f} | {ratios[key]:.2f}× | ≤ {targets[key]}× | "
            f"{'PASS' if ratios[key] <= targets[key] else 'MISS'} |"
        )
    inv = results["invoices"]
    lines.append(
        f"| generate_invoices vs raw SQL SUM ({args.large:,} usage records) | raw {inv['raw_sql_sum_s']:.3f} s | "
        f"generate {inv['generate_invoices_s']:.3f} s | {ratios['generate_invoices_vs_raw_sum']:.2f}× | ≤ 3× | "
        f"{'PASS' if ratios['generate_invoices_vs_raw_sum'] <= 3 else 'MISS'} |"
    )
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"growth-{stamp}.json").write_text(json.dumps(results, indent=2, default=str))
    (RESULTS / "growth-latest.md").write_text(
        f"Run {results['date']} on {results['cores']} cores, PostgreSQL\n\n{table}\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
