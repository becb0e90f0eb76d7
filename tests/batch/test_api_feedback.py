"""POST /api/v1/batch-jobs/{id}/feedback: ground truth for a batch job as a CSV file."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from sklearn.metrics import accuracy_score

from billing.models import UsageRecord
from predictions.models import Prediction
from quality.models import Feedback
from quality.selectors import model_quality
from quality.services.rollups import quality_rollup_catch_up
from tests.batch.conftest import iris_csv, results
from tests.conftest import IRIS_SETOSA

JOBS = "/api/v1/batch-jobs"


@pytest.fixture
def small_chunks(settings):
    settings.BATCH_CHUNK_ROWS = 5


def _job(submit, token, rows=12) -> str:
    response = submit(token, iris_csv(rows))
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _labels(api, token, job_id) -> dict[int, str]:
    rows = csv.DictReader(io.StringIO(results(api.get(f"{JOBS}/{job_id}/results?format=csv", token)).decode()))
    return {int(r["row"]): r["label"] for r in rows}


def _post(api, token, job_id, text: str):
    return api.post(f"{JOBS}/{job_id}/feedback", token, {"file": SimpleUploadedFile("truth.csv", text.encode())})


def test_feedback_by_row_is_stored_for_each_row_not_billed_and_rolled_up_like_sklearn(
    make_user, issue_token, submit, api, iris_model, small_chunks, settings
):
    # given: a 12-row job in three chunks, and ground truth for 9 rows across them
    settings.QUALITY_ROLLUP_SETTLE_SECONDS = 0
    user = make_user()
    token = issue_token(user)
    job_id = _job(submit, token)
    predicted = _labels(api, token, job_id)
    truth = {n: ("setosa" if n % 3 else "virginica") for n in range(2, 11)}
    usage_before = list(UsageRecord.objects.filter(user=user).values_list("id", "amount"))
    # when
    response = _post(api, token, job_id, "row,actual\n" + "".join(f"{n},{a}\n" for n, a in truth.items()))
    # then
    assert response.status_code == 201, response.content
    assert response.json() == {"job": job_id, "stored": 9, "replaced": 0}
    stored = Feedback.objects.filter(user=user, current=True).select_related("prediction__usage")
    assert stored.count() == 9
    for feedback in stored:
        chunk_index = int(feedback.prediction.usage.idempotency_key.rsplit(":", 1)[1])
        row = chunk_index * 5 + feedback.prediction.position + 1
        assert feedback.actual == truth[row]
        assert feedback.prediction.output["label"] == predicted[row]
    assert list(UsageRecord.objects.filter(user=user).values_list("id", "amount")) == usage_before  # not billed
    # and the live figures are sklearn's on the same rows
    quality_rollup_catch_up()
    report = model_quality(model=iris_model, user=user, every_customer=False, window="24h")
    assert report.figures["count"] == 9
    expected = accuracy_score(list(truth.values()), [predicted[n] for n in truth])
    assert report.figures["accuracy"] == pytest.approx(expected)


def test_a_second_file_replaces_the_values_and_keeps_history(
    make_user, issue_token, submit, api, iris_model, small_chunks
):
    user = make_user()
    token = issue_token(user)
    job_id = _job(submit, token)
    assert _post(api, token, job_id, "row,actual\n1,setosa\n7,setosa\n").status_code == 201

    response = _post(api, token, job_id, "row,actual\n7,virginica\n")

    assert response.status_code == 201, response.content
    assert response.json()["replaced"] == 1
    assert Prediction.objects.filter(user=user).count() == 2  # the row's prediction is made once
    assert Feedback.objects.filter(user=user).count() == 3
    assert sorted(Feedback.objects.filter(user=user, current=True).values_list("actual", flat=True)) == [
        "setosa",
        "virginica",
    ]


def test_feedback_by_prediction_id_uses_the_same_service(make_user, issue_token, submit, api, iris_model, rest):
    user = make_user()
    token = issue_token(user)
    job_id = _job(submit, token, rows=3)
    created = rest("post", "/api/v1/models/iris/predict", {"instances": [IRIS_SETOSA]}, token=token)
    assert created.status_code in (200, 201), created.content
    prediction_id = Prediction.objects.get(user=user).pk

    response = _post(api, token, job_id, f"prediction_id,actual\n{prediction_id},versicolor\n")

    assert response.status_code == 201, response.content
    assert Feedback.objects.get(user=user).actual == "versicolor"


def test_a_bad_row_refuses_the_whole_file_with_per_row_errors(
    make_user, issue_token, submit, api, iris_model, small_chunks
):
    # given
    user = make_user()
    token = issue_token(user)
    job_id = _job(submit, token)
    # when: row 2 of the file names a class the model does not have, row 3 a row the job does not have
    response = _post(api, token, job_id, "row,actual\n1,setosa\n2,daisy\n99,setosa\n")
    # then
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("rows.3.row", "NOT_FOUND")]
    response = _post(api, token, job_id, "row,actual\n1,setosa\n2,daisy\n")
    assert response.status_code == 400, response.content
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("rows.2.actual", "INVALID_ACTUAL")]
    assert not Feedback.objects.exists()
    assert not Prediction.objects.exists()  # the rows' predictions were rolled back with the file


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("actual\nsetosa\n", "INVALID_FILE"),
        ("row,prediction_id,actual\n1,,setosa\n", "INVALID_FILE"),
        ("row,actual\n", "INVALID_FILE"),
    ],
)
def test_a_file_without_the_columns_is_refused(make_user, issue_token, submit, api, iris_model, text, code):
    token = issue_token(make_user())
    job_id = _job(submit, token, rows=3)

    response = _post(api, token, job_id, text)

    assert response.status_code == 400, response.content
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("file", code)]


def test_size_and_row_limits_are_the_batch_file_limits(make_user, issue_token, submit, api, iris_model, settings):
    token = issue_token(make_user())
    job_id = _job(submit, token, rows=3)
    settings.BATCH_MAX_ROWS = 2
    response = _post(api, token, job_id, "row,actual\n1,setosa\n2,setosa\n3,setosa\n")
    assert response.status_code == 400, response.content
    assert [e["code"] for e in response.json()["errors"]] == ["TOO_MANY_ROWS"]
    settings.BATCH_MAX_UPLOAD_BYTES = 20
    response = _post(api, token, job_id, "row,actual\n1,setosa\n2,setosa\n")
    assert response.status_code == 413, response.content
    assert [e["code"] for e in response.json()["errors"]] == ["FILE_TOO_LARGE"]
    assert not Feedback.objects.exists()


def test_someone_elses_job_is_not_found(make_user, issue_token, submit, api, iris_model):
    owner_token = issue_token(make_user())
    job_id = _job(submit, owner_token, rows=3)
    other = make_user()

    response = _post(api, issue_token(other), job_id, "row,actual\n1,setosa\n")

    assert response.status_code == 404, response.content
    assert [e["code"] for e in response.json()["errors"]] == ["NOT_FOUND"]
    assert not Feedback.objects.exists() and not Prediction.objects.exists()


SUBMIT_BATCH = """
mutation Submit($input: SubmitBatchFeedbackInput!) {
  submitBatchFeedback(input: $input) { stored replaced errors { field code } }
}
"""


def _upload(api, token, text: str) -> str:
    response = api.post("/api/v1/batch-uploads", token, {"file": SimpleUploadedFile("truth.csv", text.encode())})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_graphql_submit_batch_feedback_takes_an_upload(make_user, issue_token, submit, api, gql, iris_model):
    # given
    user = make_user()
    token = issue_token(user)
    job_id = _job(submit, token, rows=3)
    upload_id = _upload(api, token, "row,actual\n1,setosa\n3,virginica\n")
    # when
    status, body = gql(SUBMIT_BATCH, {"input": {"jobId": job_id, "uploadId": upload_id}}, token=token)
    # then
    assert status == 200, body
    assert body["data"]["submitBatchFeedback"] == {"stored": 2, "replaced": 0, "errors": []}
    assert sorted(Feedback.objects.filter(user=user).values_list("actual", flat=True)) == ["setosa", "virginica"]


def test_graphql_submit_batch_feedback_errors_are_in_the_payload(make_user, issue_token, submit, api, gql, iris_model):
    owner = make_user()
    token = issue_token(owner)
    job_id = _job(submit, token, rows=3)
    bad = _upload(api, token, "row,actual\n1,daisy\n")
    other_token = issue_token(make_user())
    others_upload = _upload(api, other_token, "row,actual\n1,setosa\n")

    def errors(variables, as_token):
        status, body = gql(SUBMIT_BATCH, {"input": variables}, token=as_token)
        assert status == 200, body
        return [(e["field"], e["code"]) for e in body["data"]["submitBatchFeedback"]["errors"]]

    assert errors({"jobId": job_id, "uploadId": bad}, token) == [("rows.1.actual", "INVALID_ACTUAL")]
    assert errors({"jobId": job_id, "uploadId": others_upload}, token) == [("uploadId", "NOT_FOUND")]
    assert errors({"jobId": job_id, "uploadId": others_upload}, other_token) == [("jobId", "NOT_FOUND")]
    assert not Feedback.objects.exists()
