"""Model quality (issue 16): feedback ingestion rate, rollup rate, and quality read latency.

Against PostgreSQL, in one run:
- ingestion: `feedback_submit` (the service both APIs call) in batches of 1,000, and the REST batch
  endpoint (in-process Django test client, real token) in batches of 1,000: rows/s;
- rollup: `quality_rollup_catch_up` over everything submitted: rows/s;
- read: `model_quality` over 30 days from a rollup table shaped like 10M predictions with feedback
  (ROLLUP_USERS customers x 720 hours, plus the everyone rows), p50/p95 of READS calls, for one customer
  and for staff. The read touches the rollup table only (one index range per call); the predictions
  table is not filled to 10M here.

    .venv/bin/python bench/quality.py --database-url postgres://postgres@127.0.0.1:5432/mlapi_h8 \
        [--shadow-broker redis://127.0.0.1:6379/8]
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
BATCH = 1000
ROLLUP_USERS = 1000
READS = 50


def recreate_database(url: str) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.growth import recreate_database as growth_recreate_database

    growth_recreate_database(url, name_must_contain=("h8", "quality"))


def setup_django(url: str, broker: str | None = None) -> None:
    if broker:  # shadow tasks are published there (nothing consumes them; the queue is purged after)
        os.environ["CELERY_BROKER_URL"] = broker
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="mlapi.settings.local",
        DEBUG="false",
        MEDIA_ROOT=tempfile.mkdtemp(prefix="mlapi-quality-bench-"),
        LOG_LEVEL="WARNING",
        WARM_MODELS_ON_STARTUP="false",
        QUALITY_ROLLUP_SETTLE_SECONDS="0",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare(predictions: int):
    import base64

    from django.core.management import call_command
    from django.test import Client

    from accounts.services import api_client_create
    from billing.models import PricingTier
    from predictions.demo import demo_seed
    from predictions.services import ModelRef, prediction_create

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
    credentials = api_client_create(username="quality", tier_name="bench", application_name="quality bench")
    user = credentials.application.user
    client = Client()
    basic = base64.b64encode(f"{credentials.client_id}:{credentials.client_secret}".encode()).decode()
    token = client.post(
        "/o/token/", {"grant_type": "client_credentials", "scope": "read predict"}, HTTP_AUTHORIZATION=f"Basic {basic}"
    ).json()["access_token"]
    flower = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    ids = []
    for _ in range(predictions // BATCH):
        outcome = prediction_create(user=user, model_ref=ModelRef(name="iris"), instances=[flower] * BATCH)
        ids.extend(str(p.pk) for p in outcome.predictions)
    return user, client, token, ids


def ingest_service(user, ids: list[str], actual: str) -> float:
    from quality.services.feedback import FeedbackItem, feedback_submit

    started = time.perf_counter()
    for i in range(0, len(ids), BATCH):
        feedback_submit(user=user, items=[FeedbackItem(prediction_id=pk, actual=actual) for pk in ids[i : i + BATCH]])
    return len(ids) / (time.perf_counter() - started)


def ingest_rest(client, token: str, ids: list[str], actual: str) -> float:
    started = time.perf_counter()
    for i in range(0, len(ids), BATCH):
        body = {"items": [{"predictionId": pk, "actual": actual} for pk in ids[i : i + BATCH]]}
        response = client.post(
            "/api/v1/feedback", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        assert response.status_code == 201, response.content[:300]
    return len(ids) / (time.perf_counter() - started)


def rollup_rate() -> tuple[int, float]:
    from quality.services.rollups import quality_rollup_catch_up

    started = time.perf_counter()
    folded = quality_rollup_catch_up()
    return folded, folded / (time.perf_counter() - started)


def load_rollups(model_id: int) -> int:
    """ROLLUP_USERS customers x 720 hours of classifier sums (~14 predictions each: 10M in all)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    User = get_user_model()
    first = User.objects.order_by("-id").values_list("id", flat=True).first() + 1
    User.objects.bulk_create([User(username=f"rollup{i}", email=f"r{i}@example.com") for i in range(ROLLUP_USERS)])
    confusion = json.dumps({'"setosa"': {'"setosa"': 12, '"versicolor"': 1}, '"virginica"': {'"virginica"': 1}})
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute(
            """
            INSERT INTO quality_qualityrollup """
            """(model_id, user_id, hour, count, confusion, probability_count, log_loss_sum,
                brier_sum, actual_sum, actual_square_sum, absolute_error_sum, squared_error_sum)
            SELECT %s, u.id, date_trunc('hour', now()) - h * interval '1 hour', 14, %s::jsonb, 14, 2.5, 0.8, 0, 0, 0, 0
            FROM quality_user_ids u, generate_series(0, 719) h
            """.replace("quality_user_ids u", "(SELECT id FROM accounts_user WHERE id >= %s) u"),
            [model_id, confusion, first],
        )
        cursor.execute(
            """
            INSERT INTO quality_qualityrollup """
            """(model_id, user_id, hour, count, confusion, probability_count, log_loss_sum,
                brier_sum, actual_sum, actual_square_sum, absolute_error_sum, squared_error_sum)
            SELECT %s, NULL, date_trunc('hour', now()) - h * interval '1 hour', 14 * %s, %s::jsonb, 14 * %s, """
            """2.5, 0.8, 0, 0, 0, 0
            FROM generate_series(0, 719) h
            ON CONFLICT DO NOTHING
            """,
            [model_id, ROLLUP_USERS, confusion, ROLLUP_USERS],
        )
        figures = json.dumps(
            {
                "count": 336,
                "accuracy": 0.93,
                "precision_macro": 0.9,
                "recall_macro": 0.9,
                "f1_macro": 0.9,
                "per_class": [],
                "confusion_labels": ["setosa", "versicolor", "virginica"],
                "confusion_matrix": [[288, 24, 0], [0, 0, 0], [0, 0, 24]],
                "log_loss": 0.18,
                "brier_score": 0.06,
            }
        )
        cursor.execute(
            """
            INSERT INTO quality_qualityday (model_id, user_id, day, count, confusion, probability_count, log_loss_sum,
                brier_sum, actual_sum, actual_square_sum, absolute_error_sum, squared_error_sum, figures)
            SELECT %s, u.id, current_date - d, 336, %s::jsonb, 336, 60, 19, 0, 0, 0, 0, %s::jsonb
            FROM (SELECT id FROM accounts_user WHERE id >= %s) u, generate_series(0, 30) d
            UNION ALL
            SELECT %s, NULL, current_date - d, 336 * %s, %s::jsonb, 336, 60, 19, 0, 0, 0, 0, %s::jsonb
            FROM generate_series(0, 30) d
            ON CONFLICT DO NOTHING
            """,
            [model_id, confusion, figures, first, model_id, ROLLUP_USERS, confusion, figures],
        )
        cursor.execute("ANALYZE quality_qualityrollup")
        cursor.execute("ANALYZE quality_qualityday")
        cursor.execute("SELECT count(*), sum(count) FILTER (WHERE user_id IS NOT NULL) FROM quality_qualityrollup")
        rows, predictions = cursor.fetchone()
    return first, rows, predictions


def read_latency(model, user, every_customer: bool) -> dict:
    from quality.selectors import model_quality

    times = []
    for _ in range(READS):
        started = time.perf_counter()
        report = model_quality(model=model, user=user, every_customer=every_customer, window="30d")
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
        "count": report.figures["count"],
    }


SHADOW_ROUNDS = 15
SHADOW_CALLS = 20
PREDICT = (
    'mutation { createPrediction(input: {modelName: "iris", features: {sepal_length: 5.1, sepal_width: 3.5, '
    "petal_length: 1.4, petal_width: 0.2}}) { prediction { id model { version } } errors { code } } }"
)


def shadow_cost(client, token: str) -> dict:
    """p50 of one createPrediction (in-process test client, one caller at a time) with no shadow, with a
    shadow scored in a background thread, and with a shadow as a Celery task run inline (no broker: the
    worst case, the shadow's inference inside the request). Modes alternate in rounds of SHADOW_CALLS."""
    import io

    from django.conf import settings

    from predictions.models import RegisteredModel
    from predictions.services import model_register
    from quality.models import ShadowPrediction
    from quality.services.rollouts import rollout_set

    v1 = RegisteredModel.objects.get(name="iris", version=1)
    staff = v1.registered_by
    v1.artifact.open("rb")
    v2 = model_register(
        registered_by=staff, name="iris", artifact=io.BytesIO(v1.artifact.read()), filename="iris.joblib", force=True
    )
    celery = "celery_inline" if settings.CELERY_TASK_ALWAYS_EAGER else "celery_broker"
    modes = {"off": None, "thread": "thread", celery: "celery"}
    times = {mode: [] for mode in modes}
    body = json.dumps({"query": PREDICT})

    def call():
        started = time.perf_counter()
        response = client.post("/graphql/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200 and response.json()["data"]["createPrediction"]["errors"] == [], (
            response.content
        )
        return elapsed

    for _ in range(SHADOW_ROUNDS):
        for mode, execution in modes.items():
            rollout_set(name="iris", changed_by=staff, shadow_version=v2.version if execution else None)
            settings.QUALITY_SHADOW_EXECUTION = execution or "celery"
            times[mode].extend(call() for _ in range(SHADOW_CALLS))
    time.sleep(1)
    result = {mode: round(statistics.median(values), 2) for mode, values in times.items()}
    result["calls_per_mode"] = SHADOW_ROUNDS * SHADOW_CALLS
    result["thread_vs_off"] = round(result["thread"] / result["off"] - 1, 3)
    result[f"{celery}_vs_off"] = round(result[celery] / result["off"] - 1, 3)
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        from mlapi.celery import app

        result["published_tasks_purged"] = app.control.purge()
    result["shadow_rows_stored"] = ShadowPrediction.objects.count()
    rollout_set(name="iris", changed_by=staff)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/mlapi_h8")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument(
        "--shadow-broker", default=None, help="e.g. redis://127.0.0.1:6379/8: publish shadow tasks there"
    )
    args = parser.parse_args()
    recreate_database(args.database_url)
    setup_django(args.database_url, args.shadow_broker)
    from django.contrib.auth import get_user_model

    from predictions.models import RegisteredModel

    user, client, token, ids = prepare(args.rows)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load": [round(v, 2) for v in os.getloadavg()],
        "rows": len(ids),
        "batch": BATCH,
    }
    half = len(ids) // 2
    result["ingest_service_rows_per_s"] = round(ingest_service(user, ids[:half], "setosa"))
    result["ingest_rest_rows_per_s"] = round(ingest_rest(client, token, ids[half:], "versicolor"))
    result["resubmit_service_rows_per_s"] = round(ingest_service(user, ids[:half], "virginica"))  # replaces + history
    result["shadow_p50_ms"] = shadow_cost(client, token)
    print(json.dumps(result), flush=True)
    folded, rate = rollup_rate()
    result["rollup_rows"], result["rollup_rows_per_s"] = folded, round(rate)
    print(json.dumps(result), flush=True)
    model = RegisteredModel.objects.get(name="iris", version=1)
    first, rollup_rows, rollup_predictions = load_rollups(model.pk)
    result["rollup_table_rows"], result["rollup_predictions"] = rollup_rows, int(rollup_predictions)
    customer = get_user_model().objects.get(pk=first)
    result["read_30d_customer"] = read_latency(model, customer, every_customer=False)
    result["read_30d_staff"] = read_latency(model, customer, every_customer=True)
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "quality.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
