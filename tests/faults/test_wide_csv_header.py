"""The audit's 339 KB CSV header against a real gunicorn worker: it used to keep the worker in a quadratic
duplicate-column check past gunicorn's time-out (the worker was SIGKILLed). Now it is refused at once, by the
same worker, which goes on serving."""

import time

import pytest
import requests

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WIDE_HEADER = ",".join(f"c{i}" for i in range(50_000))


def test_a_50000_column_header_is_refused_in_milliseconds_and_the_worker_lives(
    make_user, issue_token, iris_model, server_database, gunicorn_server
):
    # given: one gunicorn worker
    token = issue_token(make_user("wide-header"))
    server = gunicorn_server(workers=1, database_url=server_database().url)
    [worker] = server.worker_pids()
    content = (WIDE_HEADER + "\n" + ",".join(["1"] * 50_000) + "\n").encode()
    # when
    started = time.perf_counter()
    response = requests.post(
        f"{server.url}/api/v1/batch-jobs",
        headers={"Authorization": f"Bearer {token}"},
        data={"model": "iris"},
        files={"file": ("wide.csv", content, "text/csv")},
        timeout=60,
    )
    elapsed = time.perf_counter() - started
    # then
    print(f"\ngunicorn: 50,000-column header ({len(content)} bytes) refused in {elapsed * 1000:.0f} ms")
    assert response.status_code == 400, response.text
    assert [e["code"] for e in response.json()["errors"]] == ["TOO_MANY_COLUMNS"]
    assert elapsed < 2  # generous: the worker used to be killed at the 30 s time-out
    assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
    assert server.worker_pids() == [worker]
