"""A REST cursor belongs to the list (path, ordering, filters) it was handed out for: anywhere else it is a 400
INVALID_CURSOR, never a page of the wrong list and never silently the first page."""

import base64
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.api.conftest import PREDICT_IRIS, error_codes
from tests.conftest import IRIS_SETOSA


def _cursor_of(url: str) -> str:
    return parse_qs(urlparse(url).query)["cursor"][0]


@pytest.fixture
def token_with_rows(make_user, issue_token, rest, iris_model, django_capture_on_commit_callbacks):
    """A user with three predictions and three batch jobs (both lists ordered newest first by created_at)."""
    token = issue_token(make_user())
    for _ in range(3):
        assert rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token).status_code == 201
    for index in range(3):
        with django_capture_on_commit_callbacks():  # queued, never run: enough to be listed
            upload = SimpleUploadedFile(
                f"{index}.csv", b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n"
            )
            response = rest("post", "/api/v1/batch-jobs", token=token, data={"model": "iris", "file": upload})
        assert response.status_code == 201, response.content
    return token


def _next_cursor(rest, token, path: str) -> str:
    response = rest("get", path, token=token)
    assert response.status_code == 200, response.content
    assert response.json()["next"], "expected a second page"
    return _cursor_of(response.json()["next"])


def test_the_handed_out_cursor_pages_on_and_page_size_may_change(rest, token_with_rows):
    # given
    cursor = _next_cursor(rest, token_with_rows, "/api/v1/predictions?page_size=1")
    # when
    response = rest("get", "/api/v1/predictions", token=token_with_rows, QUERY_STRING=f"page_size=2&cursor={cursor}")
    # then
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == 2


@pytest.mark.parametrize(
    ("handed_out_by", "used_on"),
    [
        ("/api/v1/predictions?page_size=1", "/api/v1/batch-jobs?page_size=1"),  # same ordering, another list
        ("/api/v1/batch-jobs?page_size=1", "/api/v1/predictions?page_size=1"),
        ("/api/v1/batch-jobs?page_size=1", "/api/v1/batch-jobs?page_size=1&status=queued"),  # other filters
    ],
    ids=["predictions-on-jobs", "jobs-on-predictions", "other-filter"],
)
def test_a_cursor_from_another_list_is_invalid(rest, token_with_rows, handed_out_by, used_on):
    # given: a well-formed cursor whose position would be a valid created_at for the other list too
    cursor = _next_cursor(rest, token_with_rows, handed_out_by)
    # when
    response = rest("get", f"{used_on}&cursor={cursor}", token=token_with_rows)
    # then
    assert response.status_code == 400, response.content
    assert error_codes(response) == [("cursor", "INVALID_CURSOR")]


@pytest.mark.parametrize("tokens", ["", "o=0", "r=1", "o=1"], ids=["empty", "offset-0", "reverse", "offset-1"])
def test_a_well_formed_cursor_naming_no_list_is_not_the_first_page(rest, token_with_rows, tokens):
    # given: a cursor as DRF itself would decode it to the start of the list
    cursor = base64.b64encode(tokens.encode()).decode()
    # when
    response = rest("get", "/api/v1/predictions", token=token_with_rows, QUERY_STRING=f"cursor={cursor}")
    # then
    assert response.status_code == 400, response.content
    assert error_codes(response) == [("cursor", "INVALID_CURSOR")]
