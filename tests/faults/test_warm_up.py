"""A real gunicorn worker answers /healthz before its models are loaded, and /readyz says when they are.

The model here takes LOAD_SECONDS to load. Before the warm-up moved to a background thread, post_fork
loaded it before the worker accepted anything: /healthz was silent for the whole load, and /readyz was
already 200 by the time anything answered.
"""

import time

import pytest
import requests

from predictions.models import RegisteredModel
from tests.conftest import iris_artifact
from tests.faults.slow_artifact import slow_artifact

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LOAD_SECONDS = 8
READY_TIMEOUT_SECONDS = 90


def test_a_worker_serves_healthz_while_its_models_load_and_readyz_tells_when_they_are_in(
    register, server_database, gunicorn_server, monkeypatch
):
    # given: a production model that takes LOAD_SECONDS to load, and the warm-up on (one pass)
    register("slow-iris", slow_artifact(seconds=LOAD_SECONDS, artifact=iris_artifact()))
    monkeypatch.setenv("WARM_MODELS_ON_STARTUP", "true")
    monkeypatch.setenv("WARM_MODELS_INTERVAL_SECONDS", "0")
    database = server_database()
    # when: the worker is up and /healthz answers (gunicorn_server waits for that)
    server = gunicorn_server(workers=1, database_url=database.url)
    healthz_at = time.monotonic()
    first_ready = requests.get(f"{server.url}/readyz", timeout=5)
    while True:
        ready = requests.get(f"{server.url}/readyz", timeout=5)
        if ready.status_code == 200 or time.monotonic() - healthz_at > READY_TIMEOUT_SECONDS:
            break
        time.sleep(0.25)
    ready_after = time.monotonic() - healthz_at
    # then: /healthz answered while the model was still loading, and /readyz turned ready without loading it
    assert first_ready.status_code == 503, first_ready.content
    assert first_ready.json()["models_loading"] == ["slow-iris:1"]
    assert ready.status_code == 200, server.log_tail()
    assert ready.json() == {"status": "ok", "models_loaded": 1}
    print(f"/readyz turned 200 {ready_after:.1f} s after /healthz first answered (model load: {LOAD_SECONDS} s)")
    assert RegisteredModel.objects.filter(stage="production").count() == 1
