"""One small GraphQL request must not tie up a gunicorn worker: a ~1 KB document of 24 nested fragments (each
spreading the next twice), sent with no token or with one, a 0.9 MB document, and nested `versions` lists on a model
with several versions are all refused at once by ONE real worker, which keeps answering /healthz and is never
killed. The worker's own CPU time for each refusal is printed (run with -s) for SECURITY.md.
"""

import os
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings

from tests.conftest import iris_artifact
from tests.faults.conftest import GunicornServer
from tests.security.test_graphql_limits import fragment_bomb

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PORTS = range(18100, 18200)  # this test's own range
CPU_BOUND_SECONDS = 2.0  # generous: the finding was a worker busy past gunicorn's 30 s time-out


def _free_port() -> int:
    for port in PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 18100-18199")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (clock ticks)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture
def one_worker(server_database, tmp_path):
    """Call after the committed set-up: one gunicorn worker on the test database, on a port of 18100-18199."""
    servers: list[GunicornServer] = []

    def start() -> GunicornServer:
        server = GunicornServer(
            workers=1,
            database_url=server_database().url,
            media_root=str(settings.MEDIA_ROOT),
            log_path=tmp_path / "gunicorn.log",
        )
        server.port = _free_port()
        servers.append(server)
        server.start()
        # the worker's first GraphQL request imports and builds what every later one reuses: not part of a figure
        requests.post(f"{server.url}/graphql/", json={"query": "{ me { username } }"}, timeout=60)
        return server

    yield start
    for server in servers:
        server.stop()


def _refused_while_healthy(
    server: GunicornServer, query: str, token: str | None = None
) -> tuple[requests.Response, float]:
    """POSTs `query` and, meanwhile, GETs /healthz from the same single worker; returns the answer and the CPU
    seconds the worker spent. Fails if /healthz does not answer, or if the worker was replaced."""
    [worker] = server.worker_pids()
    before = _cpu_seconds(worker)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(
            requests.post, f"{server.url}/graphql/", json={"query": query}, headers=headers, timeout=90
        )
        health = requests.get(f"{server.url}/healthz", timeout=10)
        response = pending.result()
    spent = _cpu_seconds(worker) - before
    assert health.status_code == 200
    assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
    assert server.worker_pids() == [worker], server.log_tail()
    return response, spent


def _codes(response: requests.Response) -> list[str | None]:
    return [(e.get("extensions") or {}).get("code") for e in response.json().get("errors", [])]


def test_a_fragment_bomb_is_refused_at_once_and_the_worker_keeps_serving(make_user, issue_token, one_worker):
    # given: a committed user and token, one worker; a 24-level fragment bomb of about 1 KB
    token = issue_token(make_user("bomber"))
    server = one_worker()
    bomb = fragment_bomb(24)
    assert 900 < len(bomb) < 1_100
    # when: sent anonymously, then with a token
    anonymous, anonymous_cpu = _refused_while_healthy(server, bomb)
    authenticated, authenticated_cpu = _refused_while_healthy(server, bomb, token)
    # then: refused before validation (anonymous) and by its cost (token), the worker alive throughout
    assert (anonymous.status_code, _codes(anonymous)) == (400, ["UNAUTHENTICATED"])
    assert (authenticated.status_code, _codes(authenticated)) == (400, ["QUERY_TOO_COMPLEX"])
    assert anonymous_cpu < CPU_BOUND_SECONDS and authenticated_cpu < CPU_BOUND_SECONDS
    print(f"\nfragment bomb ({len(bomb)} B, 24 levels): worker CPU {anonymous_cpu * 1000:.0f} ms anonymous, "
          f"{authenticated_cpu * 1000:.0f} ms with a token")  # fmt: skip


def test_a_large_document_is_refused_at_once(make_user, issue_token, one_worker):
    # given
    token = issue_token(make_user("large"))
    server = one_worker()
    document = "{ me { " + "username " * 100_000 + "} }"  # 0.9 MB: it took seconds just to parse
    # when
    response, cpu = _refused_while_healthy(server, document, token)
    # then
    assert (response.status_code, _codes(response)) == (400, ["QUERY_TOO_LARGE"])
    assert cpu < CPU_BOUND_SECONDS
    print(f"\n0.9 MB document: worker CPU {cpu * 1000:.0f} ms")


def test_nested_versions_on_a_model_with_several_versions_are_refused_by_cost(
    make_user, issue_token, register, one_worker
):
    # given: four production versions of iris (each `versions` level multiplies the rows by four)
    for _ in range(4):
        register("iris", iris_artifact())
    token = issue_token(make_user("nester"), scope="read")
    server = one_worker()
    nested = '{ model(name: "iris") { ' + "versions { " * 9 + "id" + " }" * 9 + " } }"  # about 130 bytes
    two_levels = '{ model(name: "iris") { versions { versions { id } } } }'
    # when
    refused, cpu = _refused_while_healthy(server, nested, token)
    answered, _ = _refused_while_healthy(server, two_levels, token)
    # then
    assert (refused.status_code, _codes(refused)) == (400, ["QUERY_TOO_COMPLEX"])
    assert cpu < CPU_BOUND_SECONDS
    assert answered.status_code == 200, answered.text[:300]
    assert [len(v["versions"]) for v in answered.json()["data"]["model"]["versions"]] == [4, 4, 4, 4]
    print(f"\nnested versions ({len(nested)} B, 9 levels, 4 versions): worker CPU {cpu * 1000:.0f} ms")
