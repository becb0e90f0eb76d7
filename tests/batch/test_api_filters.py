"""GET /api/v1/batch-jobs?status= is GraphQL's batchJobs(status:): the same jobs; an unknown status is a 400."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.batch.conftest import iris_csv

JOBS = "/api/v1/batch-jobs"
QUERY = "query($status: String) { batchJobs(status: $status, first: 50) { edges { node { id status } } } }"


@pytest.mark.parametrize("status", ["succeeded", "queued", "cancelled", None])
def test_status_filter_gives_the_same_jobs_through_rest_and_graphql(
    make_user, issue_token, api, gql, submit, iris_model, django_capture_on_commit_callbacks, status
):
    # given: a job that ran, one still queued (its dispatch never runs) and one cancelled
    token = issue_token(make_user())
    succeeded = submit(token, iris_csv(3)).json()["id"]
    with django_capture_on_commit_callbacks():
        queued = api.post(JOBS, token, {"model": "iris", "file": SimpleUploadedFile("q.csv", iris_csv(3))}).json()["id"]
        cancelled = api.post(JOBS, token, {"model": "iris", "file": SimpleUploadedFile("c.csv", iris_csv(3))}).json()[
            "id"
        ]
    assert api.post(f"{JOBS}/{cancelled}/cancel", token).status_code == 200
    # when
    by_rest = api.get(JOBS + (f"?status={status}" if status else ""), token)
    _, body = gql(QUERY, {"status": status}, token=token)
    # then
    assert by_rest.status_code == 200, by_rest.content
    rest_ids = [job["id"] for job in by_rest.json()["results"]]
    graphql_ids = [edge["node"]["id"] for edge in body["data"]["batchJobs"]["edges"]]
    expected = {
        "succeeded": [succeeded],
        "queued": [queued],
        "cancelled": [cancelled],
        None: [cancelled, queued, succeeded],
    }
    assert rest_ids == graphql_ids == expected[status]
