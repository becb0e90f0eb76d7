"""/healthz answers without I/O; /readyz checks the database and that every production model loads."""

import os

from django.db import OperationalError, connection

from predictions.models import RegisteredModel
from predictions.registry.cache import loaded_model_is_cached, loaded_models_clear
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


def test_readyz_is_ok_and_loads_production_models(client, iris_model, bank_model, register):
    # given: two production models not loaded yet, and a staging one that is not checked
    staging = register("iris", iris_artifact(), stage=RegisteredModel.Stage.STAGING)
    assert not loaded_model_is_cached(model=iris_model)
    # when
    response = client.get("/readyz")
    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "models_loaded": 2}
    assert loaded_model_is_cached(model=iris_model) and loaded_model_is_cached(model=bank_model)
    assert not loaded_model_is_cached(model=staging)


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
