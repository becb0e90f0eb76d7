"""Production: no defaults for secrets, HTTPS everywhere."""

from django.core.exceptions import ImproperlyConfigured

from mlapi.settings.base import *  # noqa: F403
from mlapi.settings.env import env

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be set to a random string of at least 50 characters.")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True

# The rate limit counts in the cache. A per-process cache (LocMemCache, what base.py falls back to
# without REDIS_URL) gives every gunicorn worker its own count: with 2 workers, 120 of 130 calls got
# through a 60/min limit. Production therefore needs the shared Redis; there is no per-process fallback.
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache":  # noqa: F405
    raise ImproperlyConfigured(
        "REDIS_URL must be set in production (e.g. redis://redis:6379/0): the per-minute rate limit "
        "counts in this shared cache, and a per-process cache would count each worker separately."
    )

# Email (sign-up verification, password reset) over SMTP; EMAIL_HOST_PASSWORD may come from EMAIL_HOST_PASSWORD_FILE.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# DEFAULT_FROM_EMAIL (base.py) should name a mailbox of yours: the default noreply@localhost is a placeholder.
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
