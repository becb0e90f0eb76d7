"""Enumerated settings from the environment: any case is accepted; a bad value stops the start-up with
an error naming the variable. Production boots with `LOG_LEVEL=warning`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from mlapi.settings.env import env_choice

ROOT = Path(__file__).resolve().parents[2]
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@pytest.mark.parametrize("raw", ["warning", "Warning", " WARNING "])
def test_log_level_is_read_in_any_case(monkeypatch, raw):
    monkeypatch.setenv("LOG_LEVEL", raw)
    assert env_choice("LOG_LEVEL", default="INFO", choices=LEVELS, case="upper") == "WARNING"


def test_a_lowercase_choice_is_normalised(monkeypatch):
    monkeypatch.setenv("PAYPAL_MODE", "LIVE")
    assert env_choice("PAYPAL_MODE", default="sandbox", choices=("sandbox", "live")) == "live"


def test_an_unknown_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("PAYMENT_PROVIDER", "stripe")
    with pytest.raises(ImproperlyConfigured, match="PAYMENT_PROVIDER"):
        env_choice("PAYMENT_PROVIDER", default="manual", choices=("manual", "paypal"))


def _boot_production(**overrides) -> subprocess.CompletedProcess:
    """`django.setup()` with the production settings (which configures logging), in a fresh process."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LOG_LEVEL", "PAYPAL_", "PAYMENT_"))},
        "DJANGO_SETTINGS_MODULE": "mlapi.settings.production",
        "SECRET_KEY": "x" * 64,
        "REDIS_URL": "redis://127.0.0.1:6379/15",  # production requires it; nothing connects at start-up
        "PYTHONPATH": str(ROOT),
        **overrides,
    }
    script = "import django, logging; django.setup(); print(logging.getLevelName(logging.getLogger().level))"
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_production_boots_with_a_lowercase_log_level():
    booted = _boot_production(LOG_LEVEL="warning")
    assert booted.returncode == 0, booted.stderr[-2000:]
    assert booted.stdout.strip() == "WARNING"


@pytest.mark.slow
def test_production_refuses_an_unknown_log_level_naming_the_variable():
    booted = _boot_production(LOG_LEVEL="loud")
    assert booted.returncode != 0
    assert "ImproperlyConfigured" in booted.stderr and "LOG_LEVEL" in booted.stderr


@pytest.mark.slow
def test_postgres_gets_connect_and_statement_timeouts_from_the_environment():
    # given: a PostgreSQL DATABASE_URL (nothing connects) and a connect time-out from the environment
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mlapi.settings.test",
        "DATABASE_URL": "postgres://someone@db.invalid:5432/anything?options=-c%20lock_timeout%3D3000",
        "DATABASE_CONNECT_TIMEOUT_SECONDS": "3",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DATABASE_STATEMENT_TIMEOUT_SECONDS", None)
    script = (
        "import json; from django.conf import settings; print(json.dumps(settings.DATABASES['default']['OPTIONS']))"
    )
    # when
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    # then: the default statement time-out (10 s) joins the URL's own options
    assert done.returncode == 0, done.stderr[-2000:]
    options = json.loads(done.stdout)
    assert options["connect_timeout"] == 3
    assert options["options"] == "-c lock_timeout=3000 -c statement_timeout=10000"


@pytest.mark.postgres
def test_the_test_database_session_has_the_statement_timeout(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "10s"
