"""Invoices are private: GraphQL, REST and the printable page show a user only their own, with the billing scope."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.models import PricingTier
from billing.services.invoices import invoice_finalize, invoice_generate
from tests.conftest import IRIS_SETOSA

OCTOBER = date(2026, 10, 1)
INVOICES = """
query { invoices { edges { node { id number period status total currency lines { kind amount } } } } }
"""
INVOICE = "query Invoice($id: ID!) { invoice(id: $id) { id number total } }"
ME_USAGE = "query { me { usage { predictions amount } } }"
CREATE = """
mutation Create($input: CreatePredictionInput!) {
  createPrediction(input: $input) { cost { amount } errors { code } }
}
"""


@pytest.fixture
def pro(db):
    return PricingTier.objects.get(name="pro")


@pytest.fixture
def alice_invoice(make_user, pro, record_usage):
    """Alice's finalized October invoice: 49.00 fee + 0.15 compute."""
    alice = make_user("alice", tier=pro)
    record_usage(alice, at=datetime(2026, 10, 7, tzinfo=UTC), predictions=10, cpu_seconds=3.0, stored_bytes=0)
    invoice, _ = invoice_generate(user=alice, period=OCTOBER)
    return invoice_finalize(invoice=invoice)


@pytest.fixture
def bob(make_user, pro):
    return make_user("bob", tier=pro)


def _bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _top_level_codes(body):
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def test_owner_lists_and_reads_their_invoice_through_graphql(alice_invoice, issue_token, gql):
    # given
    token = issue_token(alice_invoice.user)
    # when
    _, listing = gql(INVOICES, token=token)
    _, single = gql(INVOICE, {"id": str(alice_invoice.pk)}, token=token)
    # then
    nodes = [edge["node"] for edge in listing["data"]["invoices"]["edges"]]
    assert len(nodes) == 1
    assert nodes[0]["number"] == alice_invoice.number == "INV-2026-000001"
    assert (nodes[0]["period"], nodes[0]["status"], nodes[0]["currency"]) == ("2026-10", "open", "USD")
    assert Decimal(nodes[0]["total"]) == Decimal("49.15")
    assert sum(Decimal(line["amount"]) for line in nodes[0]["lines"]) == Decimal(nodes[0]["total"])
    assert single["data"]["invoice"]["number"] == alice_invoice.number


def test_another_user_cannot_see_the_invoice_through_graphql(alice_invoice, bob, issue_token, gql):
    # given
    token = issue_token(bob)
    invoice_generate(user=bob, period=OCTOBER)  # Bob has an invoice of his own
    # when
    _, listing = gql(INVOICES, token=token)
    _, single = gql(INVOICE, {"id": str(alice_invoice.pk)}, token=token)
    # then
    ids = [edge["node"]["id"] for edge in listing["data"]["invoices"]["edges"]]
    assert len(ids) == 1 and str(alice_invoice.pk) not in ids
    assert "errors" not in single
    assert single["data"]["invoice"] is None


def test_owner_reads_their_invoice_through_rest(alice_invoice, client, issue_token):
    # given
    token = issue_token(alice_invoice.user)
    # when
    listing = client.get("/api/v1/invoices", **_bearer(token))
    detail = client.get(f"/api/v1/invoices/{alice_invoice.pk}", **_bearer(token))
    # then
    assert listing.status_code == 200
    assert [row["id"] for row in listing.json()["results"]] == [alice_invoice.pk]
    assert detail.status_code == 200
    body = detail.json()
    assert (body["number"], body["period"], body["status"]) == ("INV-2026-000001", "2026-10", "open")
    assert isinstance(body["total"], str) and Decimal(body["total"]) == Decimal("49.15")
    assert sum(Decimal(line["amount"]) for line in body["lines"]) == Decimal(body["total"])


def test_another_user_gets_404_through_rest_and_does_not_list_it(alice_invoice, bob, client, issue_token):
    # given
    token = issue_token(bob)
    # when
    detail = client.get(f"/api/v1/invoices/{alice_invoice.pk}", **_bearer(token))
    listing = client.get("/api/v1/invoices", **_bearer(token))
    # then
    assert detail.status_code == 404
    assert [e["code"] for e in detail.json()["errors"]] == ["NOT_FOUND"]
    assert listing.status_code == 200 and listing.json()["results"] == []


def test_owner_sees_the_printable_page_with_a_billing_token(alice_invoice, client, issue_token):
    # given
    token = issue_token(alice_invoice.user)
    # when
    response = client.get(f"/billing/invoices/{alice_invoice.pk}/", **_bearer(token))
    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert "INV-2026-000001" in page
    assert "49.15" in page


def test_another_user_gets_404_on_the_printable_page(alice_invoice, bob, client, issue_token):
    token = issue_token(bob)
    response = client.get(f"/billing/invoices/{alice_invoice.pk}/", **_bearer(token))
    assert response.status_code == 404
    assert b"INV-2026-000001" not in response.content


def test_printable_page_needs_the_billing_scope_or_a_login(alice_invoice, client, issue_token):
    # given
    token = issue_token(alice_invoice.user, scope="read predict")
    # when
    scoped_out = client.get(f"/billing/invoices/{alice_invoice.pk}/", **_bearer(token))
    anonymous = client.get(f"/billing/invoices/{alice_invoice.pk}/")
    # then
    assert scoped_out.status_code == 403
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    assert b"INV-2026-000001" not in scoped_out.content + anonymous.content


def test_a_token_without_the_billing_scope_is_forbidden(alice_invoice, client, issue_token, gql):
    # given: the owner's own token, without billing
    token = issue_token(alice_invoice.user, scope="read predict")
    # when
    _, listing = gql(INVOICES, token=token)
    _, single = gql(INVOICE, {"id": str(alice_invoice.pk)}, token=token)
    rest_list = client.get("/api/v1/invoices", **_bearer(token))
    rest_detail = client.get(f"/api/v1/invoices/{alice_invoice.pk}", **_bearer(token))
    # then
    assert _top_level_codes(listing) == ["FORBIDDEN"]
    assert _top_level_codes(single) == ["FORBIDDEN"]
    assert listing["data"] is None or listing["data"].get("invoices") is None
    assert (rest_list.status_code, rest_detail.status_code) == (403, 403)
    assert [e["code"] for e in rest_detail.json()["errors"]] == ["FORBIDDEN"]


def test_me_usage_counts_only_the_callers_records(make_user, pro, issue_token, gql, iris_model):
    # given
    alice, bob = make_user("alice", tier=pro), make_user("bob", tier=pro)
    alice_token, bob_token = issue_token(alice), issue_token(bob)
    for _ in range(3):
        _, body = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=alice_token)
        assert body["data"]["createPrediction"]["errors"] == []
    _, body = gql(CREATE, {"input": {"modelName": "iris", "features": IRIS_SETOSA}}, token=bob_token)
    bob_cost = Decimal(body["data"]["createPrediction"]["cost"]["amount"])
    # when
    _, alice_usage = gql(ME_USAGE, token=alice_token)
    _, bob_usage = gql(ME_USAGE, token=bob_token)
    # then
    assert alice_usage["data"]["me"]["usage"]["predictions"] == 3
    assert bob_usage["data"]["me"]["usage"]["predictions"] == 1
    assert Decimal(bob_usage["data"]["me"]["usage"]["amount"]) == bob_cost


def test_unauthenticated_rest_is_401(alice_invoice, client):
    response = client.get(f"/api/v1/invoices/{alice_invoice.pk}")
    assert response.status_code == 401
