"""The schema's conventions through the real stack: enums keep the wire values, typed errors, Money beside the
deprecated Decimals, exact totalCount only when asked, backward pagination, filter inputs, Payload names, and a
missing scope that nulls only its own field."""

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import PricingTier
from billing.services.invoices import invoice_finalize, invoice_generate
from tests.conftest import IRIS_SETOSA

CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) {
    __typename
    predictions { id }
    cost { amount currency amountMoney { amount currency } }
    errors { __typename field code message }
  }
}
"""
PAGE = """
query Page($first: Int, $after: String, $last: Int, $before: String, $filter: PredictionFilterInput) {
  predictions(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


def _codes(body):
    return [(e.get("extensions") or {}).get("code") for e in body.get("errors", [])]


def _predict(gql, token, count):
    _, body = gql(CREATE, {"input": {"modelName": "iris", "instances": [IRIS_SETOSA] * count}}, token=token)
    payload = body["data"]["createPrediction"]
    assert payload["errors"] == [], payload
    return [p["id"] for p in payload["predictions"]]


def test_enum_fields_answer_the_stored_values_and_filter_by_enum(gql, issue_token, staff_user, register):
    # given: a production and a staging version, seen by staff
    from tests.conftest import iris_artifact

    register("reg", iris_artifact())
    register("reg", iris_artifact(), stage="staging", force=True)
    token = issue_token(staff_user)
    query = (
        "query($f: ModelFilterInput) { models(filter: $f) { totalCount edges { node { stage task artifactFormat } } } }"
    )
    # when
    _, staging = gql(query, {"f": {"name": "reg", "stage": "staging"}}, token=token)
    _, everything = gql(query, {"f": {"name": "reg"}}, token=token)
    # then
    assert staging["data"]["models"]["edges"] == [
        {"node": {"stage": "staging", "task": "classification", "artifactFormat": "joblib"}}
    ]
    assert staging["data"]["models"]["totalCount"] == 1
    assert [e["node"]["stage"] for e in everything["data"]["models"]["edges"]] == ["staging", "production"]


def test_a_value_outside_the_enum_is_refused_by_validation(gql, issue_token, make_user, iris_model):
    _, body = gql("{ models(filter: {stage: PRODUCTION}) { totalCount } }", token=issue_token(make_user()))
    assert body.get("data") is None and len(body["errors"]) == 1


def test_a_loose_argument_and_the_same_filter_together_are_refused(gql, issue_token, make_user, iris_model):
    _, body = gql(
        '{ models(stage: "production", filter: {stage: production}) { totalCount } }', token=issue_token(make_user())
    )
    assert _codes(body) == ["BAD_USER_INPUT"]


def test_payload_errors_are_typed_with_the_domains_error_type(gql, issue_token, make_user, iris_model):
    # given
    token = issue_token(make_user())
    # when: a missing feature
    _, body = gql(CREATE, {"input": {"modelName": "iris", "features": {"sepal_length": 5.1}}}, token=token)
    # then
    payload = body["data"]["createPrediction"]
    assert payload["__typename"] == "CreatePredictionPayload"
    assert {e["__typename"] for e in payload["errors"]} == {"PredictionError"}
    assert {e["code"] for e in payload["errors"]} == {"REQUIRED"}
    assert len(payload["errors"]) == 3


def test_batch_errors_are_batch_errors(gql, issue_token, make_user, iris_model):
    query = "mutation($id: ID!) { cancelBatchJob(id: $id) { __typename errors { __typename code } } }"
    _, body = gql(query, {"id": "00000000-0000-0000-0000-000000000000"}, token=issue_token(make_user()))
    assert body["data"]["cancelBatchJob"] == {
        "__typename": "CancelBatchJobPayload",
        "errors": [{"__typename": "BatchError", "code": "NOT_FOUND"}],
    }


def test_cost_is_money_and_the_deprecated_decimal_agrees(gql, issue_token, make_user, iris_model):
    _, body = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=issue_token(make_user()))
    cost = body["data"]["createPrediction"]["cost"]
    assert cost["amountMoney"] == {"amount": cost["amount"], "currency": cost["currency"]}
    assert cost["currency"] == "USD"


@pytest.fixture
def october_invoice(make_user, record_usage):
    alice = make_user("alice", tier=PricingTier.objects.get(name="pro"))
    record_usage(alice, at=datetime(2026, 10, 7, tzinfo=UTC), predictions=10, cpu_seconds=3.0, stored_bytes=0)
    invoice, _ = invoice_generate(user=alice, period=date(2026, 10, 1))
    return alice, invoice_finalize(invoice=invoice)


def test_invoice_money_fields_and_a_missing_payer_url_is_null(gql, issue_token, october_invoice):
    # given
    alice, invoice = october_invoice
    query = (
        "{ invoices(filter: {status: open}) { totalCount edges { node {\n"
        "      status total totalMoney { amount currency } payerUrl "
        "lines { kind amount amountMoney { amount currency } unitPriceMoney { currency } }\n"
        "    } } } }"
    )
    # when
    _, body = gql(query, token=issue_token(alice))
    # then
    assert "errors" not in body, body
    connection_ = body["data"]["invoices"]
    node = connection_["edges"][0]["node"]
    assert connection_["totalCount"] == 1
    assert (node["status"], node["payerUrl"]) == ("open", None)
    assert node["totalMoney"] == {"amount": node["total"], "currency": invoice.currency}
    assert node["total"] == format(invoice.total, "f")
    assert {line["kind"] for line in node["lines"]} >= {"subscription"}
    for line in node["lines"]:
        assert line["amountMoney"] == {"amount": line["amount"], "currency": invoice.currency}
        assert line["unitPriceMoney"]["currency"] == invoice.currency


def test_a_read_token_gets_its_data_beside_null_usage_and_invoices(gql, issue_token, make_user):
    # given: a token without the billing scope
    token = issue_token(make_user("reader"), scope="read")
    # when
    status, body = gql("{ me { username usage { predictions } } invoices { totalCount } }", token=token)
    # then
    assert status == 200
    assert body["data"] == {"me": {"username": "reader", "usage": None}, "invoices": None}
    assert sorted(_codes(body)) == ["FORBIDDEN", "FORBIDDEN"]
    assert sorted(e["path"] for e in body["errors"]) == [["invoices"], ["me", "usage"]]


def test_total_count_is_exact_and_only_counted_when_selected(gql, issue_token, make_user, iris_model):
    # given: five predictions of mine and two of someone else's
    token = issue_token(make_user("me"))
    _predict(gql, token, 5)
    _predict(gql, issue_token(make_user("other")), 2)
    without = "{ predictions(first: 2) { edges { node { id } } } }"
    # when
    with CaptureQueriesContext(connection) as plain:
        gql(without, token=token)
    with CaptureQueriesContext(connection) as counted:
        _, body = gql(PAGE, {"first": 2}, token=token)
    # then
    assert body["data"]["predictions"]["totalCount"] == 5
    assert len(body["data"]["predictions"]["edges"]) == 2
    count_queries = [q["sql"] for q in counted.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(count_queries) == 1 and len(counted.captured_queries) == len(plain.captured_queries) + 1
    assert not [q for q in plain.captured_queries if "COUNT(" in q["sql"].upper()]


def test_backward_pages_walk_every_row_once_in_order(gql, issue_token, make_user, iris_model):
    # given: seven predictions, newest first in the connection
    token = issue_token(make_user())
    _predict(gql, token, 7)
    _, forward = gql(PAGE, {"first": 100}, token=token)
    newest_first = [e["node"]["id"] for e in forward["data"]["predictions"]["edges"]]
    # when: pages of three from the end
    pages, before = [], None
    while True:
        _, body = gql(PAGE, {"last": 3, "before": before}, token=token)
        connection_ = body["data"]["predictions"]
        pages.append([e["node"]["id"] for e in connection_["edges"]])
        if not connection_["pageInfo"]["hasPreviousPage"]:
            break
        before = connection_["pageInfo"]["startCursor"]
        assert connection_["pageInfo"]["hasNextPage"] is (len(pages) > 1)
    # then
    assert pages == [newest_first[4:], newest_first[1:4], newest_first[:1]]
    assert connection_["totalCount"] == 7


def test_after_and_before_together_give_the_rows_between(gql, issue_token, make_user, iris_model):
    token = issue_token(make_user())
    _predict(gql, token, 5)
    _, forward = gql(PAGE, {"first": 5}, token=token)
    edges = forward["data"]["predictions"]["edges"]
    _, between = gql(PAGE, {"after": edges[0]["cursor"], "before": edges[4]["cursor"]}, token=token)
    assert [e["node"]["id"] for e in between["data"]["predictions"]["edges"]] == [e["node"]["id"] for e in edges[1:4]]


def test_first_and_last_together_are_a_user_error(gql, issue_token, make_user, iris_model):
    _, body = gql(PAGE, {"first": 1, "last": 1}, token=issue_token(make_user()))
    assert _codes(body) == ["BAD_USER_INPUT"]


def test_a_forged_before_cursor_is_invalid_cursor(gql, issue_token, make_user, iris_model):
    _, body = gql(PAGE, {"last": 1, "before": "WzEsIDIsIDNd"}, token=issue_token(make_user()))
    assert _codes(body) == ["INVALID_CURSOR"]


def test_prediction_filter_input_matches_the_deprecated_arguments(gql, issue_token, make_user, iris_model):
    # given
    token = issue_token(make_user())
    ids = _predict(gql, token, 3)
    # when
    _, by_filter = gql(PAGE, {"filter": {"model": str(iris_model.pk)}}, token=token)
    _, by_argument = gql(
        "query($m: ID) { predictions(model: $m) { totalCount } }", {"m": str(iris_model.pk)}, token=token
    )
    _, unknown_model = gql(PAGE, {"filter": {"model": "999999"}}, token=token)
    # then
    assert sorted(e["node"]["id"] for e in by_filter["data"]["predictions"]["edges"]) == sorted(ids)
    assert by_filter["data"]["predictions"]["totalCount"] == by_argument["data"]["predictions"]["totalCount"] == 3
    assert unknown_model["data"]["predictions"]["totalCount"] == 0


def test_ids_are_ids_and_old_id_documents_still_validate(gql, issue_token, make_user, iris_model):
    token = issue_token(make_user())
    [prediction_id] = _predict(gql, token, 1)
    _, body = gql("query($id: ID!) { prediction(id: $id) { id model { id } } }", {"id": prediction_id}, token=token)
    assert body["data"]["prediction"] == {"id": prediction_id, "model": {"id": str(iris_model.pk)}}
