"""/healthz answers without I/O; /readyz checks the database and that this process's cache holds every
production model, and never loads an artifact itself (the warm-up thread does)."""

import hashlib
import io
import os
import pickle

import pytest
from django.core.files.base import ContentFile
from django.db import OperationalError, connection

from predictions.models import RegisteredModel
from predictions.registry import cache as model_cache
from predictions.registry.cache import (
    loaded_model_is_cached,
    loaded_models_clear,
    production_models_warm,
    production_models_warm_start,
)
from tests.conftest import iris_artifact


def test_healthz_is_ok_without_touching_the_database(db, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_is_ok_even_when_the_database_is_down(db, client, monkeypatch):
    # (patched only around the request: the test database's own teardown needs a connection)
    with monkeypatch.context() as patch:
        patch.setattr(connection, "ensure_connection", _database_down)
        patch.setattr(connection, "cursor", _database_down)
        response = client.get("/healthz")
    assert response.status_code == 200


def test_readyz_is_503_until_the_warm_up_has_loaded_every_production_model(client, iris_model, bank_model, register):
    # given: two production models not loaded yet, and a staging one that is not checked
    staging = register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    assert not loaded_model_is_cached(model=iris_model)
    # when
    before = client.get("/readyz")
    production_models_warm()
    after = client.get("/readyz")
    # then
    assert before.status_code == 503
    assert before.json() == {
        "status": "unavailable",
        "models_loading": ["bank-marketing:1", "iris:1"],
        "models_unavailable": [],
    }
    assert after.status_code == 200
    assert after.json() == {"status": "ok", "models_loaded": 2}
    assert loaded_model_is_cached(model=iris_model) and loaded_model_is_cached(model=bank_model)
    assert not loaded_model_is_cached(model=staging)


def _touch_then_fail(path):
    open(path, "w").close()
    raise RuntimeError("this artifact ran code when loaded")


class _RunsCodeWhenLoaded:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (_touch_then_fail, (self.marker,))


def test_anonymous_readyz_never_loads_an_artifact(client, staff_user, tmp_path, django_assert_num_queries):
    # given: a production model whose artifact runs code (creates a file) the moment anything loads it
    marker = tmp_path / "loaded"
    buffer = io.BytesIO()
    pickle.dump(_RunsCodeWhenLoaded(str(marker)), buffer)
    data = buffer.getvalue()
    model = RegisteredModel(
        name="hostile",
        version=1,
        artifact_format="joblib",
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        stage=RegisteredModel.Stage.PRODUCTION,
        registered_by=staff_user,
        input_schema=[],
    )
    model.artifact.save("hostile.joblib", ContentFile(data))  # stored as registration would, never loaded
    cached_before = dict(model_cache._loaded)
    # when: anonymous, repeatedly
    with django_assert_num_queries(2 * 3):  # SELECT 1 and the production models, nothing else
        responses = [client.get("/readyz") for _ in range(3)]
    # then
    assert [r.status_code for r in responses] == [503, 503, 503]
    assert responses[0].json()["models_loading"] == ["hostile:1"]
    assert not marker.exists()
    assert model_cache._loaded == cached_before
    # and the warm-up, which does load it, records the failure that /readyz then reports
    production_models_warm()
    assert marker.exists()
    assert client.get("/readyz").json()["models_unavailable"] == ["hostile:1"]


@pytest.mark.django_db(transaction=True)
def test_the_warm_up_thread_fills_the_cache_and_readyz_turns_ready(client, register, settings, monkeypatch):
    # given: a committed production model and the warm-up on, one pass
    iris = register("iris", iris_artifact())
    settings.WARM_MODELS_ON_STARTUP = True
    settings.WARM_MODELS_INTERVAL_SECONDS = 0
    monkeypatch.setattr(model_cache, "_warmer_pid", None)
    threads = []
    real_thread = model_cache.threading.Thread

    def recording_thread(*args, **kwargs):
        threads.append(real_thread(*args, **kwargs))
        return threads[-1]

    monkeypatch.setattr(model_cache.threading, "Thread", recording_thread)
    # when
    started = production_models_warm_start()
    started_again = production_models_warm_start()
    threads[0].join(timeout=60)
    # then: one thread per process, and it did the loading
    assert (started, started_again, len(threads)) == (True, False, 1)
    assert loaded_model_is_cached(model=iris)
    assert client.get("/readyz").json() == {"status": "ok", "models_loaded": 1}


def test_no_warm_up_thread_when_it_is_turned_off(settings, monkeypatch):
    settings.WARM_MODELS_ON_STARTUP = False
    monkeypatch.setattr(model_cache, "_warmer_pid", None)
    assert production_models_warm_start() is False


def test_readyz_is_ok_with_no_models(db, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["models_loaded"] == 0


def _database_down(*args, **kwargs):
    raise OperationalError("connection refused")


def test_readyz_is_503_when_the_database_is_unreachable(db, client, monkeypatch):
    # given / when: patched only around the request, the test database's teardown needs a connection
    with monkeypatch.context() as patch:
        patch.setattr(connection, "ensure_connection", _database_down)
        patch.setattr(connection, "cursor", _database_down)
        response = client.get("/readyz")
    # then
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_readyz_is_503_when_only_the_query_fails(db, client, monkeypatch):
    # given: the connection opens but queries fail
    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", _database_down)
        response = client.get("/readyz")
    assert response.status_code == 503


def test_readyz_is_503_when_a_production_artifact_is_tampered(client, iris_model, bank_model):
    # given: the iris artifact on disk no longer matches its registered sha256
    loaded_models_clear()
    with open(iris_model.artifact.path, "r+b") as artifact:
        artifact.seek(10)
        artifact.write(b"tampered")
    # when
    production_models_warm()
    response = client.get("/readyz")
    # then
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["models_unavailable"] == ["iris:1"]
    assert not loaded_model_is_cached(model=iris_model)


def test_readyz_is_503_when_a_production_artifact_is_missing(client, iris_model):
    loaded_models_clear()
    os.remove(iris_model.artifact.path)
    production_models_warm()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["models_unavailable"] == ["iris:1"]


def test_healthz_with_a_session_cookie_touches_nothing_while_the_database_is_down(
    db, client, make_user, monkeypatch, django_assert_num_queries
):
    # given: a browser-like caller with a logged-in session (stored in the database)
    client.force_login(make_user("prober"))
    # when: the database is down (patched around the request only)
    with monkeypatch.context() as patch, django_assert_num_queries(0):
        patch.setattr(connection, "ensure_connection", _database_down)
        patch.setattr(connection, "cursor", _database_down)
        response = client.get("/healthz")
    # then: no middleware looked the session user up
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
