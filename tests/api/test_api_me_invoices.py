"""GET /api/v1/me (tier, month's usage, quota left) and /api/v1/invoices[/<id>] (scope billing, own only)."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Invoice, PricingTier, UsageRecord
from billing.periods import period_of
from billing.services.invoices import invoice_finalize, invoice_generate
from tests.api.conftest import PREDICT_IRIS, error_codes
from tests.conftest import IRIS_SETOSA

ME = "/api/v1/me"
INVOICES = "/api/v1/invoices"


def _predict(rest, token, count=1):
    for _ in range(count):
        assert rest("post", PREDICT_IRIS, {"features": IRIS_SETOSA}, token=token).status_code == 201


# --- /me ----------------------------------------------------------------------------------------------


def test_me_shows_tier_and_this_months_usage(make_user, issue_token, rest, iris_model):
    # given: alice made two calls, bob one
    alice = make_user("alice")
    token = issue_token(alice)
    _predict(rest, token, 2)
    _predict(rest, issue_token(make_user("bob")))
    # when
    response = rest("get", ME, token=token)
    # then
    assert response.status_code == 200
    body = response.json()
    assert (body["username"], body["email"], body["is_staff"]) == ("alice", "alice@example.com", False)
    assert body["tier"]["name"] == "metered"
    assert Decimal(body["tier"]["monthly_fee"]) == Decimal("10.00")
    assert Decimal(body["tier"]["price_per_prediction"]) == Decimal("0.001")
    assert body["tier"]["monthly_quota"] is None and body["quota_remaining"] is None
    usage = body["usage"]
    records = UsageRecord.objects.filter(user=alice)
    assert usage["period"] == f"{timezone.now():%Y-%m}"
    assert usage["predictions"] == 2
    assert usage["stored_bytes"] == sum(r.stored_bytes for r in records)
    assert Decimal(usage["amount"]) == sum(r.amount for r in records) > 0
    assert usage["currency"] == "USD"


def test_me_counts_down_the_quota(make_user, issue_token, rest, iris_model):
    tier = PricingTier.objects.create(name="capped", monthly_quota=5)
    token = issue_token(make_user(tier=tier))
    _predict(rest, token, 2)
    response = rest("get", ME, token=token)
    assert response.json()["quota_remaining"] == 3
    assert response.json()["tier"]["monthly_quota"] == 5


def test_me_for_a_month_without_usage(make_user, issue_token, rest, iris_model):
    token = issue_token(make_user())
    _predict(rest, token)
    response = rest("get", f"{ME}?period=2001-02", token=token)
    assert response.status_code == 200
    usage = response.json()["usage"]
    assert (usage["period"], usage["predictions"], usage["stored_bytes"]) == ("2001-02", 0, 0)
    assert Decimal(usage["amount"]) == 0


@pytest.mark.parametrize("period", ["2024-13", "2024-1", "May", "2024-05-01", "0000-00"])
def test_me_with_a_bad_period_is_400(make_user, issue_token, rest, period):
    response = rest("get", f"{ME}?period={period}", token=issue_token(make_user()))
    assert response.status_code == 400
    assert error_codes(response) == [("period", "INVALID_PERIOD")]


def test_bearer_token_wins_over_a_session(make_user, issue_token, client):
    # given: a session for alice, a token for bob
    alice, bob = make_user("alice"), make_user("bob")
    token = issue_token(bob, scope="read")
    client.force_login(alice)
    # when
    with_token = client.get(ME, HTTP_AUTHORIZATION=f"Bearer {token}")
    session_only = client.get(ME)
    # then
    assert with_token.status_code == 200 and with_token.json()["username"] == "bob"
    assert session_only.status_code == 200 and session_only.json()["username"] == "alice"


def test_a_bad_bearer_token_is_refused_even_with_a_valid_session(make_user, client):
    client.force_login(make_user("alice"))
    response = client.get(ME, HTTP_AUTHORIZATION="Bearer not-a-real-token")
    assert response.status_code == 401
    assert error_codes(response) == [(None, "INVALID_TOKEN")]


# --- invoices -----------------------------------------------------------------------------------------


def _invoice(user, period=None, *, finalize=False) -> Invoice:
    invoice, _ = invoice_generate(user=user, period=period or period_of(timezone.now()))
    return invoice_finalize(invoice=invoice) if finalize else invoice


def test_invoice_list_shows_only_your_own_newest_period_first(make_user, issue_token, rest, iris_model):
    # given
    alice, bob = make_user("alice"), make_user("bob")
    _predict(rest, issue_token(alice))
    mine = [_invoice(alice, date(2024, 1, 1)), _invoice(alice)]
    _invoice(bob)
    # when
    response = rest("get", INVOICES, token=issue_token(alice, scope="billing"))
    # then
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert [i["id"] for i in body["results"]] == [mine[1].pk, mine[0].pk]
    assert [i["period"] for i in body["results"]] == [f"{timezone.now():%Y-%m}", "2024-01"]


def test_staff_too_list_only_their_own_invoices(make_user, staff_user, issue_token, rest):
    _invoice(make_user("alice"))
    response = rest("get", INVOICES, token=issue_token(staff_user, scope="billing"))
    assert response.status_code == 200 and response.json()["results"] == []


def test_invoice_list_filters_by_status(make_user, issue_token, rest):
    alice = make_user("alice")
    draft = _invoice(alice, date(2024, 2, 1))
    opened = _invoice(alice, date(2024, 1, 1), finalize=True)
    token = issue_token(alice, scope="billing")
    drafts = rest("get", f"{INVOICES}?status=draft", token=token).json()["results"]
    opens = rest("get", f"{INVOICES}?status=open", token=token).json()["results"]
    assert [i["id"] for i in drafts] == [draft.pk]
    assert [i["id"] for i in opens] == [opened.pk] and opens[0]["number"].startswith(
        f"INV-{timezone.now().year}-"
    )  # numbered in the year it is issued


def test_invoice_detail_with_lines(make_user, issue_token, rest, iris_model):
    # given
    alice = make_user("alice")
    _predict(rest, issue_token(alice), 3)
    invoice = _invoice(alice)
    # when
    response = rest("get", f"{INVOICES}/{invoice.pk}", token=issue_token(alice, scope="billing"))
    # then
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["currency"], body["tier_name"]) == (invoice.pk, "draft", "USD", "metered")
    kinds = [line["kind"] for line in body["lines"]]
    assert kinds[0] == "subscription" and "predictions" in kinds
    assert Decimal(body["total"]) == sum(Decimal(line["amount"]) for line in body["lines"]) == invoice.total
    predictions_line = next(line for line in body["lines"] if line["kind"] == "predictions")
    assert Decimal(predictions_line["quantity"]) == 3


@pytest.mark.parametrize("whose", ["someone-else", "unknown", "huge"])
def test_invoice_of_someone_else_or_unknown_is_not_found(make_user, issue_token, rest, whose):
    # given
    bobs = _invoice(make_user("bob"))
    invoice_id = {"someone-else": bobs.pk, "unknown": bobs.pk + 1000, "huge": 99999999999999999999}[whose]
    # when
    response = rest("get", f"{INVOICES}/{invoice_id}", token=issue_token(make_user("alice"), scope="billing"))
    # then
    assert response.status_code == 404
    assert [code for _, code in error_codes(response)] == ["NOT_FOUND"]
    assert set(response.json()) == {"errors"}


def test_invoices_need_the_billing_scope(make_user, issue_token, rest):
    alice = make_user("alice")
    invoice = _invoice(alice)
    token = issue_token(alice, scope="read predict")
    for path in (INVOICES, f"{INVOICES}/{invoice.pk}"):
        response = rest("get", path, token=token)
        assert response.status_code == 403
        assert error_codes(response) == [(None, "FORBIDDEN")]


def test_garbage_invoice_id_is_a_json_not_found(make_user, issue_token, rest):
    response = rest("get", f"{INVOICES}/abc", token=issue_token(make_user(), scope="billing"))
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert [code for _, code in error_codes(response)] == ["NOT_FOUND"]
