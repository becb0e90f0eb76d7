"""Forged cursors: anything that does not decode to the values of the ordering fields, with their types, is
INVALID_CURSOR (REST: a 400 `{"errors": [{field, code, message}]}`; GraphQL: an `errors` entry), never a 500; and
the cursors the server hands out still page through every row once."""

import base64
import json
from urllib.parse import urlencode

import pytest

from tests.conftest import IRIS_SETOSA


def _b64(raw: str | bytes) -> str:
    return base64.urlsafe_b64encode(raw.encode() if isinstance(raw, str) else raw).decode()


def _json_cursor(value) -> str:
    return _b64(json.dumps(value))


# --- GraphQL ---------------------------------------------------------------------------------------

# Each connection: the values of its ordering fields, and values of the right JSON types that its fields cannot hold.
GRAPHQL_CONNECTIONS = {
    "models": (["iris", 1], ["not a slug!", 1]),  # name, -version
    "predictions": (
        ["2024-01-01 00:00:00+00:00", "7f1d6c1e-3b7a-4a52-9d1a-1c5e8f0b9a11"],
        ["not-a-date", "not-a-uuid"],
    ),
    "invoices": (["2024-01-01", 1], ["2024-13-01", 1]),  # -period, -id
    "batchJobs": (
        ["2024-01-01 00:00:00+00:00", "7f1d6c1e-3b7a-4a52-9d1a-1c5e8f0b9a11"],
        ["2024-01-01 00:00:00+00:00", "x"],
    ),
}


def _forged_graphql_cursors(valid: list, wrong_values: list) -> dict[str, str]:
    first, second = valid
    text_first = isinstance(first, str)
    return {
        "not-base64": "%%%",
        "base64-not-json": _b64("not json"),
        "base64-not-utf8": _b64(b"\xff\xfe\xfd"),
        "json-object": _json_cursor({"a": 1}),
        "json-string": _json_cursor("x"),
        "too-short": _json_cursor([first]),
        "too-long": _json_cursor([first, second, second]),
        "nulls": _json_cursor([None, None]),
        "objects": _json_cursor([{"a": 1}, [1]]),
        "booleans": _json_cursor([True, False]),
        "floats": _json_cursor([1.5, 2.5]),
        "swapped-types": _json_cursor([second, first]),
        "wrong-values": _json_cursor(wrong_values),
        "int-as-text": _json_cursor([first, str(second)] if isinstance(second, int) else [first, 1]),
        "huge-int": _json_cursor([first, 10**30] if isinstance(second, int) else [10**30, second]),
        "nul-byte": _json_cursor([first + "\x00" if text_first else first, second]),
        "naive-datetime": _json_cursor(["2024-01-01 00:00:00", second]),
        "utc-overflow": _json_cursor(["9999-12-31T23:59:59-12:00", second]),
        "nested-5000-deep": _b64("[" * 5000 + "]" * 5000),
        "very-long": _json_cursor([first, "x" * 5000]),
    }


GRAPHQL_CASES = [
    pytest.param(field, name, cursor, id=f"{field}-{name}")
    for field, (valid, wrong_values) in GRAPHQL_CONNECTIONS.items()
    for name, cursor in _forged_graphql_cursors(valid, wrong_values).items()
]


@pytest.mark.parametrize(("field", "name", "cursor"), GRAPHQL_CASES)
def test_forged_graphql_cursor_is_invalid_cursor(client, make_user, issue_token, iris_model, field, name, cursor):
    # given
    token = issue_token(make_user())
    client.raise_request_exception = False
    # when
    response = client.post(
        "/graphql/",
        json.dumps(
            {"query": "query($c: String) { " + field + "(after: $c) { edges { cursor } } }", "variables": {"c": cursor}}
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    # then
    assert response.status_code == 200
    body = response.json()
    assert [(e.get("extensions") or {}).get("code") for e in body["errors"]] == ["INVALID_CURSOR"]
    assert body["errors"][0]["path"] == [field]
    # nothing answered: `data` is null, or (a nullable root field such as `invoices`) the field is
    assert body["data"] is None or body["data"] == {field: None}


def test_graphql_cursors_handed_out_page_through_every_row_once(make_user, issue_token, gql, register):
    # given: five model versions
    from tests.conftest import iris_artifact

    for _ in range(5):
        register("iris", iris_artifact())
    token = issue_token(make_user(), scope="read")
    query = (
        "query($after: String) { models(first: 2, after: $after) { edges { node { version } } "
        "pageInfo { endCursor hasNextPage } } }"
    )
    # when
    versions, after, pages = [], None, 0
    while pages < 10:
        status, body = gql(query, {"after": after}, token=token)
        assert status == 200 and "errors" not in body, body
        connection = body["data"]["models"]
        versions += [edge["node"]["version"] for edge in connection["edges"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    # then
    assert versions == [5, 4, 3, 2, 1]
    assert pages == 3


# --- REST ------------------------------------------------------------------------------------------

REST_LISTS = ["/api/v1/predictions", "/api/v1/models", "/api/v1/invoices", "/api/v1/batch-jobs"]


def _drf_cursor(**tokens) -> str:
    return _b64(urlencode(tokens))


FORGED_REST_CURSORS = {
    "not-base64": "%%%",
    "not-ascii": _b64("p=\u00e9t\u00e9".encode()),
    "not-a-date": _drf_cursor(p="not-a-date"),
    "bad-month": _drf_cursor(p="2024-13-01"),
    "naive-datetime": _drf_cursor(p="2024-01-01 00:00:00"),
    "utc-overflow": _drf_cursor(p="9999-12-31T23:59:59-12:00"),
    "nul-byte": _drf_cursor(p="2024-01-01\x00"),
    "empty-position": _drf_cursor(p=""),
    "huge-int": _drf_cursor(p="9" * 30),
    "negative-offset": _drf_cursor(o="-1"),
    "text-offset": _drf_cursor(o="abc"),
    "text-reverse": _drf_cursor(r="x"),
    "very-long": _drf_cursor(p="x" * 3000),
    "uuid-garbage": _drf_cursor(p="not-a-uuid"),
    "float": _drf_cursor(p="1e400"),
    "padding-only": "====",
    "unknown-token": _drf_cursor(x="1"),
    "repeated-position": _b64("p=1&p=2"),
    "not-a-query-string": _b64("garbage"),
}


@pytest.mark.parametrize("path", REST_LISTS)
@pytest.mark.parametrize("name", list(FORGED_REST_CURSORS))
def test_forged_rest_cursor_is_400_invalid_cursor(client, make_user, issue_token, iris_model, path, name):
    # given: a position must be a value of the list's first ordering field (a datetime, an id or a date)
    cursor = FORGED_REST_CURSORS[name]
    token = issue_token(make_user())
    client.raise_request_exception = False
    # when
    response = client.get(path, {"cursor": cursor}, HTTP_AUTHORIZATION=f"Bearer {token}")
    # then
    assert response.status_code == 400, (path, name, response.content[:300])
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("cursor", "INVALID_CURSOR")]


def test_rest_cursors_handed_out_page_through_every_row_once(client, make_user, issue_token, iris_model):
    # given: five predictions
    headers = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(make_user())}"}
    for _ in range(5):
        created = client.post(
            "/api/v1/models/iris/predict",
            json.dumps({"features": IRIS_SETOSA}),
            content_type="application/json",
            **headers,
        )
        assert created.status_code in (200, 201), created.content
    # when
    ids, url, pages = [], "/api/v1/predictions?page_size=2", 0
    while url and pages < 10:
        response = client.get(url, **headers)
        assert response.status_code == 200, response.content
        ids += [p["id"] for p in response.json()["results"]]
        url = response.json()["next"]
        pages += 1
    # then
    assert len(ids) == len(set(ids)) == 5
    assert pages == 3
