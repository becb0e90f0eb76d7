"""Metering through GraphQL: what createPrediction reports as its cost is what is stored, summed and invoiced."""

import re
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.models import Invoice, PricingTier, UsageRecord
from billing.periods import period_label, period_of
from billing.services.invoices import invoice_generate
from tests.conftest import IRIS_SETOSA

CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) {
    predictions { id }
    cost { amount currency predictions billablePredictions cpuSeconds storedBytes }
    errors { field code }
  }
}
"""
ME_USAGE = """
query Usage($period: String) {
  me { tier { name } usage(period: $period) { period predictions amount currency } }
}
"""
PRO_CPU = Decimal("0.05")
PRO_MB = Decimal("0.001")
STEP = Decimal("0.0000000001")
HALF_CENT = Decimal("0.005")


@pytest.fixture
def pro_user(make_user):
    """On pro since they joined (long before this month): this month's fee is whole."""
    return make_user("pro-customer", tier=PricingTier.objects.get(name="pro"))


def _predict(gql, token, **input_):
    status, body = gql(CREATE, {"input": {"modelName": "iris", **input_}}, token=token)
    assert status == 200, body
    payload = body["data"]["createPrediction"]
    assert payload["errors"] == [], payload["errors"]
    return payload


def _usage(gql, token, period=None):
    status, body = gql(ME_USAGE, {"period": period}, token=token)
    assert status == 200 and "errors" not in body, body
    return body["data"]["me"]


def test_cost_is_the_stored_usage_record_and_within_the_allowance_only_compute_and_storage(
    pro_user, issue_token, gql, iris_model
):
    # given
    token = issue_token(pro_user)
    # when
    costs = [
        _predict(gql, token, features=IRIS_SETOSA)["cost"],
        _predict(gql, token, instances=[IRIS_SETOSA] * 3)["cost"],
    ]
    # then
    records = list(UsageRecord.objects.filter(user=pro_user).order_by("created_at", "id"))
    assert len(records) == 2
    for cost, record in zip(costs, records, strict=True):
        assert isinstance(cost["amount"], str) and isinstance(cost["cpuSeconds"], str)
        assert Decimal(cost["amount"]) == record.amount
        assert cost["currency"] == record.currency == "USD"
        assert (cost["predictions"], cost["billablePredictions"]) == (record.predictions, 0)
        assert Decimal(cost["cpuSeconds"]) == record.cpu_seconds
        assert cost["storedBytes"] == record.stored_bytes > 0
        # within the 100,000 allowance: no prediction charge, only compute and storage
        assert record.prediction_amount == 0
        compute = (Decimal(cost["cpuSeconds"]) * PRO_CPU).quantize(STEP, rounding=ROUND_HALF_UP)
        storage = (Decimal(cost["storedBytes"]) / 1_000_000 * PRO_MB).quantize(STEP, rounding=ROUND_HALF_UP)
        assert Decimal(cost["amount"]) == compute + storage
    assert [c["predictions"] for c in costs] == [1, 3]


def test_me_usage_sums_this_months_costs(pro_user, issue_token, gql, iris_model):
    # given
    token = issue_token(pro_user)
    costs = [_predict(gql, token, features=IRIS_SETOSA)["cost"] for _ in range(3)]
    costs.append(_predict(gql, token, instances=[IRIS_SETOSA] * 4)["cost"])
    # when
    me = _usage(gql, token)
    # then
    assert me["tier"]["name"] == "pro"
    assert me["usage"]["period"] == period_label(period_of(timezone.now()))
    assert me["usage"]["predictions"] == 7
    assert Decimal(me["usage"]["amount"]) == sum(Decimal(c["amount"]) for c in costs)
    assert me["usage"]["currency"] == "USD"
    assert _usage(gql, token, "2020-01")["usage"]["predictions"] == 0


def test_invoice_for_the_month_is_fee_plus_the_returned_costs(pro_user, issue_token, gql, iris_model):
    """The invoice total equals 49.00 + the sum of the exact costs createPrediction returned, within half a
    cent per usage line: each invoice line (compute, storage; predictions when beyond the allowance) is the
    exact sum of its part of the costs rounded half-up to the cent, so each line differs from its exact sum
    by at most 0.005."""
    # given
    token = issue_token(pro_user)
    costs = [_predict(gql, token, features=IRIS_SETOSA)["cost"] for _ in range(2)]
    costs.append(_predict(gql, token, instances=[IRIS_SETOSA] * 5)["cost"])
    period = period_of(timezone.now())
    # when
    call_command("generate_invoices", "--period", period_label(period), stdout=StringIO())
    # then
    invoice = Invoice.objects.get(user=pro_user, period=period)
    lines = list(invoice.lines.all())
    fee = [line for line in lines if line.kind == "subscription"]
    usage_lines = [line for line in lines if line.kind != "subscription"]
    assert [(line.quantity, line.amount) for line in fee] == [(1, Decimal("49.00"))]
    assert {line.kind for line in usage_lines} <= {"compute", "storage"}
    exact = Decimal("49.00") + sum(Decimal(c["amount"]) for c in costs)
    assert abs(invoice.total - exact) <= HALF_CENT * len(usage_lines)
    assert invoice.total == sum(line.amount for line in lines)
    storage = next(line for line in usage_lines if line.kind == "storage")
    assert storage.quantity == Decimal(sum(c["storedBytes"] for c in costs)) / 1_000_000


def test_a_tier_price_change_does_not_change_stored_records(pro_user, issue_token, gql, iris_model):
    # given: one call at pro's prices
    token = issue_token(pro_user)
    cost = _predict(gql, token, features=IRIS_SETOSA)["cost"]
    record = UsageRecord.objects.get(user=pro_user)
    before = {f: getattr(record, f) for f in ("price_per_prediction", "price_per_cpu_second", "price_per_mb", "amount")}
    # when: the tier's unit prices go up tenfold
    PricingTier.objects.filter(name="pro").update(
        price_per_prediction=Decimal("0.004"), price_per_cpu_second=Decimal("0.5"), price_per_mb=Decimal("0.01")
    )
    # then: the record, the usage total and the invoice keep the prices in force at the call
    record.refresh_from_db()
    assert (
        {f: getattr(record, f) for f in before}
        == before
        == {
            "price_per_prediction": Decimal("0.0004"),
            "price_per_cpu_second": PRO_CPU,
            "price_per_mb": PRO_MB,
            "amount": Decimal(cost["amount"]),
        }
    )
    assert Decimal(_usage(gql, token)["usage"]["amount"]) == Decimal(cost["amount"])
    invoice, _ = invoice_generate(user=pro_user, period=period_of(timezone.now()))
    assert {line.unit_price for line in invoice.lines.all() if line.kind in ("compute", "storage")} == {PRO_CPU, PRO_MB}
    # and a new call is charged at the new prices
    later = _predict(gql, token, features=IRIS_SETOSA)["cost"]
    latest = UsageRecord.objects.filter(user=pro_user).order_by("-id").first()
    assert (latest.price_per_mb, latest.amount) == (Decimal("0.01"), Decimal(later["amount"]))


@pytest.mark.parametrize("period", ["2026-13", "2026-1", "last month"])
def test_me_usage_with_a_malformed_period_is_an_invalid_period_error(pro_user, issue_token, gql, period):
    status, body = gql(ME_USAGE, {"period": period}, token=issue_token(pro_user))
    assert status == 200
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_PERIOD"]


PLAIN_DECIMAL = r"^-?\d+(\.\d+)?$"


def test_money_strings_are_plain_fixed_point_even_when_zero(make_user, issue_token, gql, iris_model):
    # given: the free tier charges nothing
    user = make_user(tier=PricingTier.objects.get(name="free"))
    token = issue_token(user)
    # when
    cost = _predict(gql, token, features=IRIS_SETOSA)["cost"]
    usage = _usage(gql, token)["usage"]
    # then
    assert Decimal(cost["amount"]) == 0 == Decimal(usage["amount"])
    assert re.match(PLAIN_DECIMAL, cost["amount"]), cost["amount"]
    assert re.match(PLAIN_DECIMAL, usage["amount"]), usage["amount"]
