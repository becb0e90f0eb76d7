"""A gunicorn worker SIGKILLed in the middle of 1000-row batches (the OOM killer's way): the master
respawns it, the clients retry with the same idempotency key, and no call is half-written or billed twice.

Runs on both databases. On SQLite the in-memory test database is copied to a file for the server and
copied back before the reconciliation (see `server_database`).
"""

import os
import signal
import statistics
import threading
import time
import uuid

import pytest
import requests

from tests.faults.conftest import ClientStats, assert_books_balance, call_until_acknowledged, rest_call

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BATCH_ROWS = 1000
CLIENT_THREADS = 3
KILLS = 3
MIN_CALLS = 8
MAX_CALLS = 60
MAX_ATTEMPTS_PER_CALL = 20
DEADLINE_SECONDS = 100
RESPAWN_TIMEOUT_SECONDS = 60


def _batch(call: int) -> list[dict]:
    """1000 valid, varied iris rows (a different batch per call, so replays cannot pass by accident)."""
    return [
        {
            "sepal_length": round(4.3 + ((call * 7 + i) % 36) / 10, 1),
            "sepal_width": round(2.0 + (i % 24) / 10, 1),
            "petal_length": round(1.0 + ((call + i * 3) % 59) / 10, 1),
            "petal_width": round(0.1 + (i % 25) / 10, 1),
        }
        for i in range(BATCH_ROWS)
    ]


def test_worker_sigkilled_mid_batch_leaves_no_half_written_or_double_billed_call(
    make_user, issue_token, iris_model, server_database, gunicorn_server
):
    # given: committed user, token and model, served by ONE gunicorn worker
    user = make_user("sigkill")
    token = issue_token(user)
    database = server_database()
    server = gunicorn_server(workers=1, database_url=database.url)
    run = uuid.uuid4().hex[:8]
    stats = ClientStats()
    lock = threading.Lock()
    started_calls = [0]
    killer_done = threading.Event()
    deadline = time.monotonic() + DEADLINE_SECONDS

    def next_call() -> int | None:
        with lock:
            if started_calls[0] >= MAX_CALLS or (killer_done.is_set() and started_calls[0] >= MIN_CALLS):
                return None
            started_calls[0] += 1
            return started_calls[0] - 1

    def client() -> None:
        session = requests.Session()
        while time.monotonic() < deadline:
            call = next_call()
            if call is None:
                return
            key, body = f"sigkill-{run}-{call}", {"instances": _batch(call)}
            call_until_acknowledged(
                lambda body=body, key=key: rest_call(
                    session, base_url=server.url, token=token, model_name="iris", body=body, key=key
                ),
                key=key,
                stats=stats,
                max_attempts=MAX_ATTEMPTS_PER_CALL,
                deadline=deadline,
            )

    clients = [threading.Thread(target=client, name=f"client-{i}", daemon=True) for i in range(CLIENT_THREADS)]
    for thread in clients:
        thread.start()

    # when: the worker is SIGKILLed part-way into a request, KILLS times, each once its successor serves
    killed: list[int] = []
    try:
        for kill in range(KILLS):
            served = len(stats.acks)
            while len(stats.acks) == served and time.monotonic() < deadline:
                time.sleep(0.02)  # a call just succeeded: the worker is serving and has the next one
            typical = statistics.median(stats.seconds) if stats.seconds else 0.5
            time.sleep(typical * (0.25 + 0.25 * kill))  # a quarter, half, three quarters into the next call
            workers = server.worker_pids()
            assert len(workers) == 1, workers
            os.kill(workers[0], signal.SIGKILL)
            killed.append(workers[0])
            respawn_deadline = time.monotonic() + RESPAWN_TIMEOUT_SECONDS
            while time.monotonic() < respawn_deadline and server.worker_pids() in ([], [workers[0]]):
                time.sleep(0.05)
    finally:
        killer_done.set()
        for thread in clients:
            thread.join(timeout=DEADLINE_SECONDS + 30)
    server.stop()
    database.collect()

    # then: the worker really died mid-call and came back, every call was eventually acknowledged ...
    print(
        f"\nkilled workers={killed} calls={len(stats.acks)} failed attempts={dict(stats.failures)} "
        f"retried calls={len(stats.retried_keys)} replayed={sum(a.replayed for a in stats.acks.values())} "
        f"median call={statistics.median(stats.seconds):.2f}s"
    )
    assert len(killed) == KILLS
    assert not any(thread.is_alive() for thread in clients)
    assert stats.retried_keys, "no call was in flight when the worker was killed"
    assert stats.gave_up == [], stats.gave_up
    assert len(stats.acks) >= MIN_CALLS
    assert all(ack.predictions == BATCH_ROWS for ack in stats.acks.values())
    # ... and every usage record has all its predictions, once, billed once
    assert_books_balance(user=user, acks=stats.acks)
