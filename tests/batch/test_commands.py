import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from batch.models import BatchJob
from billing.models import PricingTier, UsageRecord
from tests.batch.conftest import iris_csv, iris_jsonl


def test_score_file_writes_jsonl_results_and_meters_the_named_user(make_user, iris_model, tmp_path, settings):
    settings.BATCH_CHUNK_ROWS = 4
    user = make_user("analyst")
    source, out = tmp_path / "rows.csv", tmp_path / "scored.jsonl"
    source.write_bytes(iris_csv(10))
    stdout = io.StringIO()

    call_command(
        "score_file",
        str(source),
        "--model",
        "iris",
        "--version",
        "1",
        "--out",
        str(out),
        "--user",
        "analyst",
        stdout=stdout,
    )

    summary = json.loads(stdout.getvalue())
    assert (summary["status"], summary["rows_done"], summary["rows_failed"]) == ("succeeded", 10, 0)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["row"] for r in records] == list(range(1, 11))
    assert all(r["output"]["label"] for r in records)
    usage = UsageRecord.objects.filter(user=user, source="batch")
    assert (usage.count(), usage.aggregate(total=Sum("predictions"))["total"]) == (3, 10)


def test_score_file_writes_csv_with_row_errors_and_bills_the_first_superuser_by_default(
    iris_model, tmp_path, django_user_model
):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    source, out = tmp_path / "rows.jsonl", tmp_path / "scored.csv"
    source.write_bytes(iris_jsonl(3) + b"{broken\n")

    call_command("score_file", str(source), "--model", "iris", "--out", str(out), stdout=io.StringIO())

    rows = list(csv.DictReader(out.open()))
    assert [r["row"] for r in rows] == ["1", "2", "3", "4"]
    assert json.loads(rows[3]["errors"])[0]["code"] == "MALFORMED_ROW"
    assert BatchJob.objects.get().user == admin
    assert UsageRecord.objects.get().predictions == 3


def test_score_file_stops_with_an_error_when_the_quota_runs_out(make_user, iris_model, tmp_path, settings):
    settings.BATCH_CHUNK_ROWS = 5
    make_user("capped", tier=PricingTier.objects.create(name="capped", monthly_quota=4))
    source, out = tmp_path / "rows.csv", tmp_path / "out.csv"
    source.write_bytes(iris_csv(5))

    with pytest.raises(CommandError, match="QUOTA_EXCEEDED"):
        call_command("score_file", str(source), "--model", "iris", "--out", str(out), "--user", "capped")

    assert BatchJob.objects.count() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "iris", "--out", "x.txt"], "--out"),
        (["--model", "nope", "--out", "x.csv"], "NOT_FOUND"),
        (["--model", "iris", "--out", "x.csv", "--user", "ghost"], "--user"),
    ],
)
def test_score_file_refuses_bad_arguments(make_user, iris_model, tmp_path, args, message):
    make_user("someone")
    source = tmp_path / "rows.csv"
    source.write_bytes(iris_csv(2))
    args = [a if a not in ("x.txt", "x.csv") else str(tmp_path / a) for a in args]
    if "--user" not in args:
        args += ["--user", "someone"]

    with pytest.raises(CommandError, match=message):
        call_command("score_file", str(source), *args)
