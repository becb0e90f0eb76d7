"""Text nothing can store (a NUL character, an unpaired surrogate) anywhere in a request is refused at the edge
with INVALID_CHARACTER: never an internal error, nothing stored, nothing billed. Paired surrogates (emoji) are
ordinary text."""

import json

import pytest

from tests.conftest import BANK_CLIENT, IRIS_SETOSA

PREDICT = (
    "mutation($n: String!, $f: GenericScalar!, $k: String) { createPrediction(input: "
    "{modelName: $n, features: $f, idempotencyKey: $k}) { prediction { id } errors { code field } } }"
)
NUL, SURROGATE = "\x00", "\ud800"


def _codes(body) -> list:
    return [error.get("extensions", {}).get("code") for error in body.get("errors") or []]


@pytest.fixture
def token(make_user, issue_token, bank_model, iris_model):
    return issue_token(make_user("writer"))


@pytest.mark.parametrize(
    "variables",
    [
        {"n": "iris" + NUL, "f": IRIS_SETOSA},
        {"n": "iris", "f": IRIS_SETOSA, "k": "order" + NUL},
        {"n": "iris", "f": IRIS_SETOSA, "k": "order" + SURROGATE},
        {"n": "bank-marketing", "f": {**BANK_CLIENT, "job": "a" + NUL + "b"}},
        {"n": "bank-marketing", "f": {**BANK_CLIENT, "job": SURROGATE}},
        {"n": "bank-marketing", "f": {**BANK_CLIENT, SURROGATE: 1}},
    ],
    ids=[
        "model-name-nul",
        "idempotency-key-nul",
        "idempotency-key-surrogate",
        "feature-nul",
        "feature-surrogate",
        "key",
    ],
)
def test_graphql_variables_with_unstorable_text_are_refused(gql, token, stored_counts, variables):
    before = stored_counts()
    status, body = gql(PREDICT, variables, token=token)
    assert (status, _codes(body)) == (400, ["INVALID_CHARACTER"])
    assert "NUL" in body["errors"][0]["message"]
    assert stored_counts() == before


def test_a_nul_written_in_the_document_itself_is_refused(gql, token, stored_counts):
    # GraphQL's lexer accepts "\u0000" in a string literal (it refuses unpaired surrogate escapes itself)
    query = PREDICT.replace("modelName: $n", 'modelName: "iris\\u0000"').replace("$n: String!, ", "")
    before = stored_counts()
    status, body = gql(query, {"f": IRIS_SETOSA}, token=token)
    assert (status, _codes(body)) == (400, ["INVALID_CHARACTER"])
    assert stored_counts() == before


def test_graphql_over_get_is_checked_too(client, token):
    query = "query($n: String!) { model(name: $n) { name } }"
    response = client.get(
        "/graphql/",
        {"query": query, "variables": json.dumps({"n": "iris" + NUL})},
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_ACCEPT="application/json",
    )
    assert (response.status_code, _codes(response.json())) == (400, ["INVALID_CHARACTER"])


def test_rest_bodies_with_unstorable_text_are_refused(rest, token, stored_counts):
    before = stored_counts()
    response = rest(
        "post", "/api/v1/models/bank-marketing/predict", {"instances": [{**BANK_CLIENT, "job": NUL}]}, token=token
    )
    assert response.status_code == 400
    assert [e["code"] for e in response.json()["errors"]] == ["INVALID_CHARACTER"]
    assert stored_counts() == before


def test_emoji_and_other_text_are_stored_as_sent(gql, token):
    job = "☃ 😀 ünïcødé \\u0000 as six characters"
    status, body = gql(PREDICT, {"n": "bank-marketing", "f": {**BANK_CLIENT, "job": job}, "k": "emoji-😀"}, token=token)
    assert status == 200 and body["data"]["createPrediction"]["errors"] == []
    from predictions.models import Prediction

    assert Prediction.objects.get(pk=body["data"]["createPrediction"]["prediction"]["id"]).input["job"] == job
