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
    "REDIS_URL": "redis://127.0.0.1:1/0",  # never connected to: settings only
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
    "CACHE_BACKEND": settings.CACHES["default"]["BACKEND"],
    "CACHE_LOCATION": settings.CACHES["default"]["LOCATION"],
    "DATABASE_NAME": str(settings.DATABASES["default"]["NAME"]),
    "SECRET_KEY": settings.SECRET_KEY,
}))
"""


def _dotenv_sets(name: str) -> bool:
    dotenv = ROOT / ".env"
    return dotenv.exists() and any(
        line.strip().startswith(f"{name}=") for line in dotenv.read_text(errors="replace").splitlines()
    )


def _run(args: list[str], **env: str | None) -> subprocess.CompletedProcess:
    """Only PATH and the given variables: nothing from the developer's or CI's environment leaks in.
    A variable given as None is left out of the production environment."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), **PRODUCTION_ENV, **env}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={name: value for name, value in environment.items() if value is not None},
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


@pytest.mark.skipif(_dotenv_sets("REDIS_URL") or _dotenv_sets("CACHE_URL"), reason="a local .env sets REDIS_URL")
def test_production_refuses_to_start_without_redis_for_the_rate_limit():
    # when: no REDIS_URL (and no CACHE_URL): the cache would be per process, and so the rate limit
    result = _run(["manage.py", "check"], SECRET_KEY=_secret_key(), REDIS_URL=None)
    # then
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "REDIS_URL" in result.stderr


def test_production_counts_the_rate_limit_in_the_shared_redis():
    # when
    result = _run(["-c", SETTINGS_DUMP], SECRET_KEY=_secret_key(), REDIS_URL="redis://redis.internal:6379/0")
    # then
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["CACHE_BACKEND"] == "django_redis.cache.RedisCache"
    assert values["CACHE_LOCATION"] == "redis://redis.internal:6379/0"


def test_secrets_can_be_read_from_mounted_files(tmp_path):
    # given: a Secret volume, one file per key (trailing newline as `kubectl create secret --from-file` keeps it)
    secret_key, database_url = _secret_key(), "postgres://mlapi:s3cret@db.internal:5432/mlapi"
    for name, value in {
        "SECRET_KEY": secret_key,
        "DATABASE_URL": database_url,
        "REDIS_URL": "redis://r:6379/0",
    }.items():
        (tmp_path / name).write_text(value + "\n")
    # when: only the *_FILE variables are set
    result = _run(
        ["-c", SETTINGS_DUMP],
        SECRET_KEY_FILE=str(tmp_path / "SECRET_KEY"),
        DATABASE_URL=None,
        DATABASE_URL_FILE=str(tmp_path / "DATABASE_URL"),
        REDIS_URL=None,
        REDIS_URL_FILE=str(tmp_path / "REDIS_URL"),
    )
    # then
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["SECRET_KEY"] == secret_key
    assert values["DATABASE_NAME"] == "mlapi"
    assert values["CACHE_LOCATION"] == "redis://r:6379/0"


@pytest.mark.parametrize("case", ["both", "missing-file"])
def test_a_secret_file_that_conflicts_or_is_missing_stops_the_start(tmp_path, case):
    # given
    path = tmp_path / "SECRET_KEY"
    if case == "both":
        path.write_text(_secret_key())
    # when
    result = _run(["manage.py", "check"], SECRET_KEY=_secret_key(), SECRET_KEY_FILE=str(path))
    # then
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY_FILE" in result.stderr
