"""PostgreSQL stopped, frozen, starved of connections and slow, under a real gunicorn: every API answer is
a 503 with Retry-After and SERVICE_UNAVAILABLE (never a 500 or an HTML page, never a hung worker),
/healthz keeps answering, and the first request after the database is back is served (no stuck broken
connection). Also: how long a worker takes to serve again after being SIGKILLed, again and again.

All of it on a throwaway cluster (tests/faults/pg_cluster.py) on port 18501 with its own migrated
database; the server on 18510. Time-outs of the server: connect 2 s, statement 2 s (the defaults are
5 s and 10 s). Figures are printed (`-s`), bounds are generous safety nets only.
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import time

import psycopg2
import pytest
import requests

from tests.faults.conftest import ROOT, SERVER_SETTINGS, GunicornServer
from tests.faults.pg_cluster import ThrowawayCluster, requires_pg_binaries

pytestmark = [pytest.mark.slow, requires_pg_binaries]

CLUSTER_PORT = 18501
SERVER_PORT = 18510
DBNAME = "mlapi_outage"
TIMEOUT_SECONDS = 2
CALL_TIMEOUT_SECONDS = 30
ME = "{ me { username } }"

# Migrates the throwaway database and makes one API client, in a process of its own.
SETUP = """
import json, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from accounts.services import api_client_create
get_user_model().objects.create_user(username="outage", email="outage@example.com")
credentials = api_client_create(username="outage")
print(json.dumps({"client_id": credentials.client_id, "client_secret": credentials.client_secret}))
"""


def _project_env(cluster: ThrowawayCluster, media_root, **overrides) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SERVER_SETTINGS,
        "DATABASE_URL": cluster.url(DBNAME),
        "MEDIA_ROOT": str(media_root),
        "PYTHONPATH": str(ROOT),
        **overrides,
    }


@pytest.fixture(scope="module")
def cluster():
    cluster = ThrowawayCluster(
        port=CLUSTER_PORT, settings={"max_connections": "20", "superuser_reserved_connections": "0"}
    ).init()
    try:
        cluster.start()
        cluster.execute(f"CREATE DATABASE {DBNAME}")
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="module")
def media_root(tmp_path_factory):
    return tmp_path_factory.mktemp("outage-media")


@pytest.fixture(scope="module")
def credentials(cluster, media_root):
    done = subprocess.run(
        [sys.executable, "-c", SETUP],
        cwd=ROOT,
        env=_project_env(cluster, media_root, DATABASE_STATEMENT_TIMEOUT_SECONDS="0"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def server(cluster, media_root, credentials, tmp_path_factory):
    server = GunicornServer(
        workers=2,
        database_url=cluster.url(DBNAME),
        media_root=str(media_root),
        log_path=tmp_path_factory.mktemp("outage-logs") / "gunicorn.log",
        port=SERVER_PORT,
        extra_env={
            "DATABASE_CONNECT_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
            "DATABASE_STATEMENT_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
        },
    )
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def token(server, credentials):
    response = requests.post(
        f"{server.url}/o/token/",
        data={"grant_type": "client_credentials", "scope": "read"},
        auth=(credentials["client_id"], credentials["client_secret"]),
        timeout=CALL_TIMEOUT_SECONDS,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def rest(server, token) -> requests.Response:
    return requests.get(
        f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=CALL_TIMEOUT_SECONDS
    )


def graphql(server, token) -> requests.Response:
    return requests.post(
        f"{server.url}/graphql/",
        json={"query": ME},
        headers={"Authorization": f"Bearer {token}"},
        timeout=CALL_TIMEOUT_SECONDS,
    )


def assert_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Retry-After"]) > 0
    errors = response.json()["errors"]
    assert [e.get("code") or e["extensions"]["code"] for e in errors] == ["SERVICE_UNAVAILABLE"]


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def wait_until_served(server, token, *, timeout: float = 90) -> float:
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        try:
            if rest(server, token).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise AssertionError(f"not served within {timeout} s:\n{server.log_tail()}")


def terminate_server_backends(cluster) -> None:
    cluster.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        [DBNAME],
    )


@pytest.fixture(autouse=True)
def healthy(cluster, server, token):
    """Each test starts with the cluster up and thawed and the server serving, and leaves it so."""
    yield
    if cluster.postmaster_pid() is None:
        cluster.start()
    else:
        cluster.thaw()
    wait_until_served(server, token)


def test_stopped_database_is_503_with_retry_after_and_the_first_request_after_restart_is_served(cluster, server, token):
    # given: served, each worker holding a persistent connection (CONN_MAX_AGE=60)
    for _ in range(4):
        assert rest(server, token).status_code == 200
        assert graphql(server, token).status_code == 200
    # when: the server is stopped
    cluster.stop(mode="fast")
    answers = [timed(lambda: rest(server, token)) for _ in range(5)] + [
        timed(lambda: graphql(server, token)) for _ in range(5)
    ]
    health, health_seconds = timed(lambda: requests.get(f"{server.url}/healthz", timeout=5))
    # then: 503 + Retry-After + SERVICE_UNAVAILABLE on both APIs, at once; /healthz is fine
    for response, _ in answers:
        assert_unavailable(response)
    assert health.status_code == 200
    outage_seconds = [seconds for _, seconds in answers]
    assert max(outage_seconds) < 10
    # when: it is back
    cluster.start()
    recovery = wait_until_served(server, token)
    # then: served from the first try on both workers' new connections: nothing stuck
    after = [rest(server, token).status_code for _ in range(6)] + [graphql(server, token).status_code for _ in range(6)]
    assert after == [200] * 12
    print(
        f"\nstopped: 503 in median {statistics.median(outage_seconds) * 1000:.0f} ms, "
        f"max {max(outage_seconds) * 1000:.0f} ms; "
        f"/healthz {health_seconds * 1000:.0f} ms; served {recovery:.2f} s after pg_ctl start returned"
    )


def test_frozen_postmaster_costs_a_request_the_connect_timeout_and_healthz_still_answers(cluster, server, token):
    # given: the workers' sessions are gone, so every request needs a new connection
    terminate_server_backends(cluster)
    # when: the postmaster is frozen (new connections hang after the TCP handshake)
    cluster.freeze()
    try:
        health, health_seconds = timed(
            lambda: requests.get(f"{server.url}/healthz", cookies={"sessionid": "a" * 32}, timeout=5)
        )
        rest_answer, rest_seconds = timed(lambda: rest(server, token))
        graphql_answer, graphql_seconds = timed(lambda: graphql(server, token))
        health_after, _ = timed(lambda: requests.get(f"{server.url}/healthz", timeout=5))
    finally:
        cluster.thaw()
    # then: 503 after the connect time-out, not a worker held until gunicorn kills it
    assert health.status_code == 200 and health_after.status_code == 200
    assert health_seconds < 2
    assert_unavailable(rest_answer)
    assert_unavailable(graphql_answer)
    assert TIMEOUT_SECONDS * 0.9 <= rest_seconds < 15
    print(
        f"\nfrozen postmaster: /healthz {health_seconds * 1000:.0f} ms; REST 503 in {rest_seconds:.2f} s, "
        f"GraphQL 503 in {graphql_seconds:.2f} s (connect_timeout {TIMEOUT_SECONDS} s)"
    )


def test_statement_timeout_turns_a_blocked_query_into_a_503(cluster, server, token):
    # given: the token table is locked by another session, as by a long migration
    blocker = psycopg2.connect(host="127.0.0.1", port=cluster.port, user="postgres", dbname=DBNAME)
    try:
        with blocker.cursor() as cursor:
            cursor.execute("LOCK TABLE oauth2_provider_accesstoken IN ACCESS EXCLUSIVE MODE")
        # when
        rest_answer, rest_seconds = timed(lambda: rest(server, token))
        graphql_answer, graphql_seconds = timed(lambda: graphql(server, token))
    finally:
        blocker.rollback()
        blocker.close()
    # then: cancelled by the server after statement_timeout, answered 503
    assert_unavailable(rest_answer)
    assert_unavailable(graphql_answer)
    assert TIMEOUT_SECONDS * 0.9 <= rest_seconds < 15
    assert rest(server, token).status_code == 200
    print(f"\nlocked table: REST 503 in {rest_seconds:.2f} s, GraphQL 503 in {graphql_seconds:.2f} s")


def test_statement_timeout_from_the_environment_cancels_pg_sleep(cluster, media_root, credentials):
    # given: DATABASE_STATEMENT_TIMEOUT_SECONDS=1 in the process's environment
    script = (
        "import django, time; django.setup()\n"
        "from django.db import OperationalError, connection\n"
        "started = time.monotonic()\n"
        "try:\n"
        "    connection.cursor().execute('SELECT pg_sleep(5)')\n"
        "except OperationalError as error:\n"
        "    print(type(error.__cause__).__name__, round(time.monotonic() - started, 2))\n"
    )
    # when
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=_project_env(cluster, media_root, DATABASE_STATEMENT_TIMEOUT_SECONDS="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then: QueryCanceled (an OperationalError, so a 503 in a request) after about a second, not five
    assert done.returncode == 0, done.stderr[-2000:]
    name, seconds = done.stdout.split()
    assert name == "QueryCanceled"
    assert 0.9 <= float(seconds) < 4.5


def test_exhausted_max_connections_is_503_and_the_next_request_reconnects(cluster, server, token):
    # given: every connection slot of the cluster is taken by someone else
    terminate_server_backends(cluster)
    hogs = []
    try:
        for _ in range(40):
            try:
                hogs.append(cluster.connect(DBNAME))
            except psycopg2.OperationalError as error:
                assert "too many clients" in str(error)
                break
        else:
            pytest.fail("max_connections was never reached")
        # when
        answers = [timed(lambda: rest(server, token)) for _ in range(10)] + [
            timed(lambda: graphql(server, token)) for _ in range(10)
        ]
    finally:
        for hog in hogs:
            hog.close()
    # then: 503s, not 500s; and served again as soon as a slot is free
    for response, _ in answers:
        assert_unavailable(response)
    recovery = wait_until_served(server, token, timeout=30)
    assert [rest(server, token).status_code for _ in range(6)] == [200] * 6
    seconds = [s for _, s in answers]
    print(
        f"\nmax_connections ({len(hogs)} hogs): 20 answers 503 in median {statistics.median(seconds) * 1000:.0f} ms; "
        f"served {recovery:.2f} s after the slots were freed"
    )


def test_repeated_worker_kills_recover_within_a_minute(server, token):
    # given: serving
    assert rest(server, token).status_code == 200
    recoveries = []
    # when: both workers are SIGKILLed, three times, each once the server serves again ...
    for _ in range(3):
        _kill_workers(server)
        recoveries.append(wait_until_served(server, token))
    # ... and then five times in a row, each as soon as the master has forked replacements
    for _ in range(5):
        killed = set(server.worker_pids())
        _kill_workers(server)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(set(server.worker_pids()) - killed) < server.workers:
            time.sleep(0.05)
    storm_recovery = wait_until_served(server, token)
    # then
    assert server.process.poll() is None
    assert max(recoveries) < 60 and storm_recovery < 60
    print(
        f"\nworker SIGKILL: served again after {', '.join(f'{s:.2f}' for s in recoveries)} s; "
        f"after 5 kills in a row: {storm_recovery:.2f} s"
    )


def _kill_workers(server) -> None:
    """SIGKILL every worker the master has (a replacement may still be booting, a killed one exiting)."""
    workers = server.worker_pids()
    assert workers
    for pid in workers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
