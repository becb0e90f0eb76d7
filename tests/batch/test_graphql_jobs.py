import pytest

from batch.models import BatchJob, BatchUpload
from billing.models import PricingTier, UsageRecord
from tests.batch.conftest import iris_csv, iris_jsonl, results_jsonl

JOB_FIELDS = """
  id status filename format rowsTotal rowsDone rowsFailed progress resultsUrl
  model { name version } error { field code message } createdAt startedAt finishedAt
"""
CREATE = f"""
mutation Create($input: CreateBatchJobInput!) {{
  createBatchJob(input: $input) {{ batchJob {{ {JOB_FIELDS} }} errors {{ field code message }} }}
}}
"""
GET = f"query Get($id: ID!) {{ batchJob(id: $id) {{ {JOB_FIELDS} }} }}"
LIST = """
query List($first: Int, $after: String) {
  batchJobs(first: $first, after: $after) {
    edges { cursor node { id status rowsTotal rowsDone rowsFailed } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
CANCEL = (
    "mutation Cancel($id: ID!) { cancelBatchJob(id: $id) { batchJob { id status } errors { field code message } } }"
)
RESUME = (
    "mutation Resume($id: ID!) { resumeBatchJob(id: $id) { batchJob { id status } errors { field code message } } }"
)


@pytest.fixture
def gql_run(gql, django_capture_on_commit_callbacks):
    """A GraphQL call whose after-commit dispatches run (jobs run in-process without a broker)."""

    def run(query, variables=None, *, token):
        with django_capture_on_commit_callbacks(execute=True):
            return gql(query, variables, token=token)

    return run


def test_create_batch_job_with_inline_csv_content(make_user, issue_token, gql_run, gql, iris_model):
    token = issue_token(make_user())

    status, body = gql_run(
        CREATE, {"input": {"modelName": "iris", "content": iris_csv(6).decode(), "format": "csv"}}, token=token
    )

    assert status == 200
    payload = body["data"]["createBatchJob"]
    assert payload["errors"] == []
    job_id = payload["batchJob"]["id"]
    _, body = gql(GET, {"id": job_id}, token=token)
    job = body["data"]["batchJob"]
    assert (job["status"], job["rowsTotal"], job["rowsDone"], job["rowsFailed"]) == ("succeeded", 6, 6, 0)
    assert (job["format"], job["progress"], job["error"]) == ("csv", 1.0, None)
    assert job["model"] == {"name": "iris", "version": 1}
    assert job["resultsUrl"] == f"/api/v1/batch-jobs/{job_id}/results"
    assert UsageRecord.objects.filter(source="batch").count() == 1


def test_create_batch_job_from_a_rest_upload(make_user, issue_token, api, gql_run, gql, iris_model):
    from django.core.files.uploadedfile import SimpleUploadedFile

    token = issue_token(make_user())
    upload = api.post("/api/v1/batch-uploads", token, {"file": SimpleUploadedFile("rows.jsonl", iris_jsonl(9))}).json()

    _, body = gql_run(CREATE, {"input": {"modelName": "iris", "uploadId": upload["id"]}}, token=token)

    _, body = gql(GET, {"id": body["data"]["createBatchJob"]["batchJob"]["id"]}, token=token)
    job = body["data"]["batchJob"]
    assert (job["status"], job["rowsDone"], job["format"], job["filename"]) == ("succeeded", 9, "jsonl", "rows.jsonl")
    records = results_jsonl(api.get(f"{job['resultsUrl']}?format=jsonl", token))
    assert [r["row"] for r in records] == list(range(1, 10))


@pytest.mark.parametrize(
    ("input_", "code", "field"),
    [
        ({"modelName": "iris"}, "INVALID_INPUT", "file"),
        (
            {"modelName": "iris", "content": "x", "uploadId": "00000000-0000-0000-0000-000000000000"},
            "INVALID_INPUT",
            "file",
        ),
        ({"modelName": "iris", "content": "sepal_length\n1\n"}, "INVALID_INPUT", "format"),
        ({"modelName": "iris", "uploadId": "00000000-0000-0000-0000-000000000000"}, "NOT_FOUND", "uploadId"),
        ({"modelName": "nope", "content": "{}\n", "format": "jsonl"}, "NOT_FOUND", "modelName"),
        ({"modelName": "iris", "content": "a\n1\n", "format": "csv"}, "INVALID_HEADER", "file"),
        ({"modelName": "iris", "content": "a\n", "format": "xlsx"}, "UNSUPPORTED_FORMAT", "format"),
    ],
)
def test_create_batch_job_errors_are_data(make_user, issue_token, gql_run, iris_model, input_, code, field):
    token = issue_token(make_user())

    status, body = gql_run(CREATE, {"input": input_}, token=token)

    assert status == 200 and "errors" not in body
    payload = body["data"]["createBatchJob"]
    assert payload["batchJob"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert (BatchJob.objects.count(), BatchUpload.objects.count()) == (0, 0)


def test_create_batch_job_over_quota_is_refused(make_user, issue_token, gql_run, iris_model):
    token = issue_token(make_user(tier=PricingTier.objects.create(name="capped", monthly_quota=3)))

    _, body = gql_run(
        CREATE, {"input": {"modelName": "iris", "content": iris_csv(4).decode(), "format": "csv"}}, token=token
    )

    assert [e["code"] for e in body["data"]["createBatchJob"]["errors"]] == ["QUOTA_EXCEEDED"]
    assert BatchJob.objects.count() == 0


def test_batch_jobs_connection_pages_newest_first(make_user, issue_token, gql_run, gql, iris_model):
    token = issue_token(make_user())
    ids = []
    for _ in range(3):
        _, body = gql_run(
            CREATE, {"input": {"modelName": "iris", "content": iris_csv(2).decode(), "format": "csv"}}, token=token
        )
        ids.append(body["data"]["createBatchJob"]["batchJob"]["id"])

    _, first = gql(LIST, {"first": 2}, token=token)
    page = first["data"]["batchJobs"]
    _, second = gql(LIST, {"first": 2, "after": page["pageInfo"]["endCursor"]}, token=token)

    seen = [e["node"]["id"] for e in page["edges"] + second["data"]["batchJobs"]["edges"]]
    assert seen == ids[::-1]
    assert page["pageInfo"]["hasNextPage"] is True
    assert second["data"]["batchJobs"]["pageInfo"]["hasNextPage"] is False


def test_cancel_and_resume_batch_job(make_user, issue_token, gql, iris_model, django_capture_on_commit_callbacks):
    token = issue_token(make_user())
    with django_capture_on_commit_callbacks() as dispatches:  # submitted, not yet run
        _, body = gql(
            CREATE, {"input": {"modelName": "iris", "content": iris_csv(3).decode(), "format": "csv"}}, token=token
        )
    job_id = body["data"]["createBatchJob"]["batchJob"]["id"]

    _, cancelled = gql(CANCEL, {"id": job_id}, token=token)
    for dispatch in dispatches:
        dispatch()
    _, resumed = gql(RESUME, {"id": job_id}, token=token)

    assert cancelled["data"]["cancelBatchJob"] == {"batchJob": {"id": job_id, "status": "cancelled"}, "errors": []}
    assert resumed["data"]["resumeBatchJob"]["batchJob"] is None
    assert [e["code"] for e in resumed["data"]["resumeBatchJob"]["errors"]] == ["INVALID_TRANSITION"]
    assert BatchJob.objects.get(pk=job_id).rows_done == 0


def test_another_user_gets_null_and_not_found(make_user, issue_token, gql_run, gql, iris_model):
    owner = issue_token(make_user())
    _, body = gql_run(
        CREATE, {"input": {"modelName": "iris", "content": iris_csv(2).decode(), "format": "csv"}}, token=owner
    )
    job_id = body["data"]["createBatchJob"]["batchJob"]["id"]
    other = issue_token(make_user(is_staff=True))

    _, got = gql(GET, {"id": job_id}, token=other)
    _, listed = gql(LIST, {}, token=other)
    _, cancelled = gql(CANCEL, {"id": job_id}, token=other)
    _, resumed = gql(RESUME, {"id": job_id}, token=other)

    assert got["data"]["batchJob"] is None
    assert listed["data"]["batchJobs"]["edges"] == []
    for payload in (cancelled["data"]["cancelBatchJob"], resumed["data"]["resumeBatchJob"]):
        assert payload["batchJob"] is None
        assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"]
    assert BatchJob.objects.get(pk=job_id).status == "succeeded"


def test_garbage_id_is_null_not_a_crash(make_user, issue_token, gql):
    _, body = gql(GET, {"id": "not-a-uuid"}, token=issue_token(make_user()))

    assert body["data"]["batchJob"] is None and "errors" not in body


def test_scopes_are_top_level_errors(make_user, issue_token, gql, iris_model):
    user = make_user()
    _, no_auth = gql(LIST, {})
    _, read_only = gql(
        CREATE, {"input": {"modelName": "iris", "content": "x", "format": "csv"}}, token=issue_token(user, scope="read")
    )

    assert no_auth["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert read_only["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert BatchUpload.objects.count() == 0


def test_batch_jobs_list_costs_the_same_queries_for_one_or_many(make_user, issue_token, gql_run, gql, iris_model):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    token = issue_token(make_user())
    create = {"input": {"modelName": "iris", "content": iris_csv(2).decode(), "format": "csv"}}
    gql_run(CREATE, create, token=token)
    query = "{ batchJobs(first: 10) { edges { node { id filename format model { name } error { code } } } } }"
    with CaptureQueriesContext(connection) as one:
        gql(query, token=token)
    for _ in range(3):
        gql_run(CREATE, create, token=token)
    with CaptureQueriesContext(connection) as four:
        _, body = gql(query, token=token)

    assert len(body["data"]["batchJobs"]["edges"]) == 4
    assert len(four) == len(one)


ENUM_CREATE = """
mutation Create($input: CreateBatchJobInput!) {
  createBatchJob(input: $input) {
    __typename batchJob { id status fileFormat format error { code } } errors { __typename field code }
  }
}
"""


def test_file_format_is_an_enum_and_status_answers_the_stored_value(make_user, issue_token, gql_run, gql, iris_model):
    # given
    token = issue_token(make_user())
    # when: the format given as the enum value
    _, body = gql_run(
        ENUM_CREATE,
        {"input": {"modelName": "iris", "content": iris_jsonl(3).decode(), "fileFormat": "jsonl"}},
        token=token,
    )
    # then
    payload = body["data"]["createBatchJob"]
    assert payload["__typename"] == "CreateBatchJobPayload" and payload["errors"] == []
    _, listed = gql(
        "{ batchJobs(filter: {status: succeeded}) { totalCount edges { node { id fileFormat } } } }", token=token
    )
    assert listed["data"]["batchJobs"] == {
        "totalCount": 1,
        "edges": [{"node": {"id": payload["batchJob"]["id"], "fileFormat": "jsonl"}}],
    }


def test_file_format_and_the_deprecated_format_together_are_a_batch_error(make_user, issue_token, gql_run, iris_model):
    token = issue_token(make_user())
    variables = {
        "input": {"modelName": "iris", "content": iris_jsonl(3).decode(), "fileFormat": "jsonl", "format": "jsonl"}
    }
    _, body = gql_run(ENUM_CREATE, variables, token=token)
    payload = body["data"]["createBatchJob"]
    assert payload["batchJob"] is None
    assert payload["errors"] == [{"__typename": "BatchError", "field": "fileFormat", "code": "INVALID_INPUT"}]
    assert BatchJob.objects.count() == 0
