"""No per-request health check, yet a connection the server dropped between requests costs no request:
the next request sees its socket readable (no round trip), closes it and connects afresh."""

import time

import psycopg2
import pytest
from django.db import connection

from billing.models import UsageRecord
from tests.conftest import IRIS_SETOSA

CREATE = """
mutation($f: GenericScalar!) {
  createPrediction(input: {modelName: "iris", features: $f}) { prediction { id } errors { code } }
}
"""

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL session terminated by the server"),
    pytest.mark.django_db(transaction=True),
]


def test_a_session_terminated_between_requests_is_replaced_before_the_next_one(
    make_user, issue_token, gql, iris_model, settings
):
    # given: served once, on a persistent connection, with no per-request health check
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is False
    token = issue_token(make_user())
    assert gql(CREATE, {"f": IRIS_SETOSA}, token=token)[0] == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    # when: the server terminates that session while it is idle (as a restart or an admin would)
    params = connection.get_connection_params()
    admin = psycopg2.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "password", "host", "port")})
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    admin.close()
    time.sleep(0.3)
    # then: the next request is served (not 503), on a new session, and stored
    status, body = gql(CREATE, {"f": IRIS_SETOSA}, token=token)
    assert status == 200, body
    assert body["data"]["createPrediction"]["errors"] == []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
    assert UsageRecord.objects.count() == 2
