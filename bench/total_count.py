"""What `totalCount` costs for a caller with 1M stored predictions, on PostgreSQL.

`totalCount` is an exact COUNT(*) of the connection's filtered queryset (never an estimate), run only when the
field is selected. For predictions it is `WHERE user_id = $1 [AND created_at ...] [AND model_id = $2]`, which
PostgreSQL answers with an index-only scan of `prediction_user_recent_idx (user_id, created_at DESC, id DESC)` (or
the user_id foreign-key index): the caller's entries only, never other users' rows, and no heap visits while
the visibility map is current (autovacuum keeps it so; this script VACUUMs after its bulk load).

Prints, and writes to bench/results/total-count-<UTC>.json: the p50 of `predictions(first: 20)` through the whole
GraphQL stack with and without `totalCount`, the p50 of the COUNT statement alone, and its EXPLAIN (ANALYZE, BUFFERS)
plan, unfiltered and with the createdAfter and model filters.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mlapi_h1 .venv/bin/python bench/total_count.py [--rows 1000000]

It migrates the database it is given and adds rows for a user named `growth` (and `growth-other`) until they hold
--rows and --other-rows predictions; it drops nothing.
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
sys.path.insert(0, str(ROOT))

from bench.growth import bulk_load, p50_ms, prepare, setup_django  # noqa: E402 - after sys.path

LIST = "{ predictions(first: 20) { edges { node { id } } pageInfo { hasNextPage endCursor } } }"
LIST_COUNTED = "{ predictions(first: 20) { totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }"


def other_user():
    from accounts.services import api_client_create

    return api_client_create(
        username="growth-other", tier_name="bench", application_name="growth other"
    ).application.user


def count_statement(queryset) -> tuple[str, list]:
    """The SQL Django sends for `queryset.count()`."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        queryset.count()
    return captured.captured_queries[-1]["sql"], []


def sql_p50_ms(sql: str, samples: int) -> float:
    from django.db import connection

    times = []
    with connection.cursor() as cursor:
        for _ in range(samples + 3):
            started = time.perf_counter()
            cursor.execute(sql)
            cursor.fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[3:])


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--other-rows", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("total_count.py needs PostgreSQL: set DATABASE_URL", file=sys.stderr)
        return 2
    media = RESULTS.parent / ".growth-media"
    media.mkdir(exist_ok=True)
    os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT_SECONDS", "0")  # the bulk load runs longer than 10 s
    setup_django(url, media)

    from django.db import connection

    from predictions.models import RegisteredModel
    from predictions.selectors import prediction_list_for_user

    user, client, token = prepare()  # migrate, demo models, the `growth` caller: safe to repeat
    loaded = bulk_load(user, args.rows) + bulk_load(other_user(), args.other_rows)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) predictions_prediction")
    model = RegisteredModel.objects.get(name="iris", version=1)
    by_time = prediction_list_for_user(user=user).order_by("created_at").values_list("created_at", flat=True)
    median_created_at = by_time[args.rows // 2]  # half of the caller's rows are after it
    cases = {
        "unfiltered": prediction_list_for_user(user=user),
        "created_after_median": prediction_list_for_user(user=user, created_after=median_created_at),
        "model": prediction_list_for_user(user=user, model=model),
    }
    result = {
        "run": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        "rows_caller": prediction_list_for_user(user=user).count(),
        "rows_table": _table_rows(),
        "bulk_load_s": round(loaded, 1),
        "graphql_p50_ms": {
            "predictions_first_20": round(p50_ms(client, token, LIST, args.samples), 2),
            "predictions_first_20_with_totalCount": round(p50_ms(client, token, LIST_COUNTED, args.samples), 2),
        },
        "count": {},
    }
    for name, queryset in cases.items():
        sql, _ = count_statement(queryset)
        result["count"][name] = {
            "rows": queryset.count(),
            "sql": sql,
            "p50_ms": round(sql_p50_ms(sql, args.samples), 2),
            "plan": explain(sql),
        }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"total-count-{result['run']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "count"}, indent=2))
    for name, case in result["count"].items():
        print(f"\n== COUNT {name}: {case['rows']} rows, p50 {case['p50_ms']} ms\n{case['sql']}\n{case['plan']}")
    print(f"\nwritten: {out}")
    return 0


def _table_rows() -> int:
    from predictions.models import Prediction

    return Prediction.objects.count()


if __name__ == "__main__":
    raise SystemExit(main())
