"""The task queue refuses connections while staff finalize invoices in the admin: the invoices are
committed open and numbered with their send pending (the hourly re-send sends them), and the admin shows
a warning, not a server error. A real publish to a port nothing listens on (18599, this suite's range)."""

import time
from datetime import date

import pytest
from django.test import Client

from billing.models import Invoice
from billing.services.invoices import invoice_generate
from billing.services.payments import invoices_send_pending
from mlapi.celery import app

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REFUSING_BROKER = "amqp://guest:guest@127.0.0.1:18599//"
OCTOBER = date(2026, 10, 1)


@pytest.fixture
def broker_down():
    """The Celery app publishes for real (not eagerly), to a broker that refuses connections."""
    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
    app.conf.update(task_always_eager=False, broker_url=REFUSING_BROKER)
    _forget_pooled_connections()
    assert ":18599/" in app.connection_for_write().as_uri()
    yield
    app.conf.update(**saved)
    _forget_pooled_connections()


def _forget_pooled_connections() -> None:
    """Eager calls open a producer pool on the default broker URL (amqp://localhost, the machine's shared
    RabbitMQ): without this, the "refused" publish would go there."""
    app._pool = None
    app.amqp._producer_pool = None


def test_finalizing_with_the_broker_down_leaves_invoices_open_and_pending_and_warns_the_admin(make_user, broker_down):
    # given: two drafts for a past month (on the test's own tier: a flush has removed the seeded ones), a superuser
    drafts = [invoice_generate(user=make_user(f"customer{i}"), period=OCTOBER)[0] for i in range(2)]
    staff = make_user("admin", is_staff=True)
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    admin = Client(raise_request_exception=False)
    admin.force_login(staff)
    # when
    started = time.monotonic()
    response = admin.post(
        "/admin/billing/invoice/",
        {"action": "finalize", "_selected_action": [str(d.pk) for d in drafts]},
        follow=True,
    )
    elapsed = time.monotonic() - started
    # then: the changelist with a warning, not a 500 page
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["info", "warning"]
    invoices = [Invoice.objects.get(pk=d.pk) for d in drafts]
    assert [i.status for i in invoices] == ["open", "open"]
    assert all(i.number and i.provider_invoice_id == "" and i.sent_at is None for i in invoices)
    assert all(i.last_send_error.startswith("QUEUE_UNAVAILABLE") for i in invoices)
    assert elapsed < 30
    print(f"\nadmin finalize of 2 invoices with the broker refusing connections: {elapsed:.2f} s")
    # and: the hourly re-send picks both up
    assert invoices_send_pending() == {"manual": 2}
