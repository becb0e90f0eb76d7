from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
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
