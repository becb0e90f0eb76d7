"""Files built to hurt: a huge header, a huge row, rows PostgreSQL cannot store or Python cannot recurse into,
and requests that must be refused before their body is read."""

import json
import time
from pathlib import Path

import pytest
from django.conf import settings

from batch.models import BatchJob, BatchUpload
from billing.models import MonthlyUsage, PricingTier
from billing.periods import period_of
from tests.batch.conftest import IRIS_COLUMNS, results_jsonl
from tests.conftest import BANK_CLIENT, IRIS_SETOSA

JOBS = "/api/v1/batch-jobs"
UPLOADS = "/api/v1/batch-uploads"
BANK_HEADER = "age,job,marital,education,balance,housing,duration,campaign"
GOOD_JSONL = json.dumps(IRIS_SETOSA)
GOOD_CSV = ",".join(str(IRIS_SETOSA[c]) for c in IRIS_COLUMNS)
WIDE_HEADER = ",".join(f"c{i}" for i in range(50_000))  # the audit's 339 KB header


def _stored_files() -> set[Path]:
    """Every stored upload file (MEDIA_ROOT outlives a test's database, so compare before and after)."""
    return set((Path(settings.MEDIA_ROOT) / "batch" / "uploads").glob("*/*"))


def _row_errors(api, token, job_id) -> dict[int, list[str]]:
    records = results_jsonl(api.get(f"{JOBS}/{job_id}/results?format=jsonl", token))
    return {r["line"]: [e["code"] for e in r["errors"]] for r in records if "errors" in r}


# --- Finding 4: the header ----------------------------------------------------------------------------


def test_a_50000_column_header_is_refused_at_once_with_too_many_columns(make_user, issue_token, submit, iris_model):
    # given: the audit's file, a 50,000-column header (quadratic duplicate check: a worker past its time-out)
    user = make_user()
    token = issue_token(user)
    content = (WIDE_HEADER + "\n" + ",".join(["1"] * 50_000) + "\n").encode()
    assert len(WIDE_HEADER) > 330_000
    files_before = _stored_files()
    # when
    started = time.perf_counter()
    response = submit(token, content)
    elapsed = time.perf_counter() - started
    # then
    print(f"\n50,000-column header ({len(content)} bytes) refused in {elapsed * 1000:.0f} ms")
    assert response.status_code == 400, response.content
    assert [e["code"] for e in response.json()["errors"]] == ["TOO_MANY_COLUMNS"]
    assert elapsed < 2  # generous: it was a worker killed at gunicorn's 30 s time-out
    assert (BatchJob.objects.count(), BatchUpload.objects.count(), _stored_files()) == (0, 0, files_before)


def test_the_column_cap_is_a_setting(make_user, issue_token, submit, iris_model, settings):
    settings.BATCH_MAX_COLUMNS = 3
    response = submit(issue_token(make_user()), (",".join(IRIS_COLUMNS) + "\n" + GOOD_CSV + "\n").encode())

    assert response.status_code == 400
    assert [e["code"] for e in response.json()["errors"]] == ["TOO_MANY_COLUMNS"]


def test_a_header_longer_than_the_row_limit_is_refused_unparsed(make_user, issue_token, submit, iris_model, settings):
    settings.BATCH_MAX_ROW_BYTES = 4096
    header = ",".join(IRIS_COLUMNS) + "," + ",".join(f"padding_column_{i}" for i in range(400))

    response = submit(issue_token(make_user()), (header + "\n" + GOOD_CSV + "\n").encode())

    assert response.status_code == 400
    assert [e["code"] for e in response.json()["errors"]] == ["HEADER_TOO_LARGE"]
    assert BatchUpload.objects.count() == 0


# --- Finding 4: limits before parsing ------------------------------------------------------------------

GARBAGE_MULTIPART = b"this is not a multipart body " * 40_000  # ~1.2 MB: parsing it is a 400


def _post_raw(client, path, token, body: bytes):
    return client.post(
        path, body, content_type="multipart/form-data; boundary=never-there", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def test_a_well_formed_garbage_body_is_a_parse_error_for_a_user_within_limits(
    make_user, issue_token, client, iris_model
):
    # the control for the tests below: reading this body answers 400
    token = issue_token(make_user())

    assert _post_raw(client, JOBS, token, GARBAGE_MULTIPART).status_code == 400
    assert _post_raw(client, UPLOADS, token, GARBAGE_MULTIPART).status_code == 400


@pytest.mark.parametrize("path", [JOBS, UPLOADS])
def test_over_the_rate_limit_the_body_is_never_read(
    make_user, issue_token, client, submit, iris_model, path, monkeypatch
):
    # given: a tier of one request a minute, used by one accepted job; the clock pinned mid-minute, so the
    # fixed one-minute window cannot roll over between the calls
    from django.utils import timezone

    moment = timezone.now().replace(second=30, microsecond=0)
    monkeypatch.setattr("django.utils.timezone.now", lambda: moment)
    user = make_user(tier=PricingTier.objects.create(name="one-a-minute", rate_limit_per_minute=1))
    token = issue_token(user)
    assert submit(token, (",".join(IRIS_COLUMNS) + "\n" + GOOD_CSV + "\n").encode()).status_code == 201
    uploads_before, files_before = BatchUpload.objects.count(), _stored_files()
    # when: a body that is a 400 once parsed, then the audit's huge header
    garbage = _post_raw(client, path, token, GARBAGE_MULTIPART)
    wide = submit(token, (WIDE_HEADER + "\n").encode())
    # then: both are told the rate limit (429), not the parse error: the body was not read; nothing is stored
    for response in (garbage, wide):
        assert response.status_code == 429, response.content
        assert [e["code"] for e in response.json()["errors"]] == ["RATE_LIMITED"]
        assert response.has_header("Retry-After")
    assert (BatchUpload.objects.count(), _stored_files()) == (uploads_before, files_before)


def test_with_the_quota_used_up_a_job_body_is_never_read(make_user, issue_token, client, iris_model):
    from django.utils import timezone

    tier = PricingTier.objects.create(name="used-up", monthly_quota=10)
    user = make_user(tier=tier)
    MonthlyUsage.objects.create(user=user, period=period_of(timezone.now()), predictions=10)
    files_before = _stored_files()

    response = _post_raw(client, JOBS, issue_token(user), GARBAGE_MULTIPART)

    assert response.status_code == 429, response.content
    assert [e["code"] for e in response.json()["errors"]] == ["QUOTA_EXCEEDED"]
    assert (BatchUpload.objects.count(), _stored_files()) == (0, files_before)


@pytest.mark.parametrize("path", [JOBS, UPLOADS])
def test_a_body_larger_than_the_storage_left_is_never_read(make_user, issue_token, client, iris_model, path):
    user = make_user(tier=PricingTier.objects.create(name="tiny-storage", storage_allowance_bytes=100_000))
    files_before = _stored_files()

    response = _post_raw(client, path, issue_token(user), GARBAGE_MULTIPART)

    assert response.status_code == 413, response.content
    assert [e["code"] for e in response.json()["errors"]] == ["STORAGE_QUOTA_EXCEEDED"]
    assert (BatchUpload.objects.count(), _stored_files()) == (0, files_before)


# --- Finding 5: one huge row ---------------------------------------------------------------------------


def test_a_2_mib_jsonl_line_is_a_row_error_with_its_line_and_the_other_rows_score(
    make_user, issue_token, submit, api, iris_model
):
    # given: line 2 is one 2 MiB JSON object (the row limit is 1 MiB)
    huge = json.dumps({**IRIS_SETOSA, "note": "x" * (2 * 1024 * 1024)})
    token = issue_token(make_user())
    # when
    response = submit(token, f"{GOOD_JSONL}\n{huge}\n{GOOD_JSONL}\n".encode(), name="rows.jsonl")
    # then
    assert response.status_code == 201, response.content
    job = api.get(f"{JOBS}/{response.json()['id']}", token).json()
    assert (job["status"], job["rows_total"], job["rows_done"], job["rows_failed"]) == ("succeeded", 3, 2, 1)
    assert _row_errors(api, token, job["id"]) == {2: ["ROW_TOO_LARGE"]}


def test_a_huge_quoted_csv_field_over_many_lines_is_a_row_error_and_line_numbers_stay_right(
    make_user, issue_token, submit, api, bank_model
):
    # given: row 2 (lines 3-1002) holds a 2 MiB quoted value with newlines, commas and doubled quotes
    good = ",".join(str(BANK_CLIENT[c]) for c in BANK_HEADER.split(","))
    field = '"' + "\n".join(['a, ""quoted"" b' + "y" * 2100] * 1000) + '"'
    bad = good.replace("management", field, 1)
    assert bad != good and len(bad) > 2 * 1024 * 1024
    content = "\n".join([BANK_HEADER, good, bad, good, ""]).encode()
    token = issue_token(make_user())
    # when
    response = submit(token, content, model="bank-marketing")
    # then: the row after it starts on line 1003
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    job = api.get(f"{JOBS}/{job_id}", token).json()
    assert (job["status"], job["rows_total"], job["rows_done"], job["rows_failed"]) == ("succeeded", 3, 2, 1)
    records = results_jsonl(api.get(f"{JOBS}/{job_id}/results?format=jsonl", token))
    assert [(r["row"], r["line"]) for r in records] == [(1, 2), (2, 3), (3, 1003)]
    assert [e["code"] for e in records[1]["errors"]] == ["ROW_TOO_LARGE"]


def test_the_row_limit_is_a_setting(make_user, issue_token, submit, api, iris_model, settings):
    settings.BATCH_MAX_ROW_BYTES = 200
    long_row = json.dumps({**IRIS_SETOSA, "note": "x" * 300})
    token = issue_token(make_user())

    job_id = submit(token, f"{GOOD_JSONL}\n{long_row}\n".encode(), name="rows.jsonl").json()["id"]

    assert _row_errors(api, token, job_id) == {2: ["ROW_TOO_LARGE"]}


# --- Finding 11: rows the database or the parser cannot take -------------------------------------------


def test_nul_surrogate_and_100000_deep_rows_are_row_errors_and_the_job_succeeds(
    make_user, issue_token, submit, api, iris_model
):
    # given: PostgreSQL refuses \u0000 and unpaired surrogates in JSON; 100,000 levels is a RecursionError
    lines = [
        GOOD_JSONL,  # line 1
        json.dumps({**IRIS_SETOSA, "sepal_length": "5\u00001"}),  # line 2: NUL in a value
        json.dumps({**IRIS_SETOSA, "no\u0000te": 1}),  # line 3: NUL in a key
        json.dumps({**IRIS_SETOSA, "note": "\ud800"}),  # line 4: an unpaired surrogate
        "[" * 100_000 + "]" * 100_000,  # line 5
        '{"a": ' * 500 + "1" + "}" * 500,  # line 6: parses, but deeper than any row
        GOOD_JSONL,  # line 7
    ]
    token = issue_token(make_user())
    # when
    response = submit(token, ("\n".join(lines) + "\n").encode(), name="rows.jsonl")
    # then
    assert response.status_code == 201, response.content
    job = api.get(f"{JOBS}/{response.json()['id']}", token).json()
    assert (job["status"], job["rows_done"], job["rows_failed"], job["error"]) == ("succeeded", 2, 5, None)
    assert _row_errors(api, token, job["id"]) == {
        2: ["INVALID_CHARACTER"],
        3: ["INVALID_CHARACTER"],
        4: ["INVALID_CHARACTER"],
        5: ["ROW_TOO_DEEP"],
        6: ["ROW_TOO_DEEP"],
    }


def test_a_nul_byte_in_a_csv_value_is_a_row_error_and_the_job_succeeds(make_user, issue_token, submit, api, bank_model):
    good = ",".join(str(BANK_CLIENT[c]) for c in BANK_HEADER.split(","))
    content = "\n".join([BANK_HEADER, good, good.replace("management", "manage\x00ment"), good, ""]).encode()
    token = issue_token(make_user())

    job_id = submit(token, content, model="bank-marketing").json()["id"]

    job = api.get(f"{JOBS}/{job_id}", token).json()
    assert (job["status"], job["rows_done"], job["rows_failed"]) == ("succeeded", 2, 1)
    assert _row_errors(api, token, job_id) == {3: ["INVALID_CHARACTER"]}


def test_nan_and_infinity_in_jsonl_are_row_errors(make_user, issue_token, submit, api, iris_model):
    lines = [GOOD_JSONL, GOOD_JSONL.replace("5.1", "NaN", 1), GOOD_JSONL.replace("5.1", "1e999", 1)]
    token = issue_token(make_user())

    job_id = submit(token, ("\n".join(lines) + "\n").encode(), name="rows.jsonl").json()["id"]

    assert api.get(f"{JOBS}/{job_id}", token).json()["status"] == "succeeded"
    assert _row_errors(api, token, job_id) == {2: ["MALFORMED_ROW"], 3: ["MALFORMED_ROW"]}
