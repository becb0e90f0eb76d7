"""Batch-job throughput: a 1M-row iris CSV scored by Celery workers (1, then 2 worker processes) against
the same rows through `estimator.predict` in one process.

    .venv/bin/python bench/batch_jobs.py                  # 1,000,000 rows, 1 and 2 workers
    .venv/bin/python bench/batch_jobs.py --rows 200000 --workers 1

Needs PostgreSQL and Redis on this machine. It uses its own database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/mlapi_bench_batch, dropped and re-created), Redis db 14 (flushed) and
a temporary MEDIA_ROOT, so it touches nothing else. Workers: `celery -A mlapi worker --pool=prefork
--concurrency N` (N worker processes), started and ready before the job is submitted.

Reported per run: submit (upload + scan + enqueue), end-to-end rows/s (submit -> succeeded) and
processing rows/s (job started_at -> finished_at): validation, inference, result rows and usage
records in one transaction per chunk (BATCH_CHUNK_ROWS, 10,000 rows by default).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

PROJECT_DIR = Path(__file__).resolve().parents[1]
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mlapi_bench_batch")
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
MEDIA_ROOT = tempfile.mkdtemp(prefix="mlapi-bench-batch-")
IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]

# Every process of the run (this one and the workers) reads the same settings from the environment.
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "mlapi.settings.local",
        "DATABASE_URL": DATABASE_URL,
        "CELERY_BROKER_URL": BROKER_URL,
        "MEDIA_ROOT": MEDIA_ROOT,
        "LOG_LEVEL": "WARNING",
        "WARM_MODELS_ON_STARTUP": "false",
        "DEBUG": "false",
        "BATCH_MAX_ROWS": "2000000",
    }
)
sys.path.insert(0, str(PROJECT_DIR))


def database_recreate() -> None:
    import psycopg2

    url = urlparse(DATABASE_URL)
    name = url.path.lstrip("/")
    admin = psycopg2.connect(
        dbname="postgres", user=url.username, password=url.password, host=url.hostname, port=url.port or 5432
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def rows_make(count: int):
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], size=(count, 4)).round(1)


def csv_write(matrix, path: Path) -> None:
    import numpy as np

    with path.open("w") as stream:
        stream.write(",".join(IRIS_FEATURES) + "\n")
        np.savetxt(stream, matrix, delimiter=",", fmt="%.1f")


def fixtures():
    """A staff registrant, the iris model in production, a metered user with no quota or rate limit."""
    import io
    from decimal import Decimal

    import joblib
    from django.contrib.auth import get_user_model

    from billing.models import PricingTier
    from billing.services.subscriptions import subscription_change
    from predictions.demo import iris_train
    from predictions.services import model_register

    User = get_user_model()
    staff = User.objects.create_user("bench-admin", is_staff=True)
    tier = PricingTier.objects.create(
        name="bench",
        price_per_prediction=Decimal("0.0004"),
        price_per_cpu_second=Decimal("0.05"),
        price_per_mb=Decimal("0.001"),
    )
    user = User.objects.create_user("bench")
    subscription_change(user=user, tier=tier)
    estimator, _metrics = iris_train()
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    buffer.seek(0)
    model = model_register(
        registered_by=staff, name="iris", artifact=buffer, filename="iris.joblib", stage="production"
    )
    return user, model


def in_process_baseline(model, matrix) -> dict:
    from predictions.registry.cache import loaded_model_get

    estimator = loaded_model_get(model=model).estimator

    def best_of_3(call) -> float:
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            call(matrix)
            timings.append(time.perf_counter() - start)
        return min(timings)

    predict_seconds = best_of_3(estimator.predict)
    proba_seconds = best_of_3(estimator.predict_proba)
    rows = len(matrix)
    return {
        "predict_rows_per_s": rows / predict_seconds,
        "predict_proba_rows_per_s": rows / proba_seconds,
    }


def workers_start(concurrency: int, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "mlapi",
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "warning",
            "-n",
            f"bench{concurrency}@%h",
        ],
        cwd=PROJECT_DIR,
        env=os.environ.copy(),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def workers_ready(app, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.control.ping(timeout=1.0):
            return
    raise RuntimeError("the workers did not answer a ping")


def job_run(*, user, csv_path: Path, concurrency: int) -> dict:
    import redis

    from batch.models import BatchResultRow
    from batch.services.jobs import batch_job_create
    from batch.services.uploads import batch_upload_create
    from billing.models import UsageRecord
    from mlapi.celery import app
    from predictions.services import ModelRef

    redis.Redis.from_url(BROKER_URL).flushdb()
    log = Path(MEDIA_ROOT) / f"worker-{concurrency}.log"
    process = workers_start(concurrency, log)
    try:
        workers_ready(app)
        submitted = time.perf_counter()
        with csv_path.open("rb") as stream:
            upload = batch_upload_create(user=user, stream=stream, filename=csv_path.name)
        job = batch_job_create(user=user, model_ref=ModelRef(name="iris"), upload=upload)
        submit_seconds = time.perf_counter() - submitted
        while job.status not in ("succeeded", "failed", "paused", "cancelled"):
            time.sleep(0.25)
            job.refresh_from_db()
        end_to_end = time.perf_counter() - submitted
    finally:
        process.terminate()
        process.wait(timeout=60)
    if job.status != "succeeded":
        raise RuntimeError(f"job {job.pk} {job.status}: {job.error}\n{log.read_text()[-3000:]}")
    processing = (job.finished_at - job.started_at).total_seconds()
    billed = sum(
        UsageRecord.objects.filter(idempotency_key__startswith=f"batch:{job.pk}:").values_list("predictions", flat=True)
    )
    assert billed == job.rows_done == BatchResultRow.objects.filter(job=job).count() == job.rows_total
    return {
        "workers": concurrency,
        "rows": job.rows_total,
        "chunks": job.chunks_total,
        "submit_seconds": round(submit_seconds, 2),
        "processing_seconds": round(processing, 2),
        "end_to_end_seconds": round(end_to_end, 2),
        "processing_rows_per_s": round(job.rows_total / processing),
        "end_to_end_rows_per_s": round(job.rows_total / end_to_end),
        "job": job,
    }


def export_rate(job) -> dict:
    from batch.exports import results_stream

    start = time.perf_counter()
    size = sum(len(block) for block in results_stream(job=job, result_format="csv"))
    seconds = time.perf_counter() - start
    return {"csv_export_rows_per_s": round(job.rows_total / seconds), "csv_export_mb": round(size / 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", default=None, help="Also write the figures to this file.")
    args = parser.parse_args()

    database_recreate()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    user, model = fixtures()
    matrix = rows_make(args.rows)
    csv_path = Path(MEDIA_ROOT) / f"iris-{args.rows}.csv"
    csv_write(matrix, csv_path)

    baseline = in_process_baseline(model, matrix)
    runs = [job_run(user=user, csv_path=csv_path, concurrency=n) for n in args.workers]
    export = export_rate(runs[0]["job"])

    print(
        f"\nBatch jobs, {args.rows:,} iris rows ({csv_path.stat().st_size / 1e6:.0f} MB CSV), PostgreSQL, "
        f"{os.cpu_count()} CPUs, {platform.python_version()}"
    )
    print(f"  in-process estimator.predict        {baseline['predict_rows_per_s']:>14,.0f} rows/s")
    print(f"  in-process estimator.predict_proba  {baseline['predict_proba_rows_per_s']:>14,.0f} rows/s")
    for run in runs:
        print(
            f"  Celery, {run['workers']} worker process(es)     {run['end_to_end_rows_per_s']:>14,} rows/s end to end "
            f"({run['end_to_end_seconds']} s; submit {run['submit_seconds']} s; processing "
            f"{run['processing_rows_per_s']:,} rows/s)"
        )
    print(
        f"  results download (CSV)              {export['csv_export_rows_per_s']:>14,} rows/s "
        f"({export['csv_export_mb']} MB)"
    )
    if args.json:
        figures = {
            "baseline": baseline,
            "runs": [{k: v for k, v in r.items() if k != "job"} for r in runs],
            "export": export,
        }
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
