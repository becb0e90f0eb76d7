"""Stored uploads: the tier's storage allowance, deletion by the owner (REST and GraphQL), and expiry."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from batch.models import BatchChunk, BatchJob, BatchResultRow, BatchUpload
from batch.tasks import expire_batch_storage
from billing.models import PricingTier
from billing.tiers import STANDARD_TIERS
from tests.batch.conftest import iris_csv

UPLOADS = "/api/v1/batch-uploads"
JOBS = "/api/v1/batch-jobs"
DELETE = "mutation Delete($id: ID!) { deleteUpload(id: $id) { deletedId errors { field code message } } }"
CREATE = """
mutation Create($input: CreateBatchJobInput!) {
  createBatchJob(input: $input) { batchJob { id } errors { field code } }
}
"""
FILE = iris_csv(20)


def _upload(api, token, content: bytes = FILE):
    return api.post(UPLOADS, token, {"file": SimpleUploadedFile("rows.csv", content)})


def _path(upload_id) -> Path:
    return Path(settings.MEDIA_ROOT) / BatchUpload.objects.get(pk=upload_id).file.name


@pytest.fixture
def delete(client, django_capture_on_commit_callbacks):
    """DELETE an upload; its after-commit file removal runs."""

    def call(token, upload_id):
        with django_capture_on_commit_callbacks(execute=True):
            return client.delete(f"{UPLOADS}/{upload_id}", HTTP_AUTHORIZATION=f"Bearer {token}")

    return call


@pytest.fixture
def expire(django_capture_on_commit_callbacks):
    """Runs the beat task (its after-commit file removals too); its report."""

    def run() -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            return expire_batch_storage.apply().get()

    return run


# --- The allowance ------------------------------------------------------------------------------------


def test_uploads_past_the_storage_allowance_are_refused_and_deleting_one_makes_room(
    make_user, issue_token, api, delete
):
    # given: an allowance of three files
    tier = PricingTier.objects.create(name="three-files", storage_allowance_bytes=3 * len(FILE))
    token = issue_token(make_user(tier=tier))
    accepted = [_upload(api, token) for _ in range(3)]
    assert [r.status_code for r in accepted] == [201, 201, 201]
    # when
    refused = _upload(api, token)
    # then
    assert refused.status_code == 413, refused.content
    assert [e["code"] for e in refused.json()["errors"]] == ["STORAGE_QUOTA_EXCEEDED"]
    assert BatchUpload.objects.count() == 3
    # when: one is deleted
    assert delete(token, accepted[0].json()["id"]).status_code == 204
    # then
    assert _upload(api, token).status_code == 201


def test_a_job_submitted_with_a_file_counts_against_the_allowance_too(make_user, issue_token, submit, gql, iris_model):
    tier = PricingTier.objects.create(name="one-file", storage_allowance_bytes=len(FILE) + 10)
    token = issue_token(make_user(tier=tier))
    assert submit(token, FILE).status_code == 201

    rest = submit(token, FILE)
    _, graphql = gql(CREATE, {"input": {"modelName": "iris", "content": FILE.decode(), "format": "csv"}}, token=token)

    assert rest.status_code == 413 and rest.json()["errors"][0]["code"] == "STORAGE_QUOTA_EXCEEDED"
    assert graphql["data"]["createBatchJob"]["errors"] == [{"field": "file", "code": "STORAGE_QUOTA_EXCEEDED"}]
    assert BatchUpload.objects.count() == BatchJob.objects.count() == 1


def test_an_upload_whose_body_passes_the_allowance_is_refused_while_it_streams(make_user, issue_token, api):
    # the declared length leaves room (the multipart margin), the file itself does not
    tier = PricingTier.objects.create(name="small", storage_allowance_bytes=len(FILE) - 1)
    token = issue_token(make_user(tier=tier))

    response = _upload(api, token)

    assert response.status_code == 413 and response.json()["errors"][0]["code"] == "STORAGE_QUOTA_EXCEEDED"
    assert BatchUpload.objects.count() == 0


def test_the_standard_tiers_have_an_allowance_and_a_retention(db):
    for name, values in STANDARD_TIERS.items():
        tier = PricingTier.objects.get(name=name)
        assert tier.storage_allowance_bytes == values["storage_allowance_bytes"] > 0
        assert tier.retention_days == values["retention_days"] > 0


# --- Deletion by the owner ----------------------------------------------------------------------------


def test_the_owner_deletes_an_upload_and_its_file_another_tenant_gets_not_found(make_user, issue_token, api, delete):
    # given
    token = issue_token(make_user())
    upload_id = _upload(api, token).json()["id"]
    stored = _path(upload_id)
    assert stored.exists()
    stranger = issue_token(make_user(is_staff=True))
    # when: another tenant (staff too) tries, then the owner
    foreign = delete(stranger, upload_id)
    assert BatchUpload.objects.filter(pk=upload_id).exists() and stored.exists()
    deleted = delete(token, upload_id)
    # then
    assert foreign.status_code == 404 and foreign.json()["errors"][0]["code"] == "NOT_FOUND"
    assert deleted.status_code == 204
    assert not BatchUpload.objects.filter(pk=upload_id).exists() and not stored.exists()
    again = delete(token, upload_id)
    assert again.status_code == 404 and again.json()["errors"][0]["code"] == "NOT_FOUND"
    assert delete(token, "not-a-uuid").status_code == 404


def test_deleting_an_upload_removes_its_finished_jobs_and_their_results(
    make_user, issue_token, submit, api, delete, iris_model
):
    token = issue_token(make_user())
    job_id = submit(token, FILE).json()["id"]
    job = BatchJob.objects.get(pk=job_id)
    assert job.status == "succeeded" and BatchResultRow.objects.filter(job=job).count() == 20

    response = delete(token, job.upload_id)

    assert response.status_code == 204
    assert (BatchJob.objects.count(), BatchChunk.objects.count(), BatchResultRow.objects.count()) == (0, 0, 0)
    assert api.get(f"{JOBS}/{job_id}", token).status_code == 404


def test_an_upload_a_queued_job_reads_cannot_be_deleted(
    make_user, issue_token, api, delete, iris_model, django_capture_on_commit_callbacks
):
    token = issue_token(make_user())
    with django_capture_on_commit_callbacks():  # not dispatched: the job stays queued
        job_id = api.post(JOBS, token, {"model": "iris", "file": SimpleUploadedFile("rows.csv", FILE)}).json()["id"]

    response = delete(token, BatchJob.objects.get(pk=job_id).upload_id)

    assert response.status_code == 409 and response.json()["errors"][0]["code"] == "UPLOAD_IN_USE"
    assert BatchJob.objects.filter(pk=job_id, status="queued").exists()


def test_graphql_delete_upload_for_the_owner_not_found_for_another_tenant(
    make_user, issue_token, api, gql, django_capture_on_commit_callbacks
):
    token = issue_token(make_user())
    upload_id = _upload(api, token).json()["id"]
    stored = _path(upload_id)

    _, foreign = gql(DELETE, {"id": upload_id}, token=issue_token(make_user()))
    _, read_only = gql(DELETE, {"id": upload_id}, token=issue_token(make_user(), scope="read"))
    with django_capture_on_commit_callbacks(execute=True):
        _, owner = gql(DELETE, {"id": upload_id}, token=token)

    assert foreign["data"]["deleteUpload"]["deletedId"] is None
    assert [e["code"] for e in foreign["data"]["deleteUpload"]["errors"]] == ["NOT_FOUND"]
    assert read_only["errors"] and read_only["data"]["deleteUpload"] is None
    assert owner["data"]["deleteUpload"] == {"deletedId": upload_id, "errors": []}
    assert not BatchUpload.objects.filter(pk=upload_id).exists() and not stored.exists()


# --- Expiry and retention (the beat task) -------------------------------------------------------------


def _age(upload_id=None, job_id=None, *, days: float):
    moment = timezone.now() - timedelta(days=days)
    if upload_id is not None:
        BatchUpload.objects.filter(pk=upload_id).update(created_at=moment)
    if job_id is not None:
        BatchJob.objects.filter(pk=job_id).update(created_at=moment, finished_at=moment)


def test_an_unused_upload_expires_after_the_time_out_a_used_or_recent_one_stays(
    make_user, issue_token, api, submit, expire, iris_model
):
    # given: an old unused upload, a recent unused one, and an old one a recent job used
    token = issue_token(make_user())
    old_unused = _upload(api, token).json()["id"]
    recent_unused = _upload(api, token).json()["id"]
    used = BatchJob.objects.get(pk=submit(token, FILE).json()["id"]).upload_id
    _age(old_unused, days=settings.BATCH_UNUSED_UPLOAD_TTL_HOURS / 24 + 0.1)
    _age(used, days=settings.BATCH_UNUSED_UPLOAD_TTL_HOURS / 24 + 0.1)
    old_file = _path(old_unused)
    # when: the beat task runs
    report = expire()
    # then
    assert report == {"uploads_removed": 1, "jobs_removed": 0, "bytes_freed": len(FILE)}
    assert {str(pk) for pk in BatchUpload.objects.values_list("pk", flat=True)} == {recent_unused, str(used)}
    assert not old_file.exists()


@pytest.mark.parametrize(("days_ago", "removed"), [(8, True), (6, False)])
def test_jobs_results_and_uploads_past_the_tier_retention_are_removed(
    make_user, issue_token, submit, expire, iris_model, days_ago, removed
):
    # given: a tier keeping batch data 7 days, a finished job `days_ago`
    tier = PricingTier.objects.create(name="week", retention_days=7)
    token = issue_token(make_user(tier=tier))
    job = BatchJob.objects.get(pk=submit(token, FILE).json()["id"])
    _age(job.upload_id, job.pk, days=days_ago)
    stored = _path(job.upload_id)
    # when
    report = expire()
    # then
    left = (BatchJob.objects.count(), BatchResultRow.objects.count(), BatchUpload.objects.count(), stored.exists())
    assert left == ((0, 0, 0, False) if removed else (1, 20, 1, True))
    assert report["jobs_removed"] == int(removed) and report["uploads_removed"] == int(removed)


def test_without_a_retention_nothing_used_is_removed_and_running_jobs_never_are(
    make_user, issue_token, submit, expire, iris_model
):
    forever = PricingTier.objects.create(name="forever", retention_days=None)
    week = PricingTier.objects.create(name="week", retention_days=7)
    kept = BatchJob.objects.get(pk=submit(issue_token(make_user(tier=forever)), FILE).json()["id"])
    running = BatchJob.objects.get(pk=submit(issue_token(make_user(tier=week)), FILE).json()["id"])
    BatchJob.objects.filter(pk=running.pk).update(status="running")
    for job in (kept, running):
        _age(job.upload_id, job.pk, days=400)

    report = expire()

    assert report == {"uploads_removed": 0, "jobs_removed": 0, "bytes_freed": 0}
    assert BatchJob.objects.count() == 2 and BatchResultRow.objects.count() == 40


def test_the_expiry_task_is_scheduled():
    assert any(e["task"] == "batch.tasks.expire_batch_storage" for e in settings.CELERY_BEAT_SCHEDULE.values())
