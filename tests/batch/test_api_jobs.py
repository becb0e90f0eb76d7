import csv
import io
import json

import pytest
from django.db.models import Sum

from batch.models import BatchChunk, BatchJob, BatchResultRow, BatchUpload
from billing.models import MonthlyUsage, PricingTier, UsageRecord
from tests.batch.conftest import IRIS_COLUMNS, iris_csv, iris_jsonl, results, results_jsonl
from tests.conftest import BANK_CLIENT, IRIS_SETOSA

JOBS = "/api/v1/batch-jobs"
IRIS_LABELS = {"setosa", "versicolor", "virginica"}
BANK_HEADER = "age,job,marital,education,balance,housing,duration,campaign"


@pytest.fixture
def small_chunks(settings):
    settings.BATCH_CHUNK_ROWS = 5


def _usage_for(job) -> list[UsageRecord]:
    return list(UsageRecord.objects.filter(idempotency_key__startswith=f"batch:{job['id']}:"))


def test_csv_job_succeeds_and_every_row_is_scored_stored_and_billed_once(
    make_user, issue_token, submit, api, iris_model, small_chunks
):
    # given
    token = issue_token(make_user())
    # when
    response = submit(token, iris_csv(12))
    # then
    assert response.status_code == 201, response.content
    job = api.get(f"{JOBS}/{response.json()['id']}", token).json()
    assert job["status"] == "succeeded"
    assert (job["rows_total"], job["rows_done"], job["rows_failed"]) == (12, 12, 0)
    assert job["progress"] == 1.0 and job["error"] is None
    assert job["model"] == {"id": iris_model.pk, "name": "iris", "version": 1}
    assert job["format"] == "csv" and job["started_at"] and job["finished_at"]
    usage = _usage_for(job)
    assert sorted(u.idempotency_key for u in usage) == [f"batch:{job['id']}:{i}" for i in range(3)]
    assert sum(u.predictions for u in usage) == job["rows_done"]
    assert {u.source for u in usage} == {"batch"}
    assert all(u.amount > 0 for u in usage)


def test_csv_results_download_as_csv_has_every_row_in_order(
    make_user, issue_token, submit, api, iris_model, small_chunks
):
    token = issue_token(make_user())
    job_id = submit(token, iris_csv(12)).json()["id"]

    response = api.get(f"{JOBS}/{job_id}/results?format=csv", token)

    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(results(response).decode())))
    assert [int(r["row"]) for r in rows] == list(range(1, 13))
    assert [int(r["line"]) for r in rows] == list(range(2, 14))  # the header is line 1
    assert all(r["label"] in IRIS_LABELS and r["errors"] == "" for r in rows)
    assert {f"probabilities.{label}" for label in IRIS_LABELS} <= set(rows[0])
    assert abs(sum(float(rows[0][f"probabilities.{label}"]) for label in IRIS_LABELS) - 1) < 1e-9


def test_jsonl_job_results_download_as_jsonl(make_user, issue_token, submit, api, iris_model, small_chunks):
    token = issue_token(make_user())
    response = submit(token, iris_jsonl(7), name="rows.jsonl")
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]

    records = results_jsonl(api.get(f"{JOBS}/{job_id}/results?format=jsonl", token))

    assert [r["row"] for r in records] == list(range(1, 8))
    assert [r["line"] for r in records] == list(range(1, 8))
    assert all(r["output"]["label"] in IRIS_LABELS for r in records)
    assert api.get(f"{JOBS}/{job_id}", token).json()["format"] == "jsonl"


def test_results_match_online_predictions_of_the_same_rows(make_user, issue_token, submit, api, gql, iris_model):
    token = issue_token(make_user())
    content = (",".join(IRIS_COLUMNS) + "\n" + ",".join(str(IRIS_SETOSA[c]) for c in IRIS_COLUMNS) + "\n").encode()
    job_id = submit(token, content).json()["id"]
    _, online = gql(
        'mutation { createPrediction(input: {modelName: "iris", features: {sepal_length: 5.1, sepal_width: 3.5, '
        "petal_length: 1.4, petal_width: 0.2}}) { prediction { output } errors { code } } }",
        token=token,
    )

    [batch_row] = results_jsonl(api.get(f"{JOBS}/{job_id}/results?format=jsonl", token))

    assert batch_row["output"] == online["data"]["createPrediction"]["prediction"]["output"]
    batch_usage = UsageRecord.objects.get(source="batch")
    online_usage = UsageRecord.objects.get(source="online")
    assert batch_usage.stored_bytes == online_usage.stored_bytes  # JSON input + output, as online
    assert batch_usage.prediction_amount == online_usage.prediction_amount
    assert batch_usage.price_per_prediction == online_usage.price_per_prediction


def test_bad_csv_rows_are_row_errors_with_line_numbers_and_do_not_sink_the_job(
    make_user, issue_token, submit, api, bank_model, small_chunks
):
    # given: a good row, an unseen category (the encoder ignores it: scored), a wrong type, a blank line,
    # a missing column, too many values, a good row
    good = ",".join(str(BANK_CLIENT[c]) for c in BANK_HEADER.split(","))
    content = "\n".join(
        [
            BANK_HEADER,
            good,  # line 2, row 1
            "41,astronaut,married,tertiary,1200,no,380,2",  # line 3, row 2: unseen category, scored
            "old,management,married,tertiary,1200,no,380,2",  # line 4, row 3: not an integer
            "",  # line 5: blank, not a row
            "41,management,married,tertiary,1200,no",  # line 6, row 4: missing columns
            good + ",extra",  # line 7, row 5: one value too many
            good,  # line 8, row 6
        ]
    ).encode()
    token = issue_token(make_user())
    # when
    job_id = submit(token, content, model="bank-marketing").json()["id"]
    # then
    job = api.get(f"{JOBS}/{job_id}", token).json()
    assert job["status"] == "succeeded"
    assert (job["rows_total"], job["rows_done"], job["rows_failed"]) == (6, 3, 3)
    records = {r["row"]: r for r in results_jsonl(api.get(f"{JOBS}/{job_id}/results?format=jsonl", token))}
    assert sorted(records) == [1, 2, 3, 4, 5, 6]
    assert records[1]["output"]["label"] in ("yes", "no") and records[6]["line"] == 8
    assert records[2]["line"] == 3 and records[2]["output"]["label"] in ("yes", "no")
    assert (records[3]["line"], [e["code"] for e in records[3]["errors"]]) == (4, ["INVALID_TYPE"])
    assert records[3]["errors"][0]["field"] == "age"
    assert (records[4]["line"], sorted(e["field"] for e in records[4]["errors"])) == (6, ["campaign", "duration"])
    assert {e["code"] for e in records[4]["errors"]} == {"REQUIRED"}
    assert (records[5]["line"], [e["code"] for e in records[5]["errors"]]) == (7, ["MALFORMED_ROW"])
    assert sum(u.predictions for u in _usage_for(job)) == 3


def test_bad_jsonl_rows_are_row_errors_with_line_numbers(make_user, issue_token, submit, api, iris_model):
    lines = [
        json.dumps(IRIS_SETOSA),  # line 1, row 1
        '{"sepal_length": 5.1, "sepal_width": ',  # line 2: malformed JSON
        json.dumps({**IRIS_SETOSA, "sepal_width": "wide"}),  # line 3: wrong type
        json.dumps({k: v for k, v in IRIS_SETOSA.items() if k != "petal_width"}),  # line 4: missing feature
        "   ",  # line 5: blank
        json.dumps({**IRIS_SETOSA, "colour": "blue"}),  # line 6: unknown field
        "[1, 2, 3]",  # line 7: an array of the wrong length
        json.dumps(IRIS_SETOSA),  # line 8
    ]
    token = issue_token(make_user())

    job_id = submit(token, ("\n".join(lines) + "\n").encode(), name="rows.jsonl").json()["id"]

    job = api.get(f"{JOBS}/{job_id}", token).json()
    assert (job["status"], job["rows_total"], job["rows_done"], job["rows_failed"]) == ("succeeded", 7, 2, 5)
    errors = {
        r["line"]: [e["code"] for e in r["errors"]]
        for r in results_jsonl(api.get(f"{JOBS}/{job_id}/results?format=jsonl", token))
        if "errors" in r
    }
    assert errors == {
        2: ["MALFORMED_ROW"],
        3: ["INVALID_TYPE"],
        4: ["REQUIRED"],
        6: ["UNKNOWN_FIELD"],
        7: ["INVALID_TYPE"],
    }


def test_failed_rows_appear_in_the_csv_download_with_their_errors(make_user, issue_token, submit, api, iris_model):
    token = issue_token(make_user())
    content = b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n5.1,abc,1.4,0.2\n"
    job_id = submit(token, content).json()["id"]

    rows = list(csv.DictReader(io.StringIO(results(api.get(f"{JOBS}/{job_id}/results", token)).decode())))

    assert [(r["row"], r["line"]) for r in rows] == [("1", "2"), ("2", "3")]
    assert rows[0]["label"] in IRIS_LABELS and rows[1]["label"] == ""
    assert json.loads(rows[1]["errors"]) == [
        {"field": "sepal_width", "code": "INVALID_TYPE", "message": "Expected a number."}
    ]


def test_a_job_over_the_quota_is_refused_at_submit_and_nothing_is_stored(make_user, issue_token, submit, iris_model):
    tier = PricingTier.objects.create(name="capped", monthly_quota=10)
    token = issue_token(make_user(tier=tier))

    response = submit(token, iris_csv(11))

    assert response.status_code == 429
    assert [e["code"] for e in response.json()["errors"]] == ["QUOTA_EXCEEDED"]
    assert response.has_header("Retry-After")
    assert (BatchJob.objects.count(), BatchUpload.objects.count(), UsageRecord.objects.count()) == (0, 0, 0)


def test_a_job_that_crosses_the_quota_midway_pauses_then_resumes(
    make_user, issue_token, api, gql, iris_model, small_chunks, django_capture_on_commit_callbacks
):
    # given: a quota of 12, a 10-row job accepted, then 5 online predictions before its chunks run
    tier = PricingTier.objects.create(name="capped", monthly_quota=12, rate_limit_per_minute=None)
    user = make_user(tier=tier)
    token = issue_token(user)
    with django_capture_on_commit_callbacks() as dispatches:
        job_id = api.post(JOBS, token, {"model": "iris", "file": _file(iris_csv(10))}).json()["id"]
    _, body = gql(
        (
            'mutation($i: [GenericScalar]) { createPrediction(input: {modelName: "iris", instances: $i}) '
            "{ errors { code } } }"
        ),
        {"i": [IRIS_SETOSA] * 5},
        token=token,
    )
    assert body["data"]["createPrediction"]["errors"] == []
    # when: the chunks run
    for dispatch in dispatches:
        dispatch()
    # then: the first chunk fits (5 + 5), the second would pass 12: paused, not overshot
    job = api.get(f"{JOBS}/{job_id}", token).json()
    assert (job["status"], job["rows_done"], job["rows_failed"]) == ("paused", 5, 0)
    assert job["error"]["code"] == "QUOTA_EXCEEDED" and "quota" in job["error"]["message"].lower()
    assert MonthlyUsage.objects.get(user=user).predictions == 10 <= tier.monthly_quota
    # a resume while still over quota is refused and leaves it paused
    refused = api.post(f"{JOBS}/{job_id}/resume", token)
    assert refused.status_code == 429 and refused.json()["errors"][0]["code"] == "QUOTA_EXCEEDED"
    # when: the quota is raised and the job resumed
    tier.monthly_quota = 100
    tier.save()
    with django_capture_on_commit_callbacks(execute=True):
        resumed = api.post(f"{JOBS}/{job_id}/resume", token)
    # then
    assert resumed.status_code == 200
    job = api.get(f"{JOBS}/{job_id}", token).json()
    assert (job["status"], job["rows_done"], job["error"]) == ("succeeded", 10, None)
    assert sum(u.predictions for u in _usage_for(job)) == 10
    assert BatchResultRow.objects.filter(job_id=job_id).count() == 10


def test_cancel_a_queued_job_runs_nothing(make_user, issue_token, api, iris_model, django_capture_on_commit_callbacks):
    token = issue_token(make_user())
    with django_capture_on_commit_callbacks() as dispatches:
        job_id = api.post(JOBS, token, {"model": "iris", "file": _file(iris_csv(8))}).json()["id"]

    cancelled = api.post(f"{JOBS}/{job_id}/cancel", token)
    for dispatch in dispatches:
        dispatch()

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    job = api.get(f"{JOBS}/{job_id}", token).json()
    assert (job["status"], job["rows_done"], job["finished_at"] is not None) == ("cancelled", 0, True)
    assert (BatchResultRow.objects.count(), UsageRecord.objects.count()) == (0, 0)
    again = api.post(f"{JOBS}/{job_id}/cancel", token)
    assert again.status_code == 409 and again.json()["errors"][0]["code"] == "INVALID_TRANSITION"


def test_cancel_between_chunks_keeps_the_rows_done_and_stops_the_rest(
    make_user, issue_token, api, iris_model, small_chunks, django_capture_on_commit_callbacks
):
    from batch.services.chunks import batch_chunk_run

    token = issue_token(make_user())
    with django_capture_on_commit_callbacks() as dispatches:
        job_id = api.post(JOBS, token, {"model": "iris", "file": _file(iris_csv(15))}).json()["id"]
    batch_chunk_run(job_id=job_id, index=0)

    api.post(f"{JOBS}/{job_id}/cancel", token)
    for dispatch in dispatches:
        dispatch()

    job = api.get(f"{JOBS}/{job_id}", token).json()
    assert (job["status"], job["rows_done"]) == ("cancelled", 5)
    assert BatchResultRow.objects.filter(job_id=job_id).count() == 5
    assert sum(u.predictions for u in _usage_for(job)) == 5
    assert BatchChunk.objects.filter(job_id=job_id, done_at__isnull=False).count() == 1


def test_another_user_cannot_see_cancel_resume_or_download_a_job(make_user, issue_token, submit, api, iris_model):
    owner_token = issue_token(make_user())
    job_id = submit(owner_token, iris_csv(3)).json()["id"]
    other_token = issue_token(make_user(is_staff=True))

    for response in (
        api.get(f"{JOBS}/{job_id}", other_token),
        api.get(f"{JOBS}/{job_id}/results?format=csv", other_token),
        api.get(f"{JOBS}/{job_id}/results?format=jsonl", other_token),
        api.post(f"{JOBS}/{job_id}/cancel", other_token),
        api.post(f"{JOBS}/{job_id}/resume", other_token),
    ):
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "NOT_FOUND"
        assert job_id not in response.content.decode()
    assert api.get(JOBS, other_token).json()["results"] == []
    assert api.get(f"{JOBS}/{job_id}", owner_token).json()["status"] == "succeeded"


def test_an_upload_can_be_used_by_id_and_only_by_its_owner(
    make_user, issue_token, api, iris_model, django_capture_on_commit_callbacks
):
    token = issue_token(make_user())
    uploaded = api.post("/api/v1/batch-uploads", token, {"file": _file(iris_jsonl(4), "rows.jsonl")})
    assert uploaded.status_code == 201, uploaded.content
    assert (uploaded.json()["format"], uploaded.json()["size_bytes"]) == ("jsonl", len(iris_jsonl(4)))
    upload_id = uploaded.json()["id"]

    stranger = api.post(JOBS, issue_token(make_user()), {"model": "iris", "upload_id": upload_id}, multipart=False)
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(JOBS, token, {"model": "iris", "upload_id": upload_id}, multipart=False)

    assert stranger.status_code == 404 and stranger.json()["errors"][0]["code"] == "NOT_FOUND"
    assert created.status_code == 201, created.content
    assert api.get(f"{JOBS}/{created.json()['id']}", token).json()["rows_done"] == 4


def test_list_is_newest_first_and_paginated(make_user, issue_token, submit, api, iris_model):
    token = issue_token(make_user())
    ids = [submit(token, iris_csv(2)).json()["id"] for _ in range(3)]

    first = api.get(f"{JOBS}?page_size=2", token).json()
    second = api.get(first["next"], token).json()

    assert [j["id"] for j in first["results"] + second["results"]] == ids[::-1]
    assert {"id", "status", "rows_total", "rows_done", "rows_failed"} <= set(first["results"][0])


@pytest.mark.parametrize(
    ("name", "content", "status", "code"),
    [
        ("rows.txt", b"a,b\n1,2\n", 400, "UNSUPPORTED_FORMAT"),
        ("rows.csv", b"sepal_length,sepal_width,petal_length\n1,2,3\n", 400, "INVALID_HEADER"),
        ("rows.csv", b"sepal_length,sepal_width,petal_length,petal_width,colour\n1,2,3,4,red\n", 400, "INVALID_HEADER"),
        ("rows.csv", b"sepal_length,sepal_width,petal_length,petal_width\n\n", 400, "EMPTY_FILE"),
        ("rows.jsonl", b"\n  \n", 400, "EMPTY_FILE"),
        ("rows.csv", b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,\xff\n", 400, "INVALID_ENCODING"),
    ],
)
def test_unusable_files_are_refused_at_submit(make_user, issue_token, submit, iris_model, name, content, status, code):
    token = issue_token(make_user())

    response = submit(token, content, name=name)

    assert response.status_code == status, response.content
    assert [e["code"] for e in response.json()["errors"]] == [code]
    assert (BatchJob.objects.count(), BatchUpload.objects.count()) == (0, 0)


def test_size_and_row_limits_come_from_settings(make_user, issue_token, submit, iris_model, settings):
    token = issue_token(make_user())
    settings.BATCH_MAX_ROWS = 5
    too_many = submit(token, iris_csv(6))
    settings.BATCH_MAX_UPLOAD_BYTES = 100
    too_large = submit(token, iris_csv(10))

    assert too_many.status_code == 400 and too_many.json()["errors"][0]["code"] == "TOO_MANY_ROWS"
    assert too_large.status_code == 413 and too_large.json()["errors"][0]["code"] == "FILE_TOO_LARGE"
    assert BatchUpload.objects.count() == 0


def test_submitting_needs_the_predict_scope_and_reading_the_read_scope(
    make_user, issue_token, submit, api, client, iris_model
):
    user = make_user()
    read_only = issue_token(user, scope="read")
    predict_only = issue_token(user, scope="predict")

    refused = submit(read_only, iris_csv(2))
    job_id = submit(predict_only, iris_csv(2)).json()["id"]

    assert refused.status_code == 403
    assert api.get(f"{JOBS}/{job_id}", predict_only).status_code == 403
    assert api.get(f"{JOBS}/{job_id}", read_only).status_code == 200
    assert client.get(f"{JOBS}/{job_id}").status_code == 401


def test_results_format_must_be_csv_or_jsonl(make_user, issue_token, submit, api, iris_model):
    token = issue_token(make_user())
    job_id = submit(token, iris_csv(2)).json()["id"]

    response = api.get(f"{JOBS}/{job_id}/results?format=xlsx", token)

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "UNSUPPORTED_FORMAT"


def test_unknown_model_is_not_found(make_user, issue_token, submit, iris_model):
    response = submit(issue_token(make_user()), iris_csv(2), model="nope")

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "NOT_FOUND"
    assert BatchUpload.objects.count() == 0


def _file(content: bytes, name: str = "rows.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


def test_usage_of_a_job_sums_to_rows_done(make_user, issue_token, submit, iris_model, small_chunks):
    token = issue_token(make_user())
    job_id = submit(token, iris_csv(23)).json()["id"]

    job = BatchJob.objects.get(pk=job_id)
    usage = UsageRecord.objects.filter(idempotency_key__startswith=f"batch:{job_id}:")

    assert usage.aggregate(total=Sum("predictions"))["total"] == job.rows_done == 23
    assert usage.count() == job.chunks_total == 5
    assert len(set(usage.values_list("idempotency_key", flat=True))) == 5
