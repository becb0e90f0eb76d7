"""PostgreSQL "restarts" under load: every backend of the test database is terminated again and again
while a real gunicorn server answers createPrediction, and the clients retry with the same idempotency key.

pg_terminate_backend is what clients see when the server restarts; the server itself is never stopped
(the test runner and anything else on this machine share it). The runner's own connection is spared:
it is no client of the gunicorn server, only the auditor that reconciles afterwards.
"""

import threading
import time
import uuid

import psycopg2
import pytest
import requests
from django.db import connection

from tests.conftest import IRIS_SETOSA
from tests.faults.conftest import (
    ClientStats,
    assert_books_balance,
    call_until_acknowledged,
    graphql_call,
    requires_postgres,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, requires_postgres, pytest.mark.django_db(transaction=True)]

CALLS = 200  # at least; more (up to MAX_CALLS) until MIN_KILL_ROUNDS rounds have run, on a fast machine
MAX_CALLS = 1000
MIN_KILL_ROUNDS = 10
CLIENT_THREADS = 4
KILL_INTERVAL_SECONDS = 0.2
MAX_KILL_ROUNDS = 600
MAX_ATTEMPTS_PER_CALL = 40
LOAD_DEADLINE_SECONDS = 90

IRIS_VERSICOLOR = {"sepal_length": 6.4, "sepal_width": 3.2, "petal_length": 4.5, "petal_width": 1.5}
IRIS_VIRGINICA = {"sepal_length": 7.7, "sepal_width": 3.0, "petal_length": 6.1, "petal_width": 2.3}


class BackendTerminator(threading.Thread):
    """From its own connection, terminates every other backend of the test database every `interval` s."""

    def __init__(
        self, *, settings_dict: dict, spared_pids: list[int], interval: float, max_rounds: int, deadline: float
    ):
        super().__init__(name="backend-terminator", daemon=True)
        self.settings_dict = settings_dict
        self.spared_pids = spared_pids
        self.interval = interval
        self.max_rounds = max_rounds
        self.deadline = deadline
        self.stopped = threading.Event()
        self.rounds = 0
        self.terminated = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            sql = connection_to(self.settings_dict)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error
            return
        try:
            with sql.cursor() as cursor:
                while not self.stopped.is_set() and self.rounds < self.max_rounds and time.monotonic() < self.deadline:
                    cursor.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() AND NOT (pid = ANY(%s))",
                        [self.spared_pids],
                    )
                    self.terminated += sum(1 for (done,) in cursor.fetchall() if done)
                    self.rounds += 1
                    self.stopped.wait(self.interval)
        except BaseException as error:  # noqa: BLE001
            self.error = error
        finally:
            sql.close()


def connection_to(settings_dict: dict):
    sql = psycopg2.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict.get("USER") or None,
        password=settings_dict.get("PASSWORD") or None,
        host=settings_dict.get("HOST") or "127.0.0.1",
        port=settings_dict.get("PORT") or 5432,
        connect_timeout=5,
    )
    sql.autocommit = True
    return sql


def _variables(index: int, key: str) -> dict:
    if index % 3 == 0:  # every third call is a batch: a half-stored batch would show in the counts
        return {
            "input": {
                "modelName": "iris",
                "instances": [IRIS_VIRGINICA, IRIS_SETOSA, IRIS_VERSICOLOR],
                "idempotencyKey": key,
            }
        }
    return {"input": {"modelName": "iris", "features": IRIS_SETOSA, "idempotencyKey": key}}


def test_database_backends_terminated_mid_flight_lose_and_double_count_nothing(
    make_user, issue_token, iris_model, server_database, gunicorn_server
):
    # given: committed user, token and model, served by a 2-worker gunicorn on the test database
    user = make_user("restart")
    token = issue_token(user)
    server = gunicorn_server(workers=2, database_url=server_database().url)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        runner_pid = cursor.fetchone()[0]
    run = uuid.uuid4().hex[:8]
    stats = ClientStats()
    lock = threading.Lock()
    started_calls = [0]
    deadline = time.monotonic() + LOAD_DEADLINE_SECONDS

    def next_call() -> int | None:
        with lock:
            index = started_calls[0]
            if index >= MAX_CALLS or (index >= CALLS and terminator.rounds >= MIN_KILL_ROUNDS):
                return None
            started_calls[0] += 1
            return index

    def client() -> None:
        session = requests.Session()
        while time.monotonic() < deadline:
            index = next_call()
            if index is None:
                return
            key = f"restart-{run}-{index}"
            variables = _variables(index, key)
            call_until_acknowledged(
                lambda variables=variables: graphql_call(
                    session, base_url=server.url, token=token, variables=variables
                ),
                key=key,
                stats=stats,
                max_attempts=MAX_ATTEMPTS_PER_CALL,
                deadline=deadline,
            )

    terminator = BackendTerminator(
        settings_dict=connection.settings_dict,
        spared_pids=[runner_pid],
        interval=KILL_INTERVAL_SECONDS,
        max_rounds=MAX_KILL_ROUNDS,
        deadline=deadline,
    )
    clients = [threading.Thread(target=client, name=f"client-{i}", daemon=True) for i in range(CLIENT_THREADS)]

    # when: the clients call while the database keeps dropping every connection
    terminator.start()
    try:
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(timeout=LOAD_DEADLINE_SECONDS + 30)
    finally:
        terminator.stopped.set()
        terminator.join(timeout=10)

    # then: the faults really hit requests in flight, every call was eventually acknowledged ...
    print(
        f"\nkill rounds={terminator.rounds} backends terminated={terminator.terminated} "
        f"failed attempts={sum(stats.failures.values())} {dict(stats.failures)} "
        f"retried calls={len(stats.retried_keys)} replayed={sum(a.replayed for a in stats.acks.values())}"
    )
    assert terminator.error is None, terminator.error
    assert not any(thread.is_alive() for thread in clients)
    assert terminator.terminated > 0 and terminator.rounds >= MIN_KILL_ROUNDS
    assert sum(stats.failures.values()) > 0, "no request was in flight when its connection was terminated"
    assert stats.gave_up == [], f"{len(stats.gave_up)} calls never succeeded:\n{server.log_tail()}"
    assert len(stats.acks) == started_calls[0] >= CALLS
    # ... and the books match what the clients were told, exactly once each
    assert_books_balance(user=user, acks=stats.acks)
