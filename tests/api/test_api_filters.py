"""REST list filters are GraphQL's filter arguments: the same rows for the same filter, through the same selectors;
a bad value is a 400 naming the parameter."""

from datetime import UTC, datetime, timedelta

import pytest

from billing.services.invoices import invoice_finalize, invoice_generate
from predictions.models import Prediction
from tests.api.conftest import error_codes
from tests.conftest import BANK_CLIENT, IRIS_SETOSA

DAY_1 = datetime(2026, 11, 1, 12, tzinfo=UTC)

PREDICTIONS_QUERY = """
query($model: ID, $after: DateTime, $before: DateTime) {
  predictions(model: $model, createdAfter: $after, createdBefore: $before, first: 100) { edges { node { id } } }
}
"""


def _predict_on(rest, token, model_name, features, at: datetime) -> str:
    response = rest("post", f"/api/v1/models/{model_name}/predict", {"features": features}, token=token)
    assert response.status_code == 201, response.content
    prediction_id = response.json()["prediction"]["id"]
    Prediction.objects.filter(pk=prediction_id).update(created_at=at)  # given: made on that day
    return prediction_id


@pytest.fixture
def dated_predictions(make_user, issue_token, rest, iris_model, bank_model):
    """One user's predictions: iris on days 1, 2 and 3, bank-marketing an hour after day 2's; another user's iris."""
    token = issue_token(make_user("filterer"))
    made = {
        "iris-1": _predict_on(rest, token, "iris", IRIS_SETOSA, DAY_1),
        "iris-2": _predict_on(rest, token, "iris", IRIS_SETOSA, DAY_1 + timedelta(days=1)),
        "bank-2": _predict_on(rest, token, "bank-marketing", BANK_CLIENT, DAY_1 + timedelta(days=1, hours=1)),
        "iris-3": _predict_on(rest, token, "iris", IRIS_SETOSA, DAY_1 + timedelta(days=2)),
    }
    _predict_on(rest, issue_token(make_user("someone-else")), "iris", IRIS_SETOSA, DAY_1 + timedelta(days=1))
    return token, made


def _rest_ids(rest, token, query: dict) -> list[str]:
    response = rest(
        "get", "/api/v1/predictions", token=token, QUERY_STRING="&".join(f"{k}={v}" for k, v in query.items())
    )
    assert response.status_code == 200, response.content
    return [p["id"] for p in response.json()["results"]]


def _graphql_ids(gql, token, variables: dict) -> list[str]:
    status, body = gql(PREDICTIONS_QUERY, variables, token=token)
    assert status == 200 and "errors" not in body, body
    return [edge["node"]["id"] for edge in body["data"]["predictions"]["edges"]]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["iris-3", "bank-2", "iris-2", "iris-1"]),
        ({"model": "iris"}, ["iris-3", "iris-2", "iris-1"]),
        ({"model": "bank"}, ["bank-2"]),
        ({"after": DAY_1}, ["iris-3", "bank-2", "iris-2"]),  # exclusive: day 1's own prediction is not after it
        ({"before": DAY_1 + timedelta(days=2)}, ["bank-2", "iris-2", "iris-1"]),
        ({"model": "iris", "after": DAY_1, "before": DAY_1 + timedelta(days=2)}, ["iris-2"]),
    ],
    ids=["none", "iris", "bank", "after", "before", "model-and-range"],
)
def test_prediction_filters_give_the_same_rows_through_rest_and_graphql(
    dated_predictions, rest, gql, iris_model, bank_model, filters, expected
):
    # given
    token, made = dated_predictions
    model_id = {"iris": iris_model.pk, "bank": bank_model.pk}.get(filters.get("model"))
    rest_query = {
        **({"model": model_id} if model_id else {}),
        **({"created_after": _iso(filters["after"])} if "after" in filters else {}),
        **({"created_before": _iso(filters["before"])} if "before" in filters else {}),
    }
    graphql_variables = {
        "model": str(model_id) if model_id else None,
        "after": _iso(filters["after"]) if "after" in filters else None,
        "before": _iso(filters["before"]) if "before" in filters else None,
    }
    # when
    by_rest = _rest_ids(rest, token, rest_query)
    by_graphql = _graphql_ids(gql, token, graphql_variables)
    # then
    assert by_rest == by_graphql == [made[name] for name in expected]


def test_an_unknown_model_id_matches_nothing_through_both(dated_predictions, rest, gql):
    token, _ = dated_predictions
    assert _rest_ids(rest, token, {"model": 999999}) == []
    assert _graphql_ids(gql, token, {"model": "999999"}) == []


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/api/v1/predictions", "created_after=yesterday", [("created_after", "INVALID")]),
        ("/api/v1/predictions", "model=iris", [("model", "INVALID")]),
        ("/api/v1/predictions", "model=0", [("model", "MIN_VALUE")]),
        (
            "/api/v1/predictions",
            "model=x&created_before=2026-13-01",
            [("model", "INVALID"), ("created_before", "INVALID")],
        ),
        ("/api/v1/batch-jobs", "status=done", [("status", "INVALID_CHOICE")]),
        ("/api/v1/invoices", "status=unpaid", [("status", "INVALID_CHOICE")]),
        ("/api/v1/models", "stage=live", [("stage", "INVALID_CHOICE")]),
    ],
    ids=["bad-datetime", "model-not-an-id", "model-zero", "two-bad", "job-status", "invoice-status", "model-stage"],
)
def test_a_bad_filter_value_is_400_naming_the_parameter(make_user, issue_token, rest, path, query, expected):
    # when
    response = rest("get", path, token=issue_token(make_user()), QUERY_STRING=query)
    # then
    assert response.status_code == 400, response.content
    assert sorted(error_codes(response)) == sorted(expected)


INVOICES_QUERY = "query($status: String) { invoices(status: $status) { edges { node { number period } } } }"


@pytest.mark.parametrize("status", ["draft", "open", None])
def test_invoice_status_filter_gives_the_same_invoices_through_rest_and_graphql(
    make_user, issue_token, rest, gql, record_usage, status
):
    # given: a finalized (open) October invoice and a draft November one
    user = make_user("invoiced")
    record_usage(user, at=datetime(2026, 10, 7, tzinfo=UTC))
    record_usage(user, at=datetime(2026, 11, 7, tzinfo=UTC))
    october, _ = invoice_generate(user=user, period=datetime(2026, 10, 1).date())
    invoice_finalize(invoice=october)
    invoice_generate(user=user, period=datetime(2026, 11, 1).date())
    token = issue_token(user)
    # when
    response = rest("get", "/api/v1/invoices", token=token, QUERY_STRING=f"status={status}" if status else "")
    _, body = gql(INVOICES_QUERY, {"status": status}, token=token)
    # then
    assert response.status_code == 200, response.content
    by_rest = [invoice["period"] for invoice in response.json()["results"]]
    by_graphql = [edge["node"]["period"][:7] for edge in body["data"]["invoices"]["edges"]]
    assert by_rest == by_graphql == {"draft": ["2026-11"], "open": ["2026-10"], None: ["2026-11", "2026-10"]}[status]
