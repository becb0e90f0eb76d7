"""The long-lived objects of a serving process are frozen out of the cyclic collector's full passes
(mlapi.garbage_collection): once a web or batch worker is set up, and whenever a model enters the cache."""

import gc
import importlib.util
from pathlib import Path

import pytest

from predictions.registry.cache import loaded_model_get, loaded_models_clear

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_model_loaded_into_the_cache_is_frozen_with_everything_before_it(unfrozen, iris_model):
    # given
    loaded_models_clear()
    assert gc.get_freeze_count() == 0
    # when
    loaded = loaded_model_get(model=iris_model)
    # then: the estimator is in the permanent generation, not in one a collection visits
    assert gc.get_freeze_count() > 0
    assert not any(obj is loaded.estimator for obj in gc.get_objects())
    # and a cache hit freezes nothing more
    gc.unfreeze()
    assert loaded_model_get(model=iris_model) is loaded
    assert gc.get_freeze_count() == 0


def test_a_gunicorn_worker_freezes_once_its_app_is_loaded(unfrozen):
    spec = importlib.util.spec_from_file_location("gunicorn_conf_for_gc", ROOT / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    # when
    conf.post_worker_init(worker=None)
    # then
    assert gc.get_freeze_count() > 0


def test_a_celery_pool_process_freezes_once_it_is_set_up(unfrozen):
    from celery.signals import worker_process_init

    import mlapi.celery  # noqa: F401 - connects the handler

    # when
    worker_process_init.send(sender=None)
    # then
    assert gc.get_freeze_count() > 0
