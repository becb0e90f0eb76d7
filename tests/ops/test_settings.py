"""Enumerated settings from the environment: any case is accepted; a bad value stops the start-up with
an error naming the variable. Production boots with `LOG_LEVEL=warning`."""

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
        "PYTHONPATH": str(ROOT),
        **overrides,
    }
    script = "import django, logging; django.setup(); print(logging.getLevelName(logging.getLogger().level))"
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


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
