import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Secrets that may come from a file instead of the environment: NAME_FILE=/run/secrets/mlapi/NAME sets
# NAME to that file's content (a mounted Kubernetes Secret or Docker secret, never a plain env var).
FILE_SECRETS = (
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "CACHE_URL",
    "CELERY_BROKER_URL",
    "PAYPAL_CLIENT_ID",
    "PAYPAL_CLIENT_SECRET",
    "PAYPAL_WEBHOOK_ID",
    "EMAIL_HOST_PASSWORD",
)


def secrets_from_files(environment=os.environ) -> None:
    """Fills each NAME from NAME_FILE; naming both, or a file that cannot be read, stops the start-up."""
    for name in FILE_SECRETS:
        path = environment.get(f"{name}_FILE")
        if not path:
            continue
        if environment.get(name):
            raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
        try:
            environment[name] = Path(path).read_text().rstrip("\r\n")
        except OSError as error:
            raise ImproperlyConfigured(f"{name}_FILE={path} cannot be read: {error.strerror}.") from None


env = environ.Env()
secrets_from_files()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def env_choice(name: str, *, default: str, choices: tuple[str, ...], case: str = "lower") -> str:
    """An enumerated setting, read case-insensitively (`LOG_LEVEL=warning` is WARNING); anything
    else stops the start-up with an error that names the variable and the allowed values."""
    from django.core.exceptions import ImproperlyConfigured

    raw = env.str(name, default=default).strip()
    value = raw.upper() if case == "upper" else raw.lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)} (any case), not {raw!r}.")
    return value
