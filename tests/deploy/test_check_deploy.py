"""Production settings, read the way a deployment starts them: a fresh process with only its environment.

Django's `check --deploy` must pass at WARNING level, and a missing secret must stop the process.
No database is opened (DATABASE_URL names a SQLite file that is never created).
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "mlapi.settings.production",
    "ALLOWED_HOSTS": "api.example.com",
    "DATABASE_URL": "sqlite:////tmp/mlapi-check-deploy-never-created.sqlite3",
}
SETTINGS_DUMP = """
import json
from django.conf import settings
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
    "SECURE_PROXY_SSL_HEADER": settings.SECURE_PROXY_SSL_HEADER,
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
}))
"""


def _dotenv_sets(name: str) -> bool:
    dotenv = ROOT / ".env"
    return dotenv.exists() and any(
        line.strip().startswith(f"{name}=") for line in dotenv.read_text(errors="replace").splitlines()
    )


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """Only PATH and the given variables: nothing from the developer's or CI's environment leaks in."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), **PRODUCTION_ENV, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _secret_key() -> str:
    return secrets.token_urlsafe(64)  # 86 characters, random


def _check_deploy() -> tuple[int, str]:
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], SECRET_KEY=_secret_key())
    return result.returncode, result.stdout + result.stderr


def test_check_deploy_has_no_django_security_warnings():
    # when
    _, output = _check_deploy()
    # then: Django's own deployment checks (HTTPS, cookies, HSTS, DEBUG, SECRET_KEY, hosts) all pass
    assert "System check identified" in output, output  # the check ran, settings loaded
    assert "(security.W" not in output and "(security.E" not in output, output


def test_check_deploy_passes_at_warning_level():
    # when
    returncode, output = _check_deploy()
    # then
    assert "WARNINGS" not in output and "(security.W" not in output, output
    assert returncode == 0, output


def test_production_settings_are_https_only_and_not_debug():
    # when
    result = _run(["-c", SETTINGS_DUMP], SECRET_KEY=_secret_key())
    # then
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] > 0
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["ALLOWED_HOSTS"] == ["api.example.com"]


@pytest.mark.skipif(_dotenv_sets("SECRET_KEY"), reason="a local .env sets SECRET_KEY")
def test_production_refuses_to_start_without_a_secret_key():
    # when: no SECRET_KEY at all
    result = _run(["manage.py", "check"])
    # then
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize("secret_key", ["", "too-short-to-be-a-secret"], ids=["empty", "short"])
def test_production_refuses_to_start_with_an_empty_or_short_secret_key(secret_key):
    # when: SECRET_KEY is set but useless (e.g. `SECRET_KEY=$UNSET_VARIABLE` in a manifest)
    result = _run(["manage.py", "check"], SECRET_KEY=secret_key)
    # then
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr
