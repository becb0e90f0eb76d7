"""Test settings: fast hashing, isolated media, in-process Celery."""

import tempfile

from mlapi.settings.base import *  # noqa: F403
from mlapi.settings.env import env

SECRET_KEY = "test-only-not-secret"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = tempfile.mkdtemp(prefix="mlapi-test-media-")
STATIC_ROOT = tempfile.mkdtemp(prefix="mlapi-test-static-")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_URL = env("TEST_CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
WARM_MODELS_ON_STARTUP = False
GRAPHIQL_ENABLED = True
GRAPHQL_INTROSPECTION_ENABLED = True
PAYMENT_PROVIDER = "manual"
# Exact behaviour per request in tests; tests/test_hot_cache.py turns the memos on.
ACCESS_TOKEN_CACHE_SECONDS = 0
MODEL_LOOKUP_CACHE_SECONDS = 0
PRICING_TIER_CACHE_SECONDS = 0
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
